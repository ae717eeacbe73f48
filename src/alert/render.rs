//! Alert mail: subject, headers and a multipart plain-text + HTML body that says what matched
//! and why. Feed text is hostile: every piece of it is cleaned of control characters before it
//! reaches a header and HTML-escaped before it reaches the HTML part; links are http(s) only.

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use crate::article::{clean_line, truncate_chars};
use crate::rules::{Field, Hit};

/// What an alert about one article says.
#[derive(Debug, Clone)]
pub struct ArticleAlert<'a> {
    pub watch: &'a str,
    pub title: &'a str,
    pub link: Option<&'a str>,
    pub feed_name: Option<&'a str>,
    pub published: Option<DateTime<Utc>>,
    pub summary: &'a str,
    pub content: &'a str,
    pub hits: &'a [Hit],
    pub message_id: &'a str,
}

/// Why a message could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot build the alert email: {0}")]
pub struct RenderError(pub String);

/// Characters of article text shown around the first matched word.
const SNIPPET_CHARS: usize = 400;
const SUBJECT_CHARS: usize = 200;

/// Builds the email for one (watch, article) alert.
pub fn render_article_alert(
    alert: &ArticleAlert,
    from: &Mailbox,
    to: &[Mailbox],
    date: DateTime<Utc>,
) -> Result<Message, RenderError> {
    let title = clean_line(alert.title, SUBJECT_CHARS);
    let title = if title.is_empty() {
        "(untitled)".to_string()
    } else {
        title
    };
    let watch = clean_line(alert.watch, 100);
    let subject = format!("[{watch}] {title}");
    let link = alert.link.filter(|l| is_http_link(l));
    let snippet = Snippet::choose(alert);

    let text = plain_body(alert, &title, link, &snippet);
    let html = html_body(alert, &title, link, &snippet);

    let mut builder = Message::builder()
        .from(from.clone())
        .subject(subject)
        .message_id(Some(alert.message_id.to_string()))
        .date(date.into());
    for recipient in to {
        builder = builder.to(recipient.clone());
    }
    builder = with_watch_headers(builder, &watch);
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| RenderError(e.to_string()))
}

/// List-Id, Auto-Submitted and X-Newswatch-Watch: how mail clients and people filter alerts.
fn with_watch_headers(
    builder: lettre::message::MessageBuilder,
    watch: &str,
) -> lettre::message::MessageBuilder {
    let raw = |name: &'static str, value: String| {
        HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
    };
    builder
        .raw_header(raw("List-Id", format!("<{}>", list_id(watch))))
        .raw_header(raw("Auto-Submitted", "auto-generated".to_string()))
        .raw_header(raw("X-Newswatch-Watch", watch.to_string()))
}

/// `russia-dprk-military-ties.3f2a1b9c.newswatch`: readable where the name is ASCII, unique
/// by a hash of the whole name.
pub fn list_id(watch: &str) -> String {
    let mut slug = String::new();
    for c in watch.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = truncate_chars(slug.trim_matches('-'), 40)
        .trim_matches('-')
        .to_string();
    let hash = super::short_hash(watch.as_bytes(), 4);
    if slug.is_empty() {
        format!("{hash}.newswatch")
    } else {
        format!("{slug}.{hash}.newswatch")
    }
}

fn is_http_link(link: &str) -> bool {
    url::Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// A window of article text around the matched words, with the matches inside it.
struct Snippet<'a> {
    text: &'a str,
    /// Byte range of the window in `text`.
    start: usize,
    end: usize,
    /// Byte ranges of matched words inside the window, sorted, not overlapping.
    marks: Vec<(usize, usize)>,
}

impl<'a> Snippet<'a> {
    /// The summary, else the content, around its first hit; the start of the text when the
    /// words matched only in the title.
    fn choose(alert: &ArticleAlert<'a>) -> Snippet<'a> {
        for (field, text) in [
            (Field::Summary, alert.summary),
            (Field::Content, alert.content),
        ] {
            let mut marks: Vec<(usize, usize)> = alert
                .hits
                .iter()
                .filter(|h| h.field == Some(field))
                .filter(|h| h.start < h.end && text.get(h.start..h.end).is_some())
                .map(|h| (h.start, h.end))
                .collect();
            if marks.is_empty() {
                continue;
            }
            marks.sort_unstable();
            let first = marks[0].0;
            let start = back_chars(text, first, SNIPPET_CHARS / 4);
            let end = start + truncate_chars(&text[start..], SNIPPET_CHARS).len();
            let mut kept: Vec<(usize, usize)> = Vec::new();
            for (s, e) in marks {
                if s >= start && e <= end && kept.last().is_none_or(|last| s >= last.1) {
                    kept.push((s, e));
                }
            }
            return Snippet {
                text,
                start,
                end,
                marks: kept,
            };
        }
        let text = if alert.summary.is_empty() {
            alert.content
        } else {
            alert.summary
        };
        Snippet {
            text,
            start: 0,
            end: truncate_chars(text, SNIPPET_CHARS).len(),
            marks: Vec::new(),
        }
    }

    fn prefix(&self) -> &'static str {
        if self.start > 0 { "…" } else { "" }
    }

    fn suffix(&self) -> &'static str {
        if self.end < self.text.len() {
            "…"
        } else {
            ""
        }
    }

    /// The window with each matched word passed through `mark`, the rest through `plain`.
    fn render(&self, plain: impl Fn(&str) -> String, mark: impl Fn(&str) -> String) -> String {
        let mut out = String::from(self.prefix());
        let mut at = self.start;
        for &(s, e) in &self.marks {
            out.push_str(&plain(&self.text[at..s]));
            out.push_str(&mark(&self.text[s..e]));
            at = e;
        }
        out.push_str(&plain(&self.text[at..self.end]));
        out.push_str(self.suffix());
        out
    }
}

/// The byte index `chars` characters before `index` (at a char boundary).
fn back_chars(text: &str, index: usize, chars: usize) -> usize {
    text[..index]
        .char_indices()
        .rev()
        .nth(chars.saturating_sub(1))
        .map_or(0, |(i, _)| i)
}

fn published_line(published: Option<DateTime<Utc>>) -> String {
    published.map_or_else(
        || "unknown".to_string(),
        |p| p.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// The matched words, once each, with the clause that wanted them.
fn matched_terms(hits: &[Hit]) -> Vec<(String, String)> {
    let mut terms: Vec<(String, String)> = Vec::new();
    for hit in hits {
        let word = clean_line(&hit.text, 100);
        let clause = clean_line(&hit.clause, 200);
        if !terms.iter().any(|(w, c)| *w == word && *c == clause) {
            terms.push((word, clause));
        }
    }
    terms
}

fn plain_body(alert: &ArticleAlert, title: &str, link: Option<&str>, snippet: &Snippet) -> String {
    let mut text = format!("{title}\n");
    if let Some(link) = link {
        text.push_str(link);
        text.push('\n');
    }
    text.push('\n');
    if let Some(feed) = alert.feed_name {
        text.push_str(&format!("Source:    {}\n", clean_line(feed, 200)));
    }
    text.push_str(&format!("Published: {}\n", published_line(alert.published)));
    text.push('\n');
    let body = snippet.render(|s| s.to_string(), |s| s.to_string());
    if !body.is_empty() {
        text.push_str(&body);
        text.push_str("\n\n");
    }
    text.push_str("Why this matched:\n");
    for (word, clause) in matched_terms(alert.hits) {
        text.push_str(&format!("  - \"{word}\" for {clause}\n"));
    }
    text.push_str(&format!(
        "\n-- \nnewswatch alert for the watch \"{}\"\n",
        clean_line(alert.watch, 100)
    ));
    text
}

fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

fn html_body(alert: &ArticleAlert, title: &str, link: Option<&str>, snippet: &Snippet) -> String {
    let title_html = match link {
        Some(link) => format!(
            "<a href=\"{}\">{}</a>",
            html_escape::encode_double_quoted_attribute(link),
            escape(title)
        ),
        None => escape(title),
    };
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family: sans-serif; line-height: 1.4\">\n",
    );
    html.push_str(&format!(
        "<h2 style=\"font-size: 1.2em\">{title_html}</h2>\n<p style=\"color: #555\">"
    ));
    if let Some(feed) = alert.feed_name {
        html.push_str(&format!("{} &middot; ", escape(&clean_line(feed, 200))));
    }
    html.push_str(&escape(&published_line(alert.published)));
    html.push_str("</p>\n");
    let body = snippet.render(
        |s| escape(s).replace('\n', "<br>"),
        |s| format!("<mark>{}</mark>", escape(s)),
    );
    if !body.is_empty() {
        html.push_str(&format!("<p>{body}</p>\n"));
    }
    html.push_str("<p style=\"color: #555\">Why this matched:</p>\n<ul>\n");
    for (word, clause) in matched_terms(alert.hits) {
        html.push_str(&format!(
            "<li><mark>{}</mark> for <code>{}</code></li>\n",
            escape(&word),
            escape(&clause)
        ));
    }
    html.push_str(&format!(
        "</ul>\n<p style=\"color: #888; font-size: 0.9em\">newswatch alert for the watch &ldquo;{}&rdquo;</p>\n</body></html>\n",
        escape(&clean_line(alert.watch, 100))
    ));
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(field: Field, text: &str, whole: &str, clause: &str) -> Hit {
        let start = whole.find(text).unwrap();
        Hit {
            clause: clause.into(),
            field: Some(field),
            text: text.into(),
            start,
            end: start + text.len(),
        }
    }

    fn render(alert: &ArticleAlert) -> (String, String, String) {
        let from: Mailbox = "Newswatch <nw@localhost>".parse().unwrap();
        let to: Mailbox = "analyst@example.org".parse().unwrap();
        let message = render_article_alert(alert, &from, &[to], Utc::now()).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        let text = plain_body(
            alert,
            &clean_line(alert.title, 200),
            alert.link,
            &Snippet::choose(alert),
        );
        let html = html_body(
            alert,
            &clean_line(alert.title, 200),
            alert.link,
            &Snippet::choose(alert),
        );
        (raw, text, html)
    }

    #[test]
    fn the_html_part_highlights_matches_and_escapes_everything_else() {
        let summary = "Северная Корея <script>alert(1)</script> поставила России боеприпасы";
        let hits = vec![
            hit(
                Field::Summary,
                "Северная Корея",
                summary,
                "@dprk: Северная Корея",
            ),
            hit(Field::Summary, "России", summary, "@russia: Россия"),
        ];
        let alert = ArticleAlert {
            watch: "Russia–DPRK",
            title: "Title <b onmouseover=x>",
            link: Some("https://example.org/a?x=1&y=\"2\""),
            feed_name: Some("Feed"),
            published: None,
            summary,
            content: "",
            hits: &hits,
            message_id: "<abc@localhost>",
        };
        let (_, text, html) = render(&alert);
        assert!(html.contains("<mark>Северная Корея</mark> &lt;script&gt;alert(1)&lt;/script&gt; поставила <mark>России</mark>"), "{html}");
        assert!(html.contains("Title &lt;b onmouseover=x&gt;"));
        assert!(
            html.contains("href=\"https://example.org/a?x=1&amp;y=&quot;2&quot;\""),
            "{html}"
        );
        assert!(!html.contains("<script"));
        assert!(text.contains("\"России\" for @russia: Россия"), "{text}");
    }

    #[test]
    fn non_http_links_are_dropped() {
        let alert = ArticleAlert {
            watch: "w",
            title: "t",
            link: Some("javascript:alert(1)"),
            feed_name: None,
            published: None,
            summary: "",
            content: "",
            hits: &[],
            message_id: "<a@b>",
        };
        let from: Mailbox = "nw@localhost".parse().unwrap();
        let to: Mailbox = "a@example.org".parse().unwrap();
        let message = render_article_alert(&alert, &from, &[to], Utc::now()).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(!raw.contains("javascript"));
    }

    #[test]
    fn headers_cannot_be_injected_through_the_title() {
        let alert = ArticleAlert {
            watch: "w\r\nBcc: evil@example.org",
            title: "Hello\r\nBcc: victim@example.org\r\n\r\nbody",
            link: None,
            feed_name: None,
            published: None,
            summary: "",
            content: "",
            hits: &[],
            message_id: "<a@b>",
        };
        let (raw, _, _) = render(&alert);
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(
            !headers
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{headers}"
        );
        assert!(
            headers
                .contains("Subject: [w Bcc: evil@example.org] Hello Bcc: victim@example.org body"),
            "{headers}"
        );
        assert!(headers.contains("Auto-Submitted: auto-generated"));
        assert!(
            headers.contains("List-Id: <w-bcc-evil-example-org."),
            "{headers}"
        );
    }

    #[test]
    fn the_snippet_is_a_window_around_the_first_match() {
        let summary = format!("{} Pyongyang {}", "x ".repeat(400), "y ".repeat(400));
        let hits = vec![hit(
            Field::Summary,
            "Pyongyang",
            &summary,
            "@dprk: Pyongyang",
        )];
        let alert = ArticleAlert {
            watch: "w",
            title: "t",
            link: None,
            feed_name: None,
            published: None,
            summary: &summary,
            content: "",
            hits: &hits,
            message_id: "<a@b>",
        };
        let snippet = Snippet::choose(&alert);
        let shown = snippet.render(|s| s.to_string(), |s| format!("[{s}]"));
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert!(shown.contains("[Pyongyang]"));
        let plain = snippet.render(|s| s.to_string(), |s| s.to_string());
        assert!(plain.chars().count() <= SNIPPET_CHARS + 2);
    }
}
