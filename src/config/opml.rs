//! OPML subscription lists (what feed readers export) to `[[feeds]]` entries.

use quick_xml::Reader;
use quick_xml::events::Event;

/// One subscription found in an OPML file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpmlFeed {
    pub name: String,
    pub url: String,
    /// The titles of the folders (outer outlines) it sits in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Why an OPML file could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("not a readable OPML file: {0}")]
pub struct OpmlError(pub String);

/// Every outline with an `xmlUrl`, in document order.
pub fn parse_opml(text: &str) -> Result<Vec<OpmlFeed>, OpmlError> {
    let mut reader = Reader::from_str(text);
    let mut feeds = Vec::new();
    // Open outlines without xmlUrl: folder titles, used as tags.
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut saw_opml = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| OpmlError(format!("at byte {}: {e}", reader.buffer_position())))?;
        match event {
            Event::Start(element) | Event::Empty(element)
                if element.local_name().as_ref() == "opml" =>
            {
                saw_opml = true;
            }
            Event::Start(ref element) | Event::Empty(ref element)
                if element.local_name().as_ref() == "outline" =>
            {
                let mut url = None;
                let mut title = None;
                let mut text_attr = None;
                for attribute in element.attributes().flatten() {
                    let value = attribute
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.trim().to_string())
                        .unwrap_or_default();
                    match attribute.key.local_name().as_ref() {
                        "xmlUrl" | "xmlurl" => url = Some(value),
                        "title" => title = Some(value),
                        "text" => text_attr = Some(value),
                        _ => {}
                    }
                }
                let label = title
                    .filter(|t| !t.is_empty())
                    .or(text_attr.filter(|t| !t.is_empty()));
                match url.filter(|u| !u.is_empty()) {
                    Some(url) => {
                        let name = label.unwrap_or_else(|| url.clone());
                        let tags = folders.iter().flatten().cloned().collect();
                        feeds.push(OpmlFeed { name, url, tags });
                        if matches!(event, Event::Start(_)) {
                            folders.push(None);
                        }
                    }
                    None => {
                        if matches!(event, Event::Start(_)) {
                            folders.push(label);
                        }
                    }
                }
            }
            Event::End(element) if element.local_name().as_ref() == "outline" => {
                folders.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_opml {
        return Err(OpmlError("no <opml> element".to_string()));
    }
    Ok(feeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_with_xml_urls_become_feeds_tagged_by_folder() {
        let opml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>Subs</title></head><body>
  <outline text="Korea">
    <outline type="rss" text="NK News" xmlUrl="https://www.nknews.org/feed/"/>
    <outline type="rss" title="38 North" text="x" xmlUrl="https://www.38north.org/feed/"></outline>
  </outline>
  <outline type="rss" text="Tom &amp; Jerry" xmlUrl="https://example.org/rss?a=1&amp;b=2"/>
</body></opml>"#;
        let feeds = parse_opml(opml).unwrap();
        assert_eq!(feeds.len(), 3);
        assert_eq!(feeds[0].name, "NK News");
        assert_eq!(feeds[0].tags, ["Korea"]);
        assert_eq!(feeds[1].name, "38 North");
        assert_eq!(feeds[2].name, "Tom & Jerry");
        assert_eq!(feeds[2].url, "https://example.org/rss?a=1&b=2");
        assert!(feeds[2].tags.is_empty());
    }

    #[test]
    fn other_xml_is_rejected() {
        assert!(parse_opml("<rss></rss>").is_err());
        assert!(parse_opml("not xml <<<").is_err());
    }
}
