//! `newswatch run` and `newswatch once`: the pipeline, with signals turned into a graceful stop.

use std::path::Path;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use newswatch::config::Config;
use newswatch::daemon::Daemon;

use super::{EXIT_CONFIG, EXIT_FAILURE, print_config_errors};

/// Cancels `token` on SIGTERM or SIGINT.
fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut terminate =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(signal) => signal,
                    Err(e) => {
                        error!(error = %e, "cannot listen for SIGTERM");
                        let _ = interrupt.await;
                        token.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = interrupt => info!("SIGINT received; finishing the work in hand"),
                _ = terminate.recv() => info!("SIGTERM received; finishing the work in hand"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = interrupt.await;
        }
        token.cancel();
    });
}

async fn start(path: &Path) -> Result<std::sync::Arc<Daemon>, ExitCode> {
    let config = Config::load_for_delivery(path).map_err(|errors| {
        print_config_errors(&errors);
        ExitCode::from(EXIT_CONFIG)
    })?;
    for warning in config.warnings() {
        tracing::warn!("{}", warning.warning());
    }
    Daemon::start(&config).await.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_FAILURE)
    })
}

pub async fn run(path: &Path) -> ExitCode {
    let daemon = match start(path).await {
        Ok(daemon) => daemon,
        Err(code) => return code,
    };
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    info!("newswatch started");
    match daemon.run(shutdown).await {
        Ok(()) => {
            info!("newswatch stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

pub async fn once(path: &Path) -> ExitCode {
    let daemon = match start(path).await {
        Ok(daemon) => daemon,
        Err(code) => return code,
    };
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
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
            daemon.store().close().await;
            if let Some(reason) = &report.mail_unavailable {
                eprintln!(
                    "error: the mail server could not be used ({reason}); the alerts stay \
                     queued for the next run"
                );
                return ExitCode::from(EXIT_FAILURE);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
