//! Legal queries that probably do not say what their author meant: lower-case `and`, `or`,
//! `not`, `near` between terms (searched for as words, not used as operators), and the feed
//! names a query's `feed:` refers to (the configuration checks them against its feeds).
//!
//! These are warnings, not errors: `war and peace` is a legal search for three words.

use std::ops::Range;

use super::ListDefinitions;
use super::lexer::{Scope, Token, TokenKind, tokenize};
use super::parser::{Node, parse};

/// A legal but suspicious spot in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWarning {
    pub message: String,
    pub help: String,
    /// Byte range of the query the warning is about.
    pub span: Range<usize>,
}

/// The operator a lower-case `word` looks like, when it looks like one (`near/5` too).
fn looks_like_operator(word: &str) -> Option<String> {
    let upper = word.to_ascii_uppercase();
    if upper == word {
        return None;
    }
    match upper.as_str() {
        "AND" | "OR" | "NOT" | "NEAR" => Some(upper),
        _ => upper
            .strip_prefix("NEAR/")
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map(|_| upper.clone()),
    }
}

fn ends_operand(token: Option<&Token>) -> bool {
    token.is_some_and(|t| {
        matches!(
            t.kind,
            TokenKind::Word(_) | TokenKind::Phrase(_) | TokenKind::List(_) | TokenKind::RParen
        )
    })
}

fn starts_operand(token: Option<&Token>) -> bool {
    token.is_some_and(|t| {
        matches!(
            t.kind,
            TokenKind::Word(_)
                | TokenKind::Phrase(_)
                | TokenKind::List(_)
                | TokenKind::LParen
                | TokenKind::Scope(_)
        )
    })
}

/// Lower-case `and`, `or`, `near` between two terms, and `not` before one: each is searched
/// for as a word (`putin or lavrov` needs all three words), which is rarely what was meant.
/// Inside a quoted phrase they are words, and so is one with nothing to join (`and` first);
/// a query that does not tokenize has no warnings (its error is reported instead).
pub fn lower_case_operators(query: &str) -> Vec<QueryWarning> {
    if query.len() > super::MAX_QUERY_LEN {
        return Vec::new();
    }
    let Ok(tokens) = tokenize(query) else {
        return Vec::new();
    };
    let mut warnings = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let TokenKind::Word(word) = &token.kind else {
            continue;
        };
        let Some(operator) = looks_like_operator(word) else {
            continue;
        };
        let before = i.checked_sub(1).and_then(|b| tokens.get(b));
        let after = tokens.get(i + 1);
        if before.is_some_and(|t| matches!(t.kind, TokenKind::Scope(_))) {
            continue;
        }
        let joins = if operator == "NOT" {
            starts_operand(after)
        } else {
            ends_operand(before) && starts_operand(after)
        };
        if joins {
            warnings.push(QueryWarning {
                message: format!(
                    "lower-case {word:?} is searched for as a word, not used as the operator {operator}"
                ),
                help: format!(
                    "write {operator} to use it as an operator; to search for the words, quote them as a phrase"
                ),
                span: token.span.clone(),
            });
        }
    }
    warnings
}

/// Every feed name or tag a query's `feed:` names, with the byte range naming it (an @list's
/// items point at the @list); empty for a query that does not parse.
pub fn feed_references(query: &str, lists: &ListDefinitions) -> Vec<(String, Range<usize>)> {
    if query.len() > super::MAX_QUERY_LEN {
        return Vec::new();
    }
    let Ok(tree) = tokenize(query).and_then(|tokens| parse(&tokens, query.len())) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    collect_feeds(&tree, false, lists, &mut found);
    found
}

fn collect_feeds(
    node: &Node,
    in_feed: bool,
    lists: &ListDefinitions,
    found: &mut Vec<(String, Range<usize>)>,
) {
    match node {
        Node::Term { text, span } | Node::Phrase { text, span } if in_feed => {
            found.push((text.trim().to_string(), span.clone()));
        }
        Node::List { name, span } if in_feed => {
            for item in lists.get(name).into_iter().flatten() {
                found.push((item.trim().to_string(), span.clone()));
            }
        }
        Node::Term { .. } | Node::Phrase { .. } | Node::List { .. } => {}
        Node::And(children) | Node::Or(children) => {
            for child in children {
                collect_feeds(child, in_feed, lists, found);
            }
        }
        Node::Not { inner, .. } => collect_feeds(inner, in_feed, lists, found),
        Node::Near { left, right, .. } => {
            collect_feeds(left, in_feed, lists, found);
            collect_feeds(right, in_feed, lists, found);
        }
        Node::Scoped { scope, inner, .. } => {
            collect_feeds(inner, *scope == Scope::Feed, lists, found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(query: &str) -> Vec<&str> {
        lower_case_operators(query)
            .into_iter()
            .map(|w| &query[w.span])
            .collect()
    }

    #[test]
    fn a_lower_case_operator_between_terms_is_named_where_it_is() {
        let warnings = lower_case_operators("putin or lavrov");
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].span, 6..8);
        assert_eq!(
            warnings[0].message,
            "lower-case \"or\" is searched for as a word, not used as the operator OR"
        );
        assert!(
            warnings[0].help.starts_with("write OR"),
            "{}",
            warnings[0].help
        );
        assert_eq!(flagged("a and b"), ["and"]);
        assert_eq!(flagged("a Near b"), ["Near"]);
        assert_eq!(flagged("a near/5 (b OR c)"), ["near/5"]);
        assert_eq!(flagged("@x and \"y z\""), ["and"]);
        assert_eq!(flagged("missile not drill"), ["not"]);
        assert_eq!(flagged("not drill"), ["not"]);
    }

    #[test]
    fn words_in_phrases_or_with_nothing_to_join_are_not_operators() {
        assert!(flagged("\"war and peace\"").is_empty());
        assert!(flagged("and").is_empty());
        assert!(flagged("and peace").is_empty());
        assert!(flagged("war and").is_empty());
        assert!(flagged("a OR b AND NOT c NEAR/3 d").is_empty());
        assert!(flagged("title:and x").is_empty());
        assert!(flagged("путин или лавров и шойгу").is_empty());
        assert!(flagged("oregon android").is_empty());
        assert!(flagged("\"open").is_empty());
    }

    #[test]
    fn feed_values_are_found_in_groups_and_lists() {
        let lists = ListDefinitions::from([("f".to_string(), vec!["Lenta".to_string()])]);
        let query = "x AND feed:tass AND (feed:(\"RIA Novosti\" OR @f) OR y)";
        let names: Vec<(String, &str)> = feed_references(query, &lists)
            .into_iter()
            .map(|(name, span)| (name, &query[span]))
            .collect();
        assert_eq!(
            names,
            [
                ("tass".to_string(), "tass"),
                ("RIA Novosti".to_string(), "\"RIA Novosti\""),
                ("Lenta".to_string(), "@f"),
            ]
        );
        assert!(feed_references("feed:(", &lists).is_empty());
    }
}
