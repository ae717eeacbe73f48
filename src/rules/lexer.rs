//! Splits a query into tokens, each with the byte range it came from, so that every later error
//! can point at the exact spot in the query.

use std::ops::Range;

use super::RuleErrorKind;

/// The fields a query can scope a clause to (`title:(…)`, `site:tass.ru`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Title,
    Text,
    Author,
    Category,
    Site,
    Feed,
    Lang,
}

impl Scope {
    pub const NAMES: &'static str = "title, text, author, category, site, feed, lang";

    fn from_name(name: &str) -> Option<Scope> {
        Some(match name.to_ascii_lowercase().as_str() {
            "title" => Scope::Title,
            "text" => Scope::Text,
            "author" => Scope::Author,
            "category" => Scope::Category,
            "site" => Scope::Site,
            "feed" => Scope::Feed,
            "lang" => Scope::Lang,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A bare word as written (may carry a trailing `*` or a leading `=`).
    Word(String),
    /// The inside of a `"quoted phrase"`.
    Phrase(String),
    /// `@name`
    List(String),
    And,
    Or,
    Not,
    /// `NEAR/n`
    Near(u32),
    LParen,
    RParen,
    /// `title:` and friends; the scoped clause follows.
    Scope(Scope),
}

impl TokenKind {
    /// How the token is named in "expected …, found …" messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Word(w) => format!("the term {w:?}"),
            TokenKind::Phrase(p) => format!("the phrase \"{p}\""),
            TokenKind::List(l) => format!("the list @{l}"),
            TokenKind::And => "AND".into(),
            TokenKind::Or => "OR".into(),
            TokenKind::Not => "NOT".into(),
            TokenKind::Near(n) => format!("NEAR/{n}"),
            TokenKind::LParen => "'('".into(),
            TokenKind::RParen => "')'".into(),
            TokenKind::Scope(_) => "a field scope".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Range<usize>,
}

/// The distance `NEAR` without `/n` allows.
pub const DEFAULT_NEAR: u32 = 10;
/// The largest distance `NEAR/n` accepts.
pub const MAX_NEAR: u32 = 1000;

fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"' | '“' | '”' | '«' | '»')
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '«' | '»')
}

/// Tokenizes `query`; the first lexical error stops it.
pub fn tokenize(query: &str) -> Result<Vec<Token>, (RuleErrorKind, Range<usize>)> {
    let mut tokens = Vec::new();
    let mut chars = query.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '(' || c == ')' {
            chars.next();
            let kind = if c == '(' {
                TokenKind::LParen
            } else {
                TokenKind::RParen
            };
            tokens.push(Token {
                kind,
                span: start..start + 1,
            });
            continue;
        }
        if is_quote(c) {
            chars.next();
            let body_start = start + c.len_utf8();
            let mut end = None;
            for (i, ch) in chars.by_ref() {
                if is_quote(ch) {
                    end = Some((i, i + ch.len_utf8()));
                    break;
                }
            }
            let Some((body_end, after)) = end else {
                return Err((
                    RuleErrorKind::UnterminatedQuote,
                    start..start + c.len_utf8(),
                ));
            };
            tokens.push(Token {
                kind: TokenKind::Phrase(query[body_start..body_end].to_string()),
                span: start..after,
            });
            continue;
        }
        let mut end = start;
        while let Some(&(i, ch)) = chars.peek() {
            if ends_word(ch) {
                break;
            }
            end = i + ch.len_utf8();
            chars.next();
        }
        let word = &query[start..end];
        let before_phrase_or_group = chars
            .peek()
            .is_some_and(|&(_, next)| next == '(' || is_quote(next));
        if word == "-" && before_phrase_or_group {
            push(&mut tokens, TokenKind::Not, start..end)?;
            continue;
        }
        lex_word(word, start, &mut tokens)?;
    }
    Ok(tokens)
}

/// Classifies one run of non-space characters; may emit several tokens (`-term`, `title:word`).
fn lex_word(
    mut word: &str,
    mut start: usize,
    tokens: &mut Vec<Token>,
) -> Result<(), (RuleErrorKind, Range<usize>)> {
    loop {
        let span = start..start + word.len();
        match word {
            "AND" => return push(tokens, TokenKind::And, span),
            "OR" => return push(tokens, TokenKind::Or, span),
            "NOT" => return push(tokens, TokenKind::Not, span),
            "NEAR" => return push(tokens, TokenKind::Near(DEFAULT_NEAR), span),
            _ => {}
        }
        if let Some(distance) = word.strip_prefix("NEAR/") {
            return match distance.parse::<u32>() {
                Ok(n) if n <= MAX_NEAR => push(tokens, TokenKind::Near(n), span),
                _ => Err((RuleErrorKind::BadNear(distance.to_string()), span)),
            };
        }
        if let Some(rest) = word.strip_prefix('-') {
            if rest.is_empty() {
                return Err((RuleErrorKind::DanglingMinus, span));
            }
            push(tokens, TokenKind::Not, start..start + 1)?;
            (word, start) = (rest, start + 1);
            continue;
        }
        if let Some(name) = word.strip_prefix('@') {
            return if super::is_valid_list_name(name) {
                push(tokens, TokenKind::List(name.to_string()), span)
            } else {
                Err((RuleErrorKind::BadListName(name.to_string()), span))
            };
        }
        if let Some(colon) = word.find(':') {
            let name = &word[..colon];
            if let Some(scope) = Scope::from_name(name) {
                push(tokens, TokenKind::Scope(scope), start..start + colon + 1)?;
                let rest = &word[colon + 1..];
                if rest.is_empty() {
                    return Ok(());
                }
                (word, start) = (rest, start + colon + 1);
                continue;
            }
            if !name.is_empty() && name.chars().all(char::is_alphabetic) {
                return Err((
                    RuleErrorKind::UnknownScope(name.to_string()),
                    start..start + colon + 1,
                ));
            }
        }
        return push(tokens, TokenKind::Word(word.to_string()), span);
    }
}

fn push(
    tokens: &mut Vec<Token>,
    kind: TokenKind,
    span: Range<usize>,
) -> Result<(), (RuleErrorKind, Range<usize>)> {
    tokens.push(Token { kind, span });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(q: &str) -> Vec<TokenKind> {
        tokenize(q).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn words_operators_phrases_lists_and_scopes() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#"@russia AND (missile OR "Kim Jong Un") -drill title:(x) site:tass.ru NEAR/5"#),
            vec![
                List("russia".into()),
                And,
                LParen,
                Word("missile".into()),
                Or,
                Phrase("Kim Jong Un".into()),
                RParen,
                Not,
                Word("drill".into()),
                Scope(super::Scope::Title),
                LParen,
                Word("x".into()),
                RParen,
                Scope(super::Scope::Site),
                Word("tass.ru".into()),
                Near(5),
            ]
        );
    }

    #[test]
    fn a_minus_excludes_a_phrase_or_a_group_too() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#"@dprk -"South Korea" -(a OR b)"#),
            vec![
                List("dprk".into()),
                Not,
                Phrase("South Korea".into()),
                Not,
                LParen,
                Word("a".into()),
                Or,
                Word("b".into()),
                RParen,
            ]
        );
        assert_eq!(
            tokenize("a - b").unwrap_err().0,
            RuleErrorKind::DanglingMinus
        );
    }

    #[test]
    fn lowercase_operators_are_terms() {
        assert_eq!(
            kinds("war and peace"),
            vec![
                TokenKind::Word("war".into()),
                TokenKind::Word("and".into()),
                TokenKind::Word("peace".into())
            ]
        );
    }

    #[test]
    fn spans_point_at_the_source() {
        let tokens = tokenize("ab \"cd\" @ef").unwrap();
        assert_eq!(tokens[0].span, 0..2);
        assert_eq!(tokens[1].span, 3..7);
        assert_eq!(tokens[2].span, 8..11);
    }

    #[test]
    fn lexical_errors() {
        assert!(matches!(
            tokenize("\"open").unwrap_err().0,
            RuleErrorKind::UnterminatedQuote
        ));
        assert!(matches!(
            tokenize("a NEAR/x b").unwrap_err().0,
            RuleErrorKind::BadNear(_)
        ));
        assert!(matches!(
            tokenize("foo:bar").unwrap_err().0,
            RuleErrorKind::UnknownScope(_)
        ));
        assert!(matches!(
            tokenize("@").unwrap_err().0,
            RuleErrorKind::BadListName(_)
        ));
        assert_eq!(kinds("10:30"), vec![TokenKind::Word("10:30".into())]);
    }
}
