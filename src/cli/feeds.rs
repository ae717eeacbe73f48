//! `newswatch feeds`: every feed's health at a glance.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use newswatch::log_text::untrusted;
use newswatch::store::FeedRow;
use newswatch::store::PollStatus;

use super::{EXIT_FAILURE, format_time, load_config, open_existing_store};

#[derive(Serialize)]
struct JsonFeed<'a> {
    name: &'a str,
    url: &'a str,
    active: bool,
    status: String,
    last_error: Option<&'a str>,
    last_poll: Option<i64>,
    next_poll: Option<i64>,
    consecutive_errors: i64,
    articles: i64,
    last_new_article: Option<i64>,
}

fn status(feed: &FeedRow) -> String {
    match feed.poll_status() {
        None => "never polled".to_string(),
        Some(PollStatus::Error) => {
            format!("error: {}", feed.last_error.as_deref().unwrap_or("unknown"))
        }
        Some(PollStatus::Ok) => "ok".to_string(),
        Some(PollStatus::NotModified) => "not modified".to_string(),
    }
}

/// When the feed is next polled, in unix seconds (rounded up: never earlier than it will be);
/// `None` before it was scheduled.
fn next_poll(feed: &FeedRow) -> Option<i64> {
    (feed.next_poll_at_ms > 0).then(|| (feed.next_poll_at_ms - 1) / 1000 + 1)
}

pub async fn run(config_path: &Path, json: bool) -> ExitCode {
    run_checked(config_path, json)
        .await
        .unwrap_or_else(|code| code)
}

async fn run_checked(config_path: &Path, json: bool) -> Result<ExitCode, ExitCode> {
    let config = load_config(config_path)?;
    let store = open_existing_store(&config).await?;
    let configured: Vec<&str> = config.feeds().map(|f| f.name()).collect();
    let rows = match store.feeds().await {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(EXIT_FAILURE));
        }
    };
    let mut shown: Vec<&FeedRow> = rows
        .iter()
        .filter(|r| configured.contains(&r.name.as_str()))
        .collect();
    shown.sort_by_key(|r| configured.iter().position(|n| *n == r.name));
    if json {
        for feed in shown {
            let line = JsonFeed {
                name: &feed.name,
                url: &feed.url,
                active: feed.active,
                status: status(feed),
                last_error: feed.last_error.as_deref(),
                last_poll: feed.last_poll_at,
                next_poll: next_poll(feed),
                consecutive_errors: feed.consecutive_errors,
                articles: feed.articles,
                last_new_article: feed.last_new_article_at,
            };
            if let Ok(text) = serde_json::to_string(&line) {
                say!("{text}");
            }
        }
    } else {
        say!(
            "{:<28} {:<40} {:<23} {:<23} {:>6} {:>8} {:<23} URL",
            "NAME",
            "STATUS",
            "LAST POLL",
            "NEXT POLL",
            "ERRORS",
            "ARTICLES",
            "LAST NEW"
        );
        for feed in shown {
            let mut status = untrusted(status(feed)).to_string();
            if status.chars().count() > 40 {
                status = format!("{}…", status.chars().take(39).collect::<String>());
            }
            say!(
                "{:<28} {:<40} {:<23} {:<23} {:>6} {:>8} {:<23} {}",
                feed.name,
                status,
                format_time(feed.last_poll_at),
                format_time(next_poll(feed)),
                feed.consecutive_errors,
                feed.articles,
                format_time(feed.last_new_article_at),
                untrusted(&feed.url)
            );
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
