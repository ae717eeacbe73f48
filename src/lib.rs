//! newswatch: a self-hosted news-monitoring daemon.
//!
//! One pipeline, one direction (see DESIGN.md): configuration → scheduler → fetch → decode →
//! parse → normalise → ingest (store + match + queue alerts in one transaction) → notify.

pub mod alert;
pub mod article;
pub mod config;
pub mod daemon;
pub mod error_text;
pub mod feed;
pub mod ingest;
pub mod log_text;
pub mod metrics;
pub mod ops;
pub mod retention;
pub mod rules;
pub mod store;
pub mod story;
pub mod systemd;
pub mod utf8;
pub mod wording;
