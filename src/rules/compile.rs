//! Compiles a query's syntax tree into word tests over analysed keys: every term, phrase and
//! list item becomes a [`Pattern`] (a sequence of word tests in a set of fields), and the
//! boolean structure becomes an [`Expr`] over pattern ids. Lists are compiled once and shared.

use std::collections::HashMap;
use std::ops::Range;

use super::analysis::{self, Analyzer, Key};
use super::document::{FieldMask, normalize_lang};
use super::lexer::{self, Scope};
use super::parser::{self, Node};
use super::{
    ListDefinitions, MAX_PHRASE_WORDS, MAX_QUERY_LEN, RuleError, RuleErrorKind, WatchSource,
};

/// How one word of a pattern is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WordTest {
    /// Any article word having one of these keys (inflection-aware).
    Keys(Vec<Key>),
    /// Any article word starting with this folded prefix (`prefix*`).
    Prefix(String),
    /// This folded word and no other form (`=word`).
    Exact(String),
}

/// A term or phrase: consecutive words, in one of `fields`.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub words: Vec<WordTest>,
    pub fields: FieldMask,
    /// How the clause reads in explanations: `missile`, `@dprk: Северная Корея`.
    pub label: String,
}

/// A test on where an article comes from rather than on its words.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetaTest {
    /// The link's host or a parent domain.
    Site(String),
    /// A feed name or tag, folded.
    Feed(String),
    /// A language code (`ru`, `en`).
    Lang(String),
}

/// The boolean structure of a compiled query.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Any of these patterns occurs.
    Patterns(Vec<u32>),
    Meta(MetaTest),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// Some occurrence of a left pattern and of a right pattern with at most `distance` words
    /// between them, in one field.
    Near {
        left: Vec<u32>,
        right: Vec<u32>,
        distance: u32,
    },
}

/// One watch, ready to match.
#[derive(Debug, Clone)]
pub struct CompiledWatch {
    pub name: String,
    pub expr: Expr,
    pub uses_lang: bool,
}

/// Compiles watches, sharing list patterns between them.
pub struct Compiler<'a> {
    analyzer: &'a Analyzer,
    lists: &'a ListDefinitions,
    patterns: Vec<Pattern>,
    list_cache: HashMap<(String, FieldMask), Vec<u32>>,
    /// Watches repeat terms: each distinct term in a set of fields is one pattern.
    pattern_cache: HashMap<(String, FieldMask), u32>,
    query_keys: HashMap<String, Vec<Key>>,
}

impl<'a> Compiler<'a> {
    pub fn new(analyzer: &'a Analyzer, lists: &'a ListDefinitions) -> Self {
        Self {
            analyzer,
            lists,
            patterns: Vec::new(),
            list_cache: HashMap::new(),
            pattern_cache: HashMap::new(),
            query_keys: HashMap::new(),
        }
    }

    pub fn into_patterns(self) -> Vec<Pattern> {
        self.patterns
    }

    pub fn compile_watch(
        &mut self,
        index: usize,
        source: &WatchSource,
    ) -> Result<CompiledWatch, Vec<RuleError>> {
        let error = |kind, span| vec![RuleError::new(index, &source.name, kind, span)];
        let query = source.query.as_str();
        if query.len() > MAX_QUERY_LEN {
            return Err(error(RuleErrorKind::TooLong, 0..query.len()));
        }
        let tokens = lexer::tokenize(query).map_err(|(kind, span)| error(kind, span))?;
        let tree = parser::parse(&tokens, query.len()).map_err(|(kind, span)| error(kind, span))?;
        if !has_positive(&tree) {
            return Err(error(RuleErrorKind::OnlyNegative, 0..query.len()));
        }
        let mut problems = Vec::new();
        let mut uses_lang = false;
        let expr = self.node(&tree, FieldMask::TEXT, &mut problems, &mut uses_lang);
        if problems.is_empty() {
            Ok(CompiledWatch {
                name: source.name.clone(),
                expr,
                uses_lang,
            })
        } else {
            Err(problems
                .into_iter()
                .map(|(kind, span)| RuleError::new(index, &source.name, kind, span))
                .collect())
        }
    }

    fn node(
        &mut self,
        node: &Node,
        fields: FieldMask,
        problems: &mut Vec<(RuleErrorKind, Range<usize>)>,
        uses_lang: &mut bool,
    ) -> Expr {
        match node {
            Node::Term { .. } | Node::Phrase { .. } | Node::List { .. } => {
                Expr::Patterns(self.operand(node, fields, problems))
            }
            Node::And(children) => Expr::And(
                children
                    .iter()
                    .map(|c| self.node(c, fields, problems, uses_lang))
                    .collect(),
            ),
            Node::Or(children) => Expr::Or(
                children
                    .iter()
                    .map(|c| self.node(c, fields, problems, uses_lang))
                    .collect(),
            ),
            Node::Not { inner, .. } => {
                Expr::Not(Box::new(self.node(inner, fields, problems, uses_lang)))
            }
            Node::Near {
                left,
                right,
                distance,
                ..
            } => Expr::Near {
                left: self.operand(left, fields, problems),
                right: self.operand(right, fields, problems),
                distance: *distance,
            },
            Node::Scoped { scope, inner, span } => match text_fields(*scope) {
                Some(scoped) => self.node(inner, scoped, problems, uses_lang),
                None => {
                    if *scope == Scope::Lang {
                        *uses_lang = true;
                    }
                    let mut tests = Vec::new();
                    self.meta_values(*scope, inner, span, &mut tests, problems);
                    if tests.len() == 1 {
                        Expr::Meta(tests.remove(0))
                    } else {
                        Expr::Or(tests.into_iter().map(Expr::Meta).collect())
                    }
                }
            },
        }
    }

    /// The patterns of a term, phrase, list, OR-group or scope around them.
    fn operand(
        &mut self,
        node: &Node,
        fields: FieldMask,
        problems: &mut Vec<(RuleErrorKind, Range<usize>)>,
    ) -> Vec<u32> {
        match node {
            Node::Term { text, span } | Node::Phrase { text, span } => {
                match self.pattern(text, fields, text.clone()) {
                    Ok(id) => vec![id],
                    Err(kind) => {
                        problems.push((kind, span.clone()));
                        Vec::new()
                    }
                }
            }
            Node::List { name, span } => self.list(name, span, fields, problems),
            Node::Or(children) => children
                .iter()
                .flat_map(|c| self.operand(c, fields, problems))
                .collect(),
            Node::Scoped { scope, inner, .. } => {
                let scoped = text_fields(*scope).unwrap_or(fields);
                self.operand(inner, scoped, problems)
            }
            // The parser only lets the shapes above reach an operand position.
            other => {
                problems.push((RuleErrorKind::NearOperand, other.span()));
                Vec::new()
            }
        }
    }

    fn list(
        &mut self,
        name: &str,
        span: &Range<usize>,
        fields: FieldMask,
        problems: &mut Vec<(RuleErrorKind, Range<usize>)>,
    ) -> Vec<u32> {
        if let Some(ids) = self.list_cache.get(&(name.to_string(), fields)) {
            return ids.clone();
        }
        let Some(items) = self.lists.get(name) else {
            problems.push((
                RuleErrorKind::UnknownList {
                    name: name.to_string(),
                    known: self.lists.keys().cloned().collect(),
                },
                span.clone(),
            ));
            return Vec::new();
        };
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            match self.pattern(item, fields, format!("@{name}: {item}")) {
                Ok(id) => ids.push(id),
                Err(kind) => problems.push((kind, span.clone())),
            }
        }
        self.list_cache
            .insert((name.to_string(), fields), ids.clone());
        ids
    }

    /// Compiles the words of a term, phrase or list item. Whitespace separates chunks; a chunk
    /// may start with `=` (exact form) or end with `*` (prefix); analysis may split a chunk into
    /// several words (`Jong-un` → jong, un).
    fn pattern(
        &mut self,
        text: &str,
        fields: FieldMask,
        label: String,
    ) -> Result<u32, RuleErrorKind> {
        let cache_key = (label, fields);
        if let Some(&id) = self.pattern_cache.get(&cache_key) {
            return Ok(id);
        }
        let (label, fields) = cache_key;
        let mut words = Vec::new();
        for chunk in text.split_whitespace() {
            let (exact, chunk) = match chunk.strip_prefix('=') {
                Some(rest) => (true, rest),
                None => (false, chunk),
            };
            let trimmed = chunk.trim_end_matches('*');
            let prefix = trimmed.len() != chunk.len();
            let analysed: Vec<analysis::Word> = analysis::words(trimmed).collect();
            let last = analysed.len().saturating_sub(1);
            for (i, word) in analysed.into_iter().enumerate() {
                if prefix && i == last {
                    if word.folded.chars().filter(|c| c.is_alphanumeric()).count() < 3 {
                        return Err(RuleErrorKind::ShortPrefix(chunk.to_string()));
                    }
                    words.push(WordTest::Prefix(word.folded));
                } else if exact {
                    words.push(WordTest::Exact(word.folded));
                } else {
                    let analyzer = self.analyzer;
                    let keys = self
                        .query_keys
                        .entry(word.folded)
                        .or_insert_with_key(|w| analyzer.query_keys(w));
                    words.push(WordTest::Keys(keys.clone()));
                }
            }
        }
        if words.is_empty() {
            return Err(RuleErrorKind::NoWords(text.to_string()));
        }
        if words.len() > MAX_PHRASE_WORDS {
            return Err(RuleErrorKind::PhraseTooLong {
                start: phrase_start(text),
                words: words.len(),
            });
        }
        let id = u32::try_from(self.patterns.len()).expect("fewer than 4 billion patterns");
        self.pattern_cache.insert((label.clone(), fields), id);
        self.patterns.push(Pattern {
            words,
            fields,
            label,
        });
        Ok(id)
    }

    fn meta_values(
        &mut self,
        scope: Scope,
        node: &Node,
        scope_span: &Range<usize>,
        tests: &mut Vec<MetaTest>,
        problems: &mut Vec<(RuleErrorKind, Range<usize>)>,
    ) {
        match node {
            Node::Term { text, span } | Node::Phrase { text, span } => {
                check_language(scope, text, span, problems);
                tests.push(meta_test(scope, text));
            }
            Node::List { name, span } => match self.lists.get(name) {
                Some(items) => {
                    for item in items {
                        check_language(scope, item, span, problems);
                    }
                    tests.extend(items.iter().map(|item| meta_test(scope, item)));
                }
                None => problems.push((
                    RuleErrorKind::UnknownList {
                        name: name.clone(),
                        known: self.lists.keys().cloned().collect(),
                    },
                    span.clone(),
                )),
            },
            Node::Or(children) => {
                for child in children {
                    self.meta_values(scope, child, scope_span, tests, problems);
                }
            }
            _ => problems.push((
                RuleErrorKind::BadMetaValue {
                    scope: scope_name(scope),
                },
                scope_span.clone(),
            )),
        }
    }
}

/// A `lang:` value that is no language code would never match: it is an error.
fn check_language(
    scope: Scope,
    value: &str,
    span: &Range<usize>,
    problems: &mut Vec<(RuleErrorKind, Range<usize>)>,
) {
    if scope == Scope::Lang && !super::languages::is_language_code(value) {
        problems.push((
            RuleErrorKind::UnknownLanguage(value.trim().to_string()),
            span.clone(),
        ));
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Site => "site",
        Scope::Feed => "feed",
        Scope::Lang => "lang",
        Scope::Title => "title",
        Scope::Text => "text",
        Scope::Author => "author",
        Scope::Category => "category",
    }
}

fn text_fields(scope: Scope) -> Option<FieldMask> {
    match scope {
        Scope::Title => Some(FieldMask::TITLE),
        Scope::Text => Some(FieldMask::TEXT),
        Scope::Author => Some(FieldMask::AUTHOR),
        Scope::Category => Some(FieldMask::CATEGORY),
        Scope::Site | Scope::Feed | Scope::Lang => None,
    }
}

fn meta_test(scope: Scope, value: &str) -> MetaTest {
    let value = value.trim();
    match scope {
        Scope::Site => MetaTest::Site(normalize_site(value)),
        Scope::Lang => MetaTest::Lang(normalize_lang(value)),
        _ => MetaTest::Feed(fold_name(value)),
    }
}

/// A feed name or tag as compared: folded word by word, single spaces.
pub fn fold_name(name: &str) -> String {
    name.split_whitespace()
        .map(analysis::fold)
        .collect::<Vec<_>>()
        .join(" ")
}

fn normalize_site(value: &str) -> String {
    let host = match url::Url::parse(value) {
        Ok(url) if url.host_str().is_some() => url.host_str().unwrap_or_default().to_string(),
        _ => value.split('/').next().unwrap_or(value).to_string(),
    };
    host.trim_end_matches('.').to_lowercase()
}

/// The first words of a phrase too long to quote whole in an error.
fn phrase_start(text: &str) -> String {
    const SHOWN: usize = 6;
    let mut start: Vec<&str> = text.split_whitespace().take(SHOWN + 1).collect();
    let more = start.len() > SHOWN;
    start.truncate(SHOWN);
    let mut start = start.join(" ");
    // A hyphenated term is one chunk of many words: cut it too.
    if let Some((cut, _)) = start.char_indices().nth(60) {
        start.truncate(cut);
        start.push('…');
    } else if more {
        start.push_str(" …");
    }
    start
}

/// Whether the query can match on what is present rather than only on what is absent.
fn has_positive(node: &Node) -> bool {
    match node {
        Node::Not { .. } => false,
        Node::And(children) => children.iter().any(has_positive),
        Node::Or(children) => children.iter().all(has_positive),
        Node::Scoped { inner, .. } => has_positive(inner),
        _ => true,
    }
}
