//! `newswatch import-opml`: subscriptions exported by a feed reader, as `[[feeds]]` tables.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use quick_xml::Reader;
use quick_xml::events::Event;
use serde::Serialize;

use newswatch::article::canonical_url;
use newswatch::config::Config;
use newswatch::config::opml::{OpmlFeed, parse_opml};
use newswatch::log_text::untrusted;
use newswatch::wording::plural;

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

/// Why an entry of the OPML file is not imported.
#[derive(Debug, PartialEq, Eq)]
enum Skip {
    /// Its URL is configured already, under this feed name.
    Configured(String),
    /// An earlier entry of the file has the same URL (this is its name).
    Duplicate(String),
    /// Not an http(s) URL.
    NotHttp,
    /// An outline with no `xmlUrl`: no feed to poll (a bookmark, an empty folder).
    NoXmlUrl,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Configured(name) => write!(f, "already configured as \"{}\"", untrusted(name)),
            Skip::Duplicate(name) => write!(f, "the same URL as \"{}\" above", untrusted(name)),
            Skip::NotHttp => f.write_str("not an http(s) URL"),
            Skip::NoXmlUrl => f.write_str("no xmlUrl"),
        }
    }
}

/// One entry not imported: its name, URL (none without `xmlUrl`) and why.
struct Skipped {
    name: String,
    url: Option<String>,
    why: Skip,
}

/// The OPML feeds not configured yet, with names made unique, and the others with why.
fn new_feeds(config: &Config, found: Vec<OpmlFeed>) -> (Vec<OpmlFeed>, Vec<Skipped>) {
    let configured: HashMap<String, &str> = config
        .feeds()
        .map(|f| (same_feed_key(f.url()), f.name()))
        .collect();
    let mut in_file: HashMap<String, String> = HashMap::new();
    let mut names: HashSet<String> = config.feeds().map(|f| f.name().to_string()).collect();
    let mut fresh = Vec::new();
    let mut skipped = Vec::new();
    for mut feed in found {
        let valid =
            url::Url::parse(&feed.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        let key = same_feed_key(&feed.url);
        let why = if !valid {
            Some(Skip::NotHttp)
        } else if let Some(name) = configured.get(&key) {
            Some(Skip::Configured((*name).to_string()))
        } else {
            in_file.get(&key).map(|name| Skip::Duplicate(name.clone()))
        };
        if let Some(why) = why {
            skipped.push(Skipped {
                name: feed.name,
                url: Some(feed.url),
                why,
            });
            continue;
        }
        in_file.insert(key, feed.name.clone());
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

/// The labels of the outlines that have no `xmlUrl` and no children: entries a reader
/// exported that are no feed (a folder with children is a folder: its title is a tag). A
/// file `parse_opml` read is well-formed; a read error here ends the list.
fn outlines_without_feed(text: &str) -> Vec<String> {
    let mut reader = Reader::from_str(text);
    let mut labels = Vec::new();
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Empty(element) if element.local_name().as_ref() == "outline" => {
                let mut url = false;
                let mut label = None;
                for attribute in element.attributes().flatten() {
                    let value = attribute
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.trim().to_string())
                        .unwrap_or_default();
                    match attribute.key.local_name().as_ref() {
                        "xmlUrl" | "xmlurl" => url = !value.is_empty(),
                        "title" if !value.is_empty() => label = Some(value),
                        "text" if !value.is_empty() && label.is_none() => label = Some(value),
                        _ => {}
                    }
                }
                if !url {
                    labels.push(label.unwrap_or_else(|| "(untitled outline)".to_string()));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    labels
}

/// The TOML comment printed instead of tables when nothing is new.
fn nothing_new(file: &Path, found: usize, skipped: &[Skipped]) -> String {
    let file = untrusted(file.display());
    if found == 0 {
        format!("# nothing to import: {file} lists no feed (no outline with an xmlUrl)")
    } else if skipped.iter().all(|s| matches!(s.why, Skip::Configured(_))) {
        format!(
            "# nothing to import: all {} in {file} {} configured already",
            plural(found, "feed", "feeds"),
            if found == 1 { "is" } else { "are" }
        )
    } else {
        format!(
            "# nothing to import: none of the {} in {file} is new (each skipped entry is \
             listed on standard error, with why)",
            plural(found, "feed", "feeds")
        )
    }
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
    let count = found.len();
    let (fresh, mut skipped) = new_feeds(&config, found);
    skipped.extend(
        outlines_without_feed(&text)
            .into_iter()
            .map(|name| Skipped {
                name,
                url: None,
                why: Skip::NoXmlUrl,
            }),
    );
    eprintln!("{} new feeds, {} skipped", fresh.len(), skipped.len());
    for skip in &skipped {
        match &skip.url {
            Some(url) => eprintln!(
                "skipped \"{}\" ({}): {}",
                untrusted(&skip.name),
                untrusted(url),
                skip.why
            ),
            None => eprintln!("skipped \"{}\": {}", untrusted(&skip.name), skip.why),
        }
    }
    if fresh.is_empty() {
        let comment = nothing_new(&args.file, count, &skipped);
        if args.write {
            eprintln!(
                "{}; {} is unchanged",
                comment.trim_start_matches("# "),
                config_path.display()
            );
        } else {
            say!("{comment}");
        }
        return ExitCode::SUCCESS;
    }
    let tables = match toml::to_string(&FeedTables { feeds: &fresh }) {
        Ok(tables) => tables,
        Err(e) => {
            eprintln!("error: cannot write TOML: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if !args.write {
        say!("{}", tables.trim_end());
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
