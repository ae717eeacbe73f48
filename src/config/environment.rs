//! What a configuration needs of the machine it runs on, checked before anything starts: the
//! directory of the SQLite database, the alerts directory of the `file` transport, the
//! `sendmail` command, and the SMTP password's variable or file and CA file.
//!
//! The text of a configuration can be right and the service still unable to start: a password
//! variable the unit does not set, a state directory the service's user cannot write. These
//! are found here, as configuration errors naming the key they come from, by
//! [`Config::load_to_run`], which `check`, `run` and `once` all call before opening the
//! database: so a configuration that `check` passes is one that `run` starts with, when both
//! run as the same user in the same environment (as the unit's `ExecReload=` does).

use std::path::{Path, PathBuf};

use super::{Config, ConfigError, ConfigErrors, Transport};
use crate::log_text::untrusted;

/// The command lettre runs for the `sendmail` transport when none is configured.
const DEFAULT_SENDMAIL: &str = "sendmail";

/// The search path `execvp` uses when `PATH` is not set.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

impl Config {
    /// [`Config::load_for_delivery`], then everything the configuration needs of this machine
    /// and environment (see the module's doc). What `check`, `run` and `once` load: every
    /// problem that would stop the daemon, or keep it from delivering, is reported here.
    pub fn load_to_run(path: &Path) -> Result<Config, ConfigErrors> {
        let config = Self::load_for_delivery(path)?;
        let mut errors = config.environment_problems();
        if errors.is_empty() {
            Ok(config)
        } else {
            errors.sort_by_key(|e| e.line);
            Err(ConfigErrors(errors))
        }
    }

    /// The problems of a loaded configuration (paths resolved) on this machine, as this user,
    /// in this process's environment. Reads, and writes only a probe file that it removes.
    pub fn environment_problems(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        self.check_database_directory(&mut errors);
        match self.email.transport {
            Transport::File => self.check_alerts_directory(&mut errors),
            Transport::Sendmail => self.check_sendmail(&mut errors),
            Transport::Smtp => {}
        }
        self.check_mailer(&mut errors);
        errors
    }

    /// SQLite writes the database, its `-wal` and `-shm` files, and newswatch its `.lock`,
    /// in the database's directory: it must exist (nothing creates it) and be writable.
    fn check_database_directory(&self, errors: &mut Vec<ConfigError>) {
        let Some(file) = self.database.sqlite_file() else {
            return;
        };
        let dir = parent_of(&file);
        let problem = match std::fs::metadata(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some((
                format!(
                    "[database] url: the directory {} of the SQLite database does not exist",
                    shown(&dir)
                ),
                "create it, or point url at a file in an existing directory (the systemd unit's \
                 StateDirectory= makes /var/lib/newswatch)",
            )),
            Err(e) => Some((
                format!(
                    "[database] url: the directory {} of the SQLite database cannot be read: {e}",
                    shown(&dir)
                ),
                "check the permissions of the directories on the way",
            )),
            Ok(meta) if !meta.is_dir() => Some((
                format!("[database] url: {} is not a directory", shown(&dir)),
                "point url at a file in a directory",
            )),
            Ok(_) => probe_writable(&dir).err().map(|e| {
                (
                    format!(
                        "[database] url: the directory {} of the SQLite database is not \
                         writable{}: {e}",
                        shown(&dir),
                        as_whom()
                    ),
                    "SQLite writes the database, its -wal and -shm files and newswatch's .lock \
                     there: make the directory writable by the user newswatch runs as",
                )
            }),
        };
        if let Some((message, help)) = problem {
            errors.push(ConfigError::key(
                &self.source,
                &["database", "url"],
                message,
                help,
            ));
            return;
        }
        // The files that exist already (made by an earlier run, perhaps as another user).
        let mut files = vec![
            file.clone(),
            with_suffix(&file, "-wal"),
            with_suffix(&file, "-shm"),
        ];
        files.extend(
            crate::store::Store::resolved_file_path(&self.database.url)
                .map(|resolved| with_suffix(&resolved, ".lock")),
        );
        for file in files {
            if let Err(e) = open_existing_for_writing(&file) {
                errors.push(ConfigError::key(
                    &self.source,
                    &["database", "url"],
                    format!(
                        "[database] url: {} cannot be written{}: {e}",
                        shown(&file),
                        as_whom()
                    ),
                    "make the database's files writable by the user newswatch runs as (a \
                     command run as root may have made them root's)",
                ));
            }
        }
    }

    /// The `file` transport creates `[email] dir` (and its parents) on the first alert: the
    /// nearest directory of it that exists must be writable.
    fn check_alerts_directory(&self, errors: &mut Vec<ConfigError>) {
        let dir = &self.email.dir;
        let mut existing = dir.clone();
        let problem = loop {
            match std::fs::metadata(&existing) {
                Ok(meta) if meta.is_dir() => {
                    break probe_writable(&existing).err().map(|e| {
                        format!(
                            "[email] dir = {}: alerts cannot be written in {}{}: {e}",
                            shown(dir),
                            shown(&existing),
                            as_whom()
                        )
                    });
                }
                Ok(_) => {
                    break Some(format!(
                        "[email] dir = {}: {} is not a directory",
                        shown(dir),
                        shown(&existing)
                    ));
                }
                // Not there, or under a file: the file is found on the way up.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                    ) =>
                {
                    let parent = parent_of(&existing);
                    if parent == existing {
                        break None;
                    }
                    existing = parent;
                }
                Err(e) => {
                    break Some(format!(
                        "[email] dir = {}: {} cannot be read: {e}",
                        shown(dir),
                        shown(&existing)
                    ));
                }
            }
        };
        if let Some(message) = problem {
            errors.push(ConfigError::key(
                &self.source,
                &["email", "dir"],
                message,
                "point dir at a directory the user newswatch runs as can write (relative paths \
                 are relative to the configuration file's directory), e.g. \
                 \"/var/lib/newswatch/alerts\"",
            ));
        }
    }

    /// The `sendmail` transport runs its command for every message: it must be there.
    fn check_sendmail(&self, errors: &mut Vec<ConfigError>) {
        let configured = self.email.sendmail_command.as_deref();
        let command = configured.unwrap_or(DEFAULT_SENDMAIL);
        if let Err(why) = find_command(command) {
            let key = if configured.is_some() {
                "sendmail_command"
            } else {
                "transport"
            };
            errors.push(ConfigError::key(
                &self.source,
                &["email", key],
                format!(
                    "[email] transport = \"sendmail\": the command {} {why}",
                    untrusted(format_args!("{command:?}"))
                ),
                "install a mail transfer agent that provides sendmail (postfix, exim4, msmtp-mta), \
                 set sendmail_command to its full path, or use transport = \"smtp\"",
            ));
        }
    }

    /// The transport as `run` builds it: for SMTP this reads the password's variable or file
    /// and the CA file, exactly as delivery will.
    fn check_mailer(&self, errors: &mut Vec<ConfigError>) {
        let Err(e) = crate::alert::Mailer::from_config(&self.email) else {
            return;
        };
        let located = e.key.and_then(|key| {
            let error = ConfigError::key(
                &self.source,
                &["email.smtp", key],
                e.message.clone(),
                mailer_help(key),
            );
            (error.line > 0).then_some(error)
        });
        let error = located.unwrap_or_else(|| match &self.email.smtp {
            Some(smtp) => ConfigError::at(
                &self.source,
                smtp.span(),
                e.message.clone(),
                e.key.map_or("", mailer_help),
            ),
            None => ConfigError::key(&self.source, &["email", "transport"], e.message.clone(), ""),
        });
        errors.push(error);
    }
}

/// How to fix a problem with an `[email.smtp]` key found while building the transport.
fn mailer_help(key: &str) -> &'static str {
    match key {
        "password_env" => {
            "set the variable where newswatch runs (systemd: EnvironmentFile= in the unit; \
             docker: -e NAME), or use password_file"
        }
        "password_file" => {
            "create the file, readable by the user newswatch runs as (systemd: LoadCredential= \
             and password_file = \"/run/credentials/newswatch.service/smtp\")"
        }
        "ca_file" => "point ca_file at a readable PEM file of the certificate authority",
        _ => "",
    }
}

/// A path as shown in a message: quoted, with control characters escaped.
fn shown(path: &Path) -> String {
    untrusted(format_args!("{:?}", path.display().to_string())).to_string()
}

/// " (as uid N)" when the process runs as someone other than root, for a message about
/// permissions: a service's dynamic user is not the user who ran `check` by hand.
fn as_whom() -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // The owner of /proc/self is this process's effective user.
        if let Ok(meta) = std::fs::metadata("/proc/self") {
            return format!(" (by uid {})", meta.uid());
        }
    }
    String::new()
}

/// The directory a path is in: `.` for a bare file name.
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        Some(_) => PathBuf::from("."),
        None => path.to_path_buf(),
    }
}

/// Whether files can be created in `dir`: creates a probe file there and removes it. Asking
/// the file system is the only answer that counts read-only mounts, ACLs and sandboxes.
fn probe_writable(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(
        ".newswatch-check-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

/// `path` with `suffix` added to its file name: `a.db` → `a.db-wal`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens `file` for writing if it exists (without changing it); fine if it does not.
fn open_existing_for_writing(file: &Path) -> std::io::Result<()> {
    match std::fs::OpenOptions::new().write(true).open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Finds `command` as `std::process::Command` will run it: a path when it has a `/`, else
/// the first executable of that name on `PATH`. The error completes "the command X …".
fn find_command(command: &str) -> Result<PathBuf, String> {
    if command.trim().is_empty() {
        return Err("is empty".to_string());
    }
    if command.contains('/') {
        let path = PathBuf::from(command);
        return match std::fs::metadata(&path) {
            Ok(meta) if is_executable(&meta) => Ok(path),
            Ok(_) => Err("is not an executable file".to_string()),
            Err(e) => Err(format!("cannot be run: {e}")),
        };
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    std::env::split_paths(&search)
        .map(|dir| dir.join(command))
        .find(|candidate| std::fs::metadata(candidate).is_ok_and(|meta| is_executable(&meta)))
        .ok_or_else(|| {
            format!(
                "is not found on PATH ({})",
                untrusted(search.to_string_lossy())
            )
        })
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.is_file() && meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    meta.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_on_the_path_or_by_their_path() {
        assert!(find_command("sh").is_ok(), "sh is on every PATH");
        assert!(find_command("/bin/sh").is_ok());
        let missing = find_command("newswatch-no-such-command").unwrap_err();
        assert!(missing.starts_with("is not found on PATH"), "{missing}");
        let dir = tempfile::tempdir().expect("temp dir");
        let plain = dir.path().join("sendmail");
        std::fs::write(&plain, "").expect("write a plain file");
        assert_eq!(
            find_command(plain.to_str().expect("UTF-8 temp path")).unwrap_err(),
            "is not an executable file"
        );
        assert!(
            find_command("/no/such/sendmail")
                .unwrap_err()
                .starts_with("cannot be run")
        );
        assert_eq!(find_command(" ").unwrap_err(), "is empty");
    }

    #[test]
    fn a_writable_directory_is_left_as_it_was() {
        let dir = tempfile::tempdir().expect("temp dir");
        probe_writable(dir.path()).expect("a temp dir is writable");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(probe_writable(&dir.path().join("missing")).is_err());
    }
}
