//! Canonical links: the same page reached through different tracking links is one page.

use url::Url;

/// Query parameters that only track the reader, never select content.
fn is_tracking_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("utm_")
        || matches!(
            name.as_str(),
            "fbclid"
                | "gclid"
                | "dclid"
                | "yclid"
                | "msclkid"
                | "mc_cid"
                | "mc_eid"
                | "_ga"
                | "_gl"
                | "igshid"
                | "cmpid"
                | "ocid"
                | "at_medium"
                | "at_campaign"
                | "rss"
                | "from_rss"
        )
}

/// The canonical form of an http(s) link: scheme and host lower-cased (the URL parser does
/// this), default port, fragment and tracking parameters removed. `None` for anything that is
/// not an absolute http(s) URL.
pub fn canonical_url(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| !is_tracking_parameter(name))
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.to_string())
}

/// The canonical link when it can identify one story: not a site's front page (some feeds
/// link every entry to it).
pub fn story_url(link: &str) -> Option<String> {
    let canonical = canonical_url(link)?;
    let url = Url::parse(&canonical).ok()?;
    (url.path() != "/" || url.query().is_some()).then_some(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_and_host_are_lower_cased_and_fragments_dropped() {
        assert_eq!(
            canonical_url("HTTPS://WWW.Example.ORG:443/News/A?id=7#comments").as_deref(),
            Some("https://www.example.org/News/A?id=7")
        );
    }

    #[test]
    fn tracking_parameters_are_removed_and_others_kept() {
        assert_eq!(
            canonical_url("https://e.org/a?utm_source=rss&id=1&UTM_MEDIUM=x&fbclid=z").as_deref(),
            Some("https://e.org/a?id=1")
        );
        assert_eq!(
            canonical_url("https://e.org/a?utm_source=rss").as_deref(),
            Some("https://e.org/a")
        );
    }

    #[test]
    fn front_pages_do_not_identify_a_story() {
        assert_eq!(story_url("https://example.org/?utm_source=rss"), None);
        assert_eq!(story_url("https://example.org"), None);
        assert_eq!(
            story_url("https://example.org/2024/story?utm_source=rss").as_deref(),
            Some("https://example.org/2024/story")
        );
    }

    #[test]
    fn only_absolute_http_links_have_a_canonical_form() {
        assert_eq!(canonical_url("javascript:alert(1)"), None);
        assert_eq!(canonical_url("/relative/path"), None);
        assert_eq!(canonical_url("mailto:a@b.c"), None);
        assert_eq!(canonical_url("tag:example.org,2024:1"), None);
    }
}
