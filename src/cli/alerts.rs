//! `newswatch alerts`: the outbox as an operator sees it, and re-queuing what failed.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;

use newswatch::config::{Config, parse_duration};
use newswatch::log_text::untrusted;
use newswatch::store::{AlertKind, AlertRow, AlertStatus, DeliveryState, RecipientState, Store};
use newswatch::wording::plural;

use super::{EXIT_CONFIG, EXIT_FAILURE, format_time, load_config, open_existing_store};

#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub action: Option<AlertsAction>,
    /// Only alerts in this state: queued, sending, sent or failed.
    #[arg(long)]
    pub status: Option<AlertStatus>,
    /// Only alerts created within this time, e.g. "1d" or "6h".
    #[arg(long)]
    pub since: Option<String>,
    /// Only alerts of this watch (repeatable); a configured watch, or one that has alerts stored.
    #[arg(long = "watch", value_name = "NAME")]
    pub watches: Vec<String>,
    /// One JSON object per alert and line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AlertsAction {
    /// Queue an alert again for an attempt now (ID), or every failed alert (--failed).
    Retry {
        /// The alert to retry (see the ID column of `newswatch alerts`).
        #[arg(required_unless_present = "failed", conflicts_with = "failed")]
        id: Option<i64>,
        /// Retry every failed alert.
        #[arg(long)]
        failed: bool,
    },
}

#[derive(Serialize)]
struct JsonAlert<'a> {
    id: i64,
    watch: &'a str,
    kind: &'a str,
    status: &'a str,
    article: Option<&'a str>,
    link: Option<&'a str>,
    items: i64,
    recipients: Vec<String>,
    /// Each recipient with its own state: pending, sent or failed (with the server's reply).
    deliveries: &'a [RecipientState],
    attempts: i64,
    last_error: Option<&'a str>,
    created_at: i64,
    sent_at: Option<i64>,
    next_attempt_at: Option<i64>,
}

fn describe(alert: &AlertRow) -> String {
    match alert.kind {
        AlertKind::Article => alert
            .article_title
            .clone()
            .unwrap_or_else(|| "(article removed by retention)".to_string()),
        AlertKind::Digest => format!("digest of {} articles", alert.item_count),
        AlertKind::Overflow => format!("and {} more this hour", alert.item_count),
    }
}

pub async fn run(config_path: &Path, args: &AlertsArgs) -> ExitCode {
    run_checked(config_path, args)
        .await
        .unwrap_or_else(|code| code)
}

async fn run_checked(config_path: &Path, args: &AlertsArgs) -> Result<ExitCode, ExitCode> {
    let since = match args.since.as_deref().map(parse_duration) {
        None => None,
        Some(Ok(duration)) => Some(chrono::Utc::now().timestamp() - duration.as_secs() as i64),
        Some(Err(e)) => {
            eprintln!("error: --since: {e}");
            return Err(ExitCode::from(EXIT_CONFIG));
        }
    };
    let config = load_config(config_path)?;
    let store = open_existing_store(&config).await?;
    let code = match &args.action {
        Some(AlertsAction::Retry { id, failed }) => retry(&store, *id, *failed).await,
        None => list(&store, &config, args, since).await,
    };
    store.close().await;
    Ok(code)
}

async fn retry(store: &Store, id: Option<i64>, failed: bool) -> ExitCode {
    let now = chrono::Utc::now().timestamp();
    let result = match (id, failed) {
        (_, true) => store.retry_failed(now).await.map(|n| {
            say!(
                "{} queued again; the running daemon (or the next `once`) sends them",
                plural(n as usize, "failed alert", "failed alerts")
            );
            true
        }),
        (Some(id), false) => store.retry_alert(id, now).await.inspect(|&found| {
            if found {
                say!("alert {id} queued again");
            } else {
                eprintln!(
                    "error: no queued or failed alert has ID {id}: only those can be retried \
                     (a sent alert is not sent again; `newswatch alerts` lists them all)"
                );
            }
        }),
        (None, false) => Ok(false),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_FAILURE),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

async fn list(store: &Store, config: &Config, args: &AlertsArgs, since: Option<i64>) -> ExitCode {
    let mut alerts = match store.alerts(args.status, since).await {
        Ok(alerts) => alerts,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if !args.watches.is_empty() {
        if let Err(code) = check_watch_names(store, config, &args.watches).await {
            return code;
        }
        alerts.retain(|alert| args.watches.contains(&alert.watch));
    }
    let mut deliveries = Vec::with_capacity(alerts.len());
    for alert in &alerts {
        match store.recipient_states(alert.id).await {
            Ok(states) => deliveries.push(states),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    }
    if args.json {
        for (alert, deliveries) in alerts.iter().zip(&deliveries) {
            let line = JsonAlert {
                id: alert.id,
                watch: &alert.watch,
                kind: alert.kind.as_str(),
                status: alert.status.as_str(),
                article: alert.article_title.as_deref(),
                link: alert.article_link.as_deref(),
                items: alert.item_count,
                recipients: serde_json::from_str(&alert.recipients).unwrap_or_default(),
                deliveries,
                attempts: alert.attempts,
                last_error: alert.last_error.as_deref(),
                created_at: alert.created_at,
                sent_at: alert.sent_at,
                next_attempt_at: (alert.status == AlertStatus::Queued)
                    .then_some(alert.next_attempt_at),
            };
            if let Ok(text) = serde_json::to_string(&line) {
                say!("{text}");
            }
        }
        return ExitCode::SUCCESS;
    }
    say!(
        "{:>6}  {:<7}  {:<23}  {:<24}  {:<40}  {:<40}  {:>8}  LAST ERROR",
        "ID",
        "STATUS",
        "CREATED",
        "WATCH",
        "ARTICLE",
        "RECIPIENTS",
        "ATTEMPTS"
    );
    for (alert, deliveries) in alerts.iter().zip(&deliveries) {
        let recipients = recipient_column(alert, deliveries);
        say!(
            "{:>6}  {:<7}  {:<23}  {:<24}  {:<40}  {:<40}  {:>8}  {}",
            alert.id,
            alert.status.as_str(),
            format_time(Some(alert.created_at)),
            clip(&alert.watch, 24),
            clip(&untrusted(describe(alert)).to_string(), 40),
            clip(&recipients, 40),
            alert.attempts,
            untrusted(alert.last_error.as_deref().unwrap_or(""))
        );
    }
    if alerts.is_empty() {
        say!("(no alerts)");
    }
    ExitCode::SUCCESS
}

/// Each `--watch` name must be a configured watch, or one with alerts stored (a watch since
/// removed from the configuration); else an error lists the configured watches, as a typo
/// would otherwise list nothing and look like a quiet watch.
async fn check_watch_names(
    store: &Store,
    config: &Config,
    names: &[String],
) -> Result<(), ExitCode> {
    let configured: Vec<&str> = config.watches().map(|w| w.name()).collect();
    let unknown: Vec<&String> = names
        .iter()
        .filter(|name| !configured.contains(&name.as_str()))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let stored = match store.alerts(None, None).await {
        Ok(alerts) => alerts,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(EXIT_FAILURE));
        }
    };
    for name in unknown {
        if !stored.iter().any(|alert| &alert.watch == name) {
            eprintln!(
                "error: no watch is named {name:?}; the watches are: {}",
                configured.join(", ")
            );
            return Err(ExitCode::from(EXIT_CONFIG));
        }
    }
    Ok(())
}

/// The recipients; when they do not all stand alike, each with its state, refused ones first.
fn recipient_column(alert: &AlertRow, deliveries: &[RecipientState]) -> String {
    if deliveries.is_empty() {
        let listed: Vec<String> = serde_json::from_str(&alert.recipients).unwrap_or_default();
        return listed.join(", ");
    }
    let alike = deliveries.iter().all(|d| d.status == deliveries[0].status);
    let mut ordered: Vec<&RecipientState> = deliveries.iter().collect();
    ordered.sort_by_key(|d| match d.status {
        DeliveryState::Failed => 0,
        DeliveryState::Pending => 1,
        DeliveryState::Sent => 2,
    });
    ordered
        .iter()
        .map(|d| {
            if alike {
                d.address.clone()
            } else {
                format!("{} ({})", d.address, d.status.as_str())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(width - 1).collect::<String>())
    }
}
