//! What changed between two versions of the configuration, for a reload: which feeds, watches
//! and lists were added, removed or changed (the log says so), and which keys changed that
//! only a restart applies (named in a warning, so nobody waits for them to take effect).

use std::collections::BTreeMap;

use super::Config;

/// Names added, removed and changed in one part of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl Changes {
    fn between<T: PartialEq>(old: &BTreeMap<String, T>, new: &BTreeMap<String, T>) -> Changes {
        let mut changes = Changes::default();
        for (name, value) in new {
            match old.get(name) {
                None => changes.added.push(name.clone()),
                Some(before) if before != value => changes.changed.push(name.clone()),
                Some(_) => {}
            }
        }
        changes.removed = old
            .keys()
            .filter(|name| !new.contains_key(*name))
            .cloned()
            .collect();
        changes
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// `+2 −1 ~0`.
    pub fn counts(&self) -> String {
        format!(
            "+{} \u{2212}{} ~{}",
            self.added.len(),
            self.removed.len(),
            self.changed.len()
        )
    }
}

/// What a reload from `old` to `new` changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    pub feeds: Changes,
    pub watches: Changes,
    pub lists: Changes,
    /// Keys whose value differs from the one the process started with, which only a restart
    /// applies, e.g. `[database]`.
    pub needs_restart: Vec<&'static str>,
}

impl ConfigDiff {
    /// From the configuration in force, `old`, to `new`, in a process that started with
    /// `started` (the restart-only keys are still what it started with).
    pub fn between(old: &Config, new: &Config, started: &Config) -> ConfigDiff {
        ConfigDiff {
            feeds: Changes::between(&feeds_of(old), &feeds_of(new)),
            watches: Changes::between(&watches_of(old), &watches_of(new)),
            lists: Changes::between(&lists_of(old), &lists_of(new)),
            needs_restart: restart_only_changes(started, new),
        }
    }

    /// Whether anything a reload applies changed.
    pub fn is_empty(&self) -> bool {
        self.feeds.is_empty() && self.watches.is_empty() && self.lists.is_empty()
    }
}

/// A feed as polling sees it: its effective interval, not how it was written; a disabled
/// feed is none (disabling one reads as removed, enabling it as added).
fn feeds_of(
    config: &Config,
) -> BTreeMap<String, (String, std::time::Duration, Vec<String>, Option<String>)> {
    config
        .feeds()
        .filter(|f| f.enabled)
        .map(|f| {
            (
                f.name().to_string(),
                (
                    f.url().to_string(),
                    config.feed_interval(f),
                    f.tags.clone(),
                    f.lang().map(str::to_string),
                ),
            )
        })
        .collect()
}

fn watches_of(config: &Config) -> BTreeMap<String, super::WatchConfig> {
    config
        .watches()
        .map(|w| (w.name().to_string(), w.clone()))
        .collect()
}

fn lists_of(config: &Config) -> BTreeMap<String, Vec<String>> {
    config
        .lists
        .iter()
        .map(|(name, terms)| {
            let terms = terms
                .get_ref()
                .iter()
                .map(|t| t.get_ref().clone())
                .collect();
            (name.clone(), terms)
        })
        .collect()
}

/// The keys a running daemon reads once, at start: the database and the pool, the HTTP
/// endpoint's socket, the log's format, the HTTP client and the poll queue's limits, and the
/// mail transport (its connection pool and the alert leases depend on it).
const RESTART_ONLY: [(&str, Option<&str>, &str); 9] = [
    ("database", None, "[database]"),
    ("http", Some("listen"), "[http] listen"),
    ("log", None, "[log]"),
    ("email", None, "[email]"),
    ("polling", Some("concurrency"), "[polling] concurrency"),
    ("polling", Some("per_host"), "[polling] per_host"),
    ("polling", Some("timeout"), "[polling] timeout"),
    ("polling", Some("max_body"), "[polling] max_body"),
    ("polling", Some("user_agent"), "[polling] user_agent"),
];

/// The restart-only keys whose text differs between the two files.
fn restart_only_changes(started: &Config, new: &Config) -> Vec<&'static str> {
    let table = |config: &Config| {
        config
            .source
            .text()
            .parse::<toml::Table>()
            .unwrap_or_default()
    };
    let (old, new) = (table(started), table(new));
    let value = |table: &toml::Table, section: &str, key: Option<&str>| {
        let section = table.get(section).cloned();
        match key {
            None => section,
            Some(key) => section.and_then(|s| s.get(key).cloned()),
        }
    };
    RESTART_ONLY
        .iter()
        .filter(|(section, key, _)| value(&old, section, *key) != value(&new, section, *key))
        .map(|(_, _, name)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::ConfigDiff;
    use crate::config::Config;

    fn parsed(feed_keys: &str) -> Config {
        let text = format!(
            "[[feeds]]\nname = \"One\"\nurl = \"https://example.org/one\"\n{feed_keys}\n\n\
             [[watch]]\nname = \"W\"\nquery = \"walrus\"\nto = [\"a@example.org\"]\n"
        );
        Config::parse(Path::new("config.toml"), &text).unwrap()
    }

    #[test]
    fn disabling_a_feed_reads_as_removing_it_and_enabling_it_as_adding_it() {
        let on = parsed("");
        let off = parsed("enabled = false");
        let disabled = ConfigDiff::between(&on, &off, &on);
        assert_eq!(disabled.feeds.removed, ["One"]);
        assert!(!disabled.is_empty(), "not 'nothing changed'");
        let enabled = ConfigDiff::between(&off, &on, &on);
        assert_eq!(enabled.feeds.added, ["One"]);
        assert!(ConfigDiff::between(&on, &parsed("enabled = true"), &on).is_empty());
    }
}
