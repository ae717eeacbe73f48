//! Telling systemd how the service is doing (`Type=notify`): ready once the database is open
//! and the schedule loaded, a status line, watchdog pings from the scheduler loop, stopping
//! and reloading. Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;
use tracing::warn;

/// Set once a notification failed: said once, not at every ping.
static FAILED_BEFORE: AtomicBool = AtomicBool::new(false);

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states)
        && !FAILED_BEFORE.swap(true, Ordering::Relaxed)
    {
        warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET)");
    }
}

/// The service is up: `status` says with what.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The status line `systemctl status` shows.
pub fn status(status: &str) {
    notify(&[NotifyState::Status(status)]);
}

/// The scheduler is alive.
pub fn watchdog() {
    notify(&[NotifyState::Watchdog]);
}

/// A graceful stop has begun.
pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// A configuration reload has begun; [`ready`] ends it. The monotonic time lets
/// `Type=notify-reload` tell this reload from an earlier one.
pub fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    notify(&states);
}

/// How often the watchdog must hear from the service, when systemd watches it
/// (`WatchdogSec=`): pinging at half this keeps it content.
pub fn watchdog_timeout() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}
