//! The processes under test: started pinned to one core, timed until ready, and watched through
//! `/proc` (CPU time, peak resident memory).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// A started server.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// From spawn to the first 200 on `ready_path`.
    pub startup: Duration,
}

/// `program args...`, pinned to `core` with `taskset` when there is one.
pub fn pinned(core: Option<usize>, program: &str, args: &[String]) -> Command {
    let mut command = match core {
        Some(core) => {
            let mut command = Command::new("taskset");
            command.args(["-c", &core.to_string(), program]);
            command
        }
        None => Command::new(program),
    };
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command
}

/// `taskset -c CORE program` (or `program` alone), as the words of a command: the load tools'
/// commands are kept as text for the report's "as run" list.
pub fn pinned_words(core: Option<usize>, program: &str) -> Vec<String> {
    let mut words = Vec::new();
    if let Some(core) = core {
        words.extend(["taskset".into(), "-c".into(), core.to_string()]);
    }
    words.push(program.to_owned());
    words
}

/// Runs the command `words` to its end: its standard output, or an error naming the command,
/// its exit status and what it printed (`tool` is what to install when it cannot be started).
pub async fn output_of(words: &[String], tool: &str) -> Result<String, String> {
    let output = Command::new(&words[0])
        .args(&words[1..])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e} (is {tool} installed?)", words[0]))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {stdout}{}",
            words.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(stdout)
}

/// Starts `command`, reads `Listening on http://ADDR` from its standard output, then asks
/// `ready_path` every millisecond until it answers 200.
pub async fn start(mut command: Command, ready_path: &str) -> Result<Server, String> {
    let spawned = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .map_err(|_| "the server printed nothing for a minute")?
            .map_err(|e| e.to_string())?
            .ok_or("the server exited before listening")?;
        if let Some(addr) = line.strip_prefix("Listening on http://") {
            break addr
                .trim()
                .parse::<SocketAddr>()
                .map_err(|e| format!("{line}: {e}"))?;
        }
    };
    // Keep draining its standard output so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    loop {
        if ready(addr, ready_path).await {
            break;
        }
        if spawned.elapsed() > Duration::from_secs(60) {
            return Err("the server did not become ready within a minute".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(Server {
        startup: spawned.elapsed(),
        addr,
        child,
    })
}

async fn ready(addr: SocketAddr, path: &str) -> bool {
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let Ok((mut sender, conn)) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await
    else {
        return false;
    };
    tokio::spawn(conn);
    let Ok(request) = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<bytes::Bytes>::new())
    else {
        return false;
    };
    matches!(sender.send_request(request).await, Ok(response) if response.status() == 200)
}

impl Server {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// CPU time (user and system) the process has used.
    pub fn cpu(&self) -> Result<Duration, String> {
        // `taskset` execs the program: the pid is the program's own.
        let pid = self.pid().ok_or("the server has exited")?;
        let stat =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
        // Fields after the command name (which may hold spaces) in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .ok_or("malformed stat")?
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields
            .get(11)
            .and_then(|u| u.parse().ok())
            .ok_or("no utime")?;
        let system: u64 = fields
            .get(12)
            .and_then(|s| s.parse().ok())
            .ok_or("no stime")?;
        Ok(Duration::from_secs_f64(
            (ticks + system) as f64 / clock_ticks() as f64,
        ))
    }

    /// The process's peak resident set size, in bytes.
    pub fn peak_rss(&self) -> Result<u64, String> {
        let pid = self.pid().ok_or("the server has exited")?;
        let status =
            std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| "no VmHWM".to_owned())
    }

    /// Stops the server (SIGKILL: the figures are taken).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}
