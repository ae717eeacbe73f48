//! Plain text from feed HTML: tags and attributes are not text, entities are decoded, scripts
//! and styles vanish, block elements become line breaks. Built on html5ever's tokenizer (the
//! browser-grade HTML5 tokenizer), with no tree: feeds carry fragments, and the text is all
//! we keep.

use std::cell::{Cell, RefCell};

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, CharacterTokens, EndTag, StartTag, TagToken, Token, TokenSink, TokenSinkResult,
    Tokenizer, TokenizerOpts,
};

use crate::utf8::floor_char_boundary;

/// Elements whose content is never text for a reader.
fn is_hidden(name: &str) -> Option<RawKind> {
    match name {
        "script" => Some(RawKind::ScriptData),
        "style" | "iframe" | "noembed" | "noframes" | "xmp" | "noscript" | "template" => {
            Some(RawKind::Rawtext)
        }
        _ => None,
    }
}

/// Elements after which text continues on a new line.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "br"
            | "div"
            | "li"
            | "ul"
            | "ol"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "blockquote"
            | "pre"
            | "tr"
            | "table"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "figure"
            | "figcaption"
            | "hr"
            | "dd"
            | "dt"
            | "aside"
    )
}

/// Bytes of HTML handed to the tokenizer at a time.
const FEED_CHUNK: usize = 16 * 1024;

struct TextSink {
    text: RefCell<String>,
    hidden_depth: Cell<u32>,
    chars: Cell<usize>,
    limit: usize,
}

impl TextSink {
    /// Appends one character of text, collapsing whitespace; `chars` counts what is kept.
    fn push_char(&self, c: char) {
        let mut count = self.chars.get();
        if count >= self.limit {
            return;
        }
        let mut text = self.text.borrow_mut();
        if c == '\n' {
            while text.ends_with(' ') {
                text.pop();
                count -= 1;
            }
            if !text.is_empty() && !text.ends_with("\n\n") {
                text.push('\n');
                count += 1;
            }
        } else if c.is_whitespace() || c.is_control() {
            if !matches!(text.chars().next_back(), None | Some(' ' | '\n')) {
                text.push(' ');
                count += 1;
            }
        } else {
            text.push(c);
            count += 1;
        }
        self.chars.set(count);
    }
}

impl TokenSink for TextSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line_number: u64) -> TokenSinkResult<()> {
        match token {
            CharacterTokens(chunk) if self.hidden_depth.get() == 0 => {
                chunk.chars().for_each(|c| self.push_char(c));
            }
            TagToken(tag) => {
                let name: &str = &tag.name;
                match tag.kind {
                    StartTag => {
                        if let Some(kind) = is_hidden(name) {
                            if !tag.self_closing {
                                self.hidden_depth.set(self.hidden_depth.get() + 1);
                                return TokenSinkResult::RawData(kind);
                            }
                        } else if is_block(name) {
                            self.push_char('\n');
                        } else if name == "img" {
                            self.push_char(' ');
                        }
                    }
                    EndTag => {
                        if is_hidden(name).is_some() {
                            self.hidden_depth
                                .set(self.hidden_depth.get().saturating_sub(1));
                        } else if is_block(name) {
                            self.push_char('\n');
                        } else if matches!(name, "td" | "th") {
                            self.push_char(' ');
                        }
                    }
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// The readable text of an HTML fragment, at most `limit` characters.
pub fn html_to_text(html: &str, limit: usize) -> String {
    if !html.contains(['<', '&']) {
        return collapse_whitespace(html, limit);
    }
    let sink = TextSink {
        text: RefCell::new(String::new()),
        hidden_depth: Cell::new(0),
        chars: Cell::new(0),
        limit,
    };
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    // Fed in chunks, so that a huge body stops costing work once the text is full.
    let mut rest = html;
    while !rest.is_empty() && tokenizer.sink.chars.get() < limit {
        let cut = floor_char_boundary(rest, FEED_CHUNK);
        input.push_back(StrTendril::from_slice(&rest[..cut]));
        let _ = tokenizer.feed(&input);
        rest = &rest[cut..];
    }
    tokenizer.end();
    let text = tokenizer.sink.text.take();
    text.trim().to_string()
}

fn collapse_whitespace(text: &str, limit: usize) -> String {
    let mut out = String::with_capacity(text.len().min(limit * 2));
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() >= limit * 4 {
            break;
        }
    }
    truncate_chars(&out, limit).to_string()
}

/// A single line for headers and subjects: no control characters (CR, LF, tab…), whitespace
/// collapsed, at most `limit` characters.
pub fn clean_line(text: &str, limit: usize) -> String {
    let replaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    collapse_whitespace(&replaced, limit)
}

/// The first `limit` characters of `text`.
pub fn truncate_chars(text: &str, limit: usize) -> &str {
    match text.char_indices().nth(limit) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_attributes_are_not_text_and_entities_are_decoded() {
        let html = r#"<p class="lead">Kim &amp; Putin&nbsp;meet <a href="https://x/North-Korea">here</a></p><p>Second &laquo;para&raquo; &#1050;</p>"#;
        assert_eq!(
            html_to_text(html, 1000),
            "Kim & Putin meet here\n\nSecond «para» К"
        );
    }

    #[test]
    fn scripts_and_styles_vanish() {
        let html = "<style>p { color: red }</style>Visible<script>if (a < b) { alert('North Korea') }</script> text";
        assert_eq!(html_to_text(html, 1000), "Visible text");
    }

    #[test]
    fn broken_html_still_gives_text() {
        assert_eq!(
            html_to_text("<p>unclosed <b>bold <i>", 1000),
            "unclosed bold"
        );
        assert_eq!(html_to_text("a < b & c", 1000), "a < b & c");
        assert!(html_to_text("<<<>>>", 1000).ends_with(">>>"));
    }

    #[test]
    fn output_is_bounded() {
        let html = "<p>word </p>".repeat(10_000);
        assert!(html_to_text(&html, 100).chars().count() <= 100);
        assert_eq!(truncate_chars("Корея", 3), "Кор");
    }

    #[test]
    fn header_lines_lose_control_characters() {
        assert_eq!(
            clean_line("Title\r\nBcc: victim@example.org\t x", 100),
            "Title Bcc: victim@example.org x"
        );
    }
}
