//! Alerts out of the outbox: rendering the mail, sending it, and deciding when to try again.

pub mod batch;
pub mod notifier;
pub mod outlets;
pub mod render;
mod smtp;
pub mod transport;

pub use notifier::{DeliveryReport, Notifier, RetryPolicy, WatchBatching};
pub use transport::{DeliveryError, Mailer, RecipientOutcome, TransportSetupError};

use sha2::{Digest, Sha256};

/// The first `bytes` bytes of the SHA-256 of `data`, in hex.
pub fn short_hash(data: &[u8], bytes: usize) -> String {
    Sha256::digest(data)[..bytes.min(32)]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The Message-ID of the alert for (watch, article): the same every time, so a mail client
/// recognises a duplicate should one ever be sent.
pub fn article_message_id(watch: &str, article_identity: &str, domain: &str) -> String {
    let mut key = Vec::with_capacity(watch.len() + article_identity.len() + 1);
    key.extend_from_slice(watch.as_bytes());
    key.push(0);
    key.extend_from_slice(article_identity.as_bytes());
    format!("<{}.article@{domain}>", short_hash(&key, 16))
}

/// The Message-ID of a batch alert (digest or overflow summary) for one period.
pub fn batch_message_id(watch: &str, kind: &str, period: i64, domain: &str) -> String {
    let key = format!("{watch}\0{kind}\0{period}");
    format!("<{}.{kind}@{domain}>", short_hash(key.as_bytes(), 16))
}

/// The domain part for generated Message-IDs, from the `from` address.
pub fn message_id_domain(from: &lettre::message::Mailbox) -> String {
    let domain = from.email.domain();
    if domain.is_empty() || !domain.is_ascii() {
        "newswatch.localhost".to_string()
    } else {
        domain.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_deterministic_per_watch_and_article() {
        let a = article_message_id("W", "url:https://e.org/1", "example.org");
        assert_eq!(
            a,
            article_message_id("W", "url:https://e.org/1", "example.org")
        );
        assert_ne!(
            a,
            article_message_id("W2", "url:https://e.org/1", "example.org")
        );
        assert_ne!(
            a,
            article_message_id("W", "url:https://e.org/2", "example.org")
        );
        assert!(a.starts_with('<') && a.ends_with("@example.org>"));
    }
}
