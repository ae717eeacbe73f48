//! The index that keeps matching cost independent of the number of watches (Luwak-style
//! presearch, with more than one required clause per watch).
//!
//! A watch's query implies clauses that every matching article satisfies, each a set of terms
//! of which the article contains at least one: each side of an AND or NEAR, each word of a
//! phrase, an OR of clauses of its branches; a NOT implies none. A watch is indexed under the
//! terms of its [`CLAUSES_PER_WATCH`] cheapest clauses, each posting saying which clause the
//! term stands for. An article's own words select the postings; only the watches for which
//! every indexed clause was hit are verified. One clause alone lets a common word (a country,
//! a minister) make every watch naming it a candidate; two keep the candidates close to the
//! watches that really match. A posting also names the fields its term must occur in
//! (`title:`), so a word met only in the summary does not make a title watch a candidate.

use std::cell::RefCell;

use rustc_hash::FxHashMap;

use super::analysis::Key;
use super::compile::{CompiledWatch, Expr, MetaTest, Pattern, WordTest};
use super::document::{Document, FieldMask};

/// Most clauses a watch is indexed under; the article must hit all of them before the watch is
/// verified. Each is one bit of [`Mark::clauses`].
const CLAUSES_PER_WATCH: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Term {
    Key(Key),
    Prefix(String),
    Exact(String),
    Meta(MetaTest),
}

/// A term, and the fields it counts in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldTerm {
    term: Term,
    fields: FieldMask,
}

/// Terms of which a matching article contains at least one, in their fields.
type Clause = Vec<FieldTerm>;

fn term_cost(term: &Term) -> u32 {
    match term {
        Term::Key(Key::Lemma(_)) | Term::Exact(_) => 1,
        Term::Key(Key::Stem(stem) | Key::Exact(stem)) => {
            if stem.chars().count() < 4 {
                3
            } else {
                1
            }
        }
        Term::Prefix(prefix) => 2 + 6u32.saturating_sub(prefix.chars().count() as u32),
        Term::Meta(MetaTest::Lang(_)) => 50,
        Term::Meta(_) => 10,
    }
}

fn cost(terms: &[FieldTerm]) -> u32 {
    terms.iter().map(|t| term_cost(&t.term)).sum()
}

fn longest(terms: &[FieldTerm]) -> usize {
    terms
        .iter()
        .map(|t| match &t.term {
            Term::Key(Key::Stem(s) | Key::Exact(s)) => s.len(),
            Term::Prefix(s) | Term::Exact(s) => s.len(),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

/// Cheapest first; among equals, the longest words (rarer), then a fixed order.
fn rank(clause: &Clause) -> (u32, std::cmp::Reverse<usize>) {
    (cost(clause), std::cmp::Reverse(longest(clause)))
}

fn word_terms(test: &WordTest, fields: FieldMask) -> Clause {
    let terms = match test {
        WordTest::Keys(keys) => keys.iter().cloned().map(Term::Key).collect(),
        WordTest::Prefix(prefix) => vec![Term::Prefix(prefix.clone())],
        WordTest::Exact(exact) => vec![Term::Exact(exact.clone())],
    };
    terms
        .into_iter()
        .map(|term| FieldTerm { term, fields })
        .collect()
}

/// The clause that stands for an expression inside an OR: its cheapest one.
fn cheapest(clauses: Vec<Clause>) -> Option<Clause> {
    clauses.into_iter().min_by_key(rank)
}

/// Every word of a phrase occurs in a matching article: one clause per word.
fn pattern_clauses(pattern: &Pattern) -> Vec<Clause> {
    pattern
        .words
        .iter()
        .map(|word| word_terms(word, pattern.fields))
        .collect()
}

/// Any of several patterns: one clause, the union of each pattern's cheapest word.
fn patterns_clauses(ids: &[u32], patterns: &[Pattern]) -> Vec<Clause> {
    match ids {
        [id] => pattern_clauses(&patterns[*id as usize]),
        _ => {
            let mut union = Vec::new();
            for &id in ids {
                match cheapest(pattern_clauses(&patterns[id as usize])) {
                    Some(terms) => union.extend(terms),
                    None => return Vec::new(),
                }
            }
            if union.is_empty() {
                Vec::new()
            } else {
                vec![union]
            }
        }
    }
}

/// Clauses every article matching `expr` satisfies (none: nothing is required).
fn clauses(expr: &Expr, patterns: &[Pattern]) -> Vec<Clause> {
    match expr {
        Expr::Patterns(ids) => patterns_clauses(ids, patterns),
        Expr::Meta(test) => vec![vec![FieldTerm {
            term: Term::Meta(test.clone()),
            fields: FieldMask::ALL,
        }]],
        Expr::Not(_) => Vec::new(),
        Expr::Or(children) => {
            let mut union = Vec::new();
            for child in children {
                match cheapest(clauses(child, patterns)) {
                    Some(terms) => union.extend(terms),
                    None => return Vec::new(),
                }
            }
            if union.is_empty() {
                Vec::new()
            } else {
                vec![union]
            }
        }
        Expr::And(children) => children
            .iter()
            .flat_map(|child| clauses(child, patterns))
            .collect(),
        Expr::Near { left, right, .. } => {
            let mut both = patterns_clauses(left, patterns);
            both.extend(patterns_clauses(right, patterns));
            both
        }
    }
}

/// The clauses a watch is indexed under: its cheapest distinct ones, each without repeats.
fn indexed_clauses(expr: &Expr, patterns: &[Pattern]) -> Vec<Clause> {
    let mut all = clauses(expr, patterns);
    for clause in &mut all {
        let mut kept: Vec<FieldTerm> = Vec::with_capacity(clause.len());
        for term in clause.drain(..) {
            if !kept.contains(&term) {
                kept.push(term);
            }
        }
        *clause = kept;
    }
    all.retain(|clause| !clause.is_empty());
    all.sort_by_cached_key(rank);
    let mut chosen: Vec<Clause> = Vec::with_capacity(CLAUSES_PER_WATCH);
    for clause in all {
        if chosen.len() == CLAUSES_PER_WATCH {
            break;
        }
        if !chosen.contains(&clause) {
            chosen.push(clause);
        }
    }
    chosen
}

/// A watch, the clause (bit) of it that a term stands for, and the fields the term counts in.
#[derive(Debug, Clone, Copy)]
struct Posting {
    watch: u32,
    clause: u8,
    fields: FieldMask,
}

/// Per watch, the clauses an article hit, valid for one call of [`Presearch::candidates`]
/// (`generation`), so the marks never need clearing.
#[derive(Debug, Clone, Copy, Default)]
struct Mark {
    generation: u32,
    clauses: u8,
}

/// Marks per watch, reused by every article matched on this thread.
#[derive(Default)]
struct Marks {
    generation: u32,
    marks: Vec<Mark>,
}

thread_local! {
    static MARKS: RefCell<Marks> = RefCell::default();
}

/// An indexed prefix and its postings.
type PrefixPostings = (Box<str>, Vec<Posting>);

/// Characters of a prefix that file it; queries' prefixes have at least this many.
const PREFIX_HEAD: usize = 3;

/// The first `chars` characters of `text`, if it has as many.
fn head(text: &str, chars: usize) -> Option<&str> {
    let end = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .nth(chars)?;
    Some(&text[..end])
}

/// Watches indexed by the terms of the clauses they require.
#[derive(Debug, Default)]
pub struct Presearch {
    by_key: FxHashMap<Key, Vec<Posting>>,
    /// Prefixes filed under their first [`PREFIX_HEAD`] characters, so a word costs one lookup
    /// of its own first characters rather than one per length of indexed prefix.
    by_prefix: FxHashMap<Box<str>, Vec<PrefixPostings>>,
    by_exact: FxHashMap<Box<str>, Vec<Posting>>,
    by_meta: FxHashMap<MetaTest, Vec<Posting>>,
    /// Character lengths of the heads prefixes are filed under (only [`PREFIX_HEAD`] unless a
    /// prefix is shorter).
    prefix_heads: Vec<usize>,
    /// Per watch: the bits of the clauses it is indexed under (0 for the `always` ones).
    required: Vec<u8>,
    /// Watches with no required term: always verified.
    always: Vec<u32>,
}

impl Presearch {
    pub fn build(watches: &[CompiledWatch], patterns: &[Pattern]) -> Self {
        let mut index = Presearch {
            required: vec![0; watches.len()],
            ..Presearch::default()
        };
        for (id, watch) in watches.iter().enumerate() {
            let watch_id = id as u32;
            let chosen = indexed_clauses(&watch.expr, patterns);
            if chosen.is_empty() {
                index.always.push(watch_id);
                continue;
            }
            for (clause, terms) in chosen.into_iter().enumerate() {
                index.required[id] |= 1 << clause;
                for FieldTerm { term, fields } in terms {
                    let posting = Posting {
                        watch: watch_id,
                        clause: 1 << clause,
                        fields,
                    };
                    index.add(term, posting);
                }
            }
        }
        index
    }

    fn add(&mut self, term: Term, posting: Posting) {
        match term {
            Term::Key(key) => self.by_key.entry(key).or_default().push(posting),
            Term::Prefix(p) => {
                let head_chars = p.chars().count().min(PREFIX_HEAD);
                if !self.prefix_heads.contains(&head_chars) {
                    self.prefix_heads.push(head_chars);
                }
                let filed_under = head(&p, head_chars).unwrap_or(&p);
                let bucket = self.by_prefix.entry(filed_under.into()).or_default();
                match bucket.iter_mut().find(|(prefix, _)| **prefix == *p) {
                    Some((_, postings)) => postings.push(posting),
                    None => bucket.push((p.into(), vec![posting])),
                }
            }
            Term::Exact(e) => self.by_exact.entry(e.into()).or_default().push(posting),
            Term::Meta(m) => self.by_meta.entry(m).or_default().push(posting),
        }
    }

    /// The watches that may match `doc`, each once, in ascending order.
    pub fn candidates(&self, doc: &Document) -> Vec<u32> {
        MARKS.with_borrow_mut(|marks| {
            if marks.marks.len() < self.required.len() {
                marks.marks.resize(self.required.len(), Mark::default());
            }
            marks.generation = match marks.generation.checked_add(1) {
                Some(next) => next,
                None => {
                    marks.marks.fill(Mark::default());
                    1
                }
            };
            let mut out = self.always.clone();
            let mut hit = |postings: &[Posting], found_in: FieldMask| {
                for posting in postings {
                    if !posting.fields.intersects(found_in) {
                        continue;
                    }
                    let id = posting.watch as usize;
                    let mark = &mut marks.marks[id];
                    if mark.generation != marks.generation {
                        *mark = Mark {
                            generation: marks.generation,
                            clauses: 0,
                        };
                    }
                    let before = mark.clauses;
                    mark.clauses |= posting.clause;
                    if mark.clauses != before && mark.clauses == self.required[id] {
                        out.push(posting.watch);
                    }
                }
            };
            self.visit_postings(doc, &mut hit);
            out.sort_unstable();
            out
        })
    }

    /// Calls `hit` with the postings of every indexed term `doc` contains, and the fields
    /// it contains the term in.
    fn visit_postings(&self, doc: &Document, hit: &mut impl FnMut(&[Posting], FieldMask)) {
        for (key, words) in &doc.index {
            if let Some(postings) = self.by_key.get(key) {
                let found_in = words.iter().fold(FieldMask::NONE, |mask, &w| {
                    mask.union(doc.word_fields[w as usize])
                });
                hit(postings, found_in);
            }
        }
        if !self.by_exact.is_empty() || !self.by_prefix.is_empty() {
            for (word, &found_in) in doc.words.iter().zip(&doc.word_fields) {
                if let Some(postings) = self.by_exact.get(&**word) {
                    hit(postings, found_in);
                }
                self.visit_prefixes(word, found_in, hit);
            }
        }
        if !self.by_meta.is_empty() {
            let metas = doc
                .sites
                .iter()
                .map(|s| MetaTest::Site(s.clone()))
                .chain(doc.feeds.iter().map(|f| MetaTest::Feed(f.clone())))
                .chain(doc.lang.iter().map(|l| MetaTest::Lang(l.clone())));
            for meta in metas {
                if let Some(postings) = self.by_meta.get(&meta) {
                    hit(postings, FieldMask::ALL);
                }
            }
        }
    }

    fn visit_prefixes(
        &self,
        word: &str,
        found_in: FieldMask,
        hit: &mut impl FnMut(&[Posting], FieldMask),
    ) {
        for &head_chars in &self.prefix_heads {
            let Some(bucket) = head(word, head_chars).and_then(|h| self.by_prefix.get(h)) else {
                continue;
            };
            for (prefix, postings) in bucket {
                if word.starts_with(&**prefix) {
                    hit(postings, found_in);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::rules::{ArticleView, ListDefinitions, WatchSet, WatchSource};

    /// Article words: inflected forms, possessives, short words, digits, both scripts.
    const ARTICLE_WORDS: &[&str] = &[
        "a",
        "of",
        "North",
        "Korea",
        "Korea's",
        "missile",
        "missiles",
        "sanctions",
        "Pyongyang",
        "Kim",
        "Jong-un",
        "19",
        "Пхеньян",
        "Пхеньяне",
        "ракета",
        "ракеты",
        "Лавров",
        "Лаврова",
        "санкции",
    ];

    /// Query operands: words, exact forms, prefixes, phrases, lists, field and source scopes.
    const OPERANDS: &[&str] = &[
        "a",
        "korea",
        "missile",
        "=missiles",
        "missil*",
        "sanction",
        "pyongyang",
        "kim",
        "19",
        "\"north korea\"",
        "\"Kim Jong-un\"",
        "\"a missile\"",
        "Пхеньян",
        "ракет*",
        "ракета",
        "Лавров",
        "\"санкции против\"",
        "@dprk",
        "@weapons",
        "title:(korea)",
        "title:(ракета OR missile)",
        "author:smith",
        "category:defence",
        "lang:ru",
        "lang:en",
        "feed:herald",
        "site:tass.ru",
        "site:example.com",
    ];

    fn lists() -> ListDefinitions {
        let mut lists = ListDefinitions::new();
        lists.insert(
            "dprk".into(),
            vec!["North Korea".into(), "Pyongyang".into(), "Пхеньян".into()],
        );
        lists.insert(
            "weapons".into(),
            vec!["missile".into(), "ракет*".into(), "=sanctions".into()],
        );
        lists
    }

    /// Random queries of up to a few levels: AND, OR, NOT, -, NEAR between operands.
    fn query() -> impl Strategy<Value = String> {
        let operand = proptest::sample::select(OPERANDS).prop_map(str::to_string);
        let near_side = prop_oneof![
            proptest::sample::select(&OPERANDS[..18]).prop_map(str::to_string),
            (
                proptest::sample::select(&OPERANDS[..18]),
                proptest::sample::select(&OPERANDS[..18])
            )
                .prop_map(|(a, b)| format!("({a} OR {b})")),
        ];
        let near = (near_side.clone(), 0u32..4, near_side)
            .prop_map(|(a, n, b)| format!("{a} NEAR/{n} {b}"));
        let leaf = prop_oneof![3 => operand, 1 => near];
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 2..4)
                    .prop_map(|parts| format!("({})", parts.join(" AND "))),
                proptest::collection::vec(inner.clone(), 2..4)
                    .prop_map(|parts| format!("({})", parts.join(" OR "))),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} NOT {b})")),
                (inner.clone(), inner).prop_map(|(a, b)| format!("({a} -{b})")),
            ]
        })
    }

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

    #[test]
    fn a_word_outside_the_scoped_field_proposes_no_candidate() {
        let sources = [WatchSource {
            name: "w".into(),
            query: "title:(missile) AND korea".into(),
        }];
        let set = WatchSet::compile(&sources, &lists()).unwrap_or_else(|e| panic!("{e:?}"));
        let in_summary = ArticleView {
            title: "Korea",
            summary: "a missile",
            ..Default::default()
        };
        assert_eq!(set.matches(&set.analyze(&in_summary)).candidates, 0);
        let in_title = ArticleView {
            title: "Korea missile",
            ..Default::default()
        };
        assert_eq!(set.matches(&set.analyze(&in_title)).matches.len(), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn the_index_proposes_every_watch_that_matches(
            queries in proptest::collection::vec(query(), 1..25),
            title in text(8),
            summary in text(40),
            authors in proptest::collection::vec(
                proptest::sample::select(&["Jane Smith", "Иван Петров"][..]), 0..2),
            categories in proptest::collection::vec(
                proptest::sample::select(&["Defence", "Asia"][..]), 0..2),
            link in proptest::sample::select(&[None, Some("https://www.tass.ru/a/1"),
                Some("https://example.com/x")][..]),
            feeds in proptest::collection::vec(
                proptest::sample::select(&["Herald", "Wire"][..]), 0..2),
            lang in proptest::sample::select(&[None, Some("ru"), Some("en-GB")][..]),
        ) {
            let lists = lists();
            // Queries the compiler refuses (only negative, say) are left out.
            let sources: Vec<WatchSource> = queries
                .iter()
                .enumerate()
                .map(|(i, q)| WatchSource { name: format!("w{i}"), query: q.clone() })
                .filter(|source| WatchSet::compile(std::slice::from_ref(source), &lists).is_ok())
                .collect();
            let set = WatchSet::compile(&sources, &lists).unwrap_or_else(|e| panic!("{e:?}"));
            let authors: Vec<String> = authors.iter().map(|a| a.to_string()).collect();
            let categories: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
            let feeds: Vec<String> = feeds.iter().map(|f| f.to_string()).collect();
            let view = ArticleView {
                title: &title,
                summary: &summary,
                authors: &authors,
                categories: &categories,
                link,
                feeds: &feeds,
                lang,
                ..Default::default()
            };
            let doc = set.analyze(&view);
            let indexed: Vec<usize> = set.matches(&doc).matches.iter().map(|m| m.watch).collect();
            prop_assert_eq!(indexed, set.matches_without_index(&doc), "{:?}", queries);
        }
    }
}
