//! Evaluates a compiled query against an analysed article, and explains a match: which clauses
//! held and which words of the article (original spelling, field, offsets) made them hold.

use serde::{Deserialize, Serialize};

use super::compile::{Expr, MetaTest, Pattern, WordTest};
use super::document::{Document, Field, Token};

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

fn word_passes(test: &WordTest, doc: &Document, word: u32) -> bool {
    match test {
        WordTest::Keys(keys) => doc.keys_of(word).iter().any(|k| keys.contains(k)),
        WordTest::Prefix(prefix) => doc.words[word as usize].starts_with(prefix.as_str()),
        WordTest::Exact(exact) => *doc.words[word as usize] == **exact,
    }
}

/// Distinct words of the document that pass the first word test of a pattern.
fn first_words(test: &WordTest, doc: &Document, out: &mut Vec<u32>) {
    match test {
        WordTest::Keys(keys) => {
            for key in keys {
                if let Some(words) = doc.index.get(key) {
                    out.extend_from_slice(words);
                }
            }
            if keys.len() > 1 {
                out.sort_unstable();
                out.dedup();
            }
        }
        WordTest::Prefix(prefix) => out.extend(doc.words_with_prefix(prefix)),
        WordTest::Exact(exact) => out.extend(doc.word_id(exact)),
    }
}

/// Calls `found` for each occurrence of `pattern`, until it returns false.
fn occurrences(pattern: &Pattern, doc: &Document, mut found: impl FnMut(Occurrence) -> bool) {
    let Some((first, rest)) = pattern.words.split_first() else {
        return;
    };
    let mut starts = Vec::new();
    first_words(first, doc, &mut starts);
    for word in starts {
        for &token_id in &doc.word_tokens[word as usize] {
            let token: Token = doc.tokens[token_id as usize];
            if !pattern.fields.contains(token.field) {
                continue;
            }
            let mut last = token_id;
            let complete = rest.iter().enumerate().all(|(k, test)| {
                let next_id = token_id + 1 + k as u32;
                match doc.tokens.get(next_id as usize) {
                    Some(next)
                        if next.field == token.field
                            && next.pos == token.pos + 1 + k as u32
                            && word_passes(test, doc, next.word) =>
                    {
                        last = next_id;
                        true
                    }
                    _ => false,
                }
            });
            if complete {
                let occurrence = Occurrence {
                    field: token.field,
                    first_pos: token.pos,
                    last_pos: doc.tokens[last as usize].pos,
                    first_token: token_id,
                    last_token: last,
                };
                if !found(occurrence) {
                    return;
                }
            }
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
    hits.dedup_by(|a, b| a.field == b.field && a.start == b.start && a.end == b.end);
    hits
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
            near_pairs(
                left,
                right,
                *distance,
                patterns,
                doc,
                |(lid, l), (rid, r)| {
                    hits.push(hit(&patterns[*lid as usize], doc, l));
                    hits.push(hit(&patterns[*rid as usize], doc, r));
                    pairs += 1;
                    pairs < MAX_HITS_PER_PATTERN
                },
            );
        }
    }
}
