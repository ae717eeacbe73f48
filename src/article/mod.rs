//! The `Article`: one news item as newswatch understands it, independent of the feed format
//! it arrived in: a stable identity, a canonical link, plain text and dates.

mod canonical;
pub mod standalone;
mod text;

pub use canonical::{canonical_url, story_url};
pub use text::{clean_line, html_to_text, truncate_chars};

use chrono::{DateTime, Utc};

use crate::rules::ArticleView;

/// Bounds on the text kept per article, in characters: feeds are untrusted input.
pub const MAX_TITLE_CHARS: usize = 1_000;
pub const MAX_SUMMARY_CHARS: usize = 20_000;
pub const MAX_CONTENT_CHARS: usize = 100_000;
pub const MAX_LIST_ITEMS: usize = 50;

/// One news item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// Stable across polls and feeds (see [`identity`]); one that is only unique within its
    /// feed is completed by [`Article::scope_to_feed`] before it is stored.
    pub identity: String,
    /// The link as published (absolute http(s) URL), for people to click.
    pub link: Option<String>,
    pub title: String,
    /// Plain text.
    pub summary: String,
    /// Plain text.
    pub content: String,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    /// When it was published (or last updated, when that is all the feed says).
    pub published: Option<DateTime<Utc>>,
    /// Declared language of the entry or its feed.
    pub lang: Option<String>,
}

impl Article {
    /// Completes an identity that is only unique within its feed with the feed's id.
    pub fn scope_to_feed(&mut self, feed_id: i64) {
        if let Some(local) = self.identity.strip_prefix(IN_THIS_FEED) {
            self.identity = format!("feed{feed_id}:{local}");
        }
    }

    /// The article as the matcher sees it; `feeds` are the names and tags of its feed(s).
    pub fn view<'a>(&'a self, feeds: &'a [String]) -> ArticleView<'a> {
        ArticleView {
            title: &self.title,
            summary: &self.summary,
            content: &self.content,
            authors: &self.authors,
            categories: &self.categories,
            link: self.link.as_deref(),
            feeds,
            lang: self.lang.as_deref(),
        }
    }
}

/// Marks an identity that is only unique within its feed, until [`Article::scope_to_feed`]
/// names the feed (by its id in the database, which stays the same when the feed's URL moves).
const IN_THIS_FEED: &str = "feed:";

/// The identity of an entry.
///
/// A GUID that is a URL is canonicalised like a link, so the same story reached with different
/// tracking parameters is one article. A GUID made to be unique everywhere (`urn:…`, `tag:…`,
/// a UUID) is taken as it is. Any other GUID (`12345`) is only unique within its feed: two blogs
/// on one host may both number their posts from 1 (the same story in two feeds of one site is
/// still one article when their links agree: the store also matches canonical links). Without
/// a GUID the canonical link is the identity; without either, a hash of the title and text,
/// within the feed.
pub fn identity(guid: Option<&str>, link: Option<&str>, title: &str, text: &str) -> String {
    let guid = guid.map(str::trim).filter(|g| !g.is_empty());
    if let Some(guid) = guid {
        if let Some(url) = canonical_url(guid) {
            return format!("url:{url}");
        }
        let guid = truncate_chars(guid, 500);
        return if is_unique_everywhere(guid) {
            format!("guid:{guid}")
        } else {
            format!("{IN_THIS_FEED}guid:{guid}")
        };
    }
    if let Some(url) = link.and_then(canonical_url) {
        return format!("url:{url}");
    }
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(title.as_bytes());
    hasher.update([0]);
    hasher.update(text.as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{IN_THIS_FEED}hash:{hex}")
}

/// URNs, tag URIs (RFC 4151) and UUIDs are minted to be unique across publishers.
fn is_unique_everywhere(guid: &str) -> bool {
    let lower = guid.to_ascii_lowercase();
    let is_uuid = guid.len() == 36
        && guid.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    lower.starts_with("urn:") || lower.starts_with("tag:") || is_uuid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_guids_are_canonical_links() {
        let a = identity(
            Some("https://Example.org/a?utm_source=x#top"),
            None,
            "t",
            "",
        );
        let b = identity(None, Some("https://example.org/a"), "other", "");
        assert_eq!(a, "url:https://example.org/a");
        assert_eq!(a, b);
    }

    #[test]
    fn opaque_guids_are_scoped_by_feed_and_minted_ones_are_global() {
        let in_feed = |guid: &str, feed_id: i64| {
            let mut article = Article {
                identity: identity(Some(guid), Some("https://a.example/x"), "", ""),
                link: None,
                title: String::new(),
                summary: String::new(),
                content: String::new(),
                authors: Vec::new(),
                categories: Vec::new(),
                published: None,
                lang: None,
            };
            article.scope_to_feed(feed_id);
            article.identity
        };
        assert_eq!(in_feed("1", 7), in_feed("1", 7));
        assert_eq!(in_feed("1", 7), "feed7:guid:1");
        assert_ne!(
            in_feed("1", 7),
            in_feed("1", 8),
            "two blogs on one host numbering their posts from 1"
        );
        for minted in [
            "urn:newsml:example:2023:1",
            "tag:example.org,2023:7",
            "5f0c6a2e-8f1d-4c3b-9a7e-0123456789ab",
        ] {
            assert_eq!(in_feed(minted, 7), in_feed(minted, 8), "{minted}");
            assert_eq!(in_feed(minted, 7), format!("guid:{minted}"));
        }
    }

    #[test]
    fn without_guid_or_link_the_content_decides() {
        let a = identity(None, None, "Title", "Text");
        assert_eq!(a, identity(None, None, "Title", "Text"));
        assert_ne!(a, identity(None, None, "Title 2", "Text"));
        assert!(a.starts_with("feed:hash:"), "{a}");
    }
}
