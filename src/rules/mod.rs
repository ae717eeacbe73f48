//! Watch rules: the query language, the text analysis that makes it inflection-aware in Russian
//! and English, the compiled matcher for many watches at once, and the explanation of each match.
//!
//! Pure code: no I/O, no clock, no async. The flow is
//! query text → [`lexer`] → [`parser`] (syntax tree) → [`compile`] (word tests over analysed
//! keys) → [`WatchSet`] (all watches, indexed by the terms they require) → per article a
//! [`Document`] (analysed once) → matches with [`Hit`]s saying which words made them.

pub(crate) mod analysis;
mod compile;
mod document;
mod eval;
mod languages;
pub mod lemma;
mod lexer;
mod lint;
mod parser;
mod presearch;
pub mod why;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

pub use analysis::Analyzer;
pub use compile::fold_name;
pub use document::{ArticleView, Document, Field};
pub use eval::{Hit, MatchOutcome, NearPair, WatchMatch};
pub use languages::{is_language_code, language_code_help};
pub use lint::{QueryWarning, feed_references, lower_case_operators};

use compile::CompiledWatch;
use presearch::Presearch;

/// The `[lists]` table: list name → items.
pub type ListDefinitions = BTreeMap<String, Vec<String>>;

/// One watch as the user wrote it.
#[derive(Debug, Clone)]
pub struct WatchSource {
    pub name: String,
    pub query: String,
}

/// Longest query text accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 20_000;

/// Most words in one phrase, term or list item (`Kim-Jong-un` is three): what a phrase needs,
/// and what keeps matching one linear in the article (see `eval::occurrences`).
pub const MAX_PHRASE_WORDS: usize = 64;

/// Whether `name` can be written as `@name` in a query.
pub fn is_valid_list_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// What went wrong in a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleErrorKind {
    EmptyQuery,
    TooLong,
    TooDeep,
    UnterminatedQuote,
    DanglingMinus,
    BadNear(String),
    BadListName(String),
    UnknownScope(String),
    Expected {
        expected: &'static str,
        found: Option<String>,
    },
    /// The span is the '(' itself; `expected_at` is where its ')' was looked for.
    Unclosed {
        found: Option<String>,
        expected_at: usize,
    },
    UnmatchedClose,
    NearOperand,
    UnknownList {
        name: String,
        known: Vec<String>,
    },
    NoWords(String),
    /// `start` is the phrase's first words, `words` how many it has.
    PhraseTooLong {
        start: String,
        words: usize,
    },
    ShortPrefix(String),
    BadMetaValue {
        scope: &'static str,
    },
    OnlyNegative,
    /// A `lang:` value that is no ISO 639-1 code.
    UnknownLanguage(String),
}

/// A problem in one watch's query, with the byte range of the query it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// Index of the watch in the list given to [`WatchSet::compile`].
    pub watch: usize,
    pub watch_name: String,
    pub kind: RuleErrorKind,
    pub message: String,
    pub help: String,
    pub span: Range<usize>,
}

impl RuleError {
    fn new(watch: usize, watch_name: &str, kind: RuleErrorKind, span: Range<usize>) -> Self {
        let (message, help) = describe(&kind);
        Self {
            watch,
            watch_name: watch_name.to_string(),
            kind,
            message,
            help,
            span,
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "watch {:?}: {} (at byte {})",
            self.watch_name, self.message, self.span.start
        )
    }
}

fn describe(kind: &RuleErrorKind) -> (String, String) {
    use RuleErrorKind::*;
    let found_text = |found: &Option<String>| match found {
        Some(f) => f.clone(),
        None => "the end of the query".to_string(),
    };
    match kind {
        EmptyQuery => (
            "the query is empty".into(),
            "write at least one term, e.g. query = \"@russia AND @dprk\"".into(),
        ),
        TooLong => (
            format!("the query is longer than {MAX_QUERY_LEN} bytes"),
            "move long alternatives into a [lists] entry and refer to it as @name".into(),
        ),
        TooDeep => (
            format!("the query nests deeper than {} levels", parser::MAX_DEPTH),
            "flatten the parentheses; A AND (B AND C) is the same as A B C".into(),
        ),
        UnterminatedQuote => (
            "this quote is never closed".into(),
            "add the closing \" after the phrase".into(),
        ),
        DanglingMinus => (
            "'-' must be followed by the term to exclude".into(),
            "write -term (no space), or NOT term".into(),
        ),
        BadNear(n) => (
            format!(
                "NEAR/{n} needs a whole number of words up to {}",
                lexer::MAX_NEAR
            ),
            "write e.g. a NEAR/5 b".into(),
        ),
        BadListName(name) => (
            format!("@{name} is not a valid list reference"),
            "list names use letters, digits, '_' and '-', e.g. @dprk".into(),
        ),
        UnknownScope(name) => (
            format!("unknown field {name:?}"),
            format!("the fields are {}", lexer::Scope::NAMES),
        ),
        Expected { expected, found } => (
            format!("expected {expected}, found {}", found_text(found)),
            "check for a missing term, or an operator written twice".into(),
        ),
        Unclosed { found, .. } => (
            format!(
                "this '(' is never closed (found {} where its ')' should be)",
                found_text(found)
            ),
            "add the missing ')'".into(),
        ),
        UnmatchedClose => (
            "this ')' has no matching '('".into(),
            "remove it or add the '(' it closes".into(),
        ),
        NearOperand => (
            "NEAR works between terms, phrases, @lists or parenthesised OR-groups of them".into(),
            "write e.g. @russia NEAR/10 (missile OR shell)".into(),
        ),
        UnknownList { name, known } => (
            format!("unknown list @{name}"),
            if known.is_empty() {
                format!("define it in the config: [lists] {name} = [\"term\", \"another term\"]")
            } else {
                format!(
                    "define it under [lists], or use one of: {}",
                    known
                        .iter()
                        .map(|k| format!("@{k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        ),
        NoWords(text) => (
            format!("{text:?} contains no word to search for"),
            "terms need letters or digits".into(),
        ),
        PhraseTooLong { start, words } => (
            format!(
                "the phrase {start:?} has {words} words; a phrase may have at most {MAX_PHRASE_WORDS}"
            ),
            "keep the words that identify it, or join shorter phrases with AND or NEAR/n".into(),
        ),
        ShortPrefix(text) => (
            format!("the prefix {text:?} is too short"),
            "write at least 3 letters before '*'".into(),
        ),
        BadMetaValue { scope } => (
            format!("{scope}: takes a value, a \"quoted value\", an @list or an OR-group of them"),
            format!("write e.g. {scope}:(a OR b)"),
        ),
        OnlyNegative => (
            "the query only excludes; it would match nearly every article".into(),
            "add at least one term that must be present".into(),
        ),
        UnknownLanguage(value) => (
            format!("lang:{value:?} is not a language code: it would never match"),
            languages::language_code_help(value),
        ),
    }
}

/// All watches compiled into one matcher.
pub struct WatchSet {
    analyzer: Analyzer,
    watches: Vec<CompiledWatch>,
    patterns: Vec<compile::Pattern>,
    presearch: Presearch,
    uses_lang: bool,
}

impl fmt::Debug for WatchSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchSet")
            .field("watches", &self.watches.len())
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

impl WatchSet {
    /// Compiles every watch; returns every error found in any of them.
    pub fn compile(
        sources: &[WatchSource],
        lists: &ListDefinitions,
    ) -> Result<WatchSet, Vec<RuleError>> {
        let analyzer = Analyzer::new();
        let mut compiler = compile::Compiler::new(&analyzer, lists);
        let mut watches = Vec::with_capacity(sources.len());
        let mut errors = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            match compiler.compile_watch(index, source) {
                Ok(watch) => watches.push(watch),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let patterns = compiler.into_patterns();
        let presearch = Presearch::build(&watches, &patterns);
        let uses_lang = watches.iter().any(|w| w.uses_lang);
        Ok(WatchSet {
            analyzer,
            watches,
            patterns,
            presearch,
            uses_lang,
        })
    }

    /// Number of watches.
    pub fn len(&self) -> usize {
        self.watches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    /// The name of watch `index`.
    pub fn name(&self, index: usize) -> &str {
        &self.watches[index].name
    }

    /// Index of the watch called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.watches.iter().position(|w| w.name == name)
    }

    /// Analyses an article once, for matching against every watch.
    pub fn analyze<'a>(&self, article: &ArticleView<'a>) -> Document<'a> {
        Document::build(&self.analyzer, article, self.uses_lang)
    }

    /// The watches an analysed article matches, each with the words that made it match.
    pub fn matches(&self, document: &Document) -> MatchOutcome {
        let candidates = self.presearch.candidates(document);
        let mut matches = Vec::new();
        for &watch in &candidates {
            let compiled = &self.watches[watch as usize];
            if eval::matches(&compiled.expr, &self.patterns, document) {
                let hits = eval::explain(&compiled.expr, &self.patterns, document);
                matches.push(WatchMatch {
                    watch: watch as usize,
                    hits,
                });
            }
        }
        MatchOutcome {
            matches,
            candidates: candidates.len(),
        }
    }

    /// Matches one watch only, bypassing the index (for tests of the index itself).
    pub fn matches_without_index(&self, document: &Document) -> Vec<usize> {
        (0..self.watches.len())
            .filter(|&w| eval::matches(&self.watches[w].expr, &self.patterns, document))
            .collect()
    }
}

#[cfg(test)]
mod tests;
