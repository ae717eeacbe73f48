//! `newswatch run` and `newswatch once`: the pipeline, with signals turned into a graceful stop.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use newswatch::config::Config;
use newswatch::daemon::{CycleReport, Daemon, ReloadTriggers};
use newswatch::log_text::untrusted;
use newswatch::store::redacted_url;
use newswatch::{ops, systemd};

use super::{EXIT_FAILURE, EXIT_INTERRUPTED, loaded};
use crate::logging::{print_error, print_warning};

/// The signal that asked for a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopSignal {
    Interrupt,
    Terminate,
}

/// Cancels `token` on SIGTERM or SIGINT; the returned cell then tells which one came. The
/// handlers are installed before this returns, so a signal sent once the work has started
/// is always a graceful stop, never the default kill.
fn cancel_on_signal(token: CancellationToken) -> Arc<OnceLock<StopSignal>> {
    let received = Arc::new(OnceLock::new());
    let cell = Arc::clone(&received);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &str| {
            signal(kind)
                .map_err(|e| error!(error = %e, "cannot listen for {name}"))
                .ok()
        };
        let mut interrupt = listen(SignalKind::interrupt(), "SIGINT");
        let mut terminate = listen(SignalKind::terminate(), "SIGTERM");
        tokio::spawn(async move {
            let stop = tokio::select! {
                Some(()) = recv(&mut interrupt) => StopSignal::Interrupt,
                Some(()) = recv(&mut terminate) => StopSignal::Terminate,
                else => return,
            };
            match stop {
                StopSignal::Interrupt => info!("SIGINT received; finishing the work in hand"),
                StopSignal::Terminate => info!("SIGTERM received; finishing the work in hand"),
            }
            systemd::stopping();
            let _ = cell.set(stop);
            token.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = cell.set(StopSignal::Interrupt);
            token.cancel();
        }
    });
    received
}

/// The next delivery of a signal listened for; never, when it could not be listened for.
#[cfg(unix)]
async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

/// Loads the configuration, says what `command` is starting with, and starts the daemon.
async fn start(path: &Path, command: &str) -> Result<(Arc<Daemon>, Config), ExitCode> {
    // As `check` loads it: every configuration problem, and what the configuration needs of
    // this machine, exits EXIT_CONFIG before the database is opened.
    let config = loaded(Config::load_to_run(path))?;
    log_start(&config, command);
    for warning in config.warnings() {
        tracing::warn!("{}", warning.warning());
    }
    let daemon = Daemon::start(&config).await.map_err(|e| {
        print_error(e);
        ExitCode::from(EXIT_FAILURE)
    })?;
    Ok((daemon, config))
}

/// The start-up line: which version runs with how much, where it stores and how it mails,
/// so that a log read later (or another instance's) tells what this process was. The
/// database URL's password is never shown.
fn log_start(config: &Config, command: &str) {
    info!(
        version = env!("CARGO_PKG_VERSION"),
        feeds = config.feeds().count(),
        watches = config.watches().count(),
        database = %untrusted(redacted_url(&config.database.url)),
        mail = config.email.transport.name(),
        "newswatch {command} starting"
    );
}

/// How often systemd's status line is brought up to date.
const STATUS_EVERY: Duration = Duration::from_secs(30);

pub async fn run(path: &Path, watch_file: bool) -> ExitCode {
    let (daemon, config) = match start(path, "run").await {
        Ok(started) => started,
        Err(code) => return code,
    };
    // Listening before the daemon says it is ready: a SIGHUP or a stop from then on is
    // handled, never the default kill.
    let reloads = ReloadTriggers::install(path, watch_file);
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    let endpoint_stop = CancellationToken::new();
    let endpoint = match config.http.listen_addr() {
        Some(addr) => match ops::bind(addr).await {
            Ok(listener) => {
                info!(address = %addr, "serving /metrics, /healthz and /readyz");
                Some(tokio::spawn(ops::serve(
                    listener,
                    Arc::clone(&daemon),
                    shutdown.clone(),
                    endpoint_stop.clone(),
                )))
            }
            Err(e) => {
                print_error(e);
                daemon.close().await;
                return ExitCode::from(EXIT_FAILURE);
            }
        },
        None => None,
    };
    tokio::spawn(Arc::clone(&daemon).reload_on_request(reloads, shutdown.clone()));
    tokio::spawn(keep_status_current(Arc::clone(&daemon), shutdown.clone()));
    systemd::ready(&daemon.status_line().await);
    info!("newswatch started");
    let ran = daemon.run(shutdown).await;
    endpoint_stop.cancel();
    if let Some(endpoint) = endpoint {
        let _ = endpoint.await;
    }
    match ran {
        Ok(()) => {
            info!("newswatch stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            print_error(e);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Keeps `systemctl status` showing the feeds and the alerts waiting.
async fn keep_status_current(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(STATUS_EVERY) => systemd::status(&daemon.status_line().await),
        }
    }
}

pub async fn once(path: &Path) -> ExitCode {
    let daemon = match start(path, "once").await {
        Ok((daemon, _)) => daemon,
        Err(code) => return code,
    };
    let shutdown = CancellationToken::new();
    let stopped_by = cancel_on_signal(shutdown.clone());
    match daemon.once(&shutdown).await {
        Ok(report) => {
            info!(
                feeds = report.feeds,
                failed_feeds = report.failed_feeds,
                new_articles = report.new_articles,
                alerts_queued = report.alerts_queued,
                alerts_sent = report.alerts_sent,
                alerts_retrying = report.alerts_retrying,
                alerts_failed = report.alerts_failed,
                "cycle done"
            );
            daemon.close().await;
            once_exit_code(&report, stopped_by.get().copied())
        }
        Err(e) => {
            print_error(e);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// How a finished `once` exits: 130 when SIGINT cut it short; failure when the mail server
/// could not be used, or when every feed failed (a cron job must notice that nothing was
/// polled; some feeds failing is logged and recorded, and exits 0).
fn once_exit_code(report: &CycleReport, stopped_by: Option<StopSignal>) -> ExitCode {
    if stopped_by == Some(StopSignal::Interrupt) {
        print_warning("interrupted by SIGINT before the end of the cycle");
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    if let Some(reason) = &report.mail_unavailable {
        print_error(format_args!(
            "the mail server could not be used ({}); the alerts stay queued for the next run",
            untrusted(reason)
        ));
        return ExitCode::from(EXIT_FAILURE);
    }
    // Feeds stopped by SIGTERM count as failed without having failed.
    if stopped_by.is_none() && report.feeds > 0 && report.failed_feeds == report.feeds {
        print_error(format_args!(
            "every feed failed ({} of {}); `newswatch feeds` shows why",
            report.failed_feeds, report.feeds
        ));
        return ExitCode::from(EXIT_FAILURE);
    }
    ExitCode::SUCCESS
}
