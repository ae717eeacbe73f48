//! Reloading the configuration without a restart, on SIGHUP or when the file changes. A new
//! configuration passes the same validation as `check` or is refused whole (every problem
//! logged, the running one kept). Feeds, watches, lists, recipients, intervals and digest
//! settings take effect at once; keys only a restart applies are named in a warning.
//!
//! The file is watched through its directory, not as a file: editors save by writing a new file
//! and renaming it over the old one, and Kubernetes swaps a symlink beside it; both replace
//! the file a watch on it would follow. Events are debounced, and a reload happens only when
//! the file's text differs from the running configuration's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{Daemon, feed_specs, watch_batching};
use super::{DaemonError, Pipeline};
use crate::config::{Config, ConfigDiff, ConfigErrors};
use crate::log_text::untrusted;
use crate::store::Instance;
use crate::systemd;

/// How long the file must stay quiet after a change before it is read: an editor's save is
/// several events, and a copy may be written in pieces.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// What asks for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadCause {
    Hangup,
    FileChanged,
}

/// SIGHUP and changes to the configuration file, listened for from [`ReloadTriggers::install`]
/// on: a SIGHUP after that never kills the process.
pub struct ReloadTriggers {
    path: PathBuf,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
    changes: mpsc::UnboundedReceiver<()>,
    /// Dropping it stops the watch.
    _watcher: Option<notify::RecommendedWatcher>,
}

impl ReloadTriggers {
    /// Listens for SIGHUP and, with `watch_file`, watches `path`'s directory. Either may be
    /// unavailable (no inotify instances left, say): that is logged, and the other still works.
    pub fn install(path: &Path, watch_file: bool) -> ReloadTriggers {
        #[cfg(unix)]
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| error!(error = %e, "cannot listen for SIGHUP; reload by editing the file"))
            .ok();
        let (sender, changes) = mpsc::unbounded_channel();
        let watcher = watch_file
            .then(|| watch_directory_of(path, sender))
            .transpose()
            .map_err(|e| {
                warn!(
                    file = %path.display(),
                    error = %untrusted(&e),
                    "cannot watch the configuration file; reload with SIGHUP"
                );
            })
            .ok()
            .flatten();
        ReloadTriggers {
            path: path.to_path_buf(),
            #[cfg(unix)]
            hangup,
            changes,
            _watcher: watcher,
        }
    }

    /// The next request for a reload; file changes are reported once the file has been
    /// quiet for [`DEBOUNCE`].
    async fn next(&mut self) -> Option<ReloadCause> {
        #[cfg(unix)]
        let hangup = &mut self.hangup;
        #[cfg(not(unix))]
        let hangup = &mut None::<()>;
        let changes = &mut self.changes;
        tokio::select! {
            Some(()) = next_hangup(hangup) => Some(ReloadCause::Hangup),
            Some(()) = changes.recv() => {
                loop {
                    tokio::select! {
                        more = changes.recv() => if more.is_none() { break },
                        _ = tokio::time::sleep(DEBOUNCE) => break,
                    }
                }
                Some(ReloadCause::FileChanged)
            }
            else => None,
        }
    }
}

#[cfg(unix)]
async fn next_hangup(hangup: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match hangup {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Option<()>) -> Option<()> {
    std::future::pending().await
}

/// Watches the directory of `path` for events about the file's name, or about a
/// Kubernetes-style `..data` symlink beside it.
fn watch_directory_of(
    path: &Path,
    changed: mpsc::UnboundedSender<()>,
) -> Result<notify::RecommendedWatcher, notify::Error> {
    let name = path.file_name().map(ToOwned::to_owned);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        let about_the_file = event.paths.iter().any(|p| {
            p.file_name().is_some_and(|n| {
                Some(n) == name.as_deref() || n.to_string_lossy().starts_with("..")
            })
        });
        if about_the_file {
            // The receiver is gone only when the daemon stops.
            let _ = changed.send(());
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

impl Daemon {
    /// Reloads whenever `triggers` asks, until `shutdown`.
    pub async fn reload_on_request(
        self: Arc<Self>,
        mut triggers: ReloadTriggers,
        shutdown: CancellationToken,
    ) {
        // The text of the last file change refused, so that one broken save is reported
        // once, however many events it makes.
        let mut refused: Option<String> = None;
        loop {
            let cause = tokio::select! {
                _ = shutdown.cancelled() => return,
                cause = triggers.next() => match cause {
                    Some(cause) => cause,
                    None => return,
                },
            };
            if cause == ReloadCause::FileChanged {
                let text = std::fs::read_to_string(&triggers.path).ok();
                let running = self.running_config();
                if text.as_deref() == Some(running.source.text()) || text == refused {
                    continue;
                }
                refused = None;
            }
            systemd::reloading();
            match self.reload_from(&triggers.path, cause).await {
                Ok(()) => refused = None,
                Err(text) => {
                    if cause == ReloadCause::FileChanged {
                        refused = text;
                    }
                }
            }
            systemd::ready(&self.status_line().await);
        }
    }

    /// Loads and applies the file at `path`; on refusal returns the text refused (when it
    /// could be read).
    async fn reload_from(&self, path: &Path, cause: ReloadCause) -> Result<(), Option<String>> {
        let why = match cause {
            ReloadCause::Hangup => "SIGHUP",
            ReloadCause::FileChanged => "the file changed",
        };
        let config = match Config::load_to_run(path) {
            Ok(config) => config,
            Err(errors) => {
                log_refusal(path, why, &errors);
                self.metrics.reload(false);
                return Err(std::fs::read_to_string(path).ok());
            }
        };
        for warning in config.warnings() {
            warn!("{}", warning.warning());
        }
        match self.apply(config).await {
            Ok(diff) => {
                self.metrics.reload(true);
                log_diff(why, &diff);
                Ok(())
            }
            Err(e) => {
                error!(error = %e, "cannot apply the new configuration; the running one stays in force");
                self.metrics.reload(false);
                Err(None)
            }
        }
    }

    /// The configuration in force.
    fn running_config(&self) -> Arc<Config> {
        Arc::clone(&self.config.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Puts `config` in force: the database's feeds first (a feed is polled only once it is
    /// there), then what polls and deliveries read. Polls already started finish under the
    /// configuration they started with.
    pub async fn apply(&self, config: Config) -> Result<ConfigDiff, DaemonError> {
        let _one_at_a_time = self.reloading.lock().await;
        let running = self.running_config();
        let diff = ConfigDiff::between(&running, &config, &self.started_with);
        let watches = config.compile_watches().map_err(|errors| {
            DaemonError::Setup(format!("{} problems in the watches", errors.len()))
        })?;
        self.store.sync_feeds(&feed_specs(&config)).await?;
        let pipeline = Pipeline::new(
            &config,
            watches,
            &self.message_id_domain,
            &self.metrics,
            &self.archive,
        );
        *self.pipeline.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(pipeline);
        self.notifier.set_watches(watch_batching(&config));
        let instance = {
            let mut instance = self.instance.lock().unwrap_or_else(|p| p.into_inner());
            instance.config_fingerprint = Instance::fingerprint_of(&config);
            instance.clone()
        };
        self.metrics
            .forget(&diff.feeds.removed, &diff.watches.removed);
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        if let Err(e) = self.store.register_instance(&instance).await {
            warn!(error = %e, "cannot record this instance's new configuration");
        }
        // New feeds may be due now, and a digest's schedule may have moved.
        self.rescan.notify_one();
        self.alerts_queued.notify_one();
        Ok(diff)
    }
}

fn log_refusal(path: &Path, why: &str, errors: &ConfigErrors) {
    for problem in &errors.0 {
        error!(
            file = %path.display(),
            line = problem.line,
            column = problem.column,
            help = %untrusted(&problem.help),
            "{}",
            untrusted(&problem.message)
        );
    }
    error!(
        problems = errors.0.len(),
        "configuration reload ({why}) refused; the running configuration stays in force"
    );
}

fn log_diff(why: &str, diff: &ConfigDiff) {
    if diff.is_empty() && diff.needs_restart.is_empty() {
        info!("configuration reloaded ({why}): nothing changed");
        return;
    }
    info!(
        feeds = %diff.feeds.counts(),
        watches = %diff.watches.counts(),
        lists = %diff.lists.counts(),
        "configuration reloaded ({why})"
    );
    for (what, changes) in [
        ("feed", &diff.feeds),
        ("watch", &diff.watches),
        ("list", &diff.lists),
    ] {
        for (how, names) in [
            ("added", &changes.added),
            ("removed", &changes.removed),
            ("changed", &changes.changed),
        ] {
            for name in names {
                info!(name = %untrusted(name), "{what} {how}");
            }
        }
    }
    if !diff.needs_restart.is_empty() {
        warn!(
            keys = %diff.needs_restart.join(", "),
            "these settings differ from what newswatch started with and take effect only after a restart"
        );
    }
}
