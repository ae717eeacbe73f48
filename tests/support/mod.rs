//! Shared integration-test support: real servers on loopback, no mocks.
//!
//! * [`FeedServer`] (`http.rs`): HTTP/1.1 feed server with scripted routes
//!   (feeds with ETag/Last-Modified, statuses, redirects, gzip bomb, endless
//!   and trickling bodies, delays) and a request log.
//! * [`SmtpServer`] (`smtp.rs`): SMTP server (mailin-embedded) with optional
//!   STARTTLS (generated CA) and AUTH, failure injection, stop/resume.
//! * [`seed`]: the seed article's text.
//! * [`cli`]: the `newswatch` binary run in a temporary directory, every wait bounded.
//! * Helpers: [`wait_until`], [`wait_until_async`], [`reserve_port`],
//!   [`install_crypto_provider`], and the [`rss`] / [`atom`] feed builders.
//!
//! Use from a test file with `mod support;` and `use support::*;`.

// Each test binary uses a subset of this module.
#![allow(dead_code)]

pub mod cli;
pub mod database;
pub mod http;
pub mod seed;
pub mod smtp;

#[allow(unused_imports)]
pub use http::{FeedServer, RecordedRequest, Route};
#[allow(unused_imports)]
pub use smtp::{ReceivedMail, SmtpServer, SmtpServerBuilder, SmtpStage, Stall};

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Polls `condition` every 20 ms until it returns true (→ `true`) or
/// `timeout` has passed (→ `false`; the condition is checked once more at
/// the deadline). Blocking; in async tests use [`wait_until_async`].
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
    }
}

/// Async version of [`wait_until`] (yields to the runtime between polls).
pub async fn wait_until_async(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        tokio::time::sleep((deadline - now).min(Duration::from_millis(20))).await;
    }
}

/// Like [`wait_until_async`] with an async condition.
pub async fn wait_until_async_fn<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        tokio::time::sleep((deadline - now).min(Duration::from_millis(20))).await;
    }
}

/// A port on 127.0.0.1 that was free a moment ago: binds `127.0.0.1:0`,
/// reads the port and closes the listener. Use it to configure the daemon
/// with a server that is "down" and start the server later on that port
/// (`SmtpServer::builder().port(p)`, `FeedServer::start_on(p)`).
/// Connecting to it meanwhile gets "connection refused".
pub fn reserve_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("reserve_port: bind 127.0.0.1:0")
        .port()
}

/// Installs rustls' ring crypto provider as the process default (what the
/// daemon does), ignoring "already installed". Needed in test processes
/// before building reqwest/lettre clients or mailin's TLS config, because
/// both ring and aws-lc-rs are compiled into the test binaries.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One feed entry for [`rss`] / [`atom`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub title: String,
    pub link: String,
    /// RSS `<guid>` / Atom `<id>`.
    pub guid: String,
    /// RSS `<pubDate>` (RFC 2822) / Atom `<published>` and `<updated>`
    /// (RFC 3339). Omitted when `None`.
    pub published: Option<DateTime<Utc>>,
    /// Plain text; XML-escaped on output. Omitted when empty.
    pub description: String,
}

impl Item {
    /// An item with link and guid `https://news.example/{id}`, no date and
    /// no description.
    pub fn new(id: &str, title: &str) -> Item {
        let link = format!("https://news.example/{id}");
        Item {
            title: title.to_owned(),
            guid: link.clone(),
            link,
            published: None,
            description: String::new(),
        }
    }

    pub fn link(mut self, link: &str) -> Item {
        self.link = link.to_owned();
        self
    }

    pub fn guid(mut self, guid: &str) -> Item {
        self.guid = guid.to_owned();
        self
    }

    pub fn published(mut self, at: DateTime<Utc>) -> Item {
        self.published = Some(at);
        self
    }

    /// Published `ago` before now.
    pub fn published_ago(self, ago: Duration) -> Item {
        let ago = chrono::Duration::from_std(ago).expect("duration in range");
        self.published(Utc::now() - ago)
    }

    pub fn description(mut self, text: &str) -> Item {
        self.description = text.to_owned();
        self
    }
}

/// Escapes `& < > " '` for XML text and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An RSS 2.0 document titled "Test feed" with these items.
pub fn rss(items: &[Item]) -> String {
    rss_titled("Test feed", items)
}

/// An RSS 2.0 document with a given channel title.
pub fn rss_titled(title: &str, items: &[Item]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n",
    );
    s += &format!(
        "<title>{}</title>\n<link>https://news.example/</link>\n<description>test</description>\n",
        xml_escape(title)
    );
    for it in items {
        s += "<item>\n";
        s += &format!("  <title>{}</title>\n", xml_escape(&it.title));
        s += &format!("  <link>{}</link>\n", xml_escape(&it.link));
        s += &format!(
            "  <guid isPermaLink=\"false\">{}</guid>\n",
            xml_escape(&it.guid)
        );
        if let Some(at) = it.published {
            s += &format!("  <pubDate>{}</pubDate>\n", at.to_rfc2822());
        }
        if !it.description.is_empty() {
            s += &format!(
                "  <description>{}</description>\n",
                xml_escape(&it.description)
            );
        }
        s += "</item>\n";
    }
    s += "</channel>\n</rss>\n";
    s
}

/// An Atom 1.0 document titled "Test feed" with these entries.
pub fn atom(items: &[Item]) -> String {
    atom_titled("Test feed", items)
}

/// An Atom 1.0 document with a given feed title. The feed's `<updated>` is
/// the newest entry date (or 2024-01-01T00:00:00Z); an entry's description
/// becomes `<summary>`.
pub fn atom_titled(title: &str, items: &[Item]) -> String {
    let updated = items
        .iter()
        .filter_map(|i| i.published)
        .max()
        .map_or_else(|| "2024-01-01T00:00:00Z".to_owned(), rfc3339);
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n",
    );
    s += &format!(
        "<title>{}</title>\n<id>urn:newswatch:test-feed</id>\n<link href=\"https://news.example/\"/>\n<updated>{updated}</updated>\n",
        xml_escape(title)
    );
    for it in items {
        s += "<entry>\n";
        s += &format!("  <title>{}</title>\n", xml_escape(&it.title));
        s += &format!("  <link href=\"{}\"/>\n", xml_escape(&it.link));
        s += &format!("  <id>{}</id>\n", xml_escape(&it.guid));
        if let Some(at) = it.published {
            s += &format!(
                "  <published>{0}</published>\n  <updated>{0}</updated>\n",
                rfc3339(at)
            );
        }
        if !it.description.is_empty() {
            s += &format!("  <summary>{}</summary>\n", xml_escape(&it.description));
        }
        s += "</entry>\n";
    }
    s += "</feed>\n";
    s
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
