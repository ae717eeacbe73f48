//! The configuration file: its schema, its defaults and its validation.
//!
//! Everything a user can get wrong in `config.toml` is caught here, once, before the daemon
//! starts, and reported with the file, line and key, what is wrong and how to fix it. The rest
//! of the program receives a [`Config`] it can trust.

mod diagnostic;
mod diff;
mod environment;
pub mod opml;
mod paths;
mod recover;
mod secrets;
mod values;

pub use diagnostic::{ConfigError, ConfigErrors};
pub use diff::{Changes, ConfigDiff};
pub use values::{ByteSize, HumanDuration, parse_duration};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::rules::{self, ListDefinitions, WatchSet, WatchSource};
use crate::store::{MIN_ARTICLE_KEEP, RetentionPolicy};
pub use crate::story::GroupMode;

/// How far back story grouping looks unless a watch says otherwise.
pub const DEFAULT_GROUP_WINDOW: Duration = Duration::from_secs(48 * 3600);

/// The whole configuration, as read from the file and checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub polling: PollingConfig,
    #[serde(default)]
    pub email: EmailConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub lists: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub feeds: Vec<Spanned<FeedConfig>>,
    #[serde(default)]
    pub watch: Vec<Spanned<WatchConfig>>,
    /// Where the configuration was read from (for messages and relative paths).
    #[serde(skip)]
    pub source: ConfigSource,
    /// The watches, compiled while validating (compiling thousands of watches takes a while:
    /// once is enough).
    #[serde(skip)]
    compiled: Option<std::sync::Arc<WatchSet>>,
}

/// The file a configuration came from and its text, kept to point at lines in messages. Its
/// `Debug` shows the path, not the text (which may hold a password).
#[derive(Clone, Default)]
pub struct ConfigSource {
    pub path: PathBuf,
    text: String,
    /// Built on the first message about the text, then shared by every later one.
    index: std::sync::OnceLock<diagnostic::SourceIndex>,
}

impl std::fmt::Debug for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigSource")
            .field("path", &self.path)
            .field("bytes", &self.text.len())
            .finish()
    }
}

impl ConfigSource {
    pub fn new(path: &Path, text: &str) -> Self {
        Self {
            path: path.to_path_buf(),
            text: text.to_string(),
            index: std::sync::OnceLock::new(),
        }
    }

    /// The configuration text as read.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn index(&self) -> &diagnostic::SourceIndex {
        self.index
            .get_or_init(|| diagnostic::SourceIndex::new(&self.text))
    }
}

/// `[database]`. Its `Debug` shows the URL without its password.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` (a relative path is relative to the configuration file's
    /// directory, resolved by [`Config::load`]) or
    /// `postgres://user@host:5432/dbname` (also `postgresql://`).
    #[serde(default = "DatabaseConfig::default_url")]
    pub url: String,
    /// Connections in the pool; `None`: 8 for PostgreSQL, 4 for SQLite.
    #[serde(default)]
    pub max_connections: Option<u32>,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &crate::store::redacted_url(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl DatabaseConfig {
    fn default_url() -> String {
        "sqlite://newswatch.db".to_string()
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Self::default_url(),
            max_connections: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollingConfig {
    /// Default interval between two polls of a feed.
    #[serde(default = "PollingConfig::default_interval")]
    pub interval: HumanDuration,
    /// Bound on one whole request, body included.
    #[serde(default = "PollingConfig::default_timeout")]
    pub timeout: HumanDuration,
    /// On a feed's first successful poll, only entries newer than this alert.
    #[serde(default = "PollingConfig::default_first_poll_window")]
    pub first_poll_window: HumanDuration,
    /// Entries older than this never alert.
    #[serde(default = "PollingConfig::default_max_age")]
    pub max_age: HumanDuration,
    /// Largest decoded feed body accepted.
    #[serde(default = "PollingConfig::default_max_body")]
    pub max_body: ByteSize,
    /// Requests in flight at once, over all hosts.
    #[serde(default = "PollingConfig::default_concurrency")]
    pub concurrency: usize,
    /// Requests in flight at once to one host.
    #[serde(default = "PollingConfig::default_per_host")]
    pub per_host: usize,
    /// The User-Agent header sent with every request.
    #[serde(default = "PollingConfig::default_user_agent")]
    pub user_agent: String,
    /// Longest interval a server's caching hints (`<ttl>`, max-age, Expires) may stretch a
    /// feed's polling to.
    #[serde(default = "PollingConfig::default_max_interval")]
    pub max_interval: HumanDuration,
    /// Longest wait between retries of a failing feed.
    #[serde(default = "PollingConfig::default_max_backoff")]
    pub max_backoff: HumanDuration,
}

impl PollingConfig {
    fn default_interval() -> HumanDuration {
        HumanDuration::from_secs(15 * 60)
    }
    fn default_timeout() -> HumanDuration {
        HumanDuration::from_secs(30)
    }
    fn default_first_poll_window() -> HumanDuration {
        HumanDuration::from_secs(24 * 3600)
    }
    fn default_max_age() -> HumanDuration {
        HumanDuration::from_secs(7 * 24 * 3600)
    }
    fn default_max_body() -> ByteSize {
        ByteSize(8 * 1024 * 1024)
    }
    fn default_concurrency() -> usize {
        16
    }
    fn default_per_host() -> usize {
        2
    }
    fn default_max_interval() -> HumanDuration {
        HumanDuration::from_secs(3600)
    }
    fn default_max_backoff() -> HumanDuration {
        HumanDuration::from_secs(24 * 3600)
    }
    fn default_user_agent() -> String {
        concat!(
            "newswatch/",
            env!("CARGO_PKG_VERSION"),
            " (+",
            env!("CARGO_PKG_REPOSITORY"),
            ")"
        )
        .to_string()
    }
}

impl Default for PollingConfig {
    fn default() -> Self {
        Self {
            interval: Self::default_interval(),
            timeout: Self::default_timeout(),
            first_poll_window: Self::default_first_poll_window(),
            max_age: Self::default_max_age(),
            max_body: Self::default_max_body(),
            concurrency: Self::default_concurrency(),
            per_host: Self::default_per_host(),
            user_agent: Self::default_user_agent(),
            max_interval: Self::default_max_interval(),
            max_backoff: Self::default_max_backoff(),
        }
    }
}

/// `[log]`: how the daemon's log on standard error is written. Its own section because it is
/// read by whoever collects the log (journald, a log shipper), not by the pipeline.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `--log-format` overrides it.
    #[serde(default)]
    pub format: LogFormat,
}

/// `[http]`: the operator's endpoint (`/metrics`, `/healthz`, `/readyz`), served by `run`;
/// off unless `listen` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// An address and port, e.g. "127.0.0.1:9464".
    #[serde(default)]
    pub listen: Option<String>,
}

impl HttpConfig {
    /// The address to listen on, when set (and valid: `check` rejects one that is not).
    pub fn listen_addr(&self) -> Option<std::net::SocketAddr> {
        self.listen.as_deref()?.parse().ok()
    }
}

/// How each log event is written: a line for people, or a JSON object for a log collector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line per event: time, level, spans, message and fields.
    #[default]
    Text,
    /// One JSON object per line, with the event's fields and those of its spans.
    Json,
}

/// `[retention]`: how long the database keeps articles and finished alerts (the daemon
/// deletes older ones once a day, `newswatch prune` on request). `"0"` keeps them for ever.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Articles, by when they were fetched; never less than [`MIN_ARTICLE_KEEP`], and never
    /// one an alert not yet sent, or a digest waiting, needs.
    #[serde(default = "RetentionConfig::default_articles")]
    pub articles: HumanDuration,
    /// Sent alerts, by when they were sent.
    #[serde(default = "RetentionConfig::default_alerts_sent")]
    pub alerts_sent: HumanDuration,
    /// Failed alerts, by their last attempt.
    #[serde(default = "RetentionConfig::default_alerts_failed")]
    pub alerts_failed: HumanDuration,
}

impl RetentionConfig {
    fn default_articles() -> HumanDuration {
        HumanDuration::from_secs(90 * 86400)
    }
    fn default_alerts_sent() -> HumanDuration {
        HumanDuration::from_secs(180 * 86400)
    }
    fn default_alerts_failed() -> HumanDuration {
        HumanDuration::from_secs(365 * 86400)
    }

    /// The policy the store applies: a zero duration keeps for ever.
    pub fn policy(&self) -> RetentionPolicy {
        let kept = |d: HumanDuration| (!d.0.is_zero()).then_some(d.0);
        RetentionPolicy {
            articles: kept(self.articles),
            alerts_sent: kept(self.alerts_sent),
            alerts_failed: kept(self.alerts_failed),
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            articles: Self::default_articles(),
            alerts_sent: Self::default_alerts_sent(),
            alerts_failed: Self::default_alerts_failed(),
        }
    }
}

/// How alert mail leaves the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One `.eml` file per alert in `dir`.
    File,
    /// An SMTP relay, configured under `[email.smtp]`.
    Smtp,
    /// The local MTA's `sendmail` command.
    Sendmail,
}

impl Transport {
    /// The name written in the configuration (`transport = "smtp"`), for messages.
    pub fn name(self) -> &'static str {
        match self {
            Transport::File => "file",
            Transport::Smtp => "smtp",
            Transport::Sendmail => "sendmail",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    #[serde(default = "EmailConfig::default_from")]
    pub from: Spanned<String>,
    #[serde(default = "EmailConfig::default_transport")]
    pub transport: Transport,
    /// Directory for the `file` transport.
    #[serde(default = "EmailConfig::default_dir")]
    pub dir: PathBuf,
    /// The `sendmail` command for the `sendmail` transport.
    #[serde(default)]
    pub sendmail_command: Option<String>,
    #[serde(default)]
    pub smtp: Option<Spanned<SmtpConfig>>,
    /// First wait before retrying a failed delivery; doubles (with jitter) up to `retry_max`.
    #[serde(default = "EmailConfig::default_retry_initial")]
    pub retry_initial: HumanDuration,
    #[serde(default = "EmailConfig::default_retry_max")]
    pub retry_max: HumanDuration,
    /// An alert still failing this long after it was queued is given up (and stays visible).
    #[serde(default = "EmailConfig::default_give_up_after")]
    pub give_up_after: HumanDuration,
}

impl EmailConfig {
    fn default_from() -> Spanned<String> {
        Spanned::new(0..0, "Newswatch <newswatch@localhost>".to_string())
    }
    fn default_transport() -> Transport {
        Transport::File
    }
    fn default_dir() -> PathBuf {
        PathBuf::from("alerts")
    }
    fn default_retry_initial() -> HumanDuration {
        HumanDuration::from_secs(30)
    }
    fn default_retry_max() -> HumanDuration {
        HumanDuration::from_secs(3600)
    }
    fn default_give_up_after() -> HumanDuration {
        HumanDuration::from_secs(3 * 24 * 3600)
    }
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            from: Self::default_from(),
            transport: Self::default_transport(),
            dir: Self::default_dir(),
            sendmail_command: None,
            smtp: None,
            retry_initial: Self::default_retry_initial(),
            retry_max: Self::default_retry_max(),
            give_up_after: Self::default_give_up_after(),
        }
    }
}

/// Transport security of the SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required, never skipped).
    Starttls,
    /// TLS from the first byte ("SMTPS", port 465).
    Tls,
    /// No encryption at all: only for a relay on localhost.
    None,
}

impl SmtpSecurity {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }
    }
}

/// `[email.smtp]`. Its `Debug` shows no password, so that no log or panic message can.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default = "SmtpConfig::default_security")]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    /// Name of the environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File whose content (trimmed) is the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The password itself; discouraged (`check` warns).
    #[serde(default)]
    pub password: Option<String>,
    /// A PEM file of extra certificate authorities to trust.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Allow AUTH over a connection that is not encrypted.
    #[serde(default)]
    pub allow_insecure_auth: bool,
    #[serde(default = "SmtpConfig::default_timeout")]
    pub timeout: HumanDuration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ca_file", &self.ca_file)
            .field("allow_insecure_auth", &self.allow_insecure_auth)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SmtpConfig {
    fn default_security() -> SmtpSecurity {
        SmtpSecurity::Starttls
    }
    fn default_timeout() -> HumanDuration {
        HumanDuration::from_secs(30)
    }
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.security.default_port())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    #[serde(default)]
    pub interval: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The feed's language when it does not declare one (`lang:` in queries).
    #[serde(default)]
    pub lang: Option<Spanned<String>>,
    /// `false` keeps the feed in the configuration without polling it (`feeds` shows it as
    /// disabled); in the database it is retired as a removed feed is, until enabled again.
    #[serde(default = "FeedConfig::default_enabled")]
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    pub name: Spanned<String>,
    pub query: Spanned<String>,
    #[serde(
        default = "WatchConfig::no_recipients",
        deserialize_with = "values::recipients"
    )]
    pub to: Spanned<Vec<Spanned<String>>>,
    /// One email per match, or one digest per period.
    #[serde(default)]
    pub mode: WatchMode,
    /// Digest period, e.g. "1h" (digests go out on multiples of it, UTC).
    #[serde(default)]
    pub every: Option<Spanned<HumanDuration>>,
    /// Digest times of day, e.g. ["08:00", "17:00"], in `timezone`.
    #[serde(default)]
    pub at: Vec<Spanned<String>>,
    /// IANA time zone for `at`, e.g. "Europe/Berlin"; UTC by default.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// Immediate alerts per watch and clock hour; further matches of the hour go into one
    /// "and N more" email at the end of the hour. 0 = unlimited.
    #[serde(default = "WatchConfig::default_max_per_hour")]
    pub max_per_hour: u32,
    /// Story grouping: `"story"` (copies not alerted again, new developments threaded),
    /// `"copies"` (copies only) or `"off"`.
    #[serde(default)]
    pub group: GroupMode,
    /// How far back a new match is compared with the watch's earlier matches; 48h by default.
    #[serde(default)]
    pub group_window: Option<Spanned<HumanDuration>>,
}

/// How a watch's matches are delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchMode {
    #[default]
    Immediate,
    Digest,
}

/// When a digest watch sends its digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestSchedule {
    /// On multiples of this period since the Unix epoch.
    Every(Duration),
    /// At these local times of day.
    At {
        times: Vec<chrono::NaiveTime>,
        timezone: chrono_tz::Tz,
    },
}

impl Config {
    /// Reads, parses and validates the file at `path`, collecting every problem found.
    /// Relative paths in it are resolved against the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        Self::parse(path, &Self::read(path)?)?.resolve_paths(path)
    }

    /// Like [`Config::load`], and also requires what delivering alerts needs (`run`, `once`,
    /// `check`): every watch has recipients. All problems are reported together.
    pub fn load_for_delivery(path: &Path) -> Result<Config, ConfigErrors> {
        Self::parse_for_delivery(path, &Self::read(path)?)?.resolve_paths(path)
    }

    fn read(path: &Path) -> Result<String, ConfigErrors> {
        std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::single(ConfigError::io(
                path,
                format!("cannot read the configuration file: {e}"),
                "create it (the repository ships a documented config.toml) or pass --config PATH",
            ))
        })
    }

    /// Parses and validates configuration text; `path` is used in messages only (relative
    /// paths stay as written: [`Config::load`] resolves them). Enough for matching: `test-rule` accepts a config of only `[lists]` and `[[watch]]`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
        Self::parse_as(path, text, false)
    }

    /// [`Config::parse`] plus what delivering alerts needs.
    pub fn parse_for_delivery(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
        Self::parse_as(path, text, true)
    }

    fn parse_as(path: &Path, text: &str, for_delivery: bool) -> Result<Config, ConfigErrors> {
        let source = ConfigSource::new(path, text);
        let recover::Collected {
            config,
            mut errors,
            blanked,
        } = recover::collect(&source);
        let Some(mut config) = config else {
            return Err(ConfigErrors(errors));
        };
        config.source = source;
        let mut problems = config.validate();
        if for_delivery {
            config.validate_recipients(&mut problems);
        }
        errors.extend(
            problems
                .into_iter()
                .filter(|e| !recover::follows_from_blanking(e, &blanked)),
        );
        errors.sort_by_key(|e| e.line);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    fn error_at(&self, span: std::ops::Range<usize>, message: String, help: &str) -> ConfigError {
        ConfigError::at(&self.source, span, message, help)
    }

    fn validate(&mut self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        self.validate_database(&mut errors);
        self.validate_polling(&mut errors);
        self.validate_email(&mut errors);
        self.validate_http(&mut errors);
        self.validate_lists(&mut errors);
        self.validate_feeds(&mut errors);
        self.validate_watches(&mut errors);
        match self.compile_fresh() {
            Ok(watches) => self.compiled = Some(std::sync::Arc::new(watches)),
            Err(rule_errors) => errors.extend(rule_errors),
        }
        errors.sort_by_key(|e| e.line);
        errors
    }

    fn validate_database(&self, errors: &mut Vec<ConfigError>) {
        let url = &self.database.url;
        // What `Store::open` accepts, parsed as it parses it.
        let parsed = match crate::store::Backend::of_url(url) {
            Some(crate::store::Backend::Sqlite) => {
                <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url).err()
            }
            Some(crate::store::Backend::Postgres) => {
                <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url).err()
            }
            None => {
                errors.push(ConfigError::key(
                    &self.source,
                    &["database", "url"],
                    format!(
                        "[database] url {:?} is neither a SQLite nor a PostgreSQL URL",
                        crate::store::redacted_url(url)
                    ),
                    "use \"sqlite://newswatch.db\" or \"postgres://user@host:5432/dbname\"",
                ));
                None
            }
        };
        if let Some(e) = parsed {
            errors.push(ConfigError::key(
                &self.source,
                &["database", "url"],
                format!(
                    "[database] url {:?} cannot be used: {}",
                    crate::store::redacted_url(url),
                    crate::log_text::untrusted(e)
                ),
                "see the [database] url examples in the README: sqlite:///var/lib/newswatch/newswatch.db, \
                 postgres://user@host:5432/dbname?sslmode=verify-full",
            ));
        }
        if self.database.max_connections == Some(0) {
            errors.push(ConfigError::key(
                &self.source,
                &["database", "max_connections"],
                "[database] max_connections must be at least 1".to_string(),
                "leave it out for the default (8 for PostgreSQL, 4 for SQLite)",
            ));
        }
    }

    fn validate_http(&self, errors: &mut Vec<ConfigError>) {
        if let Some(listen) = &self.http.listen
            && self.http.listen_addr().is_none()
        {
            errors.push(ConfigError::key(
                &self.source,
                &["http", "listen"],
                format!("[http] listen {listen:?} is not an IP address and port"),
                "e.g. \"127.0.0.1:9464\" (this machine only) or \"0.0.0.0:9464\" (every interface)",
            ));
        }
    }

    fn validate_polling(&self, errors: &mut Vec<ConfigError>) {
        let p = &self.polling;
        let zero_checks = [
            ("interval", p.interval.0),
            ("timeout", p.timeout.0),
            ("first_poll_window", p.first_poll_window.0),
            ("max_age", p.max_age.0),
        ];
        for (key, value) in zero_checks {
            if value.is_zero() {
                errors.push(ConfigError::key(
                    &self.source,
                    &["polling", key],
                    format!("[polling] {key} must be greater than zero"),
                    "use a duration such as \"30s\", \"15m\" or \"24h\"",
                ));
            }
        }
        if p.concurrency == 0 || p.per_host == 0 {
            errors.push(ConfigError::key(
                &self.source,
                &["polling"],
                "[polling] concurrency and per_host must be at least 1".to_string(),
                "the defaults are concurrency = 16 and per_host = 2",
            ));
        }
        if reqwest::header::HeaderValue::from_str(&p.user_agent).is_err() {
            errors.push(ConfigError::key(
                &self.source,
                &["polling", "user_agent"],
                "[polling] user_agent cannot be sent as an HTTP header".to_string(),
                "remove control characters and line breaks, e.g. \"newswatch (+https://example.org/contact)\"",
            ));
        }
        if p.max_body.0 < 1024 {
            errors.push(ConfigError::key(
                &self.source,
                &["polling", "max_body"],
                format!("[polling] max_body = {} bytes is too small", p.max_body.0),
                "use a size such as \"8MiB\"",
            ));
        }
    }

    fn validate_email(&self, errors: &mut Vec<ConfigError>) {
        let email = &self.email;
        if email
            .from
            .get_ref()
            .parse::<lettre::message::Mailbox>()
            .is_err()
        {
            errors.push(self.error_at(
                email.from.span(),
                format!(
                    "[email] from = {:?} is not an email address",
                    email.from.get_ref()
                ),
                "write it as \"Name <user@example.org>\" or \"user@example.org\"",
            ));
        }
        match (email.transport, &email.smtp) {
            (Transport::Smtp, None) => errors.push(ConfigError::key(
                &self.source,
                &["email", "transport"],
                "[email] transport = \"smtp\" needs an [email.smtp] table".to_string(),
                "add [email.smtp] with host, port, security and username",
            )),
            (_, Some(smtp)) => {
                let span = smtp.span();
                let smtp = smtp.get_ref();
                let sources = [
                    smtp.password_env.is_some(),
                    smtp.password_file.is_some(),
                    smtp.password.is_some(),
                ];
                if sources.iter().filter(|s| **s).count() > 1 {
                    errors.push(self.error_at(
                        span.clone(),
                        "[email.smtp] sets more than one of password_env, password_file and password".to_string(),
                        "keep exactly one; password_env or password_file keep the secret out of this file",
                    ));
                }
                if smtp.username.is_some() && !sources.iter().any(|s| *s) {
                    errors.push(self.error_at(
                        span.clone(),
                        "[email.smtp] has a username but no password source".to_string(),
                        "add password_env = \"NEWSWATCH_SMTP_PASSWORD\" or password_file = \"/run/secrets/smtp\"",
                    ));
                }
                if smtp.security == SmtpSecurity::None
                    && smtp.username.is_some()
                    && !smtp.allow_insecure_auth
                {
                    errors.push(self.error_at(
                        span.clone(),
                        "[email.smtp] would send the password over an unencrypted connection (security = \"none\")".to_string(),
                        "use security = \"starttls\" or \"tls\"; for a trusted local relay set allow_insecure_auth = true",
                    ));
                }
                if smtp.host.trim().is_empty() {
                    errors.push(self.error_at(
                        span,
                        "[email.smtp] host is empty".to_string(),
                        "set host to your SMTP relay, e.g. \"smtp.example.org\"",
                    ));
                }
            }
            _ => {}
        }
    }

    fn validate_lists(&self, errors: &mut Vec<ConfigError>) {
        for (name, items) in &self.lists {
            if !rules::is_valid_list_name(name) {
                errors.push(self.error_at(
                    items.span(),
                    format!("list name {name:?} cannot be used in a query as @{name}"),
                    "use letters, digits, '_' and '-' only",
                ));
            }
            if items.get_ref().is_empty() {
                errors.push(self.error_at(
                    items.span(),
                    format!("list {name:?} is empty"),
                    "give it at least one term, or remove it",
                ));
            }
        }
    }

    /// The 1-based line of byte `at` of the file.
    fn line_of(&self, at: usize) -> usize {
        self.source.index().line_of(at)
    }

    fn validate_feeds(&self, errors: &mut Vec<ConfigError>) {
        let mut names = HashMap::new();
        for feed in &self.feeds {
            let feed = feed.get_ref();
            let name = feed.name.get_ref();
            if name.trim().is_empty() {
                errors.push(self.error_at(
                    feed.name.span(),
                    "a feed has an empty name".to_string(),
                    "every [[feeds]] entry needs a unique name",
                ));
            } else if let Some(first) = names.insert(name.clone(), feed.name.span().start) {
                errors.push(self.error_at(
                    feed.name.span(),
                    format!(
                        "two feeds are named {name:?}: here and at line {}",
                        self.line_of(first)
                    ),
                    "feed names identify feeds in the database: make them unique",
                ));
            }
            if let Some(lang) = &feed.lang
                && !rules::is_language_code(lang.get_ref())
            {
                errors.push(self.error_at(
                    lang.span(),
                    format!(
                        "feed {name:?}: lang = {:?} is not a language code: `lang:` would never match it",
                        lang.get_ref()
                    ),
                    &rules::language_code_help(lang.get_ref()),
                ));
            }
            match url::Url::parse(feed.url.get_ref()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
                Ok(url) => errors.push(self.error_at(
                    feed.url.span(),
                    format!(
                        "feed {name:?}: URL scheme {:?} is not supported",
                        url.scheme()
                    ),
                    "feeds are fetched over http:// or https://",
                )),
                Err(e) => errors.push(self.error_at(
                    feed.url.span(),
                    format!(
                        "feed {name:?}: {:?} is not a valid URL ({e})",
                        feed.url.get_ref()
                    ),
                    "write the full address, e.g. \"https://example.org/rss.xml\"",
                )),
            }
            if let Some(interval) = &feed.interval
                && interval.get_ref().0.is_zero()
            {
                errors.push(self.error_at(
                    interval.span(),
                    format!("feed {name:?}: interval must be greater than zero"),
                    "use a duration such as \"10m\"",
                ));
            }
        }
    }

    fn validate_watches(&self, errors: &mut Vec<ConfigError>) {
        let mut names = HashMap::new();
        for watch in &self.watch {
            let watch = watch.get_ref();
            let name = watch.name.get_ref();
            if name.trim().is_empty() {
                errors.push(self.error_at(
                    watch.name.span(),
                    "a watch has an empty name".to_string(),
                    "every [[watch]] needs a unique name; it appears in alert subjects",
                ));
            } else if let Some(first) = names.insert(name.clone(), watch.name.span().start) {
                errors.push(self.error_at(
                    watch.name.span(),
                    format!(
                        "two watches are named {name:?}: here and at line {}",
                        self.line_of(first)
                    ),
                    "watch names identify alerts in the database: make them unique",
                ));
            }
            self.validate_delivery(watch, errors);
            for recipient in watch.to.get_ref() {
                if recipient
                    .get_ref()
                    .parse::<lettre::message::Mailbox>()
                    .is_err()
                {
                    errors.push(self.error_at(
                        recipient.span(),
                        format!(
                            "watch {name:?}: recipient {:?} is not an email address",
                            recipient.get_ref()
                        ),
                        "write it as \"user@example.org\" or \"Name <user@example.org>\"",
                    ));
                }
            }
        }
    }

    fn validate_delivery(&self, watch: &WatchConfig, errors: &mut Vec<ConfigError>) {
        let name = watch.name.get_ref();
        if let Some(window) = &watch.group_window
            && window.get_ref().0 < Duration::from_secs(60)
        {
            errors.push(self.error_at(
                window.span(),
                format!("watch {name:?}: group_window must be at least 1m"),
                "use e.g. group_window = \"48h\", or group = \"off\" to group nothing",
            ));
        }
        let digest_keys = watch.every.is_some() || !watch.at.is_empty() || watch.timezone.is_some();
        if watch.mode == WatchMode::Immediate {
            if digest_keys {
                errors.push(self.error_at(
                    watch.name.span(),
                    format!(
                        "watch {name:?}: every, at and timezone only apply to mode = \"digest\""
                    ),
                    "add mode = \"digest\", or remove them",
                ));
            }
            return;
        }
        match (&watch.every, watch.at.is_empty()) {
            (None, true) => errors.push(self.error_at(
                watch.name.span(),
                format!("watch {name:?}: a digest needs every = \"1h\" or at = [\"08:00\"]"),
                "say how often the digest goes out",
            )),
            (Some(every), false) => errors.push(self.error_at(
                every.span(),
                format!("watch {name:?}: set either every or at, not both"),
                "every = \"1h\" sends on the hour; at = [\"08:00\", \"17:00\"] at those times",
            )),
            (Some(every), true) if every.get_ref().0 < Duration::from_secs(1) => {
                errors.push(self.error_at(
                    every.span(),
                    format!("watch {name:?}: every must be at least 1s"),
                    "use e.g. every = \"1h\"",
                ))
            }
            _ => {}
        }
        for time in &watch.at {
            if chrono::NaiveTime::parse_from_str(time.get_ref().trim(), "%H:%M").is_err() {
                errors.push(self.error_at(
                    time.span(),
                    format!("watch {name:?}: {:?} is not a time of day", time.get_ref()),
                    "write 24-hour times as \"HH:MM\", e.g. \"08:00\" or \"17:30\"",
                ));
            }
        }
        if let Some(tz) = &watch.timezone
            && tz.get_ref().parse::<chrono_tz::Tz>().is_err()
        {
            errors.push(self.error_at(
                tz.span(),
                format!("watch {name:?}: unknown time zone {:?}", tz.get_ref()),
                "use an IANA name such as \"Europe/Berlin\" or \"UTC\"",
            ));
        }
    }

    /// Watches without recipients: an error only when alerts are to be delivered.
    fn validate_recipients(&self, errors: &mut Vec<ConfigError>) {
        for watch in &self.watch {
            let watch = watch.get_ref();
            if watch.to.get_ref().is_empty() {
                errors.push(self.error_at(
                    watch.name.span(),
                    format!("watch {:?} has no recipients", watch.name.get_ref()),
                    "add to = [\"analyst@example.org\"]",
                ));
            }
        }
    }

    /// Warnings: legal settings a careful user would want to know about.
    pub fn warnings(&self) -> Vec<ConfigError> {
        let mut warnings = Vec::new();
        if let Some(smtp) = &self.email.smtp
            && smtp.get_ref().password.is_some()
        {
            warnings.push(self.error_at(
                smtp.span(),
                "[email.smtp] password is written in the configuration file".to_string(),
                "prefer password_env or password_file so the secret stays out of this file",
            ));
        }
        let minute = Duration::from_secs(60);
        if self.polling.interval.0 < minute {
            warnings.push(ConfigError::key(
                &self.source,
                &["polling", "interval"],
                format!(
                    "[polling] interval = {} polls every feed more than once a minute",
                    self.polling.interval
                ),
                "publishers may block clients that poll this often; \"15m\" is usual",
            ));
        }
        let articles = self.retention.articles.0;
        if !articles.is_zero() && articles < MIN_ARTICLE_KEEP {
            warnings.push(ConfigError::key(
                &self.source,
                &["retention", "articles"],
                format!(
                    "[retention] articles = {}: articles are kept {}h at least",
                    self.retention.articles,
                    MIN_ARTICLE_KEEP.as_secs() / 3600
                ),
                "the last 48h are the story-grouping window; write \"48h\" or more (\"0\" keeps every article)",
            ));
        }
        self.warn_empty(&mut warnings);
        self.warn_same_urls(&mut warnings);
        warnings.extend(self.query_warnings());
        self.warn_unknown_feed_references(&mut warnings);
        for feed in self.feeds() {
            if let Some(interval) = &feed.interval
                && interval.get_ref().0 < minute
            {
                warnings.push(self.error_at(
                    interval.span(),
                    format!(
                        "feed {:?} is polled every {}",
                        feed.name(),
                        interval.get_ref()
                    ),
                    "publishers may block clients that poll more than once a minute",
                ));
            }
        }
        // In the order of the file; those about the whole file first.
        warnings.sort_by_key(|w| w.line);
        warnings
    }

    /// No feeds, or no watches: legal (`test-rule` needs no feeds), but nothing would alert.
    fn warn_empty(&self, warnings: &mut Vec<ConfigError>) {
        if self.feeds.is_empty() {
            warnings.push(ConfigError::io(
                &self.source.path,
                "the configuration has no [[feeds]]: nothing will be polled".to_string(),
                "add a [[feeds]] entry with a name and a url, or import them with `newswatch import-opml`",
            ));
        }
        if self.watch.is_empty() {
            warnings.push(ConfigError::io(
                &self.source.path,
                "the configuration has no [[watch]]: no article will ever alert".to_string(),
                "add a [[watch]] with a name, a query and to = [\"analyst@example.org\"]",
            ));
        }
    }

    /// Two feeds polling the same URL under different names: each article would be fetched
    /// twice and counted under two names.
    fn warn_same_urls(&self, warnings: &mut Vec<ConfigError>) {
        let mut seen: HashMap<String, &Spanned<FeedConfig>> = HashMap::new();
        for feed in &self.feeds {
            let url = feed.get_ref().url();
            let key =
                url::Url::parse(url.trim()).map_or_else(|_| url.trim().to_string(), String::from);
            match seen.get(&key) {
                Some(first) if first.get_ref().name() != feed.get_ref().name() => {
                    let first = first.get_ref();
                    warnings.push(self.error_at(
                        feed.get_ref().url.span(),
                        format!(
                            "feeds {:?} (line {}) and {:?} have the same URL {:?}",
                            first.name(),
                            self.line_of(first.url.span().start),
                            feed.get_ref().name(),
                            url
                        ),
                        "keep one of them: the same feed is fetched twice under two names",
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(key, feed);
                }
            }
        }
    }

    /// Lower-case `and`, `or`, `not`, `near` used between terms in the queries (searched for
    /// as words), pointing at each; what `check` and `test-rule` print.
    pub fn query_warnings(&self) -> Vec<ConfigError> {
        let mut warnings = Vec::new();
        for watch in self.watches() {
            for warning in rules::lower_case_operators(watch.query.get_ref()) {
                warnings.push(
                    ConfigError::in_query_at(
                        &self.source,
                        &watch.query,
                        warning.span,
                        format!("watch {:?}: {}", watch.name(), warning.message),
                        &warning.help,
                    )
                    .warning(),
                );
            }
        }
        warnings
    }

    /// `feed:` values naming no configured feed or tag: such a clause never matches.
    fn warn_unknown_feed_references(&self, warnings: &mut Vec<ConfigError>) {
        let mut known: Vec<&str> = self
            .feeds()
            .flat_map(|f| std::iter::once(f.name()).chain(f.tags.iter().map(String::as_str)))
            .collect();
        known.sort_unstable();
        known.dedup();
        let folded: HashSet<String> = known.iter().map(|k| rules::fold_name(k)).collect();
        let lists = self.list_definitions();
        for watch in self.watches() {
            for (name, span) in rules::feed_references(watch.query.get_ref(), &lists) {
                if folded.contains(&rules::fold_name(&name)) {
                    continue;
                }
                let help = if known.is_empty() {
                    "no feed is configured; add a [[feeds]] entry with this name or tag".to_string()
                } else {
                    format!("the feed names and tags are: {}", quoted_list(&known, 20))
                };
                warnings.push(ConfigError::in_query_at(
                    &self.source,
                    &watch.query,
                    span,
                    format!(
                        "watch {:?}: feed:{:?} names no configured feed or tag: it never matches",
                        watch.name(),
                        name
                    ),
                    &help,
                ));
            }
        }
    }

    /// The named term lists, for the rule compiler.
    pub fn list_definitions(&self) -> ListDefinitions {
        self.lists
            .iter()
            .map(|(name, items)| {
                let items = items
                    .get_ref()
                    .iter()
                    .map(|i| i.get_ref().clone())
                    .collect();
                (name.clone(), items)
            })
            .collect()
    }

    /// Every watch compiled into one matcher; errors point at the query in the file.
    pub fn compile_watches(&self) -> Result<std::sync::Arc<WatchSet>, Vec<ConfigError>> {
        match &self.compiled {
            Some(watches) => Ok(std::sync::Arc::clone(watches)),
            None => self.compile_fresh().map(std::sync::Arc::new),
        }
    }

    fn compile_fresh(&self) -> Result<WatchSet, Vec<ConfigError>> {
        let sources: Vec<WatchSource> = self
            .watch
            .iter()
            .map(|w| WatchSource {
                name: w.get_ref().name.get_ref().clone(),
                query: w.get_ref().query.get_ref().clone(),
            })
            .collect();
        WatchSet::compile(&sources, &self.list_definitions()).map_err(|rule_errors| {
            rule_errors
                .iter()
                .map(|e| {
                    let query = &self.watch[e.watch].get_ref().query;
                    ConfigError::in_query(&self.source, query, e)
                })
                .collect()
        })
    }

    /// The polling interval of a feed: its own, or the default.
    pub fn feed_interval(&self, feed: &FeedConfig) -> Duration {
        feed.interval
            .as_ref()
            .map_or(self.polling.interval, |i| *i.get_ref())
            .0
    }

    /// The feeds as plain values.
    pub fn feeds(&self) -> impl Iterator<Item = &FeedConfig> {
        self.feeds.iter().map(|f| f.get_ref())
    }

    /// The watches as plain values.
    pub fn watches(&self) -> impl Iterator<Item = &WatchConfig> {
        self.watch.iter().map(|w| w.get_ref())
    }
}

/// The first `most` of `names`, quoted and escaped, then how many more there are.
fn quoted_list(names: &[&str], most: usize) -> String {
    let mut shown: Vec<String> = names.iter().take(most).map(|n| format!("{n:?}")).collect();
    if names.len() > most {
        shown.push(format!("and {} more", names.len() - most));
    }
    shown.join(", ")
}

impl WatchConfig {
    fn no_recipients() -> Spanned<Vec<Spanned<String>>> {
        Spanned::new(0..0, Vec::new())
    }

    fn default_max_per_hour() -> u32 {
        20
    }

    /// How far back story grouping looks.
    pub fn group_window(&self) -> Duration {
        self.group_window
            .as_ref()
            .map_or(DEFAULT_GROUP_WINDOW, |w| w.get_ref().0)
    }

    /// The digest schedule of a digest watch (`None` for immediate watches). Only call on a
    /// validated configuration: invalid times are skipped here and reported by validation.
    pub fn digest_schedule(&self) -> Option<DigestSchedule> {
        if self.mode != WatchMode::Digest {
            return None;
        }
        if let Some(every) = &self.every {
            return Some(DigestSchedule::Every(every.get_ref().0));
        }
        let timezone = self
            .timezone
            .as_ref()
            .and_then(|tz| tz.get_ref().parse().ok())
            .unwrap_or(chrono_tz::UTC);
        let times = self
            .at
            .iter()
            .filter_map(|t| chrono::NaiveTime::parse_from_str(t.get_ref().trim(), "%H:%M").ok())
            .collect();
        Some(DigestSchedule::At { times, timezone })
    }

    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    pub fn recipients(&self) -> Vec<String> {
        self.to
            .get_ref()
            .iter()
            .map(|r| r.get_ref().clone())
            .collect()
    }
}

impl FeedConfig {
    fn default_enabled() -> bool {
        true
    }

    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    pub fn url(&self) -> &str {
        self.url.get_ref()
    }

    /// The feed's configured language, as written.
    pub fn lang(&self) -> Option<&str> {
        self.lang.as_ref().map(|lang| lang.get_ref().as_str())
    }
}

#[cfg(test)]
mod tests;
