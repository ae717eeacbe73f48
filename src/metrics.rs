//! What the daemon counts for Prometheus: one registry per process, written by the pipeline
//! as it works and read by `/metrics` (see `ops`). Names follow Prometheus conventions (base
//! units, `_total` on counters); the only labels with many values are `feed` and `watch`,
//! which the configuration bounds. Nothing is labelled per article or per recipient.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::store::{FeedHealth, OutboxSummary};

/// How a poll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    /// The feed was fetched and parsed.
    Ok,
    /// The server answered 304.
    NotModified,
    /// The fetch or the parse failed.
    Error,
}

impl PollOutcome {
    fn label(self) -> &'static str {
        match self {
            PollOutcome::Ok => "ok",
            PollOutcome::NotModified => "not_modified",
            PollOutcome::Error => "error",
        }
    }
}

/// How one delivery attempt of an alert ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent,
    /// Deferred (the server or a recipient said later): retried.
    Retry,
    Failed,
}

impl DeliveryOutcome {
    fn label(self) -> &'static str {
        match self {
            DeliveryOutcome::Sent => "sent",
            DeliveryOutcome::Retry => "retry",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedLabel {
    feed: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PollLabels {
    feed: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WatchLabel {
    watch: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

/// The outbox's statuses, each always reported (a zero is news too).
pub const OUTBOX_STATUSES: [&str; 4] = ["queued", "sending", "sent", "failed"];

/// The daemon's metrics.
pub struct Metrics {
    registry: Registry,
    polls: Family<PollLabels, Counter>,
    poll_duration: Histogram,
    last_success: Family<FeedLabel, Gauge>,
    consecutive_errors: Family<FeedLabel, Gauge>,
    interval: Family<FeedLabel, Gauge>,
    articles: Counter,
    matches: Family<WatchLabel, Counter>,
    presearch_candidates: Counter,
    presearch_matches: Counter,
    alerts_queued: Family<KindLabel, Counter>,
    deliveries: Family<OutcomeLabel, Counter>,
    delivery_duration: Histogram,
    outbox: Family<StatusLabel, Gauge>,
    oldest_queued_age: Gauge,
    reloads: Family<OutcomeLabel, Counter>,
    leases_lost: Family<KindLabel, Counter>,
    /// Serialises encoding with [`Metrics::feeds`] and [`Metrics::forget`], which clear and
    /// refill families: a scrape never sees them half done.
    encoding: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("newswatch");
        let build_info = Family::<VersionLabel, Gauge>::default();
        build_info
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "The running version (always 1)", build_info);
        let metrics = Metrics {
            polls: Family::default(),
            // 10 ms to ~80 s.
            poll_duration: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            last_success: Family::default(),
            consecutive_errors: Family::default(),
            interval: Family::default(),
            articles: Counter::default(),
            matches: Family::default(),
            presearch_candidates: Counter::default(),
            presearch_matches: Counter::default(),
            alerts_queued: Family::default(),
            deliveries: Family::default(),
            delivery_duration: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            outbox: Family::default(),
            oldest_queued_age: Gauge::default(),
            reloads: Family::default(),
            leases_lost: Family::default(),
            encoding: Mutex::new(()),
            registry: Registry::default(),
        };
        registry.register(
            "polls",
            "Feed polls by feed and outcome (ok, not_modified, error)",
            metrics.polls.clone(),
        );
        registry.register_with_unit(
            "poll_duration",
            "Time from the start of a fetch to the poll's outcome being stored",
            Unit::Seconds,
            metrics.poll_duration.clone(),
        );
        registry.register(
            "feed_last_success_timestamp_seconds",
            "When each feed was last polled successfully (unix time; absent before its first success)",
            metrics.last_success.clone(),
        );
        registry.register(
            "feed_consecutive_errors",
            "Failed polls in a row, per feed (0 after a success)",
            metrics.consecutive_errors.clone(),
        );
        registry.register_with_unit(
            "feed_interval",
            "Each feed's configured polling interval",
            Unit::Seconds,
            metrics.interval.clone(),
        );
        registry.register(
            "articles_ingested",
            "New articles stored",
            metrics.articles.clone(),
        );
        registry.register(
            "matches",
            "New articles matched, per watch",
            metrics.matches.clone(),
        );
        registry.register(
            "presearch_candidates",
            "Watches evaluated in full because the presearch index could not rule them out",
            metrics.presearch_candidates.clone(),
        );
        registry.register(
            "presearch_matches",
            "Of those candidates, the ones that matched",
            metrics.presearch_matches.clone(),
        );
        registry.register(
            "alerts_queued",
            "Alerts queued, by kind (article, digest, overflow)",
            metrics.alerts_queued.clone(),
        );
        registry.register(
            "deliveries",
            "Delivery attempts of alerts, by outcome (sent, retry, failed)",
            metrics.deliveries.clone(),
        );
        registry.register_with_unit(
            "delivery_duration",
            "Time to deliver one alert to all its recipients",
            Unit::Seconds,
            metrics.delivery_duration.clone(),
        );
        registry.register(
            "outbox_alerts",
            "Alerts in the database, by status (read at scrape time)",
            metrics.outbox.clone(),
        );
        registry.register_with_unit(
            "outbox_oldest_queued_age",
            "How long the oldest alert waiting to be sent has been waiting (0: none waits)",
            Unit::Seconds,
            metrics.oldest_queued_age.clone(),
        );
        registry.register(
            "config_reloads",
            "Configuration reloads, by outcome (ok, error)",
            metrics.reloads.clone(),
        );
        registry.register(
            "leases_lost",
            "Polls (kind=feed) and deliveries (kind=alert) abandoned because another instance took over their lease",
            metrics.leases_lost.clone(),
        );
        // Every bounded series exists from the start at 0, so that a rule on `increase()`
        // sees the first failure (a series born at 1 shows no increase).
        for kind in ["article", "digest", "overflow"] {
            metrics
                .alerts_queued
                .get_or_create(&KindLabel { kind })
                .inc_by(0);
        }
        for outcome in [
            DeliveryOutcome::Sent,
            DeliveryOutcome::Retry,
            DeliveryOutcome::Failed,
        ] {
            let outcome = outcome.label();
            metrics
                .deliveries
                .get_or_create(&OutcomeLabel { outcome })
                .inc_by(0);
        }
        for outcome in ["ok", "error"] {
            metrics
                .reloads
                .get_or_create(&OutcomeLabel { outcome })
                .inc_by(0);
        }
        for kind in ["feed", "alert"] {
            metrics
                .leases_lost
                .get_or_create(&KindLabel { kind })
                .inc_by(0);
        }
        Metrics {
            registry,
            ..metrics
        }
    }

    /// A poll of `feed` ended after `took`.
    pub fn poll(&self, feed: &str, outcome: PollOutcome, took: Duration) {
        self.polls
            .get_or_create(&PollLabels {
                feed: feed.to_string(),
                outcome: outcome.label(),
            })
            .inc();
        self.poll_duration.observe(took.as_secs_f64());
    }

    /// The configured feeds as the database has them at scrape time (whichever instance
    /// polled them), with their intervals from the configuration.
    pub fn feeds(&self, health: &[FeedHealth], interval_of: impl Fn(&str) -> Option<Duration>) {
        let _encoding = self.encoding.lock().unwrap_or_else(|p| p.into_inner());
        self.last_success.clear();
        self.consecutive_errors.clear();
        self.interval.clear();
        for feed in health {
            let Some(interval) = interval_of(&feed.name) else {
                continue;
            };
            let label = FeedLabel {
                feed: feed.name.clone(),
            };
            if let Some(at) = feed.last_success_at {
                self.last_success.get_or_create(&label).set(at);
            }
            self.consecutive_errors
                .get_or_create(&label)
                .set(feed.consecutive_errors);
            self.interval
                .get_or_create(&label)
                .set(i64::try_from(interval.as_secs()).unwrap_or(i64::MAX));
        }
    }

    pub fn articles_ingested(&self, new: usize) {
        self.articles.inc_by(new as u64);
    }

    pub fn matched(&self, watch: &str) {
        self.matches
            .get_or_create(&WatchLabel {
                watch: watch.to_string(),
            })
            .inc();
    }

    /// One article's matching: the watches presearch let through, and how many matched.
    pub fn presearch(&self, candidates: usize, matches: usize) {
        self.presearch_candidates.inc_by(candidates as u64);
        self.presearch_matches.inc_by(matches as u64);
    }

    /// An alert of `kind` (`article`, `digest`, `overflow`) was queued.
    pub fn alert_queued(&self, kind: &'static str) {
        self.alerts_queued.get_or_create(&KindLabel { kind }).inc();
    }

    pub fn delivery(&self, outcome: DeliveryOutcome, took: Duration) {
        self.deliveries
            .get_or_create(&OutcomeLabel {
                outcome: outcome.label(),
            })
            .inc();
        self.delivery_duration.observe(took.as_secs_f64());
    }

    pub fn reload(&self, ok: bool) {
        self.reloads
            .get_or_create(&OutcomeLabel {
                outcome: if ok { "ok" } else { "error" },
            })
            .inc();
    }

    /// A lease of `kind` (`feed`, `alert`) was lost to another instance.
    pub fn lease_lost(&self, kind: &'static str) {
        self.leases_lost.get_or_create(&KindLabel { kind }).inc();
    }

    /// The outbox as read from the database at unix time `now`.
    pub fn outbox(&self, summary: &OutboxSummary, now: i64) {
        for status in OUTBOX_STATUSES {
            self.outbox
                .get_or_create(&StatusLabel { status })
                .set(summary.count(status));
        }
        let waited = summary
            .oldest_unsent_queued_at
            .map_or(0, |queued_at| now.saturating_sub(queued_at).max(0));
        self.oldest_queued_age.set(waited);
    }

    /// Drops the counters of feeds and watches a reload removed.
    pub fn forget(&self, feeds: &[String], watches: &[String]) {
        let _encoding = self.encoding.lock().unwrap_or_else(|p| p.into_inner());
        for feed in feeds {
            for outcome in [
                PollOutcome::Ok,
                PollOutcome::NotModified,
                PollOutcome::Error,
            ] {
                self.polls.remove(&PollLabels {
                    feed: feed.clone(),
                    outcome: outcome.label(),
                });
            }
        }
        for watch in watches {
            self.matches.remove(&WatchLabel {
                watch: watch.clone(),
            });
        }
    }

    /// The OpenMetrics text exposition (what Prometheus asks for first).
    pub fn encode_openmetrics(&self) -> String {
        let _encoding = self.encoding.lock().unwrap_or_else(|p| p.into_inner());
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// The classic Prometheus text format (0.0.4), for every other reader (`curl`,
    /// `promtool check metrics`, older scrapers).
    pub fn encode_prometheus_text(&self) -> String {
        openmetrics_to_prometheus_text(&self.encode_openmetrics())
    }
}

/// Rewrites the OpenMetrics exposition `prometheus-client` writes as Prometheus text 0.0.4:
/// a counter's HELP and TYPE name its `_total` series, and the `# UNIT` and `# EOF` lines go.
/// The samples are written alike in both formats.
fn openmetrics_to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| line.strip_prefix(prefix).map(|rest| (prefix, rest)));
        match descriptor {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let suffix = if counters.contains(name) {
                    "_total"
                } else {
                    ""
                };
                text.push_str(&format!("{prefix}{name}{suffix} {tail}\n"));
            }
            None => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_text_format_names_each_counters_total_series() {
        let metrics = Metrics::new();
        metrics.poll(
            "a \"quoted\" feed",
            PollOutcome::Ok,
            Duration::from_millis(20),
        );
        let text = metrics.encode_prometheus_text();
        assert!(
            text.contains("# TYPE newswatch_polls_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP newswatch_polls_total Feed polls"),
            "{text}"
        );
        assert!(
            text.contains(
                "newswatch_polls_total{feed=\"a \\\"quoted\\\" feed\",outcome=\"ok\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE newswatch_poll_duration_seconds histogram\n"));
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
        let openmetrics = metrics.encode_openmetrics();
        assert!(openmetrics.contains("# TYPE newswatch_polls counter\n"));
        assert!(openmetrics.ends_with("# EOF\n"));
    }
}
