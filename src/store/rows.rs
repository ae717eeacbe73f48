//! Rows read back from the database, and the SELECTs that produce them.

use sqlx::FromRow;

/// The columns of [`FeedRow`]; callers append WHERE / ORDER BY.
macro_rules! feed_select {
    () => {
        "SELECT f.id, f.name, f.config_url, f.url, f.active, f.etag, f.last_modified,
                f.first_success_at, f.last_poll_at, f.last_success_at, f.last_status,
                f.last_http_status, f.last_error, f.consecutive_errors, f.next_poll_at_ms,
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
    /// `ok`, `not_modified` or `error`: see [`FeedRow::poll_status`].
    pub last_status: Option<String>,
    pub last_http_status: Option<i64>,
    pub last_error: Option<String>,
    pub consecutive_errors: i64,
    pub next_poll_at_ms: i64,
    pub last_new_article_at: Option<i64>,
    pub articles: i64,
}

impl FeedRow {
    /// How the last poll ended; `None` before the first.
    pub fn poll_status(&self) -> Option<PollStatus> {
        self.last_status
            .clone()
            .and_then(|s| PollStatus::try_from(s).ok())
    }
}

/// A feed waiting for its poll: the scheduler queues these two columns per due feed (the
/// URL for the per-host limit) and reads the rest when the poll starts, so that a long queue
/// costs little memory.
#[derive(Debug, Clone, FromRow)]
pub struct QueuedFeed {
    pub id: i64,
    pub url: String,
}

/// A claim of a feed's poll as the database returns it: the lease's token and the state the
/// poll starts from.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct ClaimRow {
    pub lease_token: i64,
    #[sqlx(flatten)]
    pub state: FeedPollState,
}

/// What a poll needs of a feed's state, read when the poll starts.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct FeedPollState {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub first_success_at: Option<i64>,
    pub consecutive_errors: i64,
}

/// How an active feed is doing: see [`Store::feed_health`](super::Store::feed_health).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct FeedHealth {
    pub name: String,
    pub last_success_at: Option<i64>,
    pub consecutive_errors: i64,
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
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

/// What an alert is: one article, a digest period's matches, or an hour's overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    Article,
    Digest,
    Overflow,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Article => "article",
            AlertKind::Digest => "digest",
            AlertKind::Overflow => "overflow",
        }
    }
}

/// Where one recipient of an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Sent,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
        }
    }
}

/// How a feed's last poll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PollStatus {
    Ok,
    NotModified,
    Error,
}

impl PollStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PollStatus::Ok => "ok",
            PollStatus::NotModified => "not_modified",
            PollStatus::Error => "error",
        }
    }
}

/// Reads a stored state, naming the value a newer or older version may have written.
macro_rules! state_from_text {
    ($type:ty, $($text:literal => $value:expr),+) => {
        impl TryFrom<String> for $type {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> {
                match text.as_str() {
                    $($text => Ok($value),)+
                    other => Err(format!(concat!("unknown ", stringify!($type), " {:?} in the database"), other)),
                }
            }
        }
    };
}

state_from_text!(AlertStatus, "queued" => AlertStatus::Queued, "sending" => AlertStatus::Sending,
    "sent" => AlertStatus::Sent, "failed" => AlertStatus::Failed);
state_from_text!(AlertKind, "article" => AlertKind::Article, "digest" => AlertKind::Digest,
    "overflow" => AlertKind::Overflow);
state_from_text!(DeliveryState, "pending" => DeliveryState::Pending,
    "sent" => DeliveryState::Sent, "failed" => DeliveryState::Failed);
state_from_text!(PollStatus, "ok" => PollStatus::Ok, "not_modified" => PollStatus::NotModified,
    "error" => PollStatus::Error);

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
    #[sqlx(try_from = "String")]
    pub kind: AlertKind,
    pub item_count: i64,
    #[sqlx(try_from = "String")]
    pub status: AlertStatus,
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
                a.lease_token, a.created_at, a.queued_at, ar.title, ar.link, ar.summary, ar.content, ar.published_at,
                (SELECT f.name FROM feeds f WHERE f.id = ar.feed_id) AS feed_name,
                m.explanation, a.article_id, m.story_role,
                COALESCE(m.story_id, m.id) AS story,
                (SELECT ra.message_id FROM matches r
                   JOIN alerts ra ON ra.article_id = r.article_id AND ra.watch = r.watch
                                 AND ra.kind = 'article'
                  WHERE r.id = m.story_id) AS story_first_message_id
         FROM alerts a LEFT JOIN articles ar ON ar.id = a.article_id
           LEFT JOIN matches m ON m.watch = a.watch AND m.article_id = a.article_id"
    };
}
pub(crate) use alert_detail_select;

/// Everything needed to render and send one alert. The article columns are set for
/// `kind = "article"`; batch alerts (digest, overflow) list their items separately.
#[derive(Debug, Clone, FromRow)]
pub struct AlertDetail {
    pub id: i64,
    pub watch: String,
    #[sqlx(try_from = "String")]
    pub kind: AlertKind,
    pub item_count: i64,
    pub message_id: String,
    /// JSON array.
    pub recipients: String,
    pub attempts: i64,
    /// The claim's token: results are recorded only while it is still this process's.
    pub lease_token: i64,
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
    pub article_id: Option<i64>,
    /// `first`, `copy` or `update` when the watch groups stories.
    pub story_role: Option<String>,
    /// The story: the id of the match that started it.
    pub story: Option<i64>,
    /// The Message-ID of the story's first alert, which an update replies to.
    pub story_first_message_id: Option<String>,
}

macro_rules! batch_item_select {
    () => {
        "SELECT ar.title, ar.link, ar.summary, ar.content, ar.published_at,
                (SELECT f.name FROM feeds f WHERE f.id = ar.feed_id) AS feed_name,
                m.explanation, m.article_id, m.story_role, COALESCE(m.story_id, m.id) AS story
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
    pub article_id: i64,
    pub story_role: Option<String>,
    /// The story: the id of the match that started it.
    pub story: i64,
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
