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

/// `to = [...]` of a watch: a list of addresses. A single string is the usual slip, and its
/// message shows the list to write (serde's own is "invalid type: string, expected a sequence").
pub fn recipients<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<toml::Spanned<Vec<toml::Spanned<String>>>, D::Error> {
    struct Recipients(Vec<toml::Spanned<String>>);
    impl<'de> Deserialize<'de> for Recipients {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct RecipientsVisitor;
            impl<'de> Visitor<'de> for RecipientsVisitor {
                type Value = Recipients;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a list of addresses, e.g. [\"analyst@example.org\"]")
                }
                fn visit_str<E: de::Error>(self, text: &str) -> Result<Recipients, E> {
                    Err(E::custom(format!(
                        "expected a list: to = [{}]",
                        crate::log_text::untrusted(format!("{text:?}"))
                    )))
                }
                fn visit_seq<A: de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<Recipients, A::Error> {
                    let mut addresses = Vec::new();
                    while let Some(address) = seq.next_element()? {
                        addresses.push(address);
                    }
                    Ok(Recipients(addresses))
                }
            }
            deserializer.deserialize_any(RecipientsVisitor)
        }
    }
    let spanned = toml::Spanned::<Recipients>::deserialize(deserializer)?;
    let span = spanned.span();
    Ok(toml::Spanned::new(span, spanned.into_inner().0))
}

/// The longest duration accepted anywhere: beyond it, schedule arithmetic would overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Parses a human-written duration of at most [`MAX_DURATION`]; the error says what to write.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let duration = humantime::parse_duration(trimmed).map_err(|e| {
        format!(
            "invalid duration {text:?}: {}; write e.g. \"30s\", \"15m\", \"24h\" or \"7d\"",
            duration_problem(trimmed, &e)
        )
    })?;
    if duration > MAX_DURATION {
        return Err(format!(
            "duration {text:?} is too long; at most 100 years (\"100y\")"
        ));
    }
    Ok(duration)
}

/// What is wrong in a duration, in words and quoting the part at fault (the parser's own
/// wording, "expected number at 0", counts bytes).
fn duration_problem(text: &str, error: &humantime::DurationError) -> String {
    use humantime::DurationError as E;
    // The run of characters at byte `at` up to the next space, as written.
    let part_at = |at: usize| {
        let rest = text.get(at..).unwrap_or("");
        rest.split(char::is_whitespace).next().unwrap_or(rest)
    };
    match error {
        E::Empty => "it is empty".to_string(),
        E::InvalidCharacter(at) => match text.get(*at..).and_then(|rest| rest.chars().next()) {
            Some(c) => format!("{c:?} cannot be part of a duration"),
            None => "it has a character that cannot be part of a duration".to_string(),
        },
        E::NumberExpected(at) => {
            format!("a number is expected where {:?} is written", part_at(*at))
        }
        E::UnknownUnit { unit, .. } => {
            format!("{unit:?} is not a unit of time (use s, m, h, d or w)")
        }
        E::NumberOverflow => "the number is too large".to_string(),
    }
}

/// The byte range of `value` (a duration as written) that its parse error is about: the word
/// where a number was expected, the unknown unit, the bad character; `None` when it parses or
/// the error is about the whole value.
pub fn duration_fault(value: &str) -> Option<std::ops::Range<usize>> {
    use humantime::DurationError as E;
    let trimmed = value.trim_start();
    let lead = value.len() - trimmed.len();
    let trimmed = trimmed.trim_end();
    let fault = match humantime::parse_duration(trimmed).err()? {
        E::NumberExpected(at) => {
            let rest = trimmed.get(at..)?;
            at..at + rest.find(char::is_whitespace).unwrap_or(rest.len())
        }
        E::InvalidCharacter(at) => at..at + trimmed.get(at..)?.chars().next()?.len_utf8(),
        E::UnknownUnit { start, end, .. } => start..end,
        E::NumberOverflow | E::Empty => return None,
    };
    (fault.end <= trimmed.len() && fault.start < fault.end)
        .then(|| lead + fault.start..lead + fault.end)
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
        let message = |d: &str| {
            toml::from_str::<Probe>(&format!("d = {d:?}\ns = \"1MiB\""))
                .err()
                .map(|e| e.message().to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            message("seven days"),
            "invalid duration \"seven days\": a number is expected where \"seven\" is written; \
             write e.g. \"30s\", \"15m\", \"24h\" or \"7d\""
        );
        assert!(
            message("15 minutos").starts_with(
                "invalid duration \"15 minutos\": \"minutos\" is not a unit of time (use s, m, h, d or w)"
            ),
            "{}",
            message("15 minutos")
        );
        assert!(
            message("2 hours min").contains("a number is expected where \"min\" is written"),
            "{}",
            message("2 hours min")
        );
        assert!(message("15m!").contains("'!' cannot be part of a duration"));
        assert!(message("").contains("it is empty"));
        fn fault(d: &str) -> Option<&str> {
            duration_fault(d).map(|range| &d[range])
        }
        assert_eq!(fault("seven days"), Some("seven"));
        assert_eq!(fault(" 15 minutos"), Some("minutos"));
        assert_eq!(fault("2 hours min"), Some("min"));
        assert_eq!(fault("15m!"), Some("!"));
        assert_eq!(fault("15m"), None);
        assert_eq!(fault(""), None);
        assert_eq!(fault("1 ж"), Some("ж"));
        let err = toml::from_str::<Probe>("d = \"540000000000y\"\ns = \"1MiB\"")
            .err()
            .unwrap();
        assert!(err.message().contains("too long"), "{err}");
    }
}
