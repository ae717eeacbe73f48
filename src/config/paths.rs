//! Relative paths in the configuration resolve against the directory of the configuration
//! file, not the working directory of the process.
//!
//! `newswatch --config /etc/newswatch/config.toml feeds`, run from a home directory, must
//! look at the database the daemon writes, not create an empty one in the home directory.
//! The paths are resolved once, when the file is loaded, so that every command and every
//! part of the program sees the same absolute paths.

use std::path::{Path, PathBuf};

use super::{Config, ConfigError, ConfigErrors, DatabaseConfig};

impl Config {
    /// Rewrites every relative path of the configuration (the SQLite file of `[database] url`,
    /// `[email] dir`, `[email.smtp] password_file` and `ca_file`) as a path inside the
    /// directory of `config_path`, the file this configuration was read from.
    pub(super) fn resolve_paths(mut self, config_path: &Path) -> Result<Config, ConfigErrors> {
        let base = config_dir(config_path);
        if let Some(url) = sqlite_url_in(&self.database.url, &base) {
            self.database.url = url.ok_or_else(|| {
                ConfigErrors::single(ConfigError::key(
                    &self.source,
                    &["database", "url"],
                    format!(
                        "the relative SQLite path of [database] url cannot be resolved against \
                         the directory of the configuration file, {}, as that directory's name \
                         is not valid UTF-8",
                        base.display()
                    ),
                    "write an absolute path: url = \"sqlite:///var/lib/newswatch/newswatch.db\"",
                ))
            })?;
        }
        resolve_file(&mut self.email.dir, &base);
        if let Some(smtp) = &mut self.email.smtp {
            let smtp = smtp.get_mut();
            if let Some(path) = &mut smtp.password_file {
                resolve_file(path, &base);
            }
            if let Some(path) = &mut smtp.ca_file {
                resolve_file(path, &base);
            }
        }
        Ok(self)
    }
}

impl DatabaseConfig {
    /// The file of a SQLite database on disk (`None` for PostgreSQL and in-memory SQLite), as
    /// SQLite will open it (percent-escapes decoded). Read-only commands look whether it
    /// exists before opening the database, which would create it.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let (database, query) = sqlite_parts(&self.url)?;
        if is_in_memory(database, query) {
            return None;
        }
        let options =
            <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&self.url).ok()?;
        Some(options.get_filename().to_path_buf())
    }
}

/// The directory the configuration file is in, absolute when the working directory can be
/// read (so that messages name the full path), else as given.
fn config_dir(config_path: &Path) -> PathBuf {
    let path = std::path::absolute(config_path).unwrap_or_else(|_| config_path.to_path_buf());
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A relative `path` becomes `base/path`; an absolute one is kept.
fn resolve_file(path: &mut PathBuf, base: &Path) {
    if path.is_relative() {
        *path = base.join(&*path);
    }
}

/// The database part and the query of a `sqlite:` URL (`sqlite://a.db?mode=ro` →
/// `("a.db", Some("mode=ro"))`), split as sqlx splits it; `None` for other URLs.
fn sqlite_parts(url: &str) -> Option<(&str, Option<&str>)> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(match rest.split_once('?') {
        Some((database, query)) => (database, Some(query)),
        None => (rest, None),
    })
}

/// Whether a SQLite URL's parts name an in-memory database (no file at all).
fn is_in_memory(database: &str, query: Option<&str>) -> bool {
    database.is_empty()
        || database == ":memory:"
        || query.is_some_and(|q| q.split('&').any(|pair| pair == "mode=memory"))
}

/// `url` with its relative SQLite file resolved inside `base`: `None` when there is nothing
/// to rewrite (PostgreSQL, in-memory, an absolute path), `Some(None)` when `base` cannot be
/// written into a URL (not UTF-8).
fn sqlite_url_in(url: &str, base: &Path) -> Option<Option<String>> {
    let (database, query) = sqlite_parts(url)?;
    if is_in_memory(database, query) || Path::new(database).is_absolute() {
        return None;
    }
    let Some(base) = base.to_str() else {
        return Some(None);
    };
    // sqlx percent-decodes the database part: the directory's own `%` and `?` are escaped.
    let base = base.replace('%', "%25").replace('?', "%3F");
    let query = query.map_or_else(String::new, |q| format!("?{q}"));
    Some(Some(format!(
        "sqlite://{}/{database}{query}",
        base.trim_end_matches('/')
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(url: &str, base: &str) -> Option<Option<String>> {
        sqlite_url_in(url, Path::new(base))
    }

    #[test]
    fn relative_sqlite_files_move_into_the_base_directory() {
        let expected = Some(Some("sqlite:///etc/nw/newswatch.db".to_string()));
        assert_eq!(resolved("sqlite://newswatch.db", "/etc/nw"), expected);
        assert_eq!(resolved("sqlite:newswatch.db", "/etc/nw"), expected);
        assert_eq!(
            resolved("sqlite://data/n.db?mode=rwc", "/"),
            Some(Some("sqlite:///data/n.db?mode=rwc".to_string()))
        );
    }

    #[test]
    fn memory_absolute_and_postgres_urls_are_kept() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite://a.db?mode=memory",
            "sqlite:///var/lib/newswatch/newswatch.db",
            "postgres://user@localhost/db",
        ] {
            assert_eq!(resolved(url, "/etc/nw"), None, "{url}");
        }
    }

    #[test]
    fn the_directory_s_percent_and_question_marks_survive_sqlx_decoding() {
        let url = resolved("sqlite://n.db", "/srv/100%?x")
            .flatten()
            .expect("a rewritten URL");
        let database = DatabaseConfig {
            url,
            max_connections: None,
        };
        assert_eq!(
            database.sqlite_file(),
            Some(PathBuf::from("/srv/100%?x/n.db"))
        );
    }

    #[test]
    fn in_memory_databases_have_no_file() {
        let database = DatabaseConfig {
            url: "sqlite::memory:".to_string(),
            max_connections: None,
        };
        assert_eq!(database.sqlite_file(), None);
    }
}
