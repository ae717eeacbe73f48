//! Human-written durations (`"15m"`, `"2s"`) and sizes (`"8MiB"`) as configuration values.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A duration written as text in the configuration, such as `"15m"` or `"1h 30m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"30s\", \"15m\", \"24h\" or \"7d\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<HumanDuration, E> {
                parse_duration(text).map(HumanDuration).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(DurationVisitor)
    }
}

/// The longest duration accepted anywhere: beyond it, schedule arithmetic would overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Parses a human-written duration of at most [`MAX_DURATION`]; the error says what to write.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration {text:?} ({e}); write e.g. \"30s\", \"15m\", \"24h\" or \"7d\"")
    })?;
    if duration > MAX_DURATION {
        return Err(format!(
            "duration {text:?} is too long; at most 100 years (\"100y\")"
        ));
    }
    Ok(duration)
}

/// A size in bytes written as text in the configuration, such as `"8MiB"` or `"500kB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"8MiB\" or \"512KiB\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<ByteSize, E> {
                parse_size::parse_size(text.trim())
                    .map(ByteSize)
                    .map_err(|e| {
                        E::custom(format!(
                            "invalid size {text:?} ({e}); write e.g. \"8MiB\" or \"512KiB\""
                        ))
                    })
            }
            fn visit_i64<E: de::Error>(self, bytes: i64) -> Result<ByteSize, E> {
                u64::try_from(bytes)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe {
        d: HumanDuration,
        s: ByteSize,
    }

    #[test]
    fn durations_and_sizes_are_read_from_human_text() {
        let p: Probe = toml::from_str("d = \"2s\"\ns = \"8MiB\"").unwrap();
        assert_eq!(p.d.0, Duration::from_secs(2));
        assert_eq!(p.s.0, 8 * 1024 * 1024);
        let p: Probe = toml::from_str("d = \"1h 30m\"\ns = 1024").unwrap();
        assert_eq!(p.d.0, Duration::from_secs(5400));
        assert_eq!(p.s.0, 1024);
    }

    #[test]
    fn a_bad_duration_says_what_is_expected() {
        let err = toml::from_str::<Probe>("d = \"fortnight\"\ns = \"1MiB\"")
            .err()
            .unwrap();
        assert!(
            err.message().contains("invalid duration \"fortnight\""),
            "{err}"
        );
        assert!(err.message().contains("15m"), "{err}");
        let err = toml::from_str::<Probe>("d = \"540000000000y\"\ns = \"1MiB\"")
            .err()
            .unwrap();
        assert!(err.message().contains("too long"), "{err}");
    }
}
