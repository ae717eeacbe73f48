//! `newswatch import-opml`: subscriptions exported by a feed reader, as `[[feeds]]` tables.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use newswatch::article::canonical_url;
use newswatch::config::Config;
use newswatch::config::opml::{OpmlFeed, parse_opml};
use newswatch::log_text::untrusted;

use super::{EXIT_CONFIG, EXIT_FAILURE, load_config};

#[derive(Debug, Args)]
pub struct ImportOpmlArgs {
    /// The OPML file.
    pub file: PathBuf,
    /// Append the new feeds to the configuration file (a backup is kept next to it).
    #[arg(long)]
    pub write: bool,
}

#[derive(Serialize)]
struct FeedTables<'a> {
    feeds: &'a [OpmlFeed],
}

fn same_feed_key(url: &str) -> String {
    canonical_url(url).unwrap_or_else(|| url.trim().to_string())
}

/// The OPML feeds not configured yet, with names made unique.
fn new_feeds(config: &Config, found: Vec<OpmlFeed>) -> (Vec<OpmlFeed>, usize) {
    let mut known_urls: HashSet<String> = config.feeds().map(|f| same_feed_key(f.url())).collect();
    let mut names: HashSet<String> = config.feeds().map(|f| f.name().to_string()).collect();
    let mut fresh = Vec::new();
    let mut skipped = 0;
    for mut feed in found {
        let valid =
            url::Url::parse(&feed.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !valid || !known_urls.insert(same_feed_key(&feed.url)) {
            skipped += 1;
            continue;
        }
        let base = feed.name.clone();
        let mut n = 2;
        while names.contains(&feed.name) {
            feed.name = format!("{base} ({n})");
            n += 1;
        }
        names.insert(feed.name.clone());
        fresh.push(feed);
    }
    (fresh, skipped)
}

pub fn run(config_path: &Path, args: &ImportOpmlArgs) -> ExitCode {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let found = match parse_opml(&text) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("error: {}: {}", args.file.display(), untrusted(&e));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let (fresh, skipped) = new_feeds(&config, found);
    let tables = match toml::to_string(&FeedTables { feeds: &fresh }) {
        Ok(tables) => tables,
        Err(e) => {
            eprintln!("error: cannot write TOML: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    eprintln!(
        "{} new feeds, {skipped} skipped (already configured, duplicated or not http(s))",
        fresh.len()
    );
    if !args.write {
        say!("{}", tables.trim_end());
        return ExitCode::SUCCESS;
    }
    if fresh.is_empty() {
        return ExitCode::SUCCESS;
    }
    write(config_path, &args.file, &tables)
}

/// Appends the tables to the configuration, keeping a backup, and checks the result; a result
/// that does not load is rolled back.
fn write(config_path: &Path, opml: &Path, tables: &str) -> ExitCode {
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let backup = config_path.with_extension(format!("toml.{stamp}.bak"));
    if let Err(e) = std::fs::copy(config_path, &backup) {
        eprintln!(
            "error: cannot back up {} to {}: {e}",
            config_path.display(),
            backup.display()
        );
        return ExitCode::from(EXIT_FAILURE);
    }
    let mut text = match std::fs::read_to_string(config_path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "\n# Imported from {} on {}\n{tables}",
        opml.display(),
        chrono::Utc::now().format("%Y-%m-%d")
    ));
    if let Err(e) = std::fs::write(config_path, &text) {
        eprintln!("error: cannot write {}: {e}", config_path.display());
        return ExitCode::from(EXIT_FAILURE);
    }
    if let Err(errors) = Config::load(config_path) {
        let _ = std::fs::copy(&backup, config_path);
        eprintln!(
            "{errors}\nerror: the imported feeds made the configuration invalid; it was restored"
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    eprintln!(
        "appended to {} (backup: {})",
        config_path.display(),
        backup.display()
    );
    ExitCode::SUCCESS
}
