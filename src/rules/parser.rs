//! Turns query tokens into a syntax tree. Precedence, loosest first: OR, AND (also two clauses
//! side by side), NOT / `-`, NEAR/n, then terms, phrases, lists, scopes and parentheses.

use std::ops::Range;

use super::RuleErrorKind;
use super::lexer::{Scope, Token, TokenKind};

/// Deepest nesting of parentheses, scopes and NOTs a query may use.
pub const MAX_DEPTH: usize = 32;

/// The syntax tree of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A bare word as written, `*` and `=` included.
    Term {
        text: String,
        span: Range<usize>,
    },
    /// The inside of a quoted phrase.
    Phrase {
        text: String,
        span: Range<usize>,
    },
    /// `@name`
    List {
        name: String,
        span: Range<usize>,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not {
        inner: Box<Node>,
        span: Range<usize>,
    },
    Near {
        left: Box<Node>,
        right: Box<Node>,
        distance: u32,
        span: Range<usize>,
    },
    Scoped {
        scope: Scope,
        inner: Box<Node>,
        span: Range<usize>,
    },
}

impl Node {
    pub fn span(&self) -> Range<usize> {
        match self {
            Node::Term { span, .. }
            | Node::Phrase { span, .. }
            | Node::List { span, .. }
            | Node::Not { span, .. }
            | Node::Near { span, .. }
            | Node::Scoped { span, .. } => span.clone(),
            Node::And(children) | Node::Or(children) => {
                let first = children.first().map(Node::span).unwrap_or(0..0);
                let last = children.last().map(Node::span).unwrap_or(0..0);
                first.start..last.end
            }
        }
    }
}

/// Parses a whole query.
pub fn parse(tokens: &[Token], query_len: usize) -> Result<Node, (RuleErrorKind, Range<usize>)> {
    if tokens.is_empty() {
        return Err((RuleErrorKind::EmptyQuery, 0..query_len));
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        end: query_len,
    };
    let node = parser.or_expr()?;
    match parser.peek() {
        None => Ok(node),
        Some(token) if token.kind == TokenKind::RParen => {
            Err((RuleErrorKind::UnmatchedClose, token.span.clone()))
        }
        Some(token) => Err((
            RuleErrorKind::Expected {
                expected: "AND, OR or the end of the query",
                found: Some(token.kind.describe()),
            },
            token.span.clone(),
        )),
    }
}

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
    end: usize,
}

type Parsed = Result<Node, (RuleErrorKind, Range<usize>)>;

const OPERAND: &str = "a term, a \"phrase\", an @list, a field scope or '('";

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<&Token> {
        let token = self.tokens.get(self.pos);
        self.pos += 1;
        token
    }

    fn expected(&self, expected: &'static str) -> (RuleErrorKind, Range<usize>) {
        match self.peek() {
            Some(token) => (
                RuleErrorKind::Expected {
                    expected,
                    found: Some(token.kind.describe()),
                },
                token.span.clone(),
            ),
            None => (
                RuleErrorKind::Expected {
                    expected,
                    found: None,
                },
                self.end..self.end,
            ),
        }
    }

    fn descend(&mut self, span: Range<usize>) -> Result<(), (RuleErrorKind, Range<usize>)> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err((RuleErrorKind::TooDeep, span))
        } else {
            Ok(())
        }
    }

    fn or_expr(&mut self) -> Parsed {
        let mut children = vec![self.and_expr()?];
        while matches!(self.peek().map(|t| &t.kind), Some(TokenKind::Or)) {
            self.next();
            children.push(self.and_expr()?);
        }
        Ok(if children.len() == 1 {
            children.remove(0)
        } else {
            Node::Or(children)
        })
    }

    fn starts_operand(kind: &TokenKind) -> bool {
        matches!(
            kind,
            TokenKind::Word(_)
                | TokenKind::Phrase(_)
                | TokenKind::List(_)
                | TokenKind::Not
                | TokenKind::LParen
                | TokenKind::Scope(_)
        )
    }

    fn and_expr(&mut self) -> Parsed {
        let mut children = vec![self.unary()?];
        loop {
            match self.peek().map(|t| &t.kind) {
                Some(TokenKind::And) => {
                    self.next();
                    children.push(self.unary()?);
                }
                Some(kind) if Self::starts_operand(kind) => children.push(self.unary()?),
                _ => break,
            }
        }
        Ok(if children.len() == 1 {
            children.remove(0)
        } else {
            Node::And(children)
        })
    }

    fn unary(&mut self) -> Parsed {
        if let Some(token) = self.peek()
            && token.kind == TokenKind::Not
        {
            let start = token.span.start;
            self.next();
            self.descend(start..start + 1)?;
            let inner = self.unary()?;
            self.depth -= 1;
            let span = start..inner.span().end;
            return Ok(Node::Not {
                inner: Box::new(inner),
                span,
            });
        }
        self.near()
    }

    fn near(&mut self) -> Parsed {
        let mut left = self.primary()?;
        while let Some(Token {
            kind: TokenKind::Near(distance),
            span,
        }) = self.peek()
        {
            let (distance, near_span) = (*distance, span.clone());
            self.next();
            let right = self.primary()?;
            for operand in [&left, &right] {
                if !is_near_operand(operand) {
                    return Err((RuleErrorKind::NearOperand, operand.span()));
                }
            }
            let span = left.span().start..right.span().end.max(near_span.end);
            left = Node::Near {
                left: Box::new(left),
                right: Box::new(right),
                distance,
                span,
            };
        }
        Ok(left)
    }

    fn primary(&mut self) -> Parsed {
        let Some(token) = self.peek().cloned() else {
            return Err(self.expected(OPERAND));
        };
        match token.kind {
            TokenKind::Word(text) => {
                self.next();
                Ok(Node::Term {
                    text,
                    span: token.span,
                })
            }
            TokenKind::Phrase(text) => {
                self.next();
                Ok(Node::Phrase {
                    text,
                    span: token.span,
                })
            }
            TokenKind::List(name) => {
                self.next();
                Ok(Node::List {
                    name,
                    span: token.span,
                })
            }
            TokenKind::LParen => {
                self.next();
                self.descend(token.span.clone())?;
                let inner = self.or_expr()?;
                self.depth -= 1;
                match self.peek() {
                    Some(t) if t.kind == TokenKind::RParen => {
                        self.next();
                        Ok(inner)
                    }
                    _ => {
                        let (kind, span) = self.expected("')'");
                        match kind {
                            // Pointing at the '(' that lacks its ')' says more than pointing
                            // at where the ')' was expected.
                            RuleErrorKind::Expected { found, .. } => Err((
                                RuleErrorKind::Unclosed {
                                    found,
                                    expected_at: span.start,
                                },
                                token.span,
                            )),
                            other => Err((other, span)),
                        }
                    }
                }
            }
            TokenKind::Scope(scope) => {
                self.next();
                self.descend(token.span.clone())?;
                let inner = self.primary()?;
                self.depth -= 1;
                let span = token.span.start..inner.span().end;
                Ok(Node::Scoped {
                    scope,
                    inner: Box::new(inner),
                    span,
                })
            }
            _ => Err(self.expected(OPERAND)),
        }
    }
}

/// NEAR works on things that occur at word positions: terms, phrases, lists, OR-groups of them,
/// and text-field scopes around them.
fn is_near_operand(node: &Node) -> bool {
    match node {
        Node::Term { .. } | Node::Phrase { .. } | Node::List { .. } => true,
        Node::Or(children) => children.iter().all(is_near_operand),
        Node::Scoped { scope, inner, .. } => {
            matches!(
                scope,
                Scope::Title | Scope::Text | Scope::Author | Scope::Category
            ) && is_near_operand(inner)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::lexer::tokenize;

    fn parse_str(q: &str) -> Parsed {
        parse(&tokenize(q)?, q.len())
    }

    fn shape(node: &Node) -> String {
        match node {
            Node::Term { text, .. } => text.clone(),
            Node::Phrase { text, .. } => format!("\"{text}\""),
            Node::List { name, .. } => format!("@{name}"),
            Node::And(c) => format!(
                "(AND {})",
                c.iter().map(shape).collect::<Vec<_>>().join(" ")
            ),
            Node::Or(c) => format!("(OR {})", c.iter().map(shape).collect::<Vec<_>>().join(" ")),
            Node::Not { inner, .. } => format!("(NOT {})", shape(inner)),
            Node::Near {
                left,
                right,
                distance,
                ..
            } => format!("(NEAR/{distance} {} {})", shape(left), shape(right)),
            Node::Scoped { scope, inner, .. } => format!("({scope:?}: {})", shape(inner)),
        }
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let q = parse_str("a b OR NOT c AND d").unwrap();
        assert_eq!(shape(&q), "(OR (AND a b) (AND (NOT c) d))");
        let q = parse_str("a AND (b OR c) -d").unwrap();
        assert_eq!(shape(&q), "(AND a (OR b c) (NOT d))");
    }

    #[test]
    fn near_binds_tightest_and_takes_groups() {
        let q = parse_str("NOT @x NEAR/3 (tank OR \"air defence\") y").unwrap();
        assert_eq!(
            shape(&q),
            "(AND (NOT (NEAR/3 @x (OR tank \"air defence\"))) y)"
        );
        assert!(matches!(
            parse_str("a NEAR/2 (b AND c)").unwrap_err().0,
            RuleErrorKind::NearOperand
        ));
    }

    #[test]
    fn scopes_take_one_primary() {
        let q = parse_str("title:(a OR b) site:tass.ru c").unwrap();
        assert_eq!(shape(&q), "(AND (Title: (OR a b)) (Site: tass.ru) c)");
    }

    #[test]
    fn unbalanced_parentheses_are_reported_where_they_are() {
        let (kind, span) = parse_str("(a OR b").unwrap_err();
        assert!(matches!(
            kind,
            RuleErrorKind::Unclosed { expected_at: 7, .. }
        ));
        assert_eq!(span, 0..1);
        let (kind, span) = parse_str("a OR b)").unwrap_err();
        assert_eq!(kind, RuleErrorKind::UnmatchedClose);
        assert_eq!(span, 6..7);
        let (kind, _) = parse_str("a AND").unwrap_err();
        assert!(matches!(kind, RuleErrorKind::Expected { found: None, .. }));
        assert_eq!(parse_str("").unwrap_err().0, RuleErrorKind::EmptyQuery);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let q = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(parse_str(&q).unwrap_err().0, RuleErrorKind::TooDeep);
        let q = format!("{}a", "NOT ".repeat(10_000));
        assert_eq!(parse_str(&q).unwrap_err().0, RuleErrorKind::TooDeep);
        let q = format!("{}a", "title:".repeat(10_000));
        assert_eq!(parse_str(&q).unwrap_err().0, RuleErrorKind::TooDeep);
    }
}
