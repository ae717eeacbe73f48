//! `newswatch feeds`: every configured feed's health at a glance.
//!
//! The list is the configuration's feeds, in its order, each joined with its row in the
//! database: a feed that has no row yet (added since the daemon last started) or whose row
//! was never polled shows as "never polled", due at the next start of `run` or `once`. With no
//! database at all (nothing has run yet) every feed is listed so, with a note on standard
//! error naming the database expected; no database is created. Feeds only the database
//! knows (removed from the configuration) are not listed.
//!
//! A feed with `enabled = false` shows as "disabled", with no next poll; what it polled
//! before (last poll, articles) stays shown.
//!
//! The table keeps one line per feed; a feed whose last poll failed has the whole error (as
//! escaped for the terminal) on the next line, indented, instead of a cut in the column.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use newswatch::config::{Config, FeedConfig};
use newswatch::log_text::untrusted;
use newswatch::store::FeedRow;
use newswatch::store::PollStatus;

use super::{EXIT_FAILURE, format_time, load_config, open_store};

#[derive(Serialize)]
struct JsonFeed<'a> {
    name: &'a str,
    url: &'a str,
    /// `enabled = false` in the configuration: kept there, not polled.
    enabled: bool,
    active: bool,
    /// As in the table; an error with its text: `error: HTTP 404`.
    status: String,
    last_error: Option<&'a str>,
    last_poll: Option<i64>,
    next_poll: Option<i64>,
    consecutive_errors: i64,
    articles: i64,
    last_new_article: Option<i64>,
}

/// One configured feed and what the database knows of it.
struct Shown<'a> {
    config: &'a FeedConfig,
    row: Option<&'a FeedRow>,
}

impl Shown<'_> {
    fn status(&self) -> &'static str {
        if !self.config.enabled {
            return "disabled";
        }
        match self.row.and_then(FeedRow::poll_status) {
            None => "never polled",
            Some(PollStatus::Error) => "error",
            Some(PollStatus::Ok) => "ok",
            Some(PollStatus::NotModified) => "not modified",
        }
    }

    fn last_error(&self) -> Option<&str> {
        let row = self.row.filter(|_| self.config.enabled)?;
        (row.poll_status() == Some(PollStatus::Error))
            .then(|| row.last_error.as_deref().unwrap_or("unknown"))
    }

    /// When the feed is next polled, in unix seconds (rounded up: never earlier than it will
    /// be); `None` before it was scheduled (it is polled as soon as `run` or `once` starts),
    /// and for a disabled feed.
    fn next_poll(&self) -> Option<i64> {
        let row = self.row.filter(|_| self.config.enabled)?;
        (row.next_poll_at_ms > 0).then(|| (row.next_poll_at_ms - 1) / 1000 + 1)
    }

    fn next_poll_text(&self) -> String {
        match self.next_poll() {
            Some(at) => format_time(Some(at)),
            None if !self.config.enabled => "-".to_string(),
            None => "at start".to_string(),
        }
    }
}

pub async fn run(config_path: &Path, json: bool) -> ExitCode {
    run_checked(config_path, json)
        .await
        .unwrap_or_else(|code| code)
}

/// The database's feed rows; none when there is no SQLite file yet (said on standard error,
/// and the file is not created).
async fn stored_feeds(config: &Config) -> Result<Vec<FeedRow>, ExitCode> {
    if let Some(file) = config.database.sqlite_file()
        && !file.exists()
    {
        eprintln!(
            "note: no database exists yet at {}: no feed has been polled; \
             `newswatch run` or `newswatch once` creates it",
            untrusted(file.display())
        );
        return Ok(Vec::new());
    }
    let store = open_store(config).await?;
    let rows = store.feeds().await;
    store.close().await;
    rows.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_FAILURE)
    })
}

async fn run_checked(config_path: &Path, json: bool) -> Result<ExitCode, ExitCode> {
    let config = load_config(config_path)?;
    let rows = stored_feeds(&config).await?;
    let shown: Vec<Shown> = config
        .feeds()
        .map(|feed| Shown {
            config: feed,
            row: rows.iter().find(|r| r.name == feed.name()),
        })
        .collect();
    if json {
        for feed in &shown {
            let row = feed.row;
            let line = JsonFeed {
                name: feed.config.name(),
                url: row.map_or(feed.config.url(), |r| r.url.as_str()),
                enabled: feed.config.enabled,
                active: row.is_some_and(|r| r.active),
                status: match feed.last_error() {
                    Some(error) => format!("error: {error}"),
                    None => feed.status().to_string(),
                },
                last_error: feed.last_error(),
                last_poll: row.and_then(|r| r.last_poll_at),
                next_poll: feed.next_poll(),
                consecutive_errors: row.map_or(0, |r| r.consecutive_errors),
                articles: row.map_or(0, |r| r.articles),
                last_new_article: row.and_then(|r| r.last_new_article_at),
            };
            if let Ok(text) = serde_json::to_string(&line) {
                say!("{text}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Names as escaped for the terminal (a name is any TOML string, line breaks included).
    let names: Vec<String> = shown
        .iter()
        .map(|f| untrusted(f.config.name()).to_string())
        .collect();
    let width = names
        .iter()
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    say!(
        "{:<width$} {:<12} {:<23} {:<23} {:>6} {:>8} {:<23} URL",
        "NAME",
        "STATUS",
        "LAST POLL",
        "NEXT POLL",
        "ERRORS",
        "ARTICLES",
        "LAST NEW"
    );
    for (feed, name) in shown.iter().zip(&names) {
        let row = feed.row;
        say!(
            "{:<width$} {:<12} {:<23} {:<23} {:>6} {:>8} {:<23} {}",
            name,
            feed.status(),
            format_time(row.and_then(|r| r.last_poll_at)),
            feed.next_poll_text(),
            row.map_or(0, |r| r.consecutive_errors),
            row.map_or(0, |r| r.articles),
            format_time(row.and_then(|r| r.last_new_article_at)),
            untrusted(row.map_or(feed.config.url(), |r| r.url.as_str()))
        );
        if let Some(error) = feed.last_error() {
            say!("  error: {}", untrusted(error));
        }
    }
    Ok(ExitCode::SUCCESS)
}
