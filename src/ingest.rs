//! Ingest: the articles of one poll go into the database in ONE transaction with their
//! matches, the alerts those matches cause, and the feed's new poll state. An article is never
//! stored without its matches and alerts, and a crash loses nothing half-written.
//!
//! Which new articles may alert: on a feed's first successful poll, only those newer than
//! `first_poll_window` (undated ones do not); later, every article not seen before, unless it
//! is older than `max_age`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::alert::article_message_id;
use crate::alert::batch::hour_start;
use crate::article::Article;
use crate::log_text::untrusted;
use crate::metrics::Metrics;
use crate::rules::{Hit, WatchMatch, WatchSet};
use crate::store::{
    AlertKind, IngestTx, MatchDelivery, NewMatch, PollRecord, Store, StoreError, StoryLink,
};
use crate::story::{self, GroupMode, Role, Signature, SignatureBuilder, TermStats};

/// The age limits on alerting.
#[derive(Debug, Clone, Copy)]
pub struct AlertWindow {
    pub first_poll_window: Duration,
    pub max_age: Duration,
}

impl AlertWindow {
    /// Whether a newly seen article published at `published` may alert at `now`.
    pub fn allows(
        &self,
        published: Option<DateTime<Utc>>,
        first_poll: bool,
        now: DateTime<Utc>,
    ) -> bool {
        let limit = if first_poll {
            self.first_poll_window.min(self.max_age)
        } else {
            self.max_age
        };
        match published {
            None => !first_poll,
            Some(published) => match (now - published).to_std() {
                Ok(age) => age <= limit,
                // Dated in the future: as new as it gets.
                Err(_) => true,
            },
        }
    }
}

/// How one watch delivers.
#[derive(Debug, Clone, Default)]
pub struct WatchDelivery {
    pub recipients: Vec<String>,
    /// Matches wait for a digest instead of alerting one by one.
    pub digest: bool,
    /// Immediate alerts per clock hour before matches overflow into a summary; 0 = no cap.
    pub max_per_hour: u32,
    /// Whether copies of a story already alerted are left out, and updates threaded.
    pub group: GroupMode,
    /// How far back a new match is compared with the watch's earlier ones.
    pub group_window: Duration,
}

/// A new match as story grouping sees it: its article's signature and publication time, and
/// the words that matched.
#[derive(Clone, Copy)]
struct Report<'a> {
    signature: &'a Signature,
    hits: &'a [Hit],
    published: Option<DateTime<Utc>>,
}

/// Articles whose terms the story grouping weighs words by.
pub const ARCHIVE_ARTICLES: usize = 20_000;

/// How common each term is in the recent archive (see [`TermStats`]): read from the store
/// when the first ingest that groups stories needs it (a cycle with nothing new, or no watch
/// that groups, never reads it), then kept up to date by this process's ingests. With several
/// instances each counts what it stores, which changes the weights little.
#[derive(Debug, Default)]
pub struct Archive {
    stats: tokio::sync::OnceCell<Mutex<TermStats>>,
}

impl Archive {
    /// Statistics not read yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the statistics from the store unless done before. Called before an ingest's
    /// transaction, so the articles that ingest stores are counted once, by [`Archive::add`].
    async fn ready(&self, store: &Store) -> Result<(), StoreError> {
        self.stats
            .get_or_try_init(|| async {
                let mut stats = TermStats::new(ARCHIVE_ARTICLES);
                let mut recent = store.recent_signatures(ARCHIVE_ARTICLES).await?;
                recent.reverse();
                for signature in &recent {
                    stats.add(signature);
                }
                Ok::<_, StoreError>(Mutex::new(stats))
            })
            .await?;
        Ok(())
    }

    /// Counts newly stored articles; nothing before the statistics are read (the store has
    /// them then).
    fn add<'a>(&self, signatures: impl Iterator<Item = &'a Signature>) {
        if let Some(stats) = self.stats.get() {
            let mut stats = stats.lock().unwrap_or_else(|p| p.into_inner());
            for signature in signatures {
                stats.add(signature);
            }
        }
    }

    fn with<T>(&self, f: impl FnOnce(&TermStats) -> T) -> T {
        match self.stats.get() {
            Some(stats) => f(&stats.lock().unwrap_or_else(|p| p.into_inner())),
            None => f(&TermStats::new(ARCHIVE_ARTICLES)),
        }
    }
}

/// How each watch delivers (index-aligned with the [`WatchSet`]).
#[derive(Debug, Clone)]
pub struct WatchTargets {
    pub watches: Vec<WatchDelivery>,
    pub message_id_domain: String,
}

impl WatchTargets {
    /// Whether any watch that sends mail groups its matches into stories.
    fn groups_stories(&self) -> bool {
        self.watches
            .iter()
            .any(|w| w.group != GroupMode::Off && !w.recipients.is_empty())
    }
}

/// What one ingest did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub articles: usize,
    pub new_articles: usize,
    pub matches: usize,
    pub alerts_queued: usize,
    /// Matches waiting for a digest or an hourly summary.
    pub batched: usize,
}

/// The feed-level facts an ingest needs.
#[derive(Debug, Clone)]
pub struct FeedContext<'a> {
    pub feed_id: i64,
    /// This poll's claim on the feed: nothing is written once it is lost.
    pub lease: crate::store::FeedLease,
    /// Feed name and tags, for `feed:` in queries.
    pub labels: &'a [String],
    pub first_poll: bool,
}

/// Writes polls into the store, matching new articles on the way.
pub struct Ingestor {
    watches: Arc<WatchSet>,
    targets: WatchTargets,
    window: AlertWindow,
    metrics: Arc<Metrics>,
    archive: Arc<Archive>,
    signatures: SignatureBuilder,
}

impl Ingestor {
    pub fn new(
        watches: Arc<WatchSet>,
        targets: WatchTargets,
        window: AlertWindow,
        metrics: Arc<Metrics>,
        archive: Arc<Archive>,
    ) -> Self {
        Self {
            watches,
            targets,
            window,
            metrics,
            archive,
            signatures: SignatureBuilder::new(),
        }
    }

    /// Stores a poll's articles, matches and alerts, and `poll` (with the count of new
    /// articles filled in), in one transaction.
    pub async fn ingest(
        &self,
        store: &Store,
        feed: &FeedContext<'_>,
        mut articles: Vec<Article>,
        poll: PollRecord,
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        for article in &mut articles {
            article.scope_to_feed(feed.feed_id);
        }
        let timestamp = now.timestamp();
        let mut report = IngestReport {
            articles: articles.len(),
            ..Default::default()
        };
        if articles.is_empty() {
            // Nothing to store (a 304, an empty feed): the poll state alone, in one statement.
            store.record_poll(feed.lease, &poll, timestamp).await?;
            return Ok(report);
        }
        // Matching is the costly part: done before the write transaction (which serialises
        // ingests), for the articles not known yet.
        let known = store
            .known_identities(articles.iter().map(|a| a.identity.as_str()))
            .await?;
        let (mut matched, signatures): (Vec<Option<Vec<WatchMatch>>>, Vec<Option<Signature>>) =
            articles
                .iter()
                .map(|article| {
                    if known.contains(&article.identity) {
                        return (None, None);
                    }
                    let (matches, signature) = self.analyse(article, feed);
                    (Some(matches), Some(signature))
                })
                .unzip();
        let expect_new_articles = articles.iter().any(|a| !known.contains(&a.identity));
        if expect_new_articles && self.targets.groups_stories() {
            self.archive.ready(store).await?;
        }
        let mut tx = store.begin_ingest(feed.lease, expect_new_articles).await?;
        // Counted once the transaction commits: (watch, whether an immediate alert was queued).
        let mut recorded: Vec<(&str, bool)> = Vec::new();
        let stored = tx
            .insert_signed_articles(feed.feed_id, &articles, &signatures, timestamp)
            .await?;
        self.archive.add(
            stored
                .iter()
                .zip(&signatures)
                .filter(|(id, _)| id.is_some())
                .filter_map(|(_, signature)| signature.as_ref()),
        );
        for (((article, matches), new_id), signature) in articles
            .iter()
            .zip(&mut matched)
            .zip(stored)
            .zip(&signatures)
        {
            let Some(article_id) = new_id else {
                continue;
            };
            report.new_articles += 1;
            let notify = self.window.allows(article.published, feed.first_poll, now);
            let matches = matches
                .take()
                .unwrap_or_else(|| self.analyse(article, feed).0);
            tracing::debug!(
                title = %untrusted(&article.title),
                identity = %untrusted(&article.identity),
                matches = matches.len(),
                may_alert = notify,
                "new article"
            );
            for found in matches {
                report.matches += 1;
                let watch = self.watches.name(found.watch);
                let target = self
                    .targets
                    .watches
                    .get(found.watch)
                    .cloned()
                    .unwrap_or_default();
                let placed = match signature {
                    Some(signature) if notify && !target.recipients.is_empty() => {
                        self.place_in_story(
                            &mut tx,
                            watch,
                            &target,
                            Report {
                                signature,
                                hits: &found.hits,
                                published: article.published,
                            },
                            timestamp,
                        )
                        .await?
                    }
                    _ => None,
                };
                let delivery = match placed {
                    // A copy of a story already alerted: listed under the story (in the
                    // digest, or in its next mail), not alerted again.
                    Some(StoryLink {
                        role: Role::Copy, ..
                    }) if !target.digest => MatchDelivery::None,
                    _ => {
                        self.delivery(&mut tx, watch, &target, notify, timestamp)
                            .await?
                    }
                };
                let record = NewMatch {
                    watch: watch.to_string(),
                    message_id: article_message_id(
                        watch,
                        &article.identity,
                        &self.targets.message_id_domain,
                    ),
                    explanation: serde_json::to_string(&found.hits).unwrap_or_else(|_| "[]".into()),
                    delivery,
                    recipients: target.recipients,
                    story: placed,
                };
                let queued = tx.record_match(article_id, &record, timestamp).await?;
                if queued {
                    report.alerts_queued += 1;
                }
                recorded.push((watch, queued));
                if matches!(delivery, MatchDelivery::Digest | MatchDelivery::Overflow) {
                    report.batched += 1;
                }
            }
        }
        let poll = match poll {
            PollRecord::Success {
                moved_to,
                etag,
                last_modified,
                not_modified,
                next_poll_at_ms,
                ..
            } => PollRecord::Success {
                moved_to,
                etag,
                last_modified,
                not_modified,
                new_articles: report.new_articles,
                next_poll_at_ms,
            },
            failure => failure,
        };
        tx.record_poll(&poll, timestamp).await?;
        tx.commit().await?;
        self.metrics.articles_ingested(report.new_articles);
        for (watch, queued) in recorded {
            self.metrics.matched(watch);
            if queued {
                self.metrics.alert_queued(AlertKind::Article.as_str());
            }
        }
        Ok(report)
    }

    /// The watches a new article matches, and its story signature, from one analysis of it.
    fn analyse(&self, article: &Article, feed: &FeedContext) -> (Vec<WatchMatch>, Signature) {
        if self.watches.is_empty() {
            return (Vec::new(), story::signature_of(&self.signatures, article));
        }
        let document = self.watches.analyze(&article.view(feed.labels));
        let outcome = self.watches.matches(&document);
        self.metrics
            .presearch(outcome.candidates, outcome.matches.len());
        (outcome.matches, self.signatures.of_document(&document))
    }

    /// Where a new match of `watch` goes among the watch's stories of the last
    /// `group_window`; `None` when the watch does not group.
    async fn place_in_story(
        &self,
        tx: &mut IngestTx,
        watch: &str,
        target: &WatchDelivery,
        report: Report<'_>,
        now: i64,
    ) -> Result<Option<StoryLink>, StoreError> {
        let Report {
            signature,
            hits,
            published,
        } = report;
        if target.group == GroupMode::Off {
            return Ok(None);
        }
        let window = i64::try_from(target.group_window.as_secs()).unwrap_or(i64::MAX);
        // Matched within the window, and published within it of this article: a week-old
        // report met on a first poll is not the same story as today's.
        let candidates = tx
            .story_candidates(watch, now.saturating_sub(window))
            .await?;
        let at = published.map_or(now, |p| p.timestamp());
        let vocabulary = self
            .signatures
            .vocabulary(hits.iter().map(|h| h.text.as_str()));
        let near = candidates
            .iter()
            .filter(|c| c.at.abs_diff(at) <= window.unsigned_abs());
        let decision = self.archive.with(|stats| {
            story::decide(
                target.group,
                signature,
                &vocabulary,
                near.map(|c| (&c.story, &c.signature)),
                stats,
            )
        });
        tracing::debug!(
            watch = %untrusted(watch),
            role = decision.role.as_str(),
            similarity = decision.similarity,
            candidates = candidates.len(),
            "story"
        );
        Ok(Some(StoryLink {
            role: decision.role,
            story: decision.story,
        }))
    }

    /// How a new match of `watch` is delivered: not at all when it may not alert, in the next
    /// digest for a digest watch, in the hour's summary once the hourly cap is reached, else
    /// on its own.
    async fn delivery(
        &self,
        tx: &mut IngestTx,
        watch: &str,
        target: &WatchDelivery,
        notify: bool,
        now: i64,
    ) -> Result<MatchDelivery, StoreError> {
        if !notify || target.recipients.is_empty() {
            return Ok(MatchDelivery::None);
        }
        if target.digest {
            return Ok(MatchDelivery::Digest);
        }
        if target.max_per_hour > 0
            && tx.article_alerts_since(watch, hour_start(now)).await?
                >= i64::from(target.max_per_hour)
        {
            return Ok(MatchDelivery::Overflow);
        }
        Ok(MatchDelivery::Alert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> AlertWindow {
        AlertWindow {
            first_poll_window: Duration::from_secs(24 * 3600),
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }

    #[test]
    fn first_poll_alerts_only_recent_dated_entries() {
        let now = Utc::now();
        let w = window();
        assert!(w.allows(Some(now - chrono::Duration::hours(1)), true, now));
        assert!(!w.allows(Some(now - chrono::Duration::hours(30)), true, now));
        assert!(!w.allows(None, true, now));
        assert!(w.allows(Some(now + chrono::Duration::hours(2)), true, now));
    }

    #[test]
    fn later_polls_alert_everything_new_within_max_age() {
        let now = Utc::now();
        let w = window();
        assert!(w.allows(Some(now - chrono::Duration::hours(30)), false, now));
        assert!(w.allows(None, false, now));
        assert!(!w.allows(Some(now - chrono::Duration::days(8)), false, now));
        let old = DateTime::parse_from_rfc3339("2023-09-13T10:00:00Z")
            .unwrap()
            .to_utc();
        assert!(!w.allows(Some(old), false, now));
    }
}
