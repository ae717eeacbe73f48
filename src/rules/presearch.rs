//! The index that keeps matching cost independent of the number of watches (Luwak-style
//! presearch). Each watch is indexed under terms one of which any matching article must contain:
//! for an AND, the cheapest clause's terms suffice; for an OR, every branch's terms are needed;
//! a NOT contributes nothing. An article's own words then select the few candidate watches,
//! and only those are verified.

use rustc_hash::{FxHashMap, FxHashSet};

use super::analysis::Key;
use super::compile::{CompiledWatch, Expr, MetaTest, Pattern, WordTest};
use super::document::Document;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Term {
    Key(Key),
    Prefix(String),
    Exact(String),
    Meta(MetaTest),
}

/// Terms of which a matching article contains at least one; `None` when no such set exists.
type Required = Option<Vec<Term>>;

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

fn cost(terms: &[Term]) -> u32 {
    terms.iter().map(term_cost).sum()
}

fn word_terms(test: &WordTest) -> Vec<Term> {
    match test {
        WordTest::Keys(keys) => keys.iter().cloned().map(Term::Key).collect(),
        WordTest::Prefix(prefix) => vec![Term::Prefix(prefix.clone())],
        WordTest::Exact(exact) => vec![Term::Exact(exact.clone())],
    }
}

/// The rarest-looking word of a phrase stands for the phrase.
fn pattern_terms(pattern: &Pattern) -> Vec<Term> {
    pattern
        .words
        .iter()
        .map(word_terms)
        .min_by_key(|terms| (cost(terms), std::cmp::Reverse(longest(terms))))
        .unwrap_or_default()
}

fn longest(terms: &[Term]) -> usize {
    terms
        .iter()
        .map(|t| match t {
            Term::Key(Key::Stem(s) | Key::Exact(s)) => s.len(),
            Term::Prefix(s) | Term::Exact(s) => s.len(),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

fn union(ids: &[u32], patterns: &[Pattern]) -> Required {
    let mut terms = Vec::new();
    for &id in ids {
        terms.extend(pattern_terms(&patterns[id as usize]));
    }
    (!terms.is_empty()).then_some(terms)
}

fn required(expr: &Expr, patterns: &[Pattern]) -> Required {
    match expr {
        Expr::Patterns(ids) => union(ids, patterns),
        Expr::Meta(test) => Some(vec![Term::Meta(test.clone())]),
        Expr::Not(_) => None,
        Expr::Or(children) => {
            let mut terms = Vec::new();
            for child in children {
                terms.extend(required(child, patterns)?);
            }
            Some(terms)
        }
        Expr::And(children) => children
            .iter()
            .filter_map(|c| required(c, patterns))
            .min_by_key(|terms| cost(terms)),
        Expr::Near { left, right, .. } => [union(left, patterns), union(right, patterns)]
            .into_iter()
            .flatten()
            .min_by_key(|terms| cost(terms)),
    }
}

/// Watches indexed by the terms they require.
#[derive(Debug, Default)]
pub struct Presearch {
    by_key: FxHashMap<Key, Vec<u32>>,
    by_prefix: FxHashMap<Box<str>, Vec<u32>>,
    by_exact: FxHashMap<Box<str>, Vec<u32>>,
    by_meta: FxHashMap<MetaTest, Vec<u32>>,
    /// Character lengths of the indexed prefixes.
    prefix_lengths: Vec<usize>,
    /// Watches with no required term: always verified.
    always: Vec<u32>,
}

impl Presearch {
    pub fn build(watches: &[CompiledWatch], patterns: &[Pattern]) -> Self {
        let mut index = Presearch::default();
        for (id, watch) in watches.iter().enumerate() {
            let id = id as u32;
            let Some(mut terms) = required(&watch.expr, patterns) else {
                index.always.push(id);
                continue;
            };
            let mut seen = FxHashSet::default();
            terms.retain(|t| seen.insert(t.clone()));
            for term in terms {
                match term {
                    Term::Key(key) => index.by_key.entry(key).or_default().push(id),
                    Term::Prefix(p) => {
                        let len = p.chars().count();
                        if !index.prefix_lengths.contains(&len) {
                            index.prefix_lengths.push(len);
                        }
                        index.by_prefix.entry(p.into()).or_default().push(id);
                    }
                    Term::Exact(e) => index.by_exact.entry(e.into()).or_default().push(id),
                    Term::Meta(m) => index.by_meta.entry(m).or_default().push(id),
                }
            }
        }
        index.prefix_lengths.sort_unstable();
        index
    }

    /// The watches that may match `doc`, each once, in ascending order.
    pub fn candidates(&self, doc: &Document) -> Vec<u32> {
        let mut out: Vec<u32> = self.always.clone();
        for key in doc.index.keys() {
            if let Some(ids) = self.by_key.get(key) {
                out.extend_from_slice(ids);
            }
        }
        if !self.by_exact.is_empty() || !self.by_prefix.is_empty() {
            for word in &doc.words {
                if let Some(ids) = self.by_exact.get(&**word) {
                    out.extend_from_slice(ids);
                }
                self.prefix_candidates(word, &mut out);
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
                if let Some(ids) = self.by_meta.get(&meta) {
                    out.extend_from_slice(ids);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn prefix_candidates(&self, word: &str, out: &mut Vec<u32>) {
        if self.prefix_lengths.is_empty() {
            return;
        }
        let mut boundaries = word.char_indices().map(|(i, _)| i).chain([word.len()]);
        let mut chars = 0;
        let mut lengths = self.prefix_lengths.iter().peekable();
        for end in boundaries.by_ref().skip(1) {
            chars += 1;
            while let Some(&&len) = lengths.peek() {
                if len < chars {
                    lengths.next();
                    continue;
                }
                if len == chars
                    && let Some(ids) = self.by_prefix.get(&word[..end])
                {
                    out.extend_from_slice(ids);
                }
                break;
            }
            if lengths.peek().is_none() {
                break;
            }
        }
    }
}
