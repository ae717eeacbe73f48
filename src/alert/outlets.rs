//! "Also reported by": the other outlets of a story, listed under it in an alert or a digest
//! instead of each being an alert of its own.

use crate::article::clean_line;

/// Outlets listed by name before the rest are counted.
const LISTED_OUTLETS: usize = 10;

/// Another outlet's report of the story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlet {
    /// The feed it came from.
    pub feed: Option<String>,
    pub title: String,
    pub link: Option<String>,
}

impl Outlet {
    fn name(&self) -> String {
        match &self.feed {
            Some(feed) => clean_line(feed, 100),
            None => clean_line(&self.title, 100),
        }
    }

    fn http_link(&self) -> Option<&str> {
        self.link
            .as_deref()
            .filter(|l| url::Url::parse(l).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
    }
}

fn more(outlets: &[Outlet]) -> String {
    match outlets.len().saturating_sub(LISTED_OUTLETS) {
        0 => String::new(),
        n => format!(" and {n} more"),
    }
}

/// The plain-text lines, empty when there are none.
pub fn plain(outlets: &[Outlet]) -> String {
    if outlets.is_empty() {
        return String::new();
    }
    let mut text = String::from("Also reported by:\n");
    for outlet in outlets.iter().take(LISTED_OUTLETS) {
        text.push_str(&format!(
            "  - {}: {}",
            outlet.name(),
            clean_line(&outlet.title, 200)
        ));
        if let Some(link) = outlet.http_link() {
            text.push_str(&format!(" <{link}>"));
        }
        text.push('\n');
    }
    let more = more(outlets);
    if !more.is_empty() {
        text.push_str(&format!("  …{more}\n"));
    }
    text
}

/// The HTML paragraph, empty when there are none.
pub fn html(outlets: &[Outlet]) -> String {
    if outlets.is_empty() {
        return String::new();
    }
    let names: Vec<String> = outlets
        .iter()
        .take(LISTED_OUTLETS)
        .map(|outlet| {
            let name = html_escape::encode_text(&outlet.name()).into_owned();
            let title =
                html_escape::encode_double_quoted_attribute(&clean_line(&outlet.title, 200))
                    .into_owned();
            match outlet.http_link() {
                Some(link) => format!(
                    "<a href=\"{}\" title=\"{title}\">{name}</a>",
                    html_escape::encode_double_quoted_attribute(link)
                ),
                None => format!("<span title=\"{title}\">{name}</span>"),
            }
        })
        .collect();
    format!(
        "<p style=\"color: #555\">Also reported by: {}{}</p>\n",
        names.join(", "),
        more(outlets)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outlet(feed: &str, title: &str, link: &str) -> Outlet {
        Outlet {
            feed: Some(feed.into()),
            title: title.into(),
            link: Some(link.into()),
        }
    }

    #[test]
    fn outlets_are_named_with_their_links_and_escaped() {
        let outlets = [
            outlet("TASS", "Ким прибыл", "https://tass.example/1"),
            outlet("<b>Evil</b>", "\"quoted\"", "javascript:alert(1)"),
        ];
        let text = plain(&outlets);
        assert!(
            text.starts_with("Also reported by:\n  - TASS: Ким прибыл <https://tass.example/1>\n")
        );
        assert!(!text.contains("javascript:"));
        let html = html(&outlets);
        assert!(html.contains("<a href=\"https://tass.example/1\" title=\"Ким прибыл\">TASS</a>"));
        assert!(html.contains("&lt;b&gt;Evil&lt;/b&gt;"));
        assert!(!html.contains("javascript:"));
    }

    #[test]
    fn beyond_ten_outlets_the_rest_are_counted_and_none_says_nothing() {
        let outlets: Vec<Outlet> = (0..13)
            .map(|i| outlet(&format!("Feed {i}"), "T", "https://x.example/"))
            .collect();
        assert!(plain(&outlets).ends_with("  … and 3 more\n"));
        assert!(html(&outlets).contains("Feed 9</a> and 3 more</p>"));
        assert_eq!(plain(&[]), "");
        assert_eq!(html(&[]), "");
    }
}
