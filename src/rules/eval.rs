//! Evaluates a compiled query against an analysed article, and explains a match: which clauses
//! held and which words of the article (original spelling, field, offsets) made them hold.

use serde::{Deserialize, Serialize};

use super::MAX_PHRASE_WORDS;
use super::compile::{Expr, MetaTest, Pattern, WordTest};
use super::document::{Document, Field, FieldMask};

/// One piece of evidence for a match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// The clause of the query, as written: `missile`, `@dprk: Пхеньян`, `site:tass.ru`.
    pub clause: String,
    /// Where the words were found; `None` for tests on the source (site, feed, language).
    pub field: Option<Field>,
    /// The words as spelled in the article.
    pub text: String,
    /// Byte range of `text` in the field.
    pub start: usize,
    pub end: usize,
    /// On the first pair that made a `NEAR` hold: the other side of the pair. Stored
    /// explanations from before it have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub near: Option<NearPair>,
    /// The clause was limited to this hit's field (`title:…`): that it occurs there is a
    /// condition that held, not just where it was found.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scoped: bool,
}

/// The other half of a pair of occurrences close enough for a `NEAR/distance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NearPair {
    pub distance: u32,
    /// The other clause, as written in the query.
    pub clause: String,
    /// Its words as spelled in the article.
    pub text: String,
}

/// A watch that matched, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchMatch {
    pub watch: usize,
    pub hits: Vec<Hit>,
}

/// The result of matching one article against every watch.
#[derive(Debug, Clone, Default)]
pub struct MatchOutcome {
    pub matches: Vec<WatchMatch>,
    /// How many watches the index proposed for verification.
    pub candidates: usize,
}

/// Most occurrences of one pattern reported in an explanation.
const MAX_HITS_PER_PATTERN: usize = 8;

/// A pattern occurrence: field and first/last word positions, first/last token.
#[derive(Debug, Clone, Copy)]
struct Occurrence {
    field: Field,
    first_pos: u32,
    last_pos: u32,
    first_token: u32,
    last_token: u32,
}

/// Appends the distinct words of the document that pass a word test, each once.
fn passing_words(test: &WordTest, doc: &Document, out: &mut Vec<u32>) {
    match test {
        WordTest::Keys(keys) => {
            let start = out.len();
            for key in keys {
                if let Some(words) = doc.index.get(key) {
                    out.extend_from_slice(words);
                }
            }
            if keys.len() > 1 {
                out[start..].sort_unstable();
                let mut kept = start;
                for i in start..out.len() {
                    if kept == start || out[i] != out[kept - 1] {
                        out[kept] = out[i];
                        kept += 1;
                    }
                }
                out.truncate(kept);
            }
        }
        WordTest::Prefix(prefix) => out.extend(doc.words_with_prefix(prefix)),
        WordTest::Exact(exact) => out.extend(doc.word_id(exact)),
    }
}

/// Calls `found` for each occurrence of `pattern`, until it returns false.
///
/// A phrase is found by a shift-and automaton run over the windows where it can be, which the
/// tokens of its rarest word anchor: bit `k` of the state says that the tokens up to the
/// current one match the phrase's first `k + 1` words. Each token is visited at most once and
/// costs one lookup, so a phrase costs time linear in the article, however long it is and
/// however often its words repeat.
fn occurrences(pattern: &Pattern, doc: &Document, mut found: impl FnMut(Occurrence) -> bool) {
    let single = |token_id: u32| {
        let token = doc.tokens[token_id as usize];
        Occurrence {
            field: token.field,
            first_pos: token.pos,
            last_pos: token.pos,
            first_token: token_id,
            last_token: token_id,
        }
    };
    let tests = pattern.words.as_slice();
    let mut words = Vec::new();
    if let [test] = tests {
        passing_words(test, doc, &mut words);
        for word in words {
            for &token_id in &doc.word_tokens[word as usize] {
                if pattern.fields.contains(doc.tokens[token_id as usize].field)
                    && !found(single(token_id))
                {
                    return;
                }
            }
        }
        return;
    }
    // The compiler refuses phrases longer than MAX_PHRASE_WORDS (64): the state fits a u64.
    let Some(last) = tests.len().checked_sub(1) else {
        return;
    };
    let Some(complete) = 1u64.checked_shl(last as u32) else {
        return;
    };
    // The words passing each test, one test after the other: test k's are
    // `words[ends[k - 1]..ends[k]]`.
    let mut ends = [0usize; MAX_PHRASE_WORDS];
    let mut anchor = (0, usize::MAX);
    for (k, test) in tests.iter().enumerate() {
        let start = words.len();
        passing_words(test, doc, &mut words);
        if words.len() == start {
            return;
        }
        ends[k] = words.len();
        let occurrences: usize = words[start..]
            .iter()
            .map(|&w| doc.word_tokens[w as usize].len())
            .sum();
        if occurrences < anchor.1 {
            anchor = (k, occurrences);
        }
    }
    let range = |k: usize| if k == 0 { 0 } else { ends[k - 1] }..ends[k];
    // Per distinct word: the phrase positions whose test it passes, sorted by word.
    let mut masks: Vec<(u32, u64)> = Vec::with_capacity(words.len());
    for k in 0..tests.len() {
        masks.extend(words[range(k)].iter().map(|&w| (w, 1u64 << k)));
    }
    masks.sort_unstable_by_key(|&(word, _)| word);
    masks.dedup_by(|(word, mask), (kept_word, kept_mask)| {
        let same = word == kept_word;
        if same {
            *kept_mask |= *mask;
        }
        same
    });
    let mask_of = |word: u32| {
        masks
            .binary_search_by_key(&word, |&(w, _)| w)
            .map_or(0, |i| masks[i].1)
    };
    let (anchor, _) = anchor;
    let anchor_words = &words[range(anchor)];
    let mut merged = Vec::new();
    let anchors: &[u32] = match anchor_words {
        [word] => &doc.word_tokens[*word as usize],
        _ => {
            for &word in anchor_words {
                merged.extend_from_slice(&doc.word_tokens[word as usize]);
            }
            merged.sort_unstable();
            &merged
        }
    };
    let last = last as u32;
    let anchor = anchor as u32;
    let final_token = doc.tokens.len() as u32 - 1;
    let mut state = 0u64;
    // The first token not visited yet.
    let mut next = 0u32;
    for &anchor_token in anchors {
        let window_start = anchor_token.saturating_sub(anchor);
        let window_end = window_start.saturating_add(last).min(final_token);
        if window_start > next {
            state = 0;
            next = window_start;
        }
        while next <= window_end {
            let token = doc.tokens[next as usize];
            let follows = next
                .checked_sub(1)
                .map(|previous| doc.tokens[previous as usize])
                .is_some_and(|previous| {
                    previous.field == token.field && previous.pos + 1 == token.pos
                });
            if !follows {
                state = 0;
            }
            let mask = if pattern.fields.contains(token.field) {
                mask_of(token.word)
            } else {
                0
            };
            state = ((state << 1) | 1) & mask;
            if state & complete != 0 {
                let first_token = next - last;
                let occurrence = Occurrence {
                    field: token.field,
                    first_pos: doc.tokens[first_token as usize].pos,
                    last_pos: token.pos,
                    first_token,
                    last_token: next,
                };
                if !found(occurrence) {
                    return;
                }
            }
            next += 1;
        }
    }
}

fn occurs(pattern: &Pattern, doc: &Document) -> bool {
    // One word tested by its keys (most terms and list items): straight from the index.
    if let [WordTest::Keys(keys)] = pattern.words.as_slice() {
        return keys.iter().any(|key| {
            doc.index.get(key).is_some_and(|words| {
                words.iter().any(|&w| {
                    doc.word_tokens[w as usize]
                        .iter()
                        .any(|&t| pattern.fields.contains(doc.tokens[t as usize].field))
                })
            })
        });
    }
    let mut any = false;
    occurrences(pattern, doc, |_| {
        any = true;
        false
    });
    any
}

fn all_occurrences(ids: &[u32], patterns: &[Pattern], doc: &Document) -> Vec<(u32, Occurrence)> {
    let mut all = Vec::new();
    for &id in ids {
        occurrences(&patterns[id as usize], doc, |o| {
            all.push((id, o));
            true
        });
    }
    all
}

/// Calls `found` for each pair of a left and a right occurrence close enough, until it
/// returns false. Right occurrences are sorted by position, so each left one only looks at
/// the window of positions that can be within `distance`.
fn near_pairs(
    left: &[u32],
    right: &[u32],
    distance: u32,
    patterns: &[Pattern],
    doc: &Document,
    mut found: impl FnMut(&(u32, Occurrence), &(u32, Occurrence)) -> bool,
) {
    let lefts = all_occurrences(left, patterns, doc);
    if lefts.is_empty() {
        return;
    }
    let mut rights = all_occurrences(right, patterns, doc);
    let position = |o: &Occurrence, pos: u32| (o.field as u8, pos);
    rights.sort_unstable_by_key(|(_, r)| position(r, r.first_pos));
    let longest = rights
        .iter()
        .map(|(_, r)| r.last_pos - r.first_pos)
        .max()
        .unwrap_or(0);
    for l in &lefts {
        let low = position(
            &l.1,
            l.1.first_pos
                .saturating_sub(distance.saturating_add(1).saturating_add(longest)),
        );
        let high = position(
            &l.1,
            l.1.last_pos.saturating_add(distance).saturating_add(1),
        );
        let start = rights.partition_point(|(_, r)| position(r, r.first_pos) < low);
        for r in rights[start..]
            .iter()
            .take_while(|(_, r)| position(r, r.first_pos) <= high)
        {
            if within(&l.1, &r.1, distance) && !found(l, r) {
                return;
            }
        }
    }
}

fn within(a: &Occurrence, b: &Occurrence, distance: u32) -> bool {
    if a.field != b.field {
        return false;
    }
    if a.last_pos < b.first_pos {
        b.first_pos - a.last_pos - 1 <= distance
    } else if b.last_pos < a.first_pos {
        a.first_pos - b.last_pos - 1 <= distance
    } else {
        true
    }
}

fn meta_holds(test: &MetaTest, doc: &Document) -> bool {
    match test {
        MetaTest::Site(site) => doc.sites.iter().any(|s| s == site),
        MetaTest::Feed(feed) => doc.feeds.iter().any(|f| f == feed),
        MetaTest::Lang(lang) => doc.lang.as_deref() == Some(lang.as_str()),
    }
}

/// Whether the expression holds for the document.
pub fn matches(expr: &Expr, patterns: &[Pattern], doc: &Document) -> bool {
    match expr {
        Expr::Patterns(ids) => ids.iter().any(|&id| occurs(&patterns[id as usize], doc)),
        Expr::Meta(test) => meta_holds(test, doc),
        Expr::And(children) => children.iter().all(|c| matches(c, patterns, doc)),
        Expr::Or(children) => children.iter().any(|c| matches(c, patterns, doc)),
        Expr::Not(inner) => !matches(inner, patterns, doc),
        Expr::Near {
            left,
            right,
            distance,
        } => {
            let mut any = false;
            near_pairs(left, right, *distance, patterns, doc, |_, _| {
                any = true;
                false
            });
            any
        }
    }
}

/// The evidence for an expression that holds: the occurrences of every clause that held,
/// in article order.
pub fn explain(expr: &Expr, patterns: &[Pattern], doc: &Document) -> Vec<Hit> {
    let mut hits = Vec::new();
    collect(expr, patterns, doc, &mut hits);
    hits.sort_by_key(|h| (h.field.map(|f| f as u8), h.start));
    // One hit per range of words: what a dropped duplicate said about conditions is kept.
    let mut kept: Vec<Hit> = Vec::with_capacity(hits.len());
    for hit in hits {
        match kept.last_mut() {
            Some(last)
                if last.field == hit.field && last.start == hit.start && last.end == hit.end =>
            {
                last.scoped |= hit.scoped;
                if last.near.is_none() {
                    last.near = hit.near;
                }
            }
            _ => kept.push(hit),
        }
    }
    kept
}

fn hit(pattern: &Pattern, doc: &Document, o: &Occurrence) -> Hit {
    let start = doc.tokens[o.first_token as usize].start as usize;
    let end = doc.tokens[o.last_token as usize].end as usize;
    Hit {
        clause: pattern.label.clone(),
        field: Some(o.field),
        text: doc
            .text(o.field)
            .get(start..end)
            .unwrap_or_default()
            .to_string(),
        start,
        end,
        near: None,
        scoped: pattern.fields != FieldMask::TEXT,
    }
}

fn collect(expr: &Expr, patterns: &[Pattern], doc: &Document, hits: &mut Vec<Hit>) {
    match expr {
        Expr::Patterns(ids) => {
            for &id in ids {
                let pattern = &patterns[id as usize];
                let mut count = 0;
                occurrences(pattern, doc, |o| {
                    hits.push(hit(pattern, doc, &o));
                    count += 1;
                    count < MAX_HITS_PER_PATTERN
                });
            }
        }
        Expr::Meta(test) => {
            if meta_holds(test, doc) {
                let (clause, text) = match test {
                    MetaTest::Site(s) => (format!("site:{s}"), s.clone()),
                    MetaTest::Feed(f) => (format!("feed:{f}"), f.clone()),
                    MetaTest::Lang(l) => (format!("lang:{l}"), l.clone()),
                };
                hits.push(Hit {
                    clause,
                    field: None,
                    text,
                    start: 0,
                    end: 0,
                    near: None,
                    scoped: false,
                });
            }
        }
        Expr::And(children) => {
            for child in children {
                collect(child, patterns, doc, hits);
            }
        }
        Expr::Or(children) => {
            for child in children {
                if matches(child, patterns, doc) {
                    collect(child, patterns, doc, hits);
                }
            }
        }
        Expr::Not(_) => {}
        Expr::Near {
            left,
            right,
            distance,
        } => {
            let mut pairs = 0;
            // The example pair said in words: the one that comes first in the article.
            let mut example: Option<(usize, NearPair)> = None;
            near_pairs(
                left,
                right,
                *distance,
                patterns,
                doc,
                |(lid, l), (rid, r)| {
                    let left = hit(&patterns[*lid as usize], doc, l);
                    let right = hit(&patterns[*rid as usize], doc, r);
                    let position = |h: &Hit| (h.field.map(|f| f as u8), h.start);
                    let earlier = example
                        .as_ref()
                        .is_none_or(|(i, _)| position(&left) < position(&hits[*i]));
                    if earlier {
                        let pair = NearPair {
                            distance: *distance,
                            clause: right.clause.clone(),
                            text: right.text.clone(),
                        };
                        example = Some((hits.len(), pair));
                    }
                    hits.push(left);
                    hits.push(right);
                    pairs += 1;
                    pairs < MAX_HITS_PER_PATTERN
                },
            );
            if let Some((i, pair)) = example {
                hits[i].near = Some(pair);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::rules::{ArticleView, ListDefinitions, WatchSet, WatchSource};

    fn word_passes(test: &WordTest, doc: &Document, word: u32) -> bool {
        match test {
            WordTest::Keys(keys) => keys
                .iter()
                .any(|k| doc.index.get(k).is_some_and(|words| words.contains(&word))),
            WordTest::Prefix(prefix) => doc.words[word as usize].starts_with(prefix.as_str()),
            WordTest::Exact(exact) => *doc.words[word as usize] == **exact,
        }
    }

    /// Word-by-word matching from every token of the first word: what the automaton must
    /// agree with.
    fn reference(pattern: &Pattern, doc: &Document) -> Vec<(u32, u32)> {
        let mut found = Vec::new();
        for (first, token) in doc.tokens.iter().enumerate() {
            let first = first as u32;
            let all = pattern.words.iter().enumerate().all(|(k, test)| {
                let k = k as u32;
                doc.tokens.get((first + k) as usize).is_some_and(|next| {
                    pattern.fields.contains(next.field)
                        && next.field == token.field
                        && next.pos == token.pos + k
                        && word_passes(test, doc, next.word)
                })
            });
            if all {
                found.push((first, first + pattern.words.len() as u32 - 1));
            }
        }
        found
    }

    fn found(pattern: &Pattern, doc: &Document) -> Vec<(u32, u32)> {
        let mut found = Vec::new();
        occurrences(pattern, doc, |o| {
            found.push((o.first_token, o.last_token));
            true
        });
        found.sort_unstable();
        found
    }

    const ARTICLE_WORDS: &[&str] = &[
        "a",
        "a",
        "a",
        "korea",
        "Korea's",
        "missile",
        "missiles",
        "north",
        "Пхеньяне",
    ];
    const QUERY_WORDS: &[&str] = &[
        "a",
        "a",
        "korea",
        "missile",
        "missil*",
        "=missiles",
        "north-korea",
        "Пхеньян",
    ];

    fn text(max_words: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(
            (
                proptest::sample::select(ARTICLE_WORDS),
                proptest::sample::select(&[" ", " ", ", ", "-", ". "][..]),
            ),
            0..max_words,
        )
        .prop_map(|words| words.into_iter().map(|(w, s)| format!("{w}{s}")).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn the_automaton_finds_every_occurrence_word_by_word_matching_finds(
            title in text(12),
            content in text(60),
            authors in proptest::collection::vec(text(3), 0..5),
            phrase in proptest::collection::vec(proptest::sample::select(QUERY_WORDS), 1..5),
            scope in proptest::sample::select(&["", "", "title:", "author:", "author:"][..]),
        ) {
            let query = format!("{scope}\"{}\"", phrase.join(" "));
            let sources = [WatchSource { name: "w".into(), query }];
            let set = WatchSet::compile(&sources, &ListDefinitions::new())
                .unwrap_or_else(|e| panic!("{e:?}"));
            let view = ArticleView {
                title: &title,
                content: &content,
                authors: &authors,
                ..Default::default()
            };
            let doc = set.analyze(&view);
            for pattern in &set.patterns {
                prop_assert_eq!(found(pattern, &doc), reference(pattern, &doc));
            }
        }
    }
}
