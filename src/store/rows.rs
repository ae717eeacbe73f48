//! Rows read back from the database, and the SELECTs that produce them.

use sqlx::FromRow;

/// The columns of [`FeedRow`]; callers append WHERE / ORDER BY.
macro_rules! feed_select {
    () => {
        "SELECT f.id, f.name, f.config_url, f.url, f.active, f.etag, f.last_modified,
                f.first_success_at, f.last_poll_at, f.last_success_at, f.last_status,
                f.last_http_status, f.last_error, f.consecutive_errors, f.next_poll_at,
                f.last_new_article_at,
                (SELECT COUNT(*) FROM feed_articles fa WHERE fa.feed_id = f.id) AS articles
         FROM feeds f"
    };
}
pub(crate) use feed_select;

/// A feed and its poll state.
#[derive(Debug, Clone, FromRow)]
pub struct FeedRow {
    pub id: i64,
    pub name: String,
    pub config_url: String,
    pub url: String,
    pub active: bool,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub first_success_at: Option<i64>,
    pub last_poll_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_status: Option<String>,
    pub last_http_status: Option<i64>,
    pub last_error: Option<String>,
    pub consecutive_errors: i64,
    pub next_poll_at: i64,
    pub last_new_article_at: Option<i64>,
    pub articles: i64,
}

/// A feed waiting for its poll: the scheduler queues these two columns per due feed (the
/// URL for the per-host limit) and reads the rest when the poll starts, so that a long queue
/// costs little memory.
#[derive(Debug, Clone, FromRow)]
pub struct QueuedFeed {
    pub id: i64,
    pub url: String,
}

/// What a poll needs of a feed's state, read when the poll starts.
#[derive(Debug, Clone, FromRow)]
pub struct FeedPollState {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub first_success_at: Option<i64>,
    pub consecutive_errors: i64,
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStatus {
    Queued,
    Sending,
    Sent,
    Failed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Queued => "queued",
            AlertStatus::Sending => "sending",
            AlertStatus::Sent => "sent",
            AlertStatus::Failed => "failed",
        }
    }
}

impl std::str::FromStr for AlertStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "queued" => Ok(AlertStatus::Queued),
            "sending" => Ok(AlertStatus::Sending),
            "sent" => Ok(AlertStatus::Sent),
            "failed" => Ok(AlertStatus::Failed),
            other => Err(format!(
                "unknown alert status {other:?}: use queued, sending, sent or failed"
            )),
        }
    }
}

macro_rules! alert_row_select {
    () => {
        "SELECT a.id, a.watch, a.kind, a.item_count, a.status, a.recipients, a.attempts,
                a.last_error, a.created_at, a.sent_at, a.next_attempt_at, ar.title AS article_title,
                ar.link AS article_link
         FROM alerts a LEFT JOIN articles ar ON ar.id = a.article_id"
    };
}
pub(crate) use alert_row_select;

/// An alert as the operator sees it.
#[derive(Debug, Clone, FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub watch: String,
    pub kind: String,
    pub item_count: i64,
    pub status: String,
    /// JSON array.
    pub recipients: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub next_attempt_at: i64,
    pub article_title: Option<String>,
    pub article_link: Option<String>,
}

macro_rules! alert_detail_select {
    () => {
        "SELECT a.id, a.watch, a.kind, a.item_count, a.message_id, a.recipients, a.attempts,
                a.created_at, a.queued_at, ar.title, ar.link, ar.summary, ar.content, ar.published_at,
                (SELECT f.name FROM feeds f WHERE f.id = ar.feed_id) AS feed_name,
                (SELECT m.explanation FROM matches m
                  WHERE m.watch = a.watch AND m.article_id = a.article_id) AS explanation
         FROM alerts a LEFT JOIN articles ar ON ar.id = a.article_id"
    };
}
pub(crate) use alert_detail_select;

/// Everything needed to render and send one alert. The article columns are set for
/// `kind = "article"`; batch alerts (digest, overflow) list their items separately.
#[derive(Debug, Clone, FromRow)]
pub struct AlertDetail {
    pub id: i64,
    pub watch: String,
    pub kind: String,
    pub item_count: i64,
    pub message_id: String,
    /// JSON array.
    pub recipients: String,
    pub attempts: i64,
    pub created_at: i64,
    pub queued_at: i64,
    pub title: Option<String>,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub published_at: Option<i64>,
    pub feed_name: Option<String>,
    /// JSON of the match's hits.
    pub explanation: Option<String>,
}

macro_rules! batch_item_select {
    () => {
        "SELECT ar.title, ar.link, ar.summary, ar.content, ar.published_at,
                (SELECT f.name FROM feeds f WHERE f.id = ar.feed_id) AS feed_name,
                m.explanation
         FROM matches m JOIN articles ar ON ar.id = m.article_id"
    };
}
pub(crate) use batch_item_select;

/// One article of a digest or overflow summary.
#[derive(Debug, Clone, FromRow)]
pub struct BatchItem {
    pub title: String,
    pub link: Option<String>,
    pub summary: String,
    pub content: String,
    pub published_at: Option<i64>,
    pub feed_name: Option<String>,
    /// JSON of the match's hits.
    pub explanation: String,
}

macro_rules! archive_select {
    () => {
        "SELECT a.id, a.identity, a.link, a.title, a.summary, a.content, a.authors, a.categories,
                a.lang, a.published_at, a.fetched_at,
                (SELECT f.name FROM feeds f WHERE f.id = a.feed_id) AS feed_name
         FROM articles a"
    };
}
pub(crate) use archive_select;

/// A stored article, for backtests.
#[derive(Debug, Clone, FromRow)]
pub struct ArchivedArticle {
    pub id: i64,
    pub identity: String,
    pub link: Option<String>,
    pub title: String,
    pub summary: String,
    pub content: String,
    /// JSON array.
    pub authors: String,
    /// JSON array.
    pub categories: String,
    pub lang: Option<String>,
    pub published_at: Option<i64>,
    pub fetched_at: i64,
    pub feed_name: Option<String>,
}
