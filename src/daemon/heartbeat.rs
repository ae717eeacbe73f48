//! The scheduler loop's proof of life. The loop beats on every turn and at least every
//! [`BEAT_EVERY`]; `/healthz` and systemd's watchdog read it, so a scheduler that hangs stops
//! looking healthy, whatever else in the process still answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest the scheduler loop goes without beating when nothing else wakes it.
pub const BEAT_EVERY: Duration = Duration::from_secs(10);

/// A scheduler that has not beaten for this long is not healthy.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(60);

/// When the scheduler loop last beat.
#[derive(Debug)]
pub struct Heartbeat {
    origin: Instant,
    /// Milliseconds after `origin`.
    last_ms: AtomicU64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
    }

    /// How long since the last beat (since creation, before the first).
    pub fn since_last(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(last)
    }

    pub fn healthy(&self) -> bool {
        self.since_last() <= HEALTHY_WITHIN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_resets_the_time_since_the_last() {
        let heartbeat = Heartbeat {
            origin: Instant::now() - Duration::from_secs(120),
            last_ms: AtomicU64::new(0),
        };
        assert!(heartbeat.since_last() >= Duration::from_secs(120));
        assert!(!heartbeat.healthy(), "two minutes without a beat");
        heartbeat.beat();
        assert!(heartbeat.since_last() < Duration::from_secs(1));
        assert!(heartbeat.healthy());
    }
}
