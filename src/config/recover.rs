//! Every problem in one pass. Deserialising stops at the first wrong key or value, so after
//! each such error the offending `key = value` line is blanked (spaces of the same length, so
//! every later position in the file stays true) and the text is read again; the errors are
//! collected until the rest reads cleanly, or until blanking would make the rest meaningless.

use std::ops::Range;

/// Most wrong keys or values reported from one file.
pub const MAX_ERRORS: usize = 50;

/// Blanks the line(s) `span` points at in `text`, when that leaves valid TOML that still
/// means what the user wrote elsewhere: a `key = value` line, or a line of a multi-line array,
/// outside inline tables and table headers. Returns the key that was blanked ("" for an array
/// line), or `None` when recovery should stop.
pub fn blank_offending_line(text: &mut String, span: Range<usize>) -> Option<String> {
    let start = span.start.min(text.len());
    let end = span.end.clamp(start, text.len());
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text.get(end..)?.find('\n').map_or(text.len(), |i| end + i);
    let lines = &text[line_start..line_end];
    if lines.contains(['{', '}']) || lines.trim_start().starts_with('[') && !lines.contains('=') {
        return None;
    }
    let key = lines
        .split_once('=')
        .map(|(key, _)| key.trim().trim_matches(['"', '\'']).to_string())
        .unwrap_or_default();
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
    text.parse::<toml::Table>().ok().map(|_| key)
}

/// Whether `error` only repeats an earlier one: a key reported missing because its wrong
/// value was blanked.
pub fn echoes_a_blanked_key(error: &toml::de::Error, blanked: &[String]) -> bool {
    let message = error.message();
    blanked
        .iter()
        .any(|key| !key.is_empty() && message.contains(&format!("missing field `{key}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_line_is_blanked_in_place() {
        let mut text = String::from("a = 1\ncolour = \"réd\"\nb = 2\n");
        let span = 6..12;
        assert_eq!(
            blank_offending_line(&mut text, span),
            Some("colour".to_string())
        );
        assert_eq!(text.len(), "a = 1\ncolour = \"réd\"\nb = 2\n".len());
        assert_eq!(text.lines().nth(1).map(str::trim), Some(""));
        assert_eq!(text.lines().nth(2), Some("b = 2"));
    }

    #[test]
    fn inline_tables_and_headers_stop_recovery() {
        let mut inline = String::from("smtp = { host = \"h\", colour = 1 }\n");
        assert_eq!(blank_offending_line(&mut inline, 22..28), None);
        let mut header = String::from("[emial]\nfrom = \"x\"\n");
        assert_eq!(blank_offending_line(&mut header, 1..6), None);
    }
}
