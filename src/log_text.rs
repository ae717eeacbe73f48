//! Text from outside (feeds, HTTP and SMTP servers, articles) on its way into a log line or a
//! command's output. tracing's fmt layer writes a `%` field as it is, newlines and all, so a
//! feed whose parse error carries "\n2026-01-01 INFO …" would forge a log line, an ESC would
//! drive the reader's terminal, and a bidi override would reorder what they read. Every such
//! value is shown through [`untrusted`]: control characters, line separators and bidi
//! controls become visible escapes (`\n`, `\x1b`, `\u{202e}`), and the length is bounded.

use std::fmt::{self, Write as _};

/// Most characters shown of one untrusted value (an escape counts as the characters it is
/// shown as); a longer value is cut there and ends with `…` and its whole length.
pub const MAX_CHARS: usize = 500;

/// `value` as it may appear in a log line or command output: escaped, at most [`MAX_CHARS`]
/// characters plus the note of the cut.
pub fn untrusted<T: fmt::Display>(value: T) -> Untrusted<T> {
    Untrusted {
        value,
        max_chars: MAX_CHARS,
    }
}

/// See [`untrusted`]. Width and alignment (`{:<40}`) apply to the escaped text.
#[derive(Debug, Clone, Copy)]
pub struct Untrusted<T> {
    value: T,
    max_chars: usize,
}

impl<T> Untrusted<T> {
    /// Bounds the value to `max_chars` characters instead (a table column, say).
    pub fn max_chars(self, max_chars: usize) -> Self {
        Self { max_chars, ..self }
    }
}

impl<T: fmt::Display> fmt::Display for Untrusted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_some() || f.precision().is_some() {
            let mut shown = String::new();
            write_escaped(&mut shown, &self.value, self.max_chars)?;
            return f.pad(&shown);
        }
        write_escaped(f, &self.value, self.max_chars)
    }
}

fn write_escaped(
    out: &mut dyn fmt::Write,
    value: &dyn fmt::Display,
    max_chars: usize,
) -> fmt::Result {
    let mut escaper = Escaper {
        out,
        room: max_chars,
        bytes: 0,
        cut: false,
    };
    write!(escaper, "{value}")?;
    if escaper.cut {
        write!(escaper.out, "… ({} bytes)", escaper.bytes)?;
    }
    Ok(())
}

/// Writes what it is given escaped, until `room` characters are used; counts every byte.
struct Escaper<'a> {
    out: &'a mut dyn fmt::Write,
    room: usize,
    bytes: usize,
    cut: bool,
}

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.bytes += text.len();
        if self.cut {
            return Ok(());
        }
        for c in text.chars() {
            let escape = Escape::of(c);
            let width = escape.width();
            if width > self.room {
                self.cut = true;
                return Ok(());
            }
            self.room -= width;
            match escape {
                Escape::None(c) => self.out.write_char(c)?,
                Escape::Named(name) => self.out.write_str(name)?,
                Escape::Hex(byte) => write!(self.out, "\\x{byte:02x}")?,
                Escape::Unicode(c) => write!(self.out, "\\u{{{:x}}}", u32::from(c))?,
            }
        }
        Ok(())
    }
}

/// How one character is shown.
enum Escape {
    None(char),
    /// `\n`, `\r`, `\t`
    Named(&'static str),
    /// Other C0 controls and DEL: `\x1b`
    Hex(u8),
    /// C1 controls, line and paragraph separators, bidi controls: `\u{202e}`
    Unicode(char),
}

impl Escape {
    fn of(c: char) -> Escape {
        match c {
            '\n' => Escape::Named("\\n"),
            '\r' => Escape::Named("\\r"),
            '\t' => Escape::Named("\\t"),
            '\0'..='\x1f' | '\x7f' => Escape::Hex(c as u8),
            '\u{80}'..='\u{9f}'
            | '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => Escape::Unicode(c),
            _ => Escape::None(c),
        }
    }

    /// Characters the escape is shown as.
    fn width(&self) -> usize {
        match self {
            Escape::None(_) => 1,
            Escape::Named(_) => 2,
            Escape::Hex(_) => 4,
            Escape::Unicode(c) => 4 + (32 - u32::from(*c).leading_zeros()).div_ceil(4) as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_as_escapes() {
        let forged = "x\n2026-01-01 INFO forged\x1b[31m\r\t\0\x7f end";
        assert_eq!(
            untrusted(forged).to_string(),
            r"x\n2026-01-01 INFO forged\x1b[31m\r\t\x00\x7f end"
        );
    }

    #[test]
    fn c1_controls_separators_and_bidi_overrides_are_escaped() {
        assert_eq!(
            untrusted("a\u{9b}31m b\u{2028}c \u{202e}gnp.exe\u{2066}\u{200f}").to_string(),
            r"a\u{9b}31m b\u{2028}c \u{202e}gnp.exe\u{2066}\u{200f}"
        );
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        let text = "not a valid feed: Пхеньян «ответил» — 100% C:\\path";
        assert_eq!(untrusted(text).to_string(), text);
    }

    #[test]
    fn long_text_is_cut_at_a_character_with_its_length() {
        let text = "Ж".repeat(100_000);
        let shown = untrusted(&text).to_string();
        assert_eq!(shown, format!("{}… (200000 bytes)", "Ж".repeat(MAX_CHARS)));
        assert_eq!(untrusted("abcdef").max_chars(6).to_string(), "abcdef");
        assert_eq!(
            untrusted("abcdefg").max_chars(6).to_string(),
            "abcdef… (7 bytes)"
        );
    }

    #[test]
    fn an_escape_is_not_split_by_the_cut() {
        assert_eq!(
            untrusted("abcd\x1b[31m").max_chars(6).to_string(),
            "abcd… (9 bytes)"
        );
    }

    #[test]
    fn values_of_any_display_type_and_padding() {
        let error = std::io::Error::other("bad\nline");
        assert_eq!(untrusted(&error).to_string(), r"bad\nline");
        assert_eq!(format!("[{:<8}]", untrusted("a\tb")), r"[a\tb    ]");
    }
}
