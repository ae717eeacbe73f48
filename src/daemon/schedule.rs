//! When to poll a feed next: its interval (stretched by the server's caching hints up to
//! `max_interval`, never shortened), jitter so feeds do not align, exponential backoff on
//! errors up to `max_backoff`, and at least the wait a server asks for with Retry-After.
//! Nothing here ever polls a feed sooner than its own interval.

use std::time::Duration;

/// The polling limits from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub max_interval: Duration,
    pub max_backoff: Duration,
}

/// The longest Retry-After obeyed: a server asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The unix time in milliseconds `delay` after `now_ms`, rounded up to the next whole
/// millisecond, saturating.
pub fn after_ms(now_ms: i64, delay: Duration) -> i64 {
    let millis = delay.as_nanos().div_ceil(1_000_000);
    now_ms.saturating_add(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// `base` lengthened by up to 10 %, uniformly: spreads feeds apart without ever polling one
/// sooner than asked.
fn jittered(base: Duration) -> Duration {
    base.saturating_add(base.mul_f64(fastrand::f64() * 0.1))
}

impl Schedule {
    /// Delay until the next poll after a success. `server_hint` is the longest of `<ttl>`,
    /// Cache-Control max-age and Expires.
    pub fn after_success(&self, interval: Duration, server_hint: Option<Duration>) -> Duration {
        let stretched = match server_hint {
            Some(hint) if hint > interval => hint.min(self.max_interval.max(interval)),
            _ => interval,
        };
        jittered(stretched)
    }

    /// Delay until the next poll after the `consecutive_errors`-th failure in a row: the
    /// backoff, or the server's Retry-After (up to [`MAX_RETRY_AFTER`]) when that is longer.
    pub fn after_failure(
        &self,
        interval: Duration,
        consecutive_errors: u32,
        retry_after: Option<Duration>,
    ) -> Duration {
        let exponent = consecutive_errors.saturating_sub(1).min(20);
        let cap = self.max_backoff.max(interval);
        let doubled = interval.saturating_mul(1u32 << exponent);
        let backoff = if doubled < cap {
            jittered(doubled).min(cap)
        } else {
            // At the cap, jitter downwards, so that feeds failing together stay apart.
            cap.mul_f64(0.9 + fastrand::f64() * 0.1).max(interval)
        };
        match retry_after {
            Some(wait) => wait.min(MAX_RETRY_AFTER).max(backoff),
            None => backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule {
            max_interval: Duration::from_secs(3600),
            max_backoff: Duration::from_secs(24 * 3600),
        }
    }

    fn within(d: Duration, base: u64) -> bool {
        let s = d.as_secs_f64();
        s >= base as f64 && s <= base as f64 * 1.1
    }

    #[test]
    fn server_hints_lengthen_but_never_shorten_up_to_the_cap() {
        let s = schedule();
        let ten_min = Duration::from_secs(600);
        assert!(within(s.after_success(ten_min, None), 600));
        assert!(within(
            s.after_success(ten_min, Some(Duration::from_secs(1800))),
            1800
        ));
        assert!(within(
            s.after_success(ten_min, Some(Duration::from_secs(86400))),
            3600
        ));
        assert!(within(
            s.after_success(ten_min, Some(Duration::from_secs(60))),
            600
        ));
        let two_hours = Duration::from_secs(7200);
        assert!(within(
            s.after_success(two_hours, Some(Duration::from_secs(86400))),
            7200
        ));
    }

    #[test]
    fn jitter_never_polls_sooner_than_the_interval() {
        let s = schedule();
        let ten_min = Duration::from_secs(600);
        for _ in 0..1000 {
            assert!(s.after_success(ten_min, None) >= ten_min);
            assert!(s.after_failure(ten_min, 1, None) >= ten_min);
        }
    }

    #[test]
    fn errors_back_off_exponentially_and_retry_after_is_obeyed() {
        let s = schedule();
        let ten_min = Duration::from_secs(600);
        assert!(within(s.after_failure(ten_min, 1, None), 600));
        assert!(within(s.after_failure(ten_min, 2, None), 1200));
        assert!(within(s.after_failure(ten_min, 4, None), 4800));
        let capped: Vec<Duration> = (0..20)
            .map(|_| s.after_failure(ten_min, 30, None))
            .collect();
        assert!(
            capped
                .iter()
                .all(|d| *d <= Duration::from_secs(86400) && d.as_secs_f64() >= 0.9 * 86400.0),
            "{capped:?}"
        );
        assert!(
            capped.iter().any(|d| *d != capped[0]),
            "feeds at the cap keep their jitter: {capped:?}"
        );
        assert_eq!(
            s.after_failure(ten_min, 1, Some(Duration::from_secs(7200))),
            Duration::from_secs(7200)
        );
        assert!(
            within(
                s.after_failure(ten_min, 1, Some(Duration::from_secs(120))),
                600
            ),
            "a Retry-After shorter than the interval does not speed polling up"
        );
        assert!(
            within(s.after_failure(ten_min, 1, Some(Duration::ZERO)), 600),
            "nor does one in the past"
        );
        assert_eq!(
            s.after_failure(ten_min, 1, Some(Duration::from_secs(u64::MAX))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn next_times_keep_their_milliseconds_and_saturate() {
        assert_eq!(after_ms(100_000, Duration::from_millis(1500)), 101_500);
        assert_eq!(after_ms(100_000, Duration::from_micros(2001)), 100_003);
        assert_eq!(after_ms(100_000, Duration::from_secs(3)), 103_000);
        assert_eq!(
            after_ms(i64::MAX - 1, Duration::from_secs(u64::MAX)),
            i64::MAX
        );
    }
}
