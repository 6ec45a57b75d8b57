//! `serve --config FILE`: a TOML file of `serve`'s flags, keyed by their long names.
//!
//! ```toml
//! listen = "0.0.0.0:8443"
//! registration-delay = "500ms"
//! demo = true
//! issuer = ["https://issuer.example/{tid}/"]
//! ```
//!
//! Each value of the file is given to clap as if it were its flag, for each key whose flag came
//! from neither the command line nor its `PC_*` variable. So flags win over the environment, the
//! environment over the file, the file over the defaults, and a value of the file is checked by
//! the very parser of its flag. Booleans are TOML booleans (`demo = true`), numbers are numbers or
//! strings, durations strings (`"2s"`), repeatable flags arrays. A key that is no flag of `serve`,
//! or a value its flag would refuse, stops the start with the key and the file named, even when a
//! flag overrides it.

use std::ffi::OsString;
use std::path::Path;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, CommandFactory as _, FromArgMatches as _};

use crate::cli::Cli;

/// The command line `args` (the program's name first), with `serve --config`'s file applied.
///
/// # Errors
///
/// A usage error: clap's own, or one naming the configuration file and its key at fault.
pub(crate) fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    let mut command = Cli::command();
    let matches = command.clone().try_get_matches_from(&args)?;
    let from_file = match matches.subcommand() {
        Some(("serve", serve)) => match serve.get_one::<std::path::PathBuf>("config") {
            Some(path) => {
                // Built, the subcommand has the global flags (`log-format`) too.
                command.build();
                let serve_command = command
                    .find_subcommand("serve")
                    .ok_or_else(|| clap::Error::raw(ErrorKind::InvalidSubcommand, "no serve"))?;
                flags_of_file(serve_command, &[&matches, serve], path)?
            }
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    if from_file.is_empty() {
        return Cli::from_arg_matches(&matches);
    }
    let matches = Cli::command().try_get_matches_from(args.into_iter().chain(from_file))?;
    Cli::from_arg_matches(&matches)
}

/// The flags (`--key=value`) the file at `path` adds to the command line of `serve`, whose
/// matches (with its parent's, for global flags) are `matches`.
fn flags_of_file(
    serve: &clap::Command,
    matches: &[&ArgMatches],
    path: &Path,
) -> Result<Vec<OsString>, clap::Error> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        clap::Error::raw(
            ErrorKind::Io,
            format!("cannot read the configuration file {file}: {e}\n"),
        )
    })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        clap::Error::raw(
            ErrorKind::InvalidValue,
            format!("the configuration file {file} is not valid TOML: {e}\n"),
        )
    })?;
    let mut flags = Vec::new();
    for (key, value) in &table {
        let arg = serve
            .get_arguments()
            .find(|arg| arg.get_long() == Some(key.as_str()) && is_setting(arg))
            .ok_or_else(|| {
                clap::Error::raw(
                    ErrorKind::UnknownArgument,
                    format!(
                        "unknown key `{key}` in the configuration file {file}: keys are the long \
                         names of serve's flags, such as `listen` or `registration-delay`\n"
                    ),
                )
            })?;
        let refused = |why: String| {
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("bad value for `{key}` in the configuration file {file}: {why}\n"),
            )
        };
        let values = values(arg, value).map_err(refused)?;
        for value in &values {
            check(arg, value).map_err(refused)?;
        }
        let id = arg.get_id().as_str();
        let overridden = matches.iter().any(|matches| {
            // A global flag is known to both matches, the others to serve's only.
            matches.try_contains_id(id).is_ok()
                && matches!(
                    matches.value_source(id),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
        });
        if overridden {
            continue;
        }
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            if values.iter().any(|value| value == "true") {
                flags.push(format!("--{key}").into());
            }
        } else {
            flags.extend(values.iter().map(|value| format!("--{key}={value}").into()));
        }
    }
    Ok(flags)
}

/// Whether `arg` is a setting (not `--help`, `--version` or `--config` itself).
fn is_setting(arg: &Arg) -> bool {
    arg.get_id() != "config"
        && matches!(
            arg.get_action(),
            ArgAction::Set | ArgAction::Append | ArgAction::SetTrue
        )
}

/// The values a TOML value gives `arg`, as they would be written on the command line.
fn values(arg: &Arg, value: &toml::Value) -> Result<Vec<String>, String> {
    let scalar = |value: &toml::Value| match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "a {}, where a string, a number or a boolean is expected",
            other.type_str()
        )),
    };
    match (arg.get_action(), value) {
        (ArgAction::SetTrue, toml::Value::Boolean(b)) => Ok(vec![b.to_string()]),
        (ArgAction::SetTrue, other) => Err(format!(
            "a {}, where a boolean (true or false) is expected",
            other.type_str()
        )),
        (ArgAction::Append, toml::Value::Array(items)) => items.iter().map(scalar).collect(),
        (_, toml::Value::Array(_)) => Err("an array, for a flag given once".to_owned()),
        (_, value) => Ok(vec![scalar(value)?]),
    }
}

/// Checks `value` with `arg`'s own parser, by parsing it alone as its flag (split at its
/// delimiter, if it has one), its environment variable and its requirements aside.
fn check(arg: &Arg, value: &str) -> Result<(), String> {
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return Ok(());
    }
    let Some(long) = arg.get_long() else {
        return Ok(());
    };
    let alone = arg
        .clone()
        .env(None)
        .requires(clap::builder::Resettable::Reset)
        .required(false);
    clap::Command::new("serve")
        .no_binary_name(true)
        .arg(alone)
        .try_get_matches_from([format!("--{long}={value}")])
        .map_err(|e| {
            // clap's message, less its `error: ` and its usage lines.
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_owned()
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use partner_center_server::RegistrationDelay;

    use super::*;
    use crate::cli::{Command, ServeArgs};

    fn serve_with(toml: &str, flags: &[&str]) -> Result<ServeArgs, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(&path, toml).unwrap();
        let path = path.display().to_string();
        let mut args: Vec<OsString> = ["partner-center", "serve", "--config", &path]
            .iter()
            .map(OsString::from)
            .collect();
        args.extend(flags.iter().map(OsString::from));
        match parse(args).map_err(|e| e.to_string())?.command {
            Command::Serve(args) => Ok(*args),
            _ => panic!("not serve"),
        }
    }

    #[test]
    fn the_file_beats_the_defaults_and_flags_beat_the_file() {
        let toml = r#"
            listen = "127.0.0.1:9999"
            registration-delay = "manual"
            journal-size = 7
            demo = true
            enforce-mfa = false
            issuer = ["https://a.example/{tid}/", "https://b.example/{tid}/"]
            database = "sqlite::memory:"
        "#;
        let args = serve_with(toml, &[]).unwrap();
        assert_eq!(args.listen.to_string(), "127.0.0.1:9999");
        assert_eq!(args.registration_delay, RegistrationDelay::Manual);
        assert_eq!(args.journal_size, 7);
        assert!(args.demo);
        assert!(!args.enforce_mfa);
        assert_eq!(args.issuers.len(), 2);
        assert_eq!(args.database.url, "sqlite::memory:");
        // Untouched by the file: the default.
        assert_eq!(args.clock_skew, Duration::from_secs(300));

        let args = serve_with(
            toml,
            &["--listen", "127.0.0.1:0", "--registration-delay=1s"],
        )
        .unwrap();
        assert_eq!(args.listen.to_string(), "127.0.0.1:0");
        assert_eq!(
            args.registration_delay,
            RegistrationDelay::After(Duration::from_secs(1))
        );
        assert_eq!(args.journal_size, 7);
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let err = serve_with("listen = \"127.0.0.1:0\"\nlisten-on = 1\n", &[]).unwrap_err();
        assert!(
            err.contains("unknown key `listen-on`") && err.contains("serve.toml"),
            "{err}"
        );
        for not_a_setting in ["config = \"other.toml\"", "help = true", "version = true"] {
            let err = serve_with(not_a_setting, &[]).unwrap_err();
            assert!(err.contains("unknown key"), "{err}");
        }
    }

    #[test]
    fn a_value_its_flag_would_refuse_is_refused_by_key_even_when_a_flag_overrides_it() {
        for (toml, what) in [
            ("registration-delay = \"soon\"", "manual"),
            ("max-connections = 0", "0"),
            ("demo = \"yes\"", "boolean"),
            ("listen = [\"127.0.0.1:0\"]", "array"),
            (
                "throttle = [\"registrations=60/1m\", \"nonsense\"]",
                "nonsense",
            ),
            ("log-format = \"xml\"", "xml"),
            ("[database]\nurl = \"x\"", "table"),
        ] {
            let key = toml
                .split([' ', ']'])
                .next()
                .unwrap()
                .trim_start_matches('[');
            let err = serve_with(toml, &[]).unwrap_err();
            assert!(
                err.contains(&format!("bad value for `{key}`"))
                    && err.contains("serve.toml")
                    && err.contains(what),
                "{toml}: {err}"
            );
        }
        let err = serve_with(
            "registration-delay = \"soon\"",
            &["--registration-delay", "1s"],
        )
        .unwrap_err();
        assert!(err.contains("registration-delay"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_toml_is_refused_with_its_position() {
        let err = serve_with("listen = ", &[]).unwrap_err();
        assert!(
            err.contains("serve.toml is not valid TOML") && err.contains("line 1"),
            "{err}"
        );
    }
}
