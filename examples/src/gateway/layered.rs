//! Layered configuration for the gateway: a TOML file (`--config PATH` or
//! `GATEWAY_CONFIG`), then the environment, then the command line, each
//! layer overriding the one before; an error names where the bad value
//! came from (the file and line, the environment variable, or the command
//! line).
//!
//! The file's keys are the command-line flags' names, with `_` or `-`
//! (`batch_frames = 500` or `batch-frames = 500` for `--batch-frames
//! 500`); values are TOML strings, numbers, booleans (for switches such as
//! `tls = true`) or arrays (for flags that repeat). The file is parsed
//! into flags and given to the same `clap` parser as the command line, so
//! it accepts exactly what the flags accept, validated the same way, and a
//! value from the file never becomes a flag of its own (each value is one
//! argument; a value starting with `-` is joined to its flag with `=`).
//!
//! ```
//! use clap::{CommandFactory, Parser};
//! use iot_examples::gateway::layered;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[arg(long, default_value_t = 1000)]
//!     batch_frames: usize,
//!     #[arg(long, default_value = "50ms")]
//!     batch_age: String,
//! }
//!
//! let file = "batch_frames = 500\nbatch_age = \"20ms\"\n";
//! let argv = ["gateway", "--batch-frames", "700"];
//! let first = Cli::command().get_matches_from(argv);
//! let layered = layered::apply(&Cli::command(), &first, argv.map(Into::into).to_vec(), "gateway.toml".as_ref(), file).unwrap();
//! let cli = Cli::try_parse_from(&layered.argv).unwrap();
//! assert_eq!((cli.batch_frames, cli.batch_age.as_str()), (700, "20ms")); // the command line wins
//! assert_eq!(layered.source("batch_age").to_string(), "gateway.toml:2");
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};
use toml::de::{DeTable, DeValue};

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The command line.
    CommandLine,
    /// An environment variable.
    Env(String),
    /// The configuration file, at this line.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key.
        line: u32,
    },
    /// The flag's default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::CommandLine => f.write_str("the command line"),
            Source::Env(var) => write!(f, "environment variable {var}"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Default => f.write_str("the default"),
        }
    }
}

/// The command line with the file's settings put in front, and where each
/// setting came from.
#[derive(Debug, Clone)]
pub struct Layered {
    /// Arguments for the parser: the program name, the file's settings the
    /// environment and command line do not set, then the command line's.
    pub argv: Vec<OsString>,
    sources: BTreeMap<String, Source>,
}

impl Layered {
    /// Where the setting with this id (the flag's field name, e.g.
    /// `batch_age`) came from.
    pub fn source(&self, id: &str) -> Source {
        self.sources.get(id).cloned().unwrap_or(Source::Default)
    }

    /// `error` (from parsing [`Layered::argv`]) with where the offending
    /// value came from.
    pub fn explain(&self, error: &clap::Error) -> String {
        let arg = match error.get(clap::error::ContextKind::InvalidArg) {
            Some(clap::error::ContextValue::String(arg)) => arg.clone(),
            _ => return error.to_string(),
        };
        // "--batch-age <BATCH_AGE>" -> "batch_age"
        let id = arg
            .trim_start_matches('-')
            .split([' ', '='])
            .next()
            .unwrap_or("")
            .replace('-', "_");
        match self.source(&id) {
            Source::Default | Source::CommandLine => error.to_string(),
            source => format!(
                "{} (the value comes from {source})",
                error.to_string().trim_end()
            ),
        }
    }
}

/// An error in the configuration file, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}", path = path.display())]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

/// Puts the settings of the TOML `text` (read from `path`) in front of
/// `argv`, skipping those the command line or the environment already set
/// (`first` is `argv` parsed without the file: it says which were set).
pub fn apply(
    cmd: &Command,
    first: &ArgMatches,
    argv: Vec<OsString>,
    path: &Path,
    text: &str,
) -> Result<Layered, FileError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() as u32 + 1;
    let err = |offset: usize, message: String| FileError {
        path: path.to_path_buf(),
        line: line_of(offset),
        message,
    };
    let table = DeTable::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        err(offset, format!("invalid TOML: {}", e.message().trim()))
    })?;
    let mut sources = BTreeMap::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        let source = match first.value_source(id) {
            Some(ValueSource::CommandLine) => Source::CommandLine,
            Some(ValueSource::EnvVariable) => Source::Env(
                arg.get_env()
                    .map(|v| v.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            _ => continue,
        };
        sources.insert(id.to_string(), source);
    }
    let mut from_file: Vec<OsString> = Vec::new();
    for (key, value) in table.get_ref() {
        let name = key.get_ref().replace('-', "_");
        let offset = key.span().start;
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id().as_str() == name && a.get_long().is_some())
            .ok_or_else(|| {
                err(
                    offset,
                    format!(
                        "unknown setting `{}` (the keys are the gateway's flags, see --help)",
                        key.get_ref()
                    ),
                )
            })?;
        if name == "config" {
            // The file was found through it: set inside, it would be
            // ignored (the file is not read again from there).
            return Err(err(
                offset,
                "`config` names this file and cannot be set inside it".to_string(),
            ));
        }
        if sources.contains_key(&name) || conflicts_with_a_higher_layer(cmd, arg, &sources) {
            continue; // the environment or the command line wins
        }
        let long = arg.get_long().expect("checked above");
        let values = scalars(value.get_ref()).ok_or_else(|| {
            err(
                offset,
                format!(
                    "`{}`: a string, number, boolean or array of them",
                    key.get_ref()
                ),
            )
        })?;
        let switch = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
        if switch {
            match value.get_ref() {
                DeValue::Boolean(true) => from_file.push(format!("--{long}").into()),
                DeValue::Boolean(false) => {}
                _ => {
                    return Err(err(
                        offset,
                        format!("`{}` is a switch: true or false", key.get_ref()),
                    ));
                }
            }
        } else {
            if values.len() > 1 && !matches!(arg.get_action(), ArgAction::Append) {
                return Err(err(offset, format!("`{}` takes one value", key.get_ref())));
            }
            for v in values {
                // One argument each, `=`-joined: a value never parses as
                // a flag of its own, whatever it starts with.
                from_file.push(format!("--{long}={v}").into());
            }
        }
        sources.insert(
            name,
            Source::File {
                path: path.to_path_buf(),
                line: line_of(offset),
            },
        );
    }
    let mut out = Vec::with_capacity(argv.len() + from_file.len());
    let mut argv = argv.into_iter();
    out.extend(argv.next());
    out.extend(from_file);
    out.extend(argv);
    Ok(Layered { argv: out, sources })
}

/// Whether the command line or the environment set an argument that
/// `arg` conflicts with (in either direction: clap reports a conflict
/// declared on either side): the file's `share_group` must give way to a
/// `--no-share` on the command line, not fail the start.
fn conflicts_with_a_higher_layer(
    cmd: &Command,
    arg: &clap::Arg,
    sources: &BTreeMap<String, Source>,
) -> bool {
    let higher = |id: &clap::Id| {
        sources
            .get(id.as_str())
            .is_some_and(|s| matches!(s, Source::CommandLine | Source::Env(_)))
    };
    cmd.get_arg_conflicts_with(arg)
        .iter()
        .any(|other| higher(other.get_id()))
        || cmd.get_arguments().any(|other| {
            higher(other.get_id())
                && cmd
                    .get_arg_conflicts_with(other)
                    .iter()
                    .any(|c| c.get_id() == arg.get_id())
        })
}

/// The ids of the arguments whose values differ between two parses of
/// the same command (a reload: the file read again), in `cmd`'s order.
pub fn changed(cmd: &Command, old: &ArgMatches, new: &ArgMatches) -> Vec<String> {
    let raw = |m: &ArgMatches, id: &str| -> Option<Vec<OsString>> {
        m.try_get_raw(id)
            .ok()
            .flatten()
            .map(|values| values.map(OsString::from).collect())
    };
    cmd.get_arguments()
        .map(|a| a.get_id().as_str())
        .filter(|id| raw(old, id) != raw(new, id))
        .map(str::to_string)
        .collect()
}

/// A scalar as the text a flag takes, or each element of an array of them.
fn scalars(value: &DeValue<'_>) -> Option<Vec<String>> {
    Some(match value {
        DeValue::String(s) => vec![s.to_string()],
        // In decimal: TOML's `0x3E8`, `0o1750`, `0b...` and `1_000` are
        // integers, the flags' parsers take decimal.
        DeValue::Integer(i) => vec![
            i128::from_str_radix(i.as_str(), i.radix())
                .ok()?
                .to_string(),
        ],
        DeValue::Float(f) => vec![f.to_string()],
        DeValue::Boolean(b) => vec![b.to_string()],
        DeValue::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match scalars(item.get_ref())?.as_slice() {
                    [one] if !matches!(item.get_ref(), DeValue::Array(_)) => out.push(one.clone()),
                    _ => return None,
                }
            }
            out
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser, Debug)]
    struct Cli {
        #[arg(long, default_value_t = 1000)]
        batch_frames: usize,
        #[arg(long, default_value = "50ms")]
        batch_age: String,
        #[arg(long)]
        tls: bool,
        #[arg(long)]
        topic: Vec<String>,
        #[arg(long, default_value = "x", env = "CARGO_MANIFEST_DIR")]
        manifest: String,
        #[arg(long)]
        config: Option<String>,
        #[arg(long)]
        share_group: Option<String>,
        #[arg(long, conflicts_with = "share_group")]
        no_share: bool,
    }

    fn layer(argv: &[&str], text: &str) -> Result<(Layered, Result<Cli, clap::Error>), FileError> {
        let argv: Vec<OsString> = argv.iter().map(Into::into).collect();
        let first = Cli::command().get_matches_from(argv.clone());
        let layered = apply(&Cli::command(), &first, argv, Path::new("gw.toml"), text)?;
        let parsed = Cli::try_parse_from(&layered.argv);
        Ok((layered, parsed))
    }

    #[test]
    fn file_then_environment_then_command_line() {
        let text = "batch-frames = 500\nbatch_age = \"20ms\"\ntls = true\ntopic = [\"a\", \"-b\"]\nmanifest = \"/file\"\n";
        let (layered, cli) = layer(&["gw", "--batch-frames", "700"], text).unwrap();
        let cli = cli.unwrap();
        assert_eq!(cli.batch_frames, 700);
        assert_eq!(cli.batch_age, "20ms");
        assert!(cli.tls);
        assert_eq!(
            cli.topic,
            ["a", "-b"],
            "a value starting with - stays a value"
        );
        // cargo sets CARGO_MANIFEST_DIR for tests: the environment wins.
        assert_eq!(cli.manifest, env!("CARGO_MANIFEST_DIR"));
        assert_eq!(layered.source("batch_frames"), Source::CommandLine);
        assert_eq!(layered.source("batch_age").to_string(), "gw.toml:2");
        assert_eq!(
            layered.source("manifest"),
            Source::Env("CARGO_MANIFEST_DIR".into())
        );
    }

    /// A file setting that conflicts with a flag on the command line gives
    /// way to it, whichever side declares the conflict; two conflicting
    /// settings in the file are still an error.
    #[test]
    fn the_command_line_wins_over_a_conflicting_file_setting() {
        let (layered, cli) = layer(&["gw", "--no-share"], "share_group = \"g\"\n").unwrap();
        let cli = cli.unwrap();
        assert!(cli.no_share && cli.share_group.is_none(), "{cli:?}");
        assert_eq!(layered.source("share_group"), Source::Default);
        let (_, cli) = layer(&["gw", "--share-group", "g"], "no_share = true\n").unwrap();
        let cli = cli.unwrap();
        assert!(
            !cli.no_share && cli.share_group.as_deref() == Some("g"),
            "{cli:?}"
        );
        let (_, cli) = layer(&["gw"], "share_group = \"g\"\nno_share = true\n").unwrap();
        assert!(cli.is_err());
    }

    /// TOML integers in any base and with separators reach the flags as
    /// decimal.
    #[test]
    fn integers_in_any_base_are_decimal_to_the_flags() {
        for text in [
            "batch_frames = 0x3E8",
            "batch_frames = 0o1750",
            "batch_frames = 1_000",
        ] {
            let (_, cli) = layer(&["gw"], text).unwrap();
            assert_eq!(cli.unwrap().batch_frames, 1000, "{text}");
        }
    }

    /// `config` inside the file would be ignored: it is refused.
    #[test]
    fn config_inside_the_file_is_refused() {
        let e = layer(&["gw"], "batch_frames = 5\nconfig = \"other.toml\"\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("cannot be set inside"), "{}", e.message);
    }

    #[test]
    fn a_bad_value_from_the_file_names_the_file_and_line() {
        let (layered, cli) = layer(&["gw"], "\n\nbatch_frames = \"many\"\n").unwrap();
        let e = cli.unwrap_err();
        let text = layered.explain(&e);
        assert!(
            text.contains("many") && text.ends_with("(the value comes from gw.toml:3)"),
            "{text}"
        );
        // A bad value on the command line is refused by the first parse,
        // before the file is read (clap's own message).
    }

    #[test]
    fn file_errors_have_a_line() {
        let e = layer(&["gw"], "batch_frames = 1\nno_such = 2\n").unwrap_err();
        assert_eq!((e.line, e.path.as_path()), (2, Path::new("gw.toml")));
        assert!(e.message.contains("unknown setting `no_such`"), "{e}");
        let e = layer(&["gw"], "tls = \"yes\"\n").unwrap_err();
        assert!(e.message.contains("switch"), "{e}");
        let e = layer(&["gw"], "batch_age = [\"1s\", \"2s\"]\n").unwrap_err();
        assert!(e.message.contains("one value"), "{e}");
        let e = layer(&["gw"], "a = [1\n").unwrap_err();
        assert!(e.message.starts_with("invalid TOML"), "{e}");
        let e = layer(&["gw"], "[section]\nx = 1\n").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
    }

    #[test]
    fn changed_lists_what_a_reload_changes() {
        let parse = |argv: &[&str]| Cli::command().get_matches_from(argv);
        let old = parse(&["gw", "--batch-age", "1s", "--tls"]);
        let new = parse(&["gw", "--batch-age", "2s", "--tls", "--topic", "a"]);
        assert_eq!(changed(&Cli::command(), &old, &new), ["batch_age", "topic"]);
        assert!(changed(&Cli::command(), &old, &old).is_empty());
    }

    #[test]
    fn a_value_never_becomes_a_flag() {
        let (_, cli) = layer(&["gw"], "batch_age = \"1s --tls\"\n").unwrap();
        let cli = cli.unwrap();
        assert_eq!(cli.batch_age, "1s --tls");
        assert!(!cli.tls);
    }
}
