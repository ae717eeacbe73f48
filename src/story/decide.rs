//! Whether a new match of a watch is a copy of a story already alerted, an update of one, or a
//! new story: its signature against the signatures of the watch's recent matches.

use std::collections::VecDeque;

use serde::Deserialize;

use super::signature::Script;
use super::{Signature, TermStats};

/// At least this similarity (same language): a rewrite of the same news.
const COPY_SIMILARITY: f64 = 0.5;
/// At least this similarity (same language): a new development of the same story.
/// The thresholds are tuned on the labelled pairs in `eval/` (see eval/README.md).
const UPDATE_SIMILARITY: f64 = 0.13;
/// At least this similarity of numbers and names across languages, with at least
/// [`CROSS_SHARED_ANCHORS`] of them shared: the same story in another language.
const CROSS_SIMILARITY: f64 = 0.2;
const CROSS_SHARED_ANCHORS: usize = 2;
/// How much the words that made the match count, against other words as rare: every match of
/// the watch has some of them.
const VOCABULARY_WEIGHT: f64 = 0.7;

/// How a watch groups its matches (`group` in `[[watch]]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupMode {
    /// Copies are not alerted again; new developments are alerted as threaded updates.
    #[default]
    Story,
    /// Copies are not alerted again; everything else is a new story.
    Copies,
    /// Every match is alerted on its own.
    Off,
}

/// A match's place in its story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Starts a story.
    First,
    /// Tells the news of the story again: no new alert.
    Copy,
    /// A new development of the story: alerted, threaded on the story's first alert.
    Update,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::First => "first",
            Role::Copy => "copy",
            Role::Update => "update",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "first" => Some(Role::First),
            "copy" => Some(Role::Copy),
            "update" => Some(Role::Update),
            _ => None,
        }
    }
}

/// The outcome for one new match: its role, and the story it joins (`None` for a first).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<K> {
    pub role: Role,
    pub story: Option<K>,
    /// The similarity to the closest candidate (0 when there was none).
    pub similarity: f64,
}

impl<K> Decision<K> {
    fn first(similarity: f64) -> Self {
        Decision {
            role: Role::First,
            story: None,
            similarity,
        }
    }
}

/// Weighted cosine similarity of two sorted term lists; also how many terms of weight they
/// share.
fn cosine(a: &[u64], b: &[u64], weight: &impl Fn(u64) -> f64) -> (f64, usize) {
    let norm = |terms: &[u64]| terms.iter().map(|t| weight(*t).powi(2)).sum::<f64>();
    let (norm_a, norm_b) = (norm(a), norm(b));
    if norm_a == 0.0 || norm_b == 0.0 {
        return (0.0, 0);
    }
    let (mut i, mut j, mut dot, mut shared) = (0, 0, 0.0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let w = weight(a[i]);
                dot += w.powi(2);
                shared += usize::from(w > 0.0);
                i += 1;
                j += 1;
            }
        }
    }
    (dot / (norm_a * norm_b).sqrt(), shared)
}

fn same_language(a: &Signature, b: &Signature) -> bool {
    a.script == b.script || a.script == Script::Other || b.script == Script::Other
}

/// Places a new match with signature `new` among the watch's recent matches (`candidates`:
/// each one's story and signature). `vocabulary` (sorted): the terms of the words that made
/// the match, which every match of the watch shares and which so say little about which story
/// it tells.
pub fn decide<'a, K: Clone + 'a>(
    mode: GroupMode,
    new: &Signature,
    vocabulary: &[u64],
    candidates: impl IntoIterator<Item = (&'a K, &'a Signature)>,
    stats: &TermStats,
) -> Decision<K> {
    if mode == GroupMode::Off {
        return Decision::first(0.0);
    }
    let weight = |term: u64| {
        if vocabulary.binary_search(&term).is_ok() {
            stats.weight(term) * VOCABULARY_WEIGHT
        } else {
            stats.weight(term)
        }
    };
    let mut closest: Option<(&K, f64)> = None;
    let mut across: Option<(&K, f64)> = None;
    for (story, signature) in candidates {
        if same_language(new, signature) {
            let (similarity, _) = cosine(&new.words, &signature.words, &weight);
            if closest.is_none_or(|(_, best)| similarity > best) {
                closest = Some((story, similarity));
            }
        } else {
            let (similarity, shared) = cosine(&new.anchors, &signature.anchors, &weight);
            if shared >= CROSS_SHARED_ANCHORS && across.is_none_or(|(_, best)| similarity > best) {
                across = Some((story, similarity));
            }
        }
    }
    let best = closest
        .map_or(0.0, |(_, s)| s)
        .max(across.map_or(0.0, |(_, s)| s));
    let joined = |story: &K, role| Decision {
        role,
        story: Some(story.clone()),
        similarity: best,
    };
    if let Some((story, similarity)) = closest
        && similarity >= COPY_SIMILARITY
    {
        return joined(story, Role::Copy);
    }
    if mode == GroupMode::Copies {
        return Decision::first(best);
    }
    match (closest, across) {
        (Some((story, similarity)), _) if similarity >= UPDATE_SIMILARITY => {
            joined(story, Role::Update)
        }
        (_, Some((story, similarity))) if similarity >= CROSS_SIMILARITY => {
            joined(story, Role::Update)
        }
        _ => Decision::first(best),
    }
}

/// One watch's recent matches kept in memory, for grouping without a database (`test-rule`,
/// `backtest`): matches come in order of publication, and those older than the window are
/// forgotten.
#[derive(Debug, Clone)]
pub struct StoryBook<K> {
    mode: GroupMode,
    window_seconds: i64,
    recent: VecDeque<(i64, K, Signature)>,
}

impl<K: Clone> StoryBook<K> {
    pub fn new(mode: GroupMode, window: std::time::Duration) -> Self {
        Self {
            mode,
            window_seconds: i64::try_from(window.as_secs()).unwrap_or(i64::MAX),
            recent: VecDeque::new(),
        }
    }

    /// Places a match made at `at` (Unix seconds, not before the previous one's); `first_key`
    /// names the story it starts if it is a first. Returns the decision with the story's key.
    pub fn place(
        &mut self,
        at: i64,
        signature: Signature,
        vocabulary: &[u64],
        first_key: K,
        stats: &TermStats,
    ) -> Decision<K> {
        let since = at.saturating_sub(self.window_seconds);
        while self
            .recent
            .front()
            .is_some_and(|(when, _, _)| *when < since)
        {
            self.recent.pop_front();
        }
        let mut decision = decide(
            self.mode,
            &signature,
            vocabulary,
            self.recent.iter().map(|(_, k, s)| (k, s)),
            stats,
        );
        let story = decision.story.get_or_insert(first_key).clone();
        self.recent.push_back((at, story, signature));
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::story::SignatureBuilder;

    const DAY: i64 = 24 * 3600;

    fn archive(builder: &SignatureBuilder) -> TermStats {
        // A recent archive of general news, where the watch's vocabulary is common too.
        let mut stats = TermStats::new(1000);
        let titles = [
            "Putin says Russia ready for talks with the West",
            "North Korea's Kim Jong Un inspects weapons factory",
            "Stock markets fall as inflation fears return",
            "Storm batters coast, thousands without power",
            "Kim Jong Un calls for more missile launches",
            "Putin signs decree on military service",
            "Election results delayed after recount",
            "New vaccine approved by regulators",
        ];
        for round in 0..10 {
            for title in titles {
                stats.add(&builder.signature(&format!("{title} {round}"), "", ""));
            }
        }
        stats
    }

    fn book() -> StoryBook<&'static str> {
        StoryBook::new(
            GroupMode::Story,
            std::time::Duration::from_secs(2 * DAY as u64),
        )
    }

    #[test]
    fn a_rewrite_is_a_copy_a_development_an_update_and_another_story_new() {
        let b = SignatureBuilder::new();
        let mut stats = archive(&b);
        let items = [
            (
                "a",
                "Kim Jong Un arrives in Russia's Far East by armoured train",
                "The North Korean leader's train crossed into Russia for a summit with Putin.",
            ),
            (
                "b",
                "Kim Jong Un's armoured train arrives in Russia's Far East",
                "The train carrying the North Korean leader crossed into Russia before a summit with Putin.",
            ),
            (
                "c",
                "Putin and Kim hold summit at Vostochny cosmodrome",
                "Kim Jong Un, on his visit to Russia's Far East, toured the rocket launch site with Putin.",
            ),
            (
                "d",
                "North Korea fires ballistic missile into sea, Seoul says",
                "Japan's coast guard said the missile fell outside its economic zone.",
            ),
        ];
        let signatures: Vec<_> = items
            .iter()
            .map(|(_, t, l)| b.signature(t, l, ""))
            .collect();
        for s in &signatures {
            stats.add(s);
        }
        let mut book = book();
        let roles: Vec<Role> = items
            .iter()
            .zip(signatures)
            .map(|((key, _, _), s)| book.place(DAY, s, &[], *key, &stats).role)
            .collect();
        assert_eq!(roles, [Role::First, Role::Copy, Role::Update, Role::First]);
    }

    #[test]
    fn another_language_is_an_update_never_a_copy() {
        let b = SignatureBuilder::new();
        let stats = archive(&b);
        let mut book = book();
        let en = b.signature("Shoigu meets Kim in Pyongyang, Lavrov to follow", "", "");
        let ru = b.signature(
            "Шойгу встретился с Ким Чен Ыном, Лавров прибудет следом",
            "",
            "",
        );
        assert_eq!(book.place(0, en, &[], "en", &stats).role, Role::First);
        let decision = book.place(60, ru, &[], "ru", &stats);
        assert_eq!((decision.role, decision.story), (Role::Update, Some("en")));
    }

    #[test]
    fn matches_outside_the_window_start_new_stories_and_off_groups_nothing() {
        let b = SignatureBuilder::new();
        let stats = archive(&b);
        let title = "Kim Jong Un arrives in Vladivostok by armoured train";
        let mut book = book();
        assert_eq!(
            book.place(0, b.signature(title, "", ""), &[], "a", &stats)
                .role,
            Role::First
        );
        let late = book.place(3 * DAY, b.signature(title, "", ""), &[], "b", &stats);
        assert_eq!(late.role, Role::First);
        let mut off = StoryBook::new(GroupMode::Off, std::time::Duration::from_secs(DAY as u64));
        off.place(0, b.signature(title, "", ""), &[], "a", &stats);
        assert_eq!(
            off.place(1, b.signature(title, "", ""), &[], "b", &stats)
                .role,
            Role::First
        );
    }
}
