//! Getting a feed's articles: fetch (HTTP) → decode (bytes to UTF-8) → parse (feed-rs) →
//! normalize (entries to articles). Knows nothing of storage or watches.

pub mod decode;
pub mod fetch;
mod normalize;
pub mod parse;

use std::time::Duration;

pub use fetch::{FetchError, FetchRequest, FetchSettings, Fetched, FetchedBody, Fetcher};
pub use parse::{ParseError, ParsedFeed};

/// The outcome of one successful poll.
#[derive(Debug, Clone)]
pub struct Polled {
    pub final_url: String,
    /// The feed moved permanently (301/308) to this URL.
    pub moved_to: Option<String>,
    pub fresh_for: Option<Duration>,
    pub content: PolledContent,
}

#[derive(Debug, Clone)]
pub enum PolledContent {
    /// 304: unchanged since the last poll.
    NotModified,
    Feed {
        feed: ParsedFeed,
        etag: Option<String>,
        last_modified: Option<String>,
        body_bytes: usize,
    },
}

/// Why a poll failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] ParseError),
}

impl PollError {
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PollError::Fetch(e) => e.retry_after(),
            PollError::Parse(_) => None,
        }
    }

    pub fn http_status(&self) -> Option<u16> {
        match self {
            PollError::Fetch(e) => e.status(),
            PollError::Parse(_) => None,
        }
    }
}

/// Decodes and parses a body off the async threads (a large feed takes a while).
pub async fn parse_body(
    bytes: Vec<u8>,
    charset: Option<String>,
    feed_url: String,
    fallback_lang: Option<String>,
) -> Result<ParsedFeed, ParseError> {
    tokio::task::spawn_blocking(move || {
        parse_bytes(
            &bytes,
            charset.as_deref(),
            &feed_url,
            fallback_lang.as_deref(),
        )
    })
    .await
    .unwrap_or_else(|e| Err(ParseError(format!("parser task failed: {e}"))))
}

/// Decodes and parses a feed body.
pub fn parse_bytes(
    bytes: &[u8],
    charset: Option<&str>,
    feed_url: &str,
    fallback_lang: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    let text = decode::decode(bytes, charset);
    parse::parse(&text, feed_url, fallback_lang)
}

/// Fetches and parses one feed.
pub async fn poll(
    fetcher: &Fetcher,
    request: &FetchRequest,
    fallback_lang: Option<&str>,
) -> Result<Polled, PollError> {
    let fetched = fetcher.fetch(request).await?;
    let content = match fetched.body {
        FetchedBody::NotModified => PolledContent::NotModified,
        FetchedBody::Content {
            bytes,
            charset,
            etag,
            last_modified,
        } => {
            let body_bytes = bytes.len();
            let feed = parse_body(
                bytes,
                charset,
                fetched.final_url.clone(),
                fallback_lang.map(str::to_string),
            )
            .await?;
            tracing::debug!(
                bytes = body_bytes,
                entries = feed.articles.len(),
                ttl_minutes = feed.ttl_minutes,
                "parsed"
            );
            PolledContent::Feed {
                feed,
                etag,
                last_modified,
                body_bytes,
            }
        }
    };
    Ok(Polled {
        final_url: fetched.final_url,
        moved_to: fetched.moved_to,
        fresh_for: fetched.fresh_for,
        content,
    })
}
