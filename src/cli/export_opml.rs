//! `newswatch export-opml`: the configured feeds as an OPML 2.0 subscription list, for a feed
//! reader or another newswatch (`import-opml` of it into this configuration finds nothing new).
//!
//! Every configured feed is one `<outline type="rss">` (disabled ones too: they are
//! subscriptions kept), with `text` and `title` its name, `xmlUrl` its URL, `language` its
//! `lang`, and its tags as the `category` attribute, OPML's comma-separated list of
//! slash-delimited categories (`category="/korea,/security"`); a comma or slash inside a tag
//! is written as a space there, as the list's syntax has no escape for them. Text is escaped
//! for XML attributes; characters XML 1.0 cannot carry (control characters) become U+FFFD.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use newswatch::config::{Config, FeedConfig};

use super::load_config;

pub fn run(config_path: &Path) -> ExitCode {
    match load_config(config_path) {
        Ok(config) => {
            say!("{}", document(&config).trim_end());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The whole OPML document.
fn document(config: &Config) -> String {
    let mut text = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head>\n    \
         <title>newswatch feeds</title>\n",
    );
    let _ = writeln!(
        text,
        "    <dateCreated>{}</dateCreated>\n  </head>\n  <body>",
        chrono::Utc::now().to_rfc2822()
    );
    for feed in config.feeds() {
        text.push_str("    ");
        text.push_str(&outline(feed));
        text.push('\n');
    }
    text.push_str("  </body>\n</opml>\n");
    text
}

/// One feed's `<outline/>`.
fn outline(feed: &FeedConfig) -> String {
    let name = attribute(feed.name());
    let mut text = format!(
        "<outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{}\"",
        attribute(feed.url())
    );
    if let Some(lang) = feed.lang() {
        let _ = write!(text, " language=\"{}\"", attribute(lang));
    }
    if !feed.tags.is_empty() {
        let categories: Vec<String> = feed
            .tags
            .iter()
            .map(|tag| format!("/{}", tag.replace([',', '/'], " ")))
            .collect();
        let _ = write!(text, " category=\"{}\"", attribute(&categories.join(",")));
    }
    text.push_str("/>");
    text
}

/// `value` escaped for a double-quoted XML attribute: markup characters as entities, tab and
/// line breaks as character references (an attribute's value normalisation would turn them
/// into spaces), and what XML 1.0 forbids (other control characters) as U+FFFD.
fn attribute(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' => escaped.push_str("&#9;"),
            '\n' => escaped.push_str("&#10;"),
            '\r' => escaped.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                escaped.push('\u{FFFD}')
            }
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::attribute;

    #[test]
    fn attributes_escape_markup_line_breaks_and_what_xml_cannot_carry() {
        assert_eq!(
            attribute("Tom & Jerry <\"news\"> 'n'"),
            "Tom &amp; Jerry &lt;&quot;news&quot;&gt; &apos;n&apos;"
        );
        assert_eq!(attribute("a\nb\tc\rd"), "a&#10;b&#9;c&#13;d");
        assert_eq!(attribute("bell\u{7}"), "bell\u{FFFD}");
        assert_eq!(attribute("Север"), "Север");
    }
}
