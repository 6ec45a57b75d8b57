//! wrk, the load generator the figures are judged on: for each scenario the benchmark writes a Lua
//! script (and, when the scenario draws its requests from a table, a data file of one row per
//! line), runs `taskset -c 1 wrk -t1 -c64 -d10s --latency -s SCRIPT URL -- BASE THREADS`, and
//! reads the one line the script's `done()` prints: `BENCH {json}`.
//!
//! Request `k` of wrk thread `t` is the scenario's number `BASE + t + THREADS * k`, so that a
//! warm-up and the measured run after it (which starts where the warm-up stopped) never send the
//! same POST twice. A scenario's `check(status, body)` says whether an answer is the one expected;
//! it runs in wrk's `response()` callback, which makes wrk read every answer into Lua. That costs
//! wrk about 0.5 µs of CPU per answer (measured against the bare axum server: 11.5 µs per request
//! with it, 11 without; wrk was not the bottleneck either way), so every run checks every answer;
//! the report measures the ceiling with and without it, in the same run, to show it still holds.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One scenario's Lua.
#[derive(Debug, Clone)]
pub struct Script {
    /// Defines `make()`, which returns the next request (with the helpers `number()`, `get()`,
    /// `post()` and `rows`).
    pub make: String,
    /// Defines `check(status, body)`: whether an answer is the expected one (it may count it in
    /// `counted`).
    pub check: String,
    /// The rows of the data file, read into `rows` (one per line) before the run.
    pub rows: Option<Vec<String>>,
    /// Whether every request is the same one: then `make` sets `wrk.path` and `wrk.headers`
    /// instead, and the script defines no `request()` (wrk then formats the request once).
    pub fixed: bool,
}

/// How wrk is run.
#[derive(Debug, Clone)]
pub struct Wrk {
    /// The core wrk is pinned to (`None`: not pinned).
    pub core: Option<usize>,
    pub threads: usize,
    pub connections: usize,
    /// Where scripts and data files are written.
    pub dir: PathBuf,
}

/// What one wrk run measured, as its script's `done()` reports it.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Answers read within the run.
    pub requests: u64,
    pub duration: Duration,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Answers with a status of 400 or more, as wrk counts them.
    pub status_errors: u64,
    /// Connect, read and write errors.
    pub socket_errors: u64,
    /// Answers slower than wrk's timeout (2 s), left out of its latencies.
    pub timeouts: u64,
    /// Answers `check` refused (`None`: not checked).
    pub unexpected: Option<u64>,
    pub first_unexpected: String,
    /// What `check` counted (e.g. the checkouts among the answers).
    pub counted: u64,
    /// The scenario's first number this run did not use: the next run's `BASE`.
    pub next: u64,
    /// The command, as run.
    pub command: String,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.duration.as_secs_f64().max(1e-9)
    }
}

/// The part of every script around the scenario's own.
const PRELUDE: &str = r#"
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  base = tonumber(args[1])
  step = tonumber(args[2])
  k, made, unexpected, counted, first_unexpected = 0, 0, 0, 0, ""
  rows = {}
  if data_file then
    for line in io.lines(data_file) do rows[#rows + 1] = line end
  end
  if prepare then prepare() end
end

-- The scenario's next number in this thread.
function number()
  local n = base + id + step * k
  k = k + 1
  return n
end

-- A GET of the partner: only the path changes from one to the next, so all but the request line
-- is formatted once (wrk.format for each costs wrk ~1.7 us, a concatenation ~0.9 us).
local get_tail = nil
function get(path, headers)
  if headers == nil then
    get_tail = get_tail or (" HTTP/1.1\r\nHost: " .. wrk.headers["Host"] ..
                            "\r\nAuthorization: " .. bearer .. "\r\n\r\n")
    return "GET " .. path .. get_tail
  end
  headers["Authorization"] = bearer
  return wrk.format("GET", path, headers)
end

-- The MS-RequestId of POST n of the kind `salt`: a version-4 GUID from two SplitMix64s of n, as
-- population::request_id computes it (LuaJIT's 64-bit integers; `ULL` literals wrap as u64 does).
local function spread(z)
  z = z + 0x9E3779B97F4A7C15ULL
  z = bit.bxor(z, bit.rshift(z, 30)) * 0xBF58476D1CE4E5B9ULL
  z = bit.bxor(z, bit.rshift(z, 27)) * 0x94D049BB133111EBULL
  return bit.bxor(z, bit.rshift(z, 31))
end
function request_id(salt, n)
  local space, twice = bit.lshift(salt + 0ULL, 56), (n + 0ULL) * 2
  local high = bit.bor(bit.band(spread(bit.bxor(space, twice)), bit.bnot(0xF000ULL)), 0x4000ULL)
  local low = bit.bor(bit.band(spread(bit.bxor(space, twice + 1)), 0x3FFFFFFFFFFFFFFFULL),
                      0x8000000000000000ULL)
  local h, l = bit.tohex(high, 16), bit.tohex(low, 16)
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-" .. h:sub(13, 16) .. "-" .. l:sub(1, 4) .. "-" ..
         l:sub(5, 16)
end

function post(path, request_id, body)
  local headers = { ["Authorization"] = bearer, ["MS-RequestId"] = request_id }
  if body ~= "" then headers["Content-Type"] = "application/json" end
  return wrk.format("POST", path, headers, body)
end
"#;

const REQUEST: &str = r#"
function request()
  made = made + 1
  return make()
end
"#;

const RESPONSE: &str = r#"
function response(status, headers, body)
  if not check(status, body) then
    unexpected = unexpected + 1
    if first_unexpected == "" then
      first_unexpected = status .. " " .. string.sub(body or "", 1, 300)
    end
  end
end
"#;

const DONE: &str = r#"
local function json_string(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests)
  local unexpected, counted, kmax, first = 0, 0, 0, ""
  local base, step = threads[1]:get("base"), threads[1]:get("step")
  for _, t in ipairs(threads) do
    unexpected = unexpected + t:get("unexpected")
    counted = counted + t:get("counted")
    kmax = math.max(kmax, t:get("k"))
    if first == "" then first = t:get("first_unexpected") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"status_errors":%d,' ..
    '"socket_errors":%d,"timeouts":%d,"unexpected":%d,"counted":%d,"next":%d,"first_unexpected":%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write, e.timeout, unexpected, counted,
    base + step * kmax, json_string(first)))
end
"#;

/// A Lua string literal of `s`.
pub fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\{:03}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Wrk {
    /// Writes `script` for the scenario `slug` (with `bearer` as its token): the script's path.
    pub fn write(
        &self,
        slug: &str,
        name: &str,
        script: &Script,
        bearer: &str,
        checked: bool,
    ) -> std::io::Result<PathBuf> {
        let suffix = if checked { "" } else { "-unchecked" };
        let path = self.dir.join(format!("{slug}{suffix}.lua"));
        let mut lua = format!(
            "-- wrk script of the benchmark's scenario \"{name}\", written by bench (bench/src/wrk.rs).\n\
             -- Run: wrk -t{threads} -c{connections} -d10s --latency -s {file} URL -- BASE {threads}\n",
            threads = self.threads,
            connections = self.connections,
            file = path.display()
        );
        let _ = writeln!(lua, "bearer = {}", lua_string(bearer));
        if let Some(rows) = &script.rows {
            let data = self.dir.join(format!("{slug}.rows"));
            let mut text = rows.join("\n");
            text.push('\n');
            std::fs::write(&data, text)?;
            let _ = writeln!(
                lua,
                "data_file = {}",
                lua_string(&data.display().to_string())
            );
        }
        lua.push_str(PRELUDE);
        lua.push('\n');
        lua.push_str(script.make.trim());
        lua.push('\n');
        if !script.fixed {
            lua.push_str(REQUEST);
        }
        lua.push('\n');
        lua.push_str(script.check.trim());
        lua.push('\n');
        if checked {
            lua.push_str(RESPONSE);
        }
        lua.push_str(DONE);
        std::fs::write(&path, lua)?;
        Ok(path)
    }

    /// The command line that runs `script` against `addr` for `duration` from number `base`.
    pub fn command(
        &self,
        script: &Path,
        addr: SocketAddr,
        duration: Duration,
        base: u64,
    ) -> Vec<String> {
        let mut args = crate::process::pinned_words(self.core, "wrk");
        args.extend([
            format!("-t{}", self.threads),
            format!("-c{}", self.connections),
            format!("-d{}s", duration.as_secs().max(1)),
            "--latency".into(),
            "-s".into(),
            script.display().to_string(),
            format!("http://{addr}/"),
            "--".into(),
            base.to_string(),
            self.threads.to_string(),
        ]);
        args
    }

    /// Runs wrk: what its script reported.
    pub async fn run(
        &self,
        script: &Path,
        addr: SocketAddr,
        duration: Duration,
        base: u64,
        checked: bool,
    ) -> Result<Outcome, String> {
        let args = self.command(script, addr, duration, base);
        let stdout = crate::process::output_of(&args, "wrk").await?;
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("BENCH "))
            .ok_or_else(|| format!("wrk printed no BENCH line: {stdout}"))?;
        let json: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{line}: {e}"))?;
        let number = |name: &str| json[name].as_u64().unwrap_or_default();
        Ok(Outcome {
            requests: number("requests"),
            duration: Duration::from_micros(number("duration_us")),
            p50_us: number("p50_us"),
            p99_us: number("p99_us"),
            status_errors: number("status_errors"),
            socket_errors: number("socket_errors"),
            timeouts: number("timeouts"),
            unexpected: checked.then(|| number("unexpected")),
            first_unexpected: json["first_unexpected"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            counted: number("counted"),
            next: number("next"),
            command: args.join(" "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(lua_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(lua_string("a\nb\u{1}"), r#""a\nb\001""#);
    }
}
