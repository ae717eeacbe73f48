//! When batch alerts fall due: digest periods (`every` on multiples of the period, or `at`
//! times of day in a time zone) and the clock hours that cap immediate alerts.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use crate::config::DigestSchedule;

/// The start of the clock hour (UTC) that `timestamp` falls in.
pub fn hour_start(timestamp: i64) -> i64 {
    timestamp - timestamp.rem_euclid(3600)
}

/// The `at` times on `date` in the schedule's zone, as UTC timestamps (a time that does not
/// exist that day, in a DST gap, is skipped).
fn times_on(schedule: &DigestSchedule, date: NaiveDate) -> Vec<i64> {
    match schedule {
        DigestSchedule::Every(_) => Vec::new(),
        DigestSchedule::At { times, timezone } => times
            .iter()
            .filter_map(|t| timezone.from_local_datetime(&date.and_time(*t)).earliest())
            .map(|t| t.timestamp())
            .collect(),
    }
}

fn local_date(schedule: &DigestSchedule, now: DateTime<Utc>) -> NaiveDate {
    match schedule {
        DigestSchedule::At { timezone, .. } => now.with_timezone(timezone).date_naive(),
        DigestSchedule::Every(_) => now.date_naive(),
    }
}

/// The most recent digest time at or before `now` (`i64::MIN` when the schedule has none).
pub fn latest_boundary(schedule: &DigestSchedule, now: DateTime<Utc>) -> i64 {
    let timestamp = now.timestamp();
    match schedule {
        DigestSchedule::Every(period) => {
            let period = period.as_secs().max(1) as i64;
            timestamp - timestamp.rem_euclid(period)
        }
        DigestSchedule::At { .. } => {
            let today = local_date(schedule, now);
            (0..=2)
                .flat_map(|back| times_on(schedule, today - Duration::days(back)))
                .filter(|t| *t <= timestamp)
                .max()
                .unwrap_or(i64::MIN)
        }
    }
}

/// The first digest time after `now` (`i64::MAX` when the schedule has none).
pub fn next_boundary(schedule: &DigestSchedule, now: DateTime<Utc>) -> i64 {
    let timestamp = now.timestamp();
    match schedule {
        DigestSchedule::Every(period) => {
            latest_boundary(schedule, now) + period.as_secs().max(1) as i64
        }
        DigestSchedule::At { .. } => {
            let today = local_date(schedule, now);
            (0..=2)
                .flat_map(|ahead| times_on(schedule, today + Duration::days(ahead)))
                .filter(|t| *t > timestamp)
                .min()
                .unwrap_or(i64::MAX)
        }
    }
}

/// The digest period that a batch gathered at `gathered` (unix time) closes: from the digest
/// time before the last one at or before `gathered`, to that last one. `None` when the
/// schedule has no such times.
pub fn digest_period(schedule: &DigestSchedule, gathered: i64) -> Option<(i64, i64)> {
    let end = latest_boundary(schedule, DateTime::<Utc>::from_timestamp(gathered, 0)?);
    let before_end = DateTime::<Utc>::from_timestamp(end.checked_sub(1)?, 0)?;
    let start = latest_boundary(schedule, before_end);
    (start != i64::MIN && start < end).then_some((start, end))
}

/// How many emails a watch sends for matches queued at `queued_at` (unix times): in digest
/// mode one per period with a match; otherwise one per match, at most `max_per_hour` (0 = no
/// limit) in each clock hour plus one "and N more" summary for an hour over it.
pub fn emails_for(digest: Option<&DigestSchedule>, max_per_hour: u32, queued_at: &[i64]) -> usize {
    let mut periods: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    for &at in queued_at {
        let period = match (digest, DateTime::<Utc>::from_timestamp(at, 0)) {
            (Some(schedule), Some(time)) => next_boundary(schedule, time),
            _ => hour_start(at),
        };
        *periods.entry(period).or_default() += 1;
    }
    let cap = max_per_hour as usize;
    periods
        .values()
        .map(|&matches| match digest {
            Some(_) => 1,
            None if cap == 0 || matches <= cap => matches,
            None => cap + 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    #[test]
    fn emails_follow_the_mode_and_the_hourly_cap() {
        let hour = utc("2026-11-27T10:00:00Z").timestamp();
        let busy_hour: Vec<i64> = (0..30).map(|i| hour + i * 60).collect();
        let mut two_hours = busy_hour.clone();
        two_hours.push(hour + 3600 + 5);
        assert_eq!(emails_for(None, 20, &two_hours), 20 + 1 + 1);
        assert_eq!(emails_for(None, 0, &two_hours), 31);
        assert_eq!(emails_for(None, 20, &[]), 0);
        let hourly = DigestSchedule::Every(std::time::Duration::from_secs(3600));
        assert_eq!(emails_for(Some(&hourly), 20, &two_hours), 2);
    }

    fn at(times: &[&str], zone: &str) -> DigestSchedule {
        DigestSchedule::At {
            times: times
                .iter()
                .map(|t| NaiveTime::parse_from_str(t, "%H:%M").unwrap())
                .collect(),
            timezone: zone.parse().unwrap(),
        }
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn periods_fall_on_multiples_of_every() {
        let schedule = DigestSchedule::Every(std::time::Duration::from_secs(3600));
        let now = utc("2026-11-27T10:20:00Z");
        assert_eq!(
            latest_boundary(&schedule, now),
            utc("2026-11-27T10:00:00Z").timestamp()
        );
        assert_eq!(
            next_boundary(&schedule, now),
            utc("2026-11-27T11:00:00Z").timestamp()
        );
    }

    #[test]
    fn times_of_day_are_local_to_the_zone() {
        // Berlin is UTC+1 in November: 08:00 and 17:00 local are 07:00 and 16:00 UTC.
        let schedule = at(&["08:00", "17:00"], "Europe/Berlin");
        let now = utc("2026-11-27T10:00:00Z");
        assert_eq!(
            latest_boundary(&schedule, now),
            utc("2026-11-27T07:00:00Z").timestamp()
        );
        assert_eq!(
            next_boundary(&schedule, now),
            utc("2026-11-27T16:00:00Z").timestamp()
        );
        let early = utc("2026-11-27T05:00:00Z");
        assert_eq!(
            latest_boundary(&schedule, early),
            utc("2026-11-26T16:00:00Z").timestamp()
        );
    }

    #[test]
    fn hours_start_on_the_hour() {
        assert_eq!(
            hour_start(utc("2026-11-27T10:59:59Z").timestamp()),
            utc("2026-11-27T10:00:00Z").timestamp()
        );
    }
}

#[cfg(test)]
mod period_tests {
    use super::*;
    use chrono::NaiveTime;

    fn utc(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp()
    }

    #[test]
    fn a_digest_names_the_period_its_batch_closed() {
        let daily = DigestSchedule::At {
            times: vec![NaiveTime::from_hms_opt(8, 0, 0).unwrap()],
            timezone: "UTC".parse().unwrap(),
        };
        assert_eq!(
            digest_period(&daily, utc("2026-12-02T08:00:05Z")),
            Some((utc("2026-12-01T08:00:00Z"), utc("2026-12-02T08:00:00Z")))
        );
        let hourly = DigestSchedule::Every(std::time::Duration::from_secs(3600));
        assert_eq!(
            digest_period(&hourly, utc("2026-12-02T09:10:00Z")),
            Some((utc("2026-12-02T08:00:00Z"), utc("2026-12-02T09:00:00Z")))
        );
    }
}
