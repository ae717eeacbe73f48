//! Command-line arguments and the dispatch to each subcommand.

/// `println!` for command output, except that a closed pipe (`newswatch alerts | head`) ends
/// the program quietly, as the reader has seen what it wanted, and any other write error
/// (a full disk) ends it with an error, instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::cli::output_failed(&e);
        }
    }};
}

/// Ends the program after standard output failed: quietly for a closed pipe, else with an
/// error. Command output is written after the database work it reports is committed.
fn output_failed(error: &std::io::Error) -> ! {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write the output: {error}");
    std::process::exit(i32::from(EXIT_FAILURE));
}

mod alerts;
mod backtest;
mod check;
mod export_opml;
mod feeds;
mod generate;
mod healthcheck;
mod import_opml;
mod instances;
mod migrate_db;
mod prune;
mod send_test;
mod service;
mod test_rule;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use newswatch::config::{Config, LogFormat};
use newswatch::log_text::untrusted;
use newswatch::rules::WatchSet;
use newswatch::store::Store;

/// Exit code for a configuration that cannot be used.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a failure while running (database unusable, …).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for a command line that cannot be parsed (unknown command or option, bad or
/// missing argument): `EX_USAGE` of sysexits.h, distinct from [`EXIT_CONFIG`] (clap's own
/// default, 2, would be the same as a configuration error's).
pub const EXIT_USAGE: u8 = 64;
/// Exit code of a `once` stopped by SIGINT (Ctrl-C), after its clean shutdown: 128 + 2, as a
/// shell reports a command killed by the signal, so that a script or cron sees it was cut short.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Every exit code and what it means, for `--help`, the man page and the README.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (0, "success"),
    (
        EXIT_FAILURE,
        "runtime failure: the database or the mail server cannot be used, every feed failed \
         (once), the daemon is unhealthy (healthcheck)",
    ),
    (
        EXIT_CONFIG,
        "configuration error: the file does not load or check finds a problem; an argument \
         naming what the configuration lacks (--watch)",
    ),
    (
        EXIT_USAGE,
        "usage error: unknown command or option, bad or missing argument",
    ),
    (
        EXIT_INTERRUPTED,
        "once stopped by SIGINT (Ctrl-C), after a clean stop",
    ),
];

/// The `Exit status:` block at the end of `newswatch --help`.
fn exit_codes_help() -> String {
    let mut text = String::from("Exit status:");
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("\n  {code:<4} {meaning}"));
    }
    text
}

#[derive(Debug, Parser)]
#[command(
    name = "newswatch",
    version,
    about = "Watches news feeds and emails an alert for every article matching your rules.",
    after_help = exit_codes_help()
)]
pub struct Args {
    /// The configuration file.
    #[arg(
        short = 'c',
        long,
        global = true,
        env = "NEWSWATCH_CONFIG",
        default_value = "config.toml"
    )]
    pub config: PathBuf,
    /// How the log on standard error is written; overrides `[log] format`.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format`: the values of [`LogFormat`], for clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    /// One line per event, for people.
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(format: LogFormatArg) -> Self {
        match format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll feeds on their intervals and deliver alerts until SIGTERM or SIGINT;
    /// SIGHUP or a change to the configuration file reloads it.
    Run {
        /// Reload the configuration on SIGHUP only, not when the file changes.
        #[arg(long)]
        no_watch: bool,
    },
    /// Poll every feed once, ingest, match, deliver the alerts that are due, and exit.
    Once,
    /// Validate the configuration and compile every watch; print every problem found.
    Check,
    /// Show which watches match the articles of feed files or URLs, and why (no database, no mail).
    TestRule(test_rule::TestRuleArgs),
    /// Run the watches over the stored archive: matches per day, samples, alert volume.
    Backtest(backtest::BacktestArgs),
    /// List alerts (queued, sent, failed) with their attempts and errors; `alerts retry` re-queues.
    Alerts(alerts::AlertsArgs),
    /// Print [[feeds]] tables for the subscriptions in an OPML file (or append them with --write).
    ImportOpml(import_opml::ImportOpmlArgs),
    /// Print the configured feeds as an OPML 2.0 subscription list (tags as categories).
    ExportOpml,
    /// Show every feed's polling status.
    Feeds {
        /// One JSON object per feed and line.
        #[arg(long)]
        json: bool,
    },
    /// List the daemons sharing this database (seen in the last two minutes).
    Instances {
        /// One JSON object per instance and line.
        #[arg(long)]
        json: bool,
    },
    /// Copy the configured SQLite database into an empty PostgreSQL database.
    MigrateDb(migrate_db::MigrateDbArgs),
    /// Ask the running daemon's /healthz (at [http] listen); exit 0 when it is healthy.
    Healthcheck,
    /// Apply [retention] now: delete old articles and alerts, give the space back; --dry-run shows what would go.
    Prune(prune::PruneArgs),
    /// Send one test mail through the configured transport and print what the server answered.
    SendTest(send_test::SendTestArgs),
    /// Print a shell completion script: `source <(newswatch completions bash)`.
    Completions {
        /// The shell (bash, zsh, fish; elvish and powershell too).
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `newswatch man | man -l -`, or save it as newswatch.1.
    Man,
}

impl Command {
    /// Commands that run the pipeline and log their progress by default.
    pub fn is_service(&self) -> bool {
        matches!(self, Command::Run { .. } | Command::Once)
    }
}

pub async fn run(args: Args) -> ExitCode {
    match &args.command {
        Command::Check => check::run(&args.config),
        Command::TestRule(test) => test_rule::run(&args.config, test).await,
        Command::Run { no_watch } => service::run(&args.config, !*no_watch).await,
        Command::Once => service::once(&args.config).await,
        Command::Feeds { json } => feeds::run(&args.config, *json).await,
        Command::Backtest(backtest) => backtest::run(&args.config, backtest).await,
        Command::Alerts(alerts) => alerts::run(&args.config, alerts).await,
        Command::ImportOpml(import) => import_opml::run(&args.config, import),
        Command::ExportOpml => export_opml::run(&args.config),
        Command::Instances { json } => instances::run(&args.config, *json).await,
        Command::MigrateDb(migrate) => migrate_db::run(&args.config, migrate).await,
        Command::Healthcheck => healthcheck::run(&args.config).await,
        Command::Prune(prune) => prune::run(&args.config, prune).await,
        Command::SendTest(send_test) => send_test::run(&args.config, send_test).await,
        Command::Completions { shell } => generate::completions(*shell),
        Command::Man => generate::man(),
    }
}

/// Loads the configuration (and takes its log format) or prints why it cannot be used.
fn load_config(path: &std::path::Path) -> Result<Config, ExitCode> {
    loaded(Config::load(path))
}

/// A loaded configuration's log format is taken from now on; a configuration that did not
/// load has its problems printed (in the format in effect: text, or `--log-format`'s).
fn loaded(config: Result<Config, newswatch::config::ConfigErrors>) -> Result<Config, ExitCode> {
    match config {
        Ok(config) => {
            crate::logging::use_config_format(config.log.format);
            Ok(config)
        }
        Err(errors) => {
            crate::logging::print_config_errors(&errors);
            Err(ExitCode::from(EXIT_CONFIG))
        }
    }
}

/// Compiles the watches or prints every query error.
fn compile_watches(config: &Config) -> Result<std::sync::Arc<WatchSet>, ExitCode> {
    config.compile_watches().map_err(|errors| {
        for error in errors {
            eprintln!("{error}\n");
        }
        ExitCode::from(EXIT_CONFIG)
    })
}

/// The indexes of the watches named with `--watch` (all when none is named).
fn select_watches(watches: &WatchSet, names: &[String]) -> Result<Vec<usize>, ExitCode> {
    if names.is_empty() {
        return Ok((0..watches.len()).collect());
    }
    names
        .iter()
        .map(|name| {
            watches.position(name).ok_or_else(|| {
                let known: Vec<&str> = (0..watches.len()).map(|i| watches.name(i)).collect();
                eprintln!(
                    "error: no watch is named {name:?}; the watches are: {}",
                    known.join(", ")
                );
                ExitCode::from(EXIT_CONFIG)
            })
        })
        .collect()
}

/// Opens the database of a command that only reads it (`feeds`, `alerts`, `backtest`,
/// `instances`) or only removes from it (`prune`): a SQLite file that does not exist yet is
/// not created, as opening it would (an empty database in the wrong place reports nothing,
/// silently); the command says so and fails instead.
async fn open_existing_store(config: &Config) -> Result<Store, ExitCode> {
    if let Some(file) = config.database.sqlite_file()
        && !file.exists()
    {
        eprintln!(
            "error: no database exists yet at {}; `newswatch run` or `newswatch once` creates it",
            untrusted(file.display())
        );
        return Err(ExitCode::from(EXIT_FAILURE));
    }
    open_store(config).await
}

/// Opens the database (creating a SQLite file if missing) or prints why it cannot be used.
async fn open_store(config: &Config) -> Result<Store, ExitCode> {
    Store::open(&config.database.url, config.database.max_connections)
        .await
        .map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        })
}

/// Formats a unix time for people: `2026-11-27 12:05:09 UTC`.
fn format_time(timestamp: Option<i64>) -> String {
    timestamp
        .and_then(|t| chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0))
        .map_or_else(
            || "-".to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}
