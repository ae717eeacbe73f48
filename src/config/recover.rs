//! Every problem in one pass. Deserialising stops at the first wrong key or value, so after
//! each such error the offending `key = value` line is blanked (spaces of the same length, so
//! every later position in the file stays true) and the text is read again; the errors are
//! collected until the rest reads cleanly, or until blanking would make the rest meaningless.

use std::ops::Range;

use super::ConfigError;

/// Most wrong keys or values reported from one file.
pub const MAX_ERRORS: usize = 50;

/// A `key = value` line blanked after an error about it.
#[derive(Debug, Clone)]
pub struct Blanked {
    /// The key ("" for a line of a multi-line array).
    pub key: String,
    /// The 1-based lines of the table the key was in: from its header (or the top of the
    /// file) to the line before the next header.
    pub table: Range<usize>,
}

/// Blanks the line(s) `span` points at in `text`, when that leaves valid TOML that still
/// means what the user wrote elsewhere: a `key = value` line, or a line of a multi-line array,
/// outside inline tables and table headers. `None` when recovery should stop.
pub fn blank_offending_line(text: &mut String, span: Range<usize>) -> Option<Blanked> {
    let start = span.start.min(text.len());
    let end = span.end.clamp(start, text.len());
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text.get(end..)?.find('\n').map_or(text.len(), |i| end + i);
    let lines = &text[line_start..line_end];
    if lines.contains(['{', '}']) || lines.trim_start().starts_with('[') {
        return None;
    }
    let key = lines
        .split_once('=')
        .map(|(key, _)| key.trim().trim_matches(['"', '\'']).to_string())
        .unwrap_or_default();
    let table = table_around(text, line_start);
    let blanked: String = lines
        .chars()
        .map(|c| {
            if c == '\n' || c == '\r' {
                c.to_string()
            } else {
                " ".repeat(c.len_utf8())
            }
        })
        .collect();
    text.replace_range(line_start..line_end, &blanked);
    text.parse::<toml::Table>()
        .ok()
        .map(|_| Blanked { key, table })
}

/// The 1-based line range of the table holding the byte `at`.
fn table_around(text: &str, at: usize) -> Range<usize> {
    let is_header = |line: &str| line.trim_start().starts_with('[');
    let line_of_at = text[..at].matches('\n').count() + 1;
    let lines: Vec<&str> = text.lines().collect();
    let first = (1..=line_of_at.min(lines.len()))
        .rev()
        .find(|&n| is_header(lines[n - 1]))
        .unwrap_or(1);
    let after = (line_of_at + 1..=lines.len())
        .find(|&n| is_header(lines[n - 1]))
        .unwrap_or(lines.len() + 1);
    first..after
}

/// Whether `error` only repeats an earlier one: a key reported missing because its wrong
/// value was blanked.
pub fn echoes_a_blanked_key(error: &toml::de::Error, blanked: &[Blanked]) -> bool {
    let message = error.message();
    blanked
        .iter()
        .any(|b| !b.key.is_empty() && message.contains(&format!("missing field `{}`", b.key)))
}

/// Whether a validation error may only follow from a blanked line: it is about the same
/// table (a watch whose `to` or `mode` was wrong), or about the list that was blanked.
pub fn follows_from_blanking(error: &ConfigError, blanked: &[Blanked]) -> bool {
    blanked.iter().any(|b| {
        b.table.contains(&error.line)
            || (!b.key.is_empty()
                && error.message.contains("unknown list")
                && error.message.contains(&format!("@{}", b.key)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_line_is_blanked_in_place() {
        let mut text = String::from("a = 1\ncolour = \"réd\"\nb = 2\n");
        let span = 6..12;
        let blanked = blank_offending_line(&mut text, span).unwrap();
        assert_eq!(blanked.key, "colour");
        assert_eq!(blanked.table, 1..4);
        assert_eq!(text.len(), "a = 1\ncolour = \"réd\"\nb = 2\n".len());
        assert_eq!(text.lines().nth(1).map(str::trim), Some(""));
        assert_eq!(text.lines().nth(2), Some("b = 2"));
    }

    #[test]
    fn inline_tables_and_headers_stop_recovery() {
        let mut inline = String::from("smtp = { host = \"h\", colour = 1 }\n");
        assert!(blank_offending_line(&mut inline, 22..28).is_none());
        let mut header = String::from("[emial]\nfrom = \"x\"\n");
        assert!(blank_offending_line(&mut header, 1..6).is_none());
        let mut commented = String::from("[[watch]] # a = b\nname = \"x\"\n");
        assert!(blank_offending_line(&mut commented, 2..7).is_none());
    }
}
