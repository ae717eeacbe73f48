//! An article that comes alone rather than in a feed: a plain-text or HTML file (or standard
//! input) handed to `newswatch test-rule`, so an analyst can try a watch on a text pasted from
//! anywhere. Which kind of document it is is decided by its content (a feed, a web page or
//! text), the file name's extension only breaking a tie.

use super::{Article, MAX_CONTENT_CHARS, MAX_TITLE_CHARS, clean_line, html_to_text, identity};

/// What a document given on its own is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RSS, Atom, RDF or JSON Feed: parsed as feeds are.
    Feed,
    /// A web page: one article.
    Html,
    /// Plain text: one article, its first non-empty line the title.
    Text,
}

/// Bytes looked at to tell the kinds apart.
const SNIFF_BYTES: usize = 4096;

/// Tells a feed from a web page from plain text by the start of the content; `name` (a file
/// name, or `-`) only decides for text that could be either.
pub fn sniff(bytes: &[u8], name: &str) -> Kind {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let head = head[start..].to_ascii_lowercase();
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if head.starts_with(b"{") {
        return Kind::Feed;
    }
    if head.starts_with(b"<") {
        if has(b"<rss") || has(b"<feed") || has(b"<rdf:rdf") {
            return Kind::Feed;
        }
        if has(b"<html") || has(b"<!doctype html") || has(b"<body") || has(b"<head") {
            return Kind::Html;
        }
        if head.starts_with(b"<?xml") {
            return Kind::Feed;
        }
        if has(b"<p") || has(b"<h1") || has(b"<div") || has(b"<title") {
            return Kind::Html;
        }
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".html") || lower.ends_with(".htm") || lower.ends_with(".xhtml") {
        Kind::Html
    } else {
        Kind::Text
    }
}

/// Text from bytes: UTF-8 (a BOM dropped), anything invalid replaced.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

fn article(title: String, text: String) -> Article {
    Article {
        identity: identity(None, None, &title, &text),
        link: None,
        title,
        summary: String::new(),
        content: text,
        authors: Vec::new(),
        categories: Vec::new(),
        published: None,
        lang: None,
    }
}

/// A plain-text article: the first non-empty line is the title, the rest the text.
pub fn from_text(bytes: &[u8]) -> Article {
    let text = decode(bytes);
    let mut lines = text.lines();
    let title = lines
        .by_ref()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let title = clean_line(title, MAX_TITLE_CHARS);
    let rest: Vec<&str> = lines.collect();
    let body = rest.join("\n");
    let body = super::truncate_chars(body.trim(), MAX_CONTENT_CHARS).to_string();
    article(title, body)
}

/// The byte range of the content of the first `<name …>…</name>` element, ASCII-case-blind.
fn element(html: &str, lower: &str, name: &str) -> Option<(usize, usize, usize)> {
    let open = format!("<{name}");
    let mut from = 0;
    loop {
        let at = from + lower.get(from..)?.find(&open)?;
        let after = at + open.len();
        // `<h1>` or `<h1 class=…>`, not `<h10>` or `<header>`.
        if lower[after..].starts_with(['>', ' ', '\t', '\n', '\r', '/']) {
            let content = after + lower[after..].find('>')? + 1;
            let close = format!("</{name}");
            let end = content
                + lower[content..]
                    .find(&close)
                    .unwrap_or(html.len() - content);
            let element_end = lower[end..].find('>').map_or(html.len(), |i| end + i + 1);
            return Some((content, end, element_end));
        }
        from = after;
    }
}

/// A web page as an article: its `<title>`, else its first `<h1>`, is the title; the text of
/// its body (or of the whole page, without the title element) is the text.
pub fn from_html(bytes: &[u8]) -> Article {
    let html = decode(bytes);
    // ASCII lower-casing keeps every byte offset.
    let lower = html.to_ascii_lowercase();
    let title_of = |name: &str| {
        element(&html, &lower, name)
            .map(|(start, end, _)| {
                clean_line(
                    &html_to_text(&html[start..end], MAX_TITLE_CHARS),
                    MAX_TITLE_CHARS,
                )
            })
            .filter(|t| !t.is_empty())
    };
    let title = title_of("title")
        .or_else(|| title_of("h1"))
        .unwrap_or_default();
    let body = match element(&html, &lower, "body") {
        Some((start, end, _)) => html[start..end].to_string(),
        None => match element(&html, &lower, "title") {
            Some((start, _, element_end)) => {
                let open = html[..start].rfind('<').unwrap_or(start);
                format!("{}{}", &html[..open], &html[element_end..])
            }
            None => html.clone(),
        },
    };
    article(title, html_to_text(&body, MAX_CONTENT_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_decides_what_a_document_is() {
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><rss>", "a.txt"), Kind::Feed);
        assert_eq!(
            sniff(
                b"\xEF\xBB\xBF  <feed xmlns=\"http://www.w3.org/2005/Atom\">",
                "-"
            ),
            Kind::Feed
        );
        assert_eq!(
            sniff(b"{\"version\": \"https://jsonfeed.org/version/1.1\"}", "-"),
            Kind::Feed
        );
        assert_eq!(
            sniff(b"<!DOCTYPE html><html><title>x</title>", "feed.xml"),
            Kind::Html
        );
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?><html xmlns=\"x\">", "-"),
            Kind::Html
        );
        assert_eq!(sniff("Заголовок\n\nТекст".as_bytes(), "-"), Kind::Text);
        assert_eq!(sniff(b"Just words", "page.html"), Kind::Html);
        assert_eq!(sniff(b"", "-"), Kind::Text);
    }

    #[test]
    fn a_text_file_has_its_first_non_empty_line_for_title() {
        let article =
            from_text("\u{feff}\n  \nЛавров в Пхеньяне\r\nПервый абзац.\n\nВторой.\n".as_bytes());
        assert_eq!(article.title, "Лавров в Пхеньяне");
        assert_eq!(article.content, "Первый абзац.\n\nВторой.");
        assert_eq!(from_text(b"").title, "");
        assert_eq!(from_text(b"\xff\xfeoops").title, "\u{fffd}\u{fffd}oops");
    }

    #[test]
    fn a_web_page_has_its_title_or_first_heading_and_its_body_text() {
        let page = b"<html><head><TITLE>Lavrov &amp; Choe</TITLE><script>x()</script></head>\
                     <body><h1>Heading</h1><p>Pyongyang <b>talks</b></p></body></html>";
        let article = from_html(page);
        assert_eq!(article.title, "Lavrov & Choe");
        assert_eq!(article.content, "Heading\n\nPyongyang talks");
        let fragment = from_html(b"<header>x</header><h1 class=\"t\">Kim\nvisits</h1><p>Text</p>");
        assert_eq!(fragment.title, "Kim visits");
        assert!(fragment.content.contains("Text"), "{}", fragment.content);
        let untitled = from_html(b"<p>only text</p>");
        assert_eq!(
            (untitled.title.as_str(), untitled.content.as_str()),
            ("", "only text")
        );
    }
}
