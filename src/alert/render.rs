//! Alert mail: subject, headers and a multipart plain-text + HTML body that says what matched
//! and why. Feed text is hostile: every piece of it is cleaned of control characters before it
//! reaches a header and HTML-escaped before it reaches the HTML part; links are http(s) only.

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::outlets::{self, Outlet};
use crate::article::{clean_line, truncate_chars};
use crate::rules::why::{self, Why};
use crate::rules::{Field, Hit};
use crate::wording::plural;

/// One matched article, as an alert shows it.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub title: &'a str,
    pub link: Option<&'a str>,
    pub feed_name: Option<&'a str>,
    pub published: Option<DateTime<Utc>>,
    pub summary: &'a str,
    pub content: &'a str,
    pub hits: &'a [Hit],
    /// The story's other outlets.
    pub also_reported_by: &'a [Outlet],
}

/// What an alert is about.
#[derive(Debug, Clone)]
pub enum AlertBody<'a> {
    /// One article (immediate mode).
    Article(Item<'a>),
    /// Every match of a digest period, newest first, and the period when it is known.
    Digest(&'a [Item<'a>], Option<Period>),
    /// The matches of an hour beyond the watch's max_per_hour, newest first.
    Overflow(&'a [Item<'a>]),
}

/// The bounds of a digest period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// One alert email.
#[derive(Debug, Clone)]
pub struct AlertMail<'a> {
    pub watch: &'a str,
    pub message_id: &'a str,
    pub body: AlertBody<'a>,
    /// For an update of a story: the Message-ID of the story's first alert, which this one
    /// is threaded on (`In-Reply-To`, `References`).
    pub update_of: Option<&'a str>,
}

/// Why a message could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot build the alert email: {0}")]
pub struct RenderError(pub String);

/// Characters of article text shown around the first matched word.
const SNIPPET_CHARS: usize = 400;
const SUBJECT_CHARS: usize = 200;

fn title_of(item: &Item) -> String {
    let title: String = title_pieces(item).into_iter().map(|(s, _)| s).collect();
    if title.is_empty() {
        "(untitled)".to_string()
    } else {
        title
    }
}

/// The title as one clean line (as [`clean_line`] makes it, at most [`SUBJECT_CHARS`]), in
/// pieces: `true` for words that matched.
fn title_pieces(item: &Item) -> Vec<(String, bool)> {
    let title = item.title;
    let mut marks: Vec<(usize, usize)> = item
        .hits
        .iter()
        .filter(|h| h.field == Some(Field::Title))
        .filter(|h| h.start < h.end && title.get(h.start..h.end).is_some())
        .map(|h| (h.start, h.end))
        .collect();
    marks.sort_unstable();
    let mut raw: Vec<(&str, bool)> = Vec::new();
    let mut at = 0;
    for (s, e) in marks {
        if s < at {
            continue;
        }
        raw.push((&title[at..s], false));
        raw.push((&title[s..e], true));
        at = e;
    }
    raw.push((&title[at..], false));
    // Whitespace and control characters collapse to one space, none at either end; a space
    // next to a match stays outside it.
    let mut pieces: Vec<(String, bool)> = Vec::new();
    let mut chars = 0;
    let mut space = false;
    for (text, marked) in raw {
        let mut piece = String::new();
        for c in text.chars() {
            if chars >= SUBJECT_CHARS {
                break;
            }
            if c.is_whitespace() || c.is_control() {
                space = chars > 0;
                continue;
            }
            if space {
                if marked && piece.is_empty() {
                    match pieces.last_mut() {
                        Some((last, false)) => last.push(' '),
                        _ => pieces.push((" ".to_string(), false)),
                    }
                } else {
                    piece.push(' ');
                }
                chars += 1;
                space = false;
            }
            piece.push(c);
            chars += 1;
        }
        if !piece.is_empty() {
            pieces.push((piece, marked));
        }
    }
    pieces
}

/// Builds the email.
pub fn render(
    mail: &AlertMail,
    from: &Mailbox,
    to: &[Mailbox],
    date: DateTime<Utc>,
) -> Result<Message, RenderError> {
    let watch = clean_line(mail.watch, 100);
    let (subject, text, html) = match &mail.body {
        AlertBody::Article(item) => (
            match mail.update_of {
                Some(_) => format!("[{watch}] Update: {}", title_of(item)),
                None => format!("[{watch}] {}", title_of(item)),
            },
            plain_article(&watch, item),
            html_page(&watch, &html_article(item, true)),
        ),
        AlertBody::Digest(items, _) | AlertBody::Overflow(items) => {
            let (subject, intro) = if let AlertBody::Digest(_, period) = &mail.body {
                (
                    format!("[{watch}] {}", digest_count(items)),
                    digest_intro(&watch, items, *period),
                )
            } else {
                (
                    format!(
                        "[{watch}] and {} this hour",
                        plural(items.len(), "more article", "more articles")
                    ),
                    format!(
                        "The watch \"{watch}\" reached its hourly limit of single alerts; {} more matched this hour.",
                        plural(items.len(), "article", "articles")
                    ),
                )
            };
            (
                subject,
                plain_batch(&watch, &intro, items),
                html_page(&watch, &html_batch(&intro, items)),
            )
        }
    };
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(subject)
        .message_id(Some(mail.message_id.to_string()))
        .date(date.into());
    for recipient in to {
        builder = builder.to(recipient.clone());
    }
    if let Some(first) = mail.update_of {
        builder = builder
            .in_reply_to(first.to_string())
            .references(first.to_string());
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
    fn choose(item: &Item<'a>) -> Snippet<'a> {
        for (field, text) in [
            (Field::Summary, item.summary),
            (Field::Content, item.content),
        ] {
            let mut marks: Vec<(usize, usize)> = item
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
            let (first, first_end) = marks[0];
            let start = word_start(text, back_chars(text, first, SNIPPET_CHARS / 4), first);
            let cut = start + truncate_chars(&text[start..], SNIPPET_CHARS).len();
            let end = word_end(text, cut, first_end.min(cut));
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
        let text = if item.summary.is_empty() {
            item.content
        } else {
            item.summary
        };
        let start = word_start(text, 0, text.len());
        Snippet {
            text,
            start,
            end: word_end(
                text,
                start + truncate_chars(&text[start..], SNIPPET_CHARS).len(),
                start,
            ),
            marks: Vec::new(),
        }
    }

    fn prefix(&self) -> &'static str {
        if self.text[..self.start].trim().is_empty() {
            ""
        } else {
            "…"
        }
    }

    fn suffix(&self) -> &'static str {
        if self.text[self.end..].trim().is_empty() {
            ""
        } else {
            "…"
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

/// Where a window starting near `index` may start without cutting a word: `index` itself
/// when a word starts there, else the start of the next word, and never past `limit` (the
/// first match, which starts a word). Leading whitespace and closing punctuation are skipped.
fn word_start(text: &str, index: usize, limit: usize) -> usize {
    let inside = |i: usize| {
        text[..i]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
            && text[i..].chars().next().is_some_and(char::is_alphanumeric)
    };
    if index == 0 {
        return 0;
    }
    let mut at = index;
    if inside(at) {
        at += text[at..]
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(text.len() - at);
    }
    // The end of the sentence or clause cut into is no start either.
    at += text[at..]
        .find(|c: char| !(c.is_whitespace() || ",.;:!?)»”".contains(c)))
        .unwrap_or(text.len() - at);
    at.min(limit)
}

/// Where a window cut at `index` may end without cutting a word: `index` itself between
/// words, else the end of the last whole word before it, but not before `floor` (the end of
/// the first match: one enormous "word" is cut where it must be). Trailing whitespace is
/// dropped.
fn word_end(text: &str, index: usize, floor: usize) -> usize {
    let inside = text[..index]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
        && text[index..]
            .chars()
            .next()
            .is_some_and(char::is_alphanumeric);
    let mut at = index;
    if inside {
        at = text[..index]
            .rfind(|c: char| !c.is_alphanumeric())
            .unwrap_or(0);
        if at < floor {
            return index;
        }
    }
    let trimmed = text[..at].trim_end().len();
    trimmed.max(floor)
}

/// The byte index `chars` characters before `index` (at a char boundary).
fn back_chars(text: &str, index: usize, chars: usize) -> usize {
    text[..index]
        .char_indices()
        .rev()
        .nth(chars.saturating_sub(1))
        .map_or(0, |(i, _)| i)
}

/// The first line of a digest: how many articles matched, and when.
/// "3 new articles", or with stories told by several outlets "2 new stories (5 articles)".
fn digest_count(items: &[Item]) -> String {
    let articles: usize = items.iter().map(|i| 1 + i.also_reported_by.len()).sum();
    if articles == items.len() {
        plural(articles, "new article", "new articles")
    } else {
        format!(
            "{} ({})",
            plural(items.len(), "new story", "new stories"),
            plural(articles, "article", "articles")
        )
    }
}

fn digest_intro(watch: &str, items: &[Item], period: Option<Period>) -> String {
    format!(
        "{} matched the watch \"{watch}\" {}.",
        digest_count(items),
        period_words(period)
    )
}

/// "from 2026-12-01 08:00 to 2026-12-02 08:00 UTC", or "in this period" when unknown.
fn period_words(period: Option<Period>) -> String {
    match period {
        Some(Period { from, to }) => {
            // Seconds only for a period that does not fall on whole minutes (`every = "5s"`).
            let format = if from.timestamp() % 60 == 0 && to.timestamp() % 60 == 0 {
                "%Y-%m-%d %H:%M"
            } else {
                "%Y-%m-%d %H:%M:%S"
            };
            format!("from {} to {} UTC", from.format(format), to.format(format))
        }
        None => "in this period".to_string(),
    }
}

fn published_line(published: Option<DateTime<Utc>>) -> String {
    published.map_or_else(
        || "unknown".to_string(),
        |p| p.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn source_line(item: &Item) -> String {
    let published = published_line(item.published);
    match item.feed_name {
        Some(feed) => format!("{} · {published}", clean_line(feed, 200)),
        None => published,
    }
}

fn plain_item(item: &Item, text: &mut String, why_in_full: bool) {
    text.push_str(&title_of(item));
    text.push('\n');
    if let Some(link) = item.link.filter(|l| is_http_link(l)) {
        text.push_str(link);
        text.push('\n');
    }
    text.push_str(&source_line(item));
    text.push_str("\n\n");
    let snippet = Snippet::choose(item).render(|s| s.to_string(), |s| s.to_string());
    if !snippet.is_empty() {
        text.push_str(&snippet);
        text.push_str("\n\n");
    }
    let why = why::group(item.hits);
    if why_in_full {
        text.push_str("Why this matched:\n");
        for line in why.lines() {
            text.push_str(&format!("  {}\n", clean_line(&line, 1000)));
        }
    } else {
        let words: Vec<String> = why
            .words()
            .iter()
            .map(|w| format!("\"{}\"", clean_line(w, 100)))
            .collect();
        text.push_str(&format!("Matched: {}\n", words.join(", ")));
    }
}

fn plain_outlets(item: &Item, text: &mut String) {
    let outlets = outlets::plain(item.also_reported_by);
    if !outlets.is_empty() {
        text.push('\n');
        text.push_str(&outlets);
    }
}

fn footer(watch: &str) -> String {
    format!("\n-- \nnewswatch alert for the watch \"{watch}\"\n")
}

fn plain_article(watch: &str, item: &Item) -> String {
    let mut text = String::new();
    plain_item(item, &mut text, true);
    plain_outlets(item, &mut text);
    text.push_str(&footer(watch));
    text
}

fn plain_batch(watch: &str, intro: &str, items: &[Item]) -> String {
    let mut text = format!("{intro}\n");
    for (i, item) in items.iter().enumerate() {
        text.push_str(&format!("\n{}. ", i + 1));
        plain_item(item, &mut text, false);
        plain_outlets(item, &mut text);
    }
    text.push_str(&footer(watch));
    text
}

fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

fn html_item(item: &Item, why_in_full: bool) -> String {
    let pieces = title_pieces(item);
    let title = if pieces.is_empty() {
        escape(&title_of(item))
    } else {
        pieces
            .iter()
            .map(|(s, marked)| {
                if *marked {
                    format!("<mark>{}</mark>", escape(s))
                } else {
                    escape(s)
                }
            })
            .collect()
    };
    let title_html = match item.link.filter(|l| is_http_link(l)) {
        Some(link) => format!(
            "<a href=\"{}\">{title}</a>",
            html_escape::encode_double_quoted_attribute(link)
        ),
        None => title,
    };
    let mut html = format!(
        "<h2 style=\"font-size: 1.15em; margin-bottom: 0.2em\">{title_html}</h2>\n<p style=\"color: #555; margin-top: 0\">{}</p>\n",
        escape(&source_line(item))
    );
    let snippet = Snippet::choose(item).render(
        |s| escape(s).replace('\n', "<br>"),
        |s| format!("<mark>{}</mark>", escape(s)),
    );
    if !snippet.is_empty() {
        html.push_str(&format!("<p>{snippet}</p>\n"));
    }
    let why = why::group(item.hits);
    if why_in_full {
        html.push_str(&html_why(&why));
    } else {
        let words: Vec<String> = why
            .words()
            .iter()
            .map(|w| format!("<mark>{}</mark>", escape(w)))
            .collect();
        html.push_str(&format!(
            "<p style=\"color: #555\">Matched: {}</p>\n",
            words.join(", ")
        ));
    }
    html
}

/// The grouped "why": a list, a part of the rule per item, its forms marked.
fn html_why(why: &Why) -> String {
    let mut html = String::from("<p style=\"color: #555\">Why this matched:</p>\n<ul>\n");
    for group in &why.groups {
        html.push_str(&format!("<li><code>{}</code>", escape(&group.name)));
        if !group.forms.is_empty() {
            html.push_str(": ");
            html.push_str(&group.forms_line(escape, |s| format!("<mark>{}</mark>", escape(s))));
        }
        html.push_str("</li>\n");
    }
    for condition in &why.conditions {
        html.push_str(&format!("<li>{}</li>\n", escape(&condition.to_string())));
    }
    html.push_str("</ul>\n");
    html
}

fn html_article(item: &Item, why_in_full: bool) -> String {
    html_item(item, why_in_full) + &outlets::html(item.also_reported_by)
}

fn html_batch(intro: &str, items: &[Item]) -> String {
    let mut html = format!("<p>{}</p>\n", escape(intro));
    for item in items {
        html.push_str("<hr>\n");
        html.push_str(&html_item(item, false));
        html.push_str(&outlets::html(item.also_reported_by));
    }
    html
}

fn html_page(watch: &str, content: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family: sans-serif; line-height: 1.4\">\n{content}\
         <p style=\"color: #888; font-size: 0.9em\">newswatch alert for the watch &ldquo;{}&rdquo;</p>\n</body></html>\n",
        escape(watch)
    )
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
            near: None,
            scoped: false,
        }
    }

    fn item<'a>(title: &'a str, summary: &'a str, hits: &'a [Hit]) -> Item<'a> {
        Item {
            title,
            link: None,
            feed_name: None,
            published: None,
            summary,
            content: "",
            hits,
            also_reported_by: &[],
        }
    }

    fn raw(mail: &AlertMail) -> String {
        let from: Mailbox = "Newswatch <nw@localhost>".parse().unwrap();
        let to: Mailbox = "analyst@example.org".parse().unwrap();
        let message = render(mail, &from, &[to], Utc::now()).unwrap();
        String::from_utf8(message.formatted()).unwrap()
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
        let mut article = item("Title <b onmouseover=x>", summary, &hits);
        article.link = Some("https://example.org/a?x=1&y=\"2\"");
        let html = html_item(&article, true);
        assert!(html.contains("<mark>Северная Корея</mark> &lt;script&gt;alert(1)&lt;/script&gt; поставила <mark>России</mark>"), "{html}");
        assert!(html.contains("Title &lt;b onmouseover=x&gt;"));
        assert!(
            html.contains("href=\"https://example.org/a?x=1&amp;y=&quot;2&quot;\""),
            "{html}"
        );
        assert!(!html.contains("<script"));
        let text = plain_article("w", &article);
        assert!(text.contains("  @russia: \"России\" (text)\n"), "{text}");
        assert!(
            html.contains("<li><code>@russia</code>: <mark>России</mark> (text)</li>"),
            "{html}"
        );
    }

    #[test]
    fn matched_words_are_marked_in_the_title_which_stays_escaped() {
        let title = "Пхеньян <script>alert(1)</script>\r\n  принял   Лаврова";
        let hits = vec![
            hit(Field::Title, "Пхеньян", title, "@dprk: Пхеньян"),
            hit(Field::Title, "Лаврова", title, "@russia: Лавров"),
        ];
        let article = item(title, "", &hits);
        let html = html_item(&article, true);
        assert!(
            html.contains(
                "<mark>Пхеньян</mark> &lt;script&gt;alert(1)&lt;/script&gt; принял <mark>Лаврова</mark></h2>"
            ),
            "{html}"
        );
        assert!(!html.contains("<script"), "{html}");
        // The plain part and the subject show the title as one clean line, unmarked.
        assert_eq!(
            title_of(&article),
            "Пхеньян <script>alert(1)</script> принял Лаврова"
        );
        assert_eq!(title_of(&article), clean_line(title, SUBJECT_CHARS));
        // Offsets that do not fit the title (a stored explanation of another text) are ignored.
        let stray = vec![Hit {
            start: 3,
            end: 500,
            ..hit(Field::Title, "Пхеньян", title, "@dprk: Пхеньян")
        }];
        let html = html_item(&item(title, "", &stray), true);
        assert!(
            html.contains(
                "<h2 style=\"font-size: 1.15em; margin-bottom: 0.2em\">Пхеньян &lt;script"
            ),
            "{html}"
        );
    }

    #[test]
    fn a_snippet_is_cut_between_words_with_an_ellipsis() {
        let before =
            "Министр иностранных дел России Сергей Лавров заявил, что отношения ".repeat(4);
        let after = " достигли нового уровня на фоне углубления военных связей".repeat(12);
        let summary = format!("{before}Пхеньяном{after}");
        let hits = vec![hit(Field::Summary, "Пхеньяном", &summary, "@dprk: Пхеньян")];
        let article = item("t", &summary, &hits);
        let shown = Snippet::choose(&article).render(|s| s.to_string(), |s| format!("[{s}]"));
        assert!(shown.contains("[Пхеньяном]"), "{shown}");
        let inner = shown
            .strip_prefix('…')
            .and_then(|s| s.strip_suffix('…'))
            .unwrap_or_else(|| panic!("ellipses at both ends: {shown}"));
        let words: Vec<&str> = summary.split_whitespace().collect();
        let first = inner.split_whitespace().next().unwrap();
        let last = inner.split_whitespace().last().unwrap();
        assert!(words.contains(&first), "cut mid-word at the start: {shown}");
        assert!(
            words.contains(&last) || words.contains(&last.trim_end_matches(',')),
            "cut mid-word at the end: {shown}"
        );
        let plain = Snippet::choose(&article).render(|s| s.to_string(), |s| s.to_string());
        assert!(plain.chars().count() <= SNIPPET_CHARS + 2, "{plain}");
    }

    #[test]
    fn word_cuts_hold_on_any_text_and_offset() {
        let texts = [
            "",
            "Пхеньян",
            "Ким Чен Ын, Лавров — «друзья»",
            "北朝鮮とロシア",
            "a\u{301}b c\u{1F600}d  e",
        ];
        for text in texts {
            for index in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                let start = word_start(text, index, text.len());
                let end = word_end(text, index, 0);
                assert!(
                    text.is_char_boundary(start) && text.is_char_boundary(end),
                    "{text:?} {index}"
                );
                assert!(
                    start >= index.min(text.len()) && end <= index,
                    "{text:?} {index}"
                );
            }
        }
        // One enormous word is cut where it must be, not dropped.
        let word = "Ы".repeat(1000);
        let article_hits = vec![hit(Field::Summary, "ЫЫ", &word, "x")];
        let article = item("t", &word, &article_hits);
        let shown = Snippet::choose(&article).render(|s| s.to_string(), |s| s.to_string());
        assert!(shown.chars().count() > SNIPPET_CHARS / 2, "{shown}");
    }

    #[test]
    fn a_digest_names_its_period() {
        let items = [item("First", "a", &[])];
        let period = Period {
            from: "2026-12-01T08:00:00Z".parse().unwrap(),
            to: "2026-12-02T08:00:00Z".parse().unwrap(),
        };
        let mail = AlertMail {
            watch: "W",
            message_id: "<d@b>",
            body: AlertBody::Digest(&items, Some(period)),
            update_of: None,
        };
        assert!(raw(&mail).contains("Subject: [W] 1 new article"));
        assert_eq!(
            digest_intro("W", &items, Some(period)),
            "1 new article matched the watch \"W\" from 2026-12-01 08:00 to 2026-12-02 08:00 UTC."
        );
        let outlets = [Outlet {
            feed: Some("TASS".into()),
            title: "Второй".into(),
            link: None,
        }];
        let story = Item {
            also_reported_by: &outlets,
            ..item("Second", "b", &[])
        };
        assert_eq!(
            digest_intro("W", &[items[0].clone(), story], None),
            "2 new stories (3 articles) matched the watch \"W\" in this period."
        );
    }

    #[test]
    fn non_http_links_are_dropped() {
        let mut article = item("t", "", &[]);
        article.link = Some("javascript:alert(1)");
        let mail = AlertMail {
            watch: "w",
            message_id: "<a@b>",
            update_of: None,
            body: AlertBody::Article(article),
        };
        assert!(!raw(&mail).contains("javascript"));
    }

    #[test]
    fn headers_cannot_be_injected_through_the_title() {
        let mail = AlertMail {
            watch: "w\r\nBcc: evil@example.org",
            message_id: "<a@b>",
            update_of: None,
            body: AlertBody::Article(item(
                "Hello\r\nBcc: victim@example.org\r\n\r\nbody",
                "",
                &[],
            )),
        };
        let raw = raw(&mail);
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
        let article = item("t", &summary, &hits);
        let snippet = Snippet::choose(&article);
        let shown = snippet.render(|s| s.to_string(), |s| format!("[{s}]"));
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert!(shown.contains("[Pyongyang]"));
        let plain = snippet.render(|s| s.to_string(), |s| s.to_string());
        assert!(plain.chars().count() <= SNIPPET_CHARS + 2);
    }

    #[test]
    fn digests_list_every_item_under_a_counting_subject() {
        let items = [
            item("First", "a", &[]),
            item("Second", "b", &[]),
            item("Third", "c", &[]),
        ];
        let mail = AlertMail {
            watch: "W",
            message_id: "<d@b>",
            update_of: None,
            body: AlertBody::Digest(&items, None),
        };
        let digest = raw(&mail);
        assert!(digest.contains("Subject: [W] 3 new articles"), "{digest}");
        let text = plain_batch("W", "intro", &items);
        let first = text.find("1. First").unwrap();
        let third = text.find("3. Third").unwrap();
        assert!(first < third);
        let mail = AlertMail {
            watch: "W",
            message_id: "<o@b>",
            update_of: None,
            body: AlertBody::Overflow(&items[..1]),
        };
        assert!(raw(&mail).contains("Subject: [W] and 1 more article this hour"));
    }
}
