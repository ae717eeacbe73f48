//! A feed-rs entry to an [`Article`]: links resolved and checked, HTML reduced to bounded plain
//! text, dates chosen, identity computed.

use feed_rs::model::{Entry, Text};

use crate::article::{
    self, Article, MAX_CONTENT_CHARS, MAX_LIST_ITEMS, MAX_SUMMARY_CHARS, MAX_TITLE_CHARS,
    clean_line, html_to_text,
};

/// Plain text of a feed text construct. Plain-text titles can still carry entities or stray
/// tags in the wild, so every text goes through the HTML path (which is a no-op without markup).
fn plain(text: &Text, limit: usize) -> String {
    html_to_text(&text.content, limit)
}

/// The entry's link to the article page: the alternate link, made absolute against the
/// feed's URL, http(s) only.
fn article_link(entry: &Entry, base: Option<&url::Url>) -> Option<String> {
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| entry.links.first())?;
    let url = match base {
        Some(base) => base.join(link.href.trim()).ok()?,
        None => url::Url::parse(link.href.trim()).ok()?,
    };
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// An entry as an article; `feed_url`: the feed's URL, parsed once for all its entries.
pub fn normalize_entry(
    entry: Entry,
    feed_url: Option<&url::Url>,
    feed_lang: Option<&str>,
) -> Article {
    let title = entry
        .title
        .as_ref()
        .map(|t| clean_line(&plain(t, MAX_TITLE_CHARS), MAX_TITLE_CHARS))
        .unwrap_or_default();
    let summary = entry
        .summary
        .as_ref()
        .map(|t| plain(t, MAX_SUMMARY_CHARS))
        .unwrap_or_default();
    let mut content = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .map(|body| html_to_text(body, MAX_CONTENT_CHARS))
        .unwrap_or_default();
    if content == summary {
        content.clear();
    }
    let link = article_link(&entry, feed_url);
    let authors = entry
        .authors
        .iter()
        .filter_map(|p| p.name.as_deref())
        .map(|n| clean_line(n, 200))
        .filter(|n| !n.is_empty())
        .take(MAX_LIST_ITEMS)
        .collect();
    let categories = entry
        .categories
        .iter()
        .map(|c| clean_line(c.label.as_deref().unwrap_or(&c.term), 200))
        .filter(|c| !c.is_empty())
        .take(MAX_LIST_ITEMS)
        .collect();
    let guid = (!entry.id.is_empty()).then_some(entry.id.as_str());
    let text_for_identity = if summary.is_empty() {
        &content
    } else {
        &summary
    };
    let identity = article::identity(guid, link.as_deref(), &title, text_for_identity);
    let lang = entry
        .language
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .or(feed_lang)
        .map(str::to_string);
    Article {
        identity,
        link,
        title,
        summary,
        content,
        authors,
        categories,
        published: entry.published.or(entry.updated),
        lang,
    }
}
