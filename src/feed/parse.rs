//! UTF-8 feed text to entries with feed-rs (RSS 0.9x/1.0/2.0, Atom, JSON Feed), then to
//! [`Article`]s.

use feed_rs::parser::Builder;

use super::normalize::normalize_entry;
use crate::article::{Article, clean_line};
use crate::utf8::floor_char_boundary;

/// A parsed feed: what newswatch keeps of it.
#[derive(Debug, Clone)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub language: Option<String>,
    /// `<ttl>` in minutes: how long the publisher asks readers to wait between polls.
    pub ttl_minutes: Option<u32>,
    pub articles: Vec<Article>,
}

/// Why a body is not a feed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("not a valid feed: {0}")]
pub struct ParseError(pub String);

/// Most entity declarations accepted in a feed's DTD.
const MAX_ENTITY_DECLARATIONS: usize = 64;

/// Rejects documents built to expand entities exponentially ("billion laughs"): an internal DTD
/// whose entities refer to other entities, or that declares very many. feed-rs would not
/// expand them, but such a feed is an attack or broken, and its text would be garbage.
fn reject_entity_expansion(text: &str) -> Result<(), ParseError> {
    let head_end = text
        .find("<rss")
        .into_iter()
        .chain(text.find("<feed"))
        .chain(text.find("<rdf:RDF"))
        .min();
    let head = &text[..head_end.unwrap_or_else(|| floor_char_boundary(text, 1 << 20))];
    let Some(doctype) = head.find("<!DOCTYPE") else {
        return Ok(());
    };
    let declarations: Vec<&str> = head[doctype..].split("<!ENTITY").skip(1).collect();
    if declarations.len() > MAX_ENTITY_DECLARATIONS {
        return Err(ParseError(format!(
            "the document declares {} entities (entity expansion attack?)",
            declarations.len()
        )));
    }
    for declaration in declarations {
        let body = declaration.split('>').next().unwrap_or_default();
        if body.contains('&') || body.contains('%') {
            return Err(ParseError(
                "the document's DTD defines entities in terms of other entities (\"billion laughs\" entity expansion)".to_string(),
            ));
        }
    }
    Ok(())
}

/// `<rss>` without a `version` attribute is common in the wild and is RSS 2.0 in practice;
/// feed-rs needs the attribute to recognise the root.
fn with_rss_version(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = text
        .match_indices("<rss")
        .map(|(i, _)| i)
        .find(|&i| text[i + 4..].starts_with(|c: char| c.is_whitespace() || c == '>'))
    else {
        return text.into();
    };
    let Some(end) = text[start..].find('>') else {
        return text.into();
    };
    if text[start..start + end].contains("version") {
        return text.into();
    }
    let mut patched = String::with_capacity(text.len() + 16);
    patched.push_str(&text[..start + 4]);
    patched.push_str(" version=\"2.0\"");
    patched.push_str(&text[start + 4..]);
    patched.into()
}

/// Parses feed text fetched from `feed_url` (used to resolve relative links and to scope
/// identities); `fallback_lang` applies when neither entry nor feed declares a language.
pub fn parse(
    text: &str,
    feed_url: &str,
    fallback_lang: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    let parser = Builder::new()
        .base_uri(Some(feed_url))
        // Our identity rules need to know when an entry has no id of its own.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build();
    reject_entity_expansion(text)?;
    let text = &*with_rss_version(text);
    // A backstop: a parser bug on hostile input must cost this feed, not the poll task.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parser.parse(text.as_bytes())
    }))
    .map_err(|_| ParseError("the feed parser failed on this document".to_string()))?;
    let feed = parsed.map_err(|e| ParseError(e.to_string()))?;
    let language = feed
        .language
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .or_else(|| fallback_lang.map(str::to_string));
    let base = url::Url::parse(feed_url).ok();
    let articles = feed
        .entries
        .into_iter()
        .map(|entry| normalize_entry(entry, base.as_ref(), language.as_deref()))
        .collect();
    Ok(ParsedFeed {
        title: feed.title.map(|t| clean_line(&t.content, 300)),
        language,
        ttl_minutes: feed.ttl,
        articles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test</title><language>ru</language><ttl>60</ttl>
<item><title>Лавров &amp; Пхеньян</title><link>/news/1?utm_source=rss</link>
<description>&lt;p&gt;Текст &lt;b&gt;статьи&lt;/b&gt;&lt;/p&gt;</description>
<pubDate>Thu, 19 Oct 2023 06:56:00 +0100</pubDate><guid isPermaLink="false">abc-1</guid>
<category>Политика</category></item>
<item><title>No guid</title><link>https://example.org/2#frag</link></item>
</channel></rss>"#;

    #[test]
    fn rss_items_become_articles() {
        let feed = parse(RSS, "https://example.org/rss.xml", None).unwrap();
        assert_eq!(feed.title.as_deref(), Some("Test"));
        assert_eq!(feed.ttl_minutes, Some(60));
        let a = &feed.articles[0];
        assert_eq!(a.title, "Лавров & Пхеньян");
        assert_eq!(a.summary, "Текст статьи");
        assert_eq!(
            a.link.as_deref(),
            Some("https://example.org/news/1?utm_source=rss")
        );
        assert_eq!(a.identity, "feed:guid:abc-1");
        assert_eq!(a.categories, ["Политика"]);
        assert_eq!(a.lang.as_deref(), Some("ru"));
        assert_eq!(
            a.published.map(|d| d.to_rfc3339()).as_deref(),
            Some("2023-10-19T05:56:00+00:00")
        );
        assert_eq!(feed.articles[1].identity, "url:https://example.org/2");
    }

    #[test]
    fn atom_and_json_feed_parse() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
<entry><id>urn:uuid:1</id><title type="html">&lt;b&gt;North Korea&lt;/b&gt; ships shells</title>
<updated>2024-01-02T03:04:05Z</updated><link rel="alternate" href="https://a.example/x"/>
<author><name>Jane</name></author><content type="html">&lt;p&gt;Body&lt;/p&gt;</content></entry></feed>"#;
        let feed = parse(atom, "https://a.example/atom", Some("en")).unwrap();
        let a = &feed.articles[0];
        assert_eq!(a.title, "North Korea ships shells");
        assert_eq!(a.content, "Body");
        assert_eq!(a.authors, ["Jane"]);
        assert_eq!(a.lang.as_deref(), Some("en"));

        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
            {"id":"7","url":"https://j.example/7","title":"T","content_html":"<i>x</i>","date_published":"2024-05-01T00:00:00Z"}]}"#;
        let feed = parse(json, "https://j.example/feed.json", None).unwrap();
        assert_eq!(feed.articles[0].content, "x");
        assert_eq!(feed.articles[0].identity, "feed:guid:7");
    }

    #[test]
    fn nested_entities_are_refused_and_simple_ones_allowed() {
        let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;">]>
<rss version="2.0"><channel><title>&lol2;</title></channel></rss>"#;
        let error = parse(laughs, "https://x.example/", None).unwrap_err();
        assert!(error.0.contains("billion laughs"), "{error}");
        let simple = r#"<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY copy "(c)">]>
<rss version="2.0"><channel><title>T</title><item><title>A</title><guid>1</guid></item></channel></rss>"#;
        assert_eq!(
            parse(simple, "https://x.example/", None)
                .unwrap()
                .articles
                .len(),
            1
        );
    }

    #[test]
    fn rss_without_a_version_is_read_as_rss_2() {
        let feed = parse("<rss><channel><title>T</title><item><title>A</title><guid>g</guid></item></channel></rss>", "https://x.example/", None).unwrap();
        assert_eq!(feed.articles.len(), 1);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [
            "",
            "not xml",
            "<html><body>hi</body></html>",
            "<rss version=\"2.0\"><channel><item>",
            "{\"items\": 5}",
        ] {
            let _ = parse(body, "https://x.example/", None);
        }
        assert!(parse("not xml", "https://x.example/", None).is_err());
    }

    #[test]
    fn a_large_json_feed_in_cyrillic_parses() {
        // No XML root element: the DTD check looks at the first MiB, whose end falls inside a
        // two-byte character here.
        let title = "Ж".repeat(600_000);
        let json = format!(
            r#"{{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [{{"id": "1", "title": "x{title}"}}]}}"#
        );
        assert!(!json.is_char_boundary(1 << 20));
        let feed = parse(&json, "https://x.example/", None).unwrap();
        assert_eq!(feed.articles.len(), 1);
    }
}
