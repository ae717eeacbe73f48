//! The log on standard error, as text lines or as one JSON object per line (`[log] format`,
//! `--log-format`), and the few messages the commands print beside it.
//!
//! The format is set in the configuration, but logging is needed before the configuration is
//! read, and the configuration's own errors must be printed in some format. So both
//! formatters are installed at start, each behind a filter reading one switch: with
//! `--log-format` the switch is set for good before anything is logged (errors while loading
//! the configuration come out in that format); without it, it starts at text and is set from
//! `[log] format` once a configuration has loaded. A configuration that cannot be loaded has
//! no format to trust, so its errors come out in text.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};

use newswatch::config::{ConfigError, ConfigErrors, LogFormat};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::dynamic_filter_fn;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

/// Whether events are written as JSON.
static JSON: AtomicBool = AtomicBool::new(false);
/// Whether `--log-format` chose the format, which the configuration then does not change.
static FROM_FLAG: AtomicBool = AtomicBool::new(false);

/// Installs the global subscriber, on standard error: `RUST_LOG` filters, else
/// `default_filter`; `flag` is `--log-format`, when given.
pub fn init(flag: Option<LogFormat>, default_filter: &str) {
    if let Some(format) = flag {
        JSON.store(format == LogFormat::Json, Ordering::Relaxed);
        FROM_FLAG.store(true, Ordering::Relaxed);
    }
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Dynamic filters: asked at every event and span (a plain `filter_fn` is cached per
    // callsite, and would keep the format the callsite was first seen in).
    let text = fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(dynamic_filter_fn(|_, _| !is_json()));
    let json = fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .with_filter(dynamic_filter_fn(|_, _| is_json()));
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .init();
}

/// Takes the format from a configuration that has loaded, unless `--log-format` chose one.
/// Called before anything runs (no span is open across the change: a span opened in one
/// format is not shown in the other).
pub fn use_config_format(format: LogFormat) {
    if !FROM_FLAG.load(Ordering::Relaxed) {
        JSON.store(format == LogFormat::Json, Ordering::Relaxed);
    }
}

/// Whether the log is written as JSON.
pub fn is_json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Prints an error that ends a command, whatever `RUST_LOG` says: `error: MESSAGE` in text,
/// an `ERROR` object in JSON. `message` must already be fit for a terminal (see
/// `log_text::untrusted`); JSON escapes it again, harmlessly.
pub fn print_error(message: impl Display) {
    print(Level::Error, message);
}

/// Prints a notice about how a command ended (SIGINT), in the log's format.
pub fn print_warning(message: impl Display) {
    print(Level::Warn, message);
}

/// The level of a message printed outside the subscriber.
#[derive(Clone, Copy)]
enum Level {
    Error,
    Warn,
}

fn print(level: Level, message: impl Display) {
    if is_json() {
        let mut object = json_object(level);
        object.insert("message".into(), message.to_string().into());
        eprintln!("{}", serde_json::Value::Object(object));
    } else {
        match level {
            Level::Error => eprintln!("error: {message}"),
            Level::Warn => eprintln!("{message}"),
        }
    }
}

/// Prints every problem of a configuration, formatted first and written at once: standard
/// error is unbuffered, and 100,000 problems written piece by piece cost millions of writes.
/// In JSON, one `ERROR` object per problem, with its file, line, column and help.
pub fn print_config_errors(errors: &ConfigErrors) {
    if !is_json() {
        let shown = errors.to_string();
        eprintln!("{shown}");
        return;
    }
    let mut shown = String::new();
    for error in &errors.0 {
        shown.push_str(&config_error_json(error).to_string());
        shown.push('\n');
    }
    eprint!("{shown}");
}

/// One configuration problem as a log object: the file, line and column, and the line
/// itself (which names the key) without the caret.
fn config_error_json(error: &ConfigError) -> serde_json::Value {
    let mut object = json_object(Level::Error);
    object.insert("message".into(), error.message.clone().into());
    object.insert("file".into(), error.path.display().to_string().into());
    if error.line > 0 {
        object.insert("line".into(), error.line.into());
        object.insert("column".into(), error.column.into());
    }
    if let Some(line) = error.line_text() {
        object.insert("source".into(), line.into());
    }
    if !error.help.is_empty() {
        object.insert("help".into(), error.help.clone().into());
    }
    serde_json::Value::Object(object)
}

/// The fields every object starts with, as tracing's JSON formatter writes them.
fn json_object(level: Level) -> serde_json::Map<String, serde_json::Value> {
    let mut object = serde_json::Map::new();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    object.insert("timestamp".into(), now.into());
    let level = match level {
        Level::Error => "ERROR",
        Level::Warn => "WARN",
    };
    object.insert("level".into(), level.into());
    object
}
