//! Where a configuration text may hold the SMTP password, however it is written or
//! mis-written, so that no message ever shows any part of it.
//!
//! A well-formed `password = "…"` hides only the string's body. A value that does not read
//! as a clean string (an unterminated or doubled quote, trailing garbage, a number, an array,
//! no value at all) hides everything from the `=` to the end of its line, a multi-line string
//! or array to its closing delimiter. The lines after it that cannot be TOML of their own (not
//! a key, a header, a comment or blank) are hidden too: they can only be the rest of a value
//! broken over lines.

use std::ops::Range;

use crate::utf8::floor_char_boundary;

/// Byte ranges of `text` that may hold a password, sorted and disjoint.
pub fn secret_regions(text: &str) -> Vec<Range<usize>> {
    let mut values: Vec<Range<usize>> = Vec::new();
    let mut covered = 0;
    let mut line_start = 0;
    let mut searched = 0;
    for (equals, _) in text.match_indices('=') {
        if let Some(newline) = text[searched..equals].rfind('\n') {
            line_start = searched + newline + 1;
        }
        searched = equals;
        if equals < covered || !is_password_key(&text[line_start..equals]) {
            continue;
        }
        let (value, comment) = value_regions(text, equals + 1);
        for region in [Some(value), comment].into_iter().flatten() {
            covered = covered.max(region.end);
            values.push(region);
        }
    }
    // After the last value on a line, the lines that go on with it.
    let mut regions = Vec::with_capacity(values.len() * 2);
    for (i, value) in values.iter().enumerate() {
        regions.push(value.clone());
        let line_end = end_of_line(text, value.end);
        let last_on_line = values
            .get(i + 1)
            .is_none_or(|next| end_of_line(text, next.end) != line_end);
        if last_on_line {
            regions.push(line_end..continuation_end(text, line_end));
        }
    }
    regions.extend(keyless_secret_lines(text));
    regions.extend(url_passwords(text));
    regions.retain(|region| !region.is_empty());
    regions.sort_by_key(|region| region.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(regions.len());
    for region in regions {
        match merged.last_mut() {
            Some(last) if region.start <= last.end => last.end = last.end.max(region.end),
            _ => merged.push(region),
        }
    }
    merged
}

/// The words (runs of letters and digits) of every secret region that are long enough to be
/// recognised in a message, sorted.
pub fn secret_words(text: &str, regions: &[Range<usize>]) -> Vec<String> {
    let mut words: Vec<String> = regions
        .iter()
        .filter_map(|region| text.get(region.clone()))
        .flat_map(words_of)
        .map(str::to_string)
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// The words of `text` long enough to be recognised as part of a secret (shorter ones are
/// common English).
fn words_of(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().count() >= 4)
}

/// `message` with its quoted parts (`` `…` `` and `"…"`, the forms in which the TOML parser
/// and serde quote input) replaced by asterisks: all of them when `all`, otherwise those that
/// hold one of `words` (sorted).
pub fn hide_quoted(message: &str, all: bool, words: &[String]) -> String {
    let mut shown = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest.as_bytes()[open];
        shown.push_str(&rest[..=open]);
        let body = &rest[open + 1..];
        let len = quoted_len(body, quote);
        let quoted = &body[..len];
        let secret = || {
            words_of(quoted).any(|word| {
                words
                    .binary_search_by(|secret| secret.as_str().cmp(word))
                    .is_ok()
            })
        };
        if all || secret() {
            shown.push_str("***");
        } else {
            shown.push_str(quoted);
        }
        rest = &body[len..];
        if let Some(after) = rest.strip_prefix(char::from(quote)) {
            shown.push(char::from(quote));
            rest = after;
        }
    }
    shown.push_str(rest);
    shown
}

/// Bytes of `body` up to its closing `quote` (or all of it); a `"` string is in Rust's debug
/// form, with backslash escapes.
fn quoted_len(body: &str, quote: u8) -> usize {
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b if b == quote => return i,
            _ => i += 1,
        }
    }
    body.len()
}

/// Whether `before`, a line up to an `=`, ends with a key that names a password: its last
/// part, bare or quoted (escapes decoded), ends with "password" in any case. `password_env` and
/// `password_file` do not.
fn is_password_key(before: &str) -> bool {
    let before = before.trim_end_matches([' ', '\t']);
    // Keys are short: looking further back would cost the line's length at every `=`.
    let before = &before[floor_char_boundary(before, before.len().saturating_sub(MAX_KEY_BYTES))..];
    let key = match before.as_bytes().last() {
        Some(b'\'') => {
            let inner = &before[..before.len() - 1];
            inner.rfind('\'').map(|open| inner[open + 1..].to_string())
        }
        Some(b'"') => basic_key_before(&before[..before.len() - 1]),
        _ => {
            let bare = before.trim_end_matches(is_bare_key_char);
            Some(before[bare.len()..].to_string())
        }
    };
    key.is_some_and(|key| names_a_secret(&key))
}

/// Whether a key names a secret: it ends with "password" in any case, or it looks like a
/// misspelling or cousin of one (`passwd`, `pass`, `smtp_secret`, `token`); `password_env` and
/// `password_file` name where a secret is, not the secret.
fn names_a_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if key.ends_with("_env") || key.ends_with("_file") {
        return false;
    }
    key.ends_with(PASSWORD)
        || ["pass", "pwd", "secret", "token"]
            .iter()
            .any(|w| key.contains(w))
}

/// Keys that name a secret but are not followed by `=` (`password "s3cret"`, also inside an
/// inline table): the rest of the line after the key. A key stands at the start of a line or
/// after a `{` or `,`.
fn keyless_secret_lines(text: &str) -> Vec<Range<usize>> {
    let mut regions = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let key_starts =
            std::iter::once(0).chain(body.match_indices(['{', ',']).map(|(at, _)| at + 1));
        for key_start in key_starts {
            // A dotted key's parts, up to the last one.
            let mut rest = &body[key_start..];
            let key = loop {
                rest = rest.trim_start_matches([' ', '\t']);
                let key_len = match rest.as_bytes().first() {
                    Some(&quote @ (b'"' | b'\'')) => rest[1..]
                        .find(char::from(quote))
                        .map_or(0, |close| close + 2),
                    _ => rest.len() - rest.trim_start_matches(is_bare_key_char).len(),
                };
                let part = rest[..key_len].trim_matches(['"', '\'']);
                rest = &rest[key_len..];
                match rest.trim_start_matches([' ', '\t']).strip_prefix('.') {
                    Some(next) if key_len > 0 => rest = next,
                    _ => break part,
                }
            };
            let after = rest.trim_start_matches([' ', '\t']);
            if !key.is_empty() && !after.starts_with('=') && names_a_secret(key) {
                let from = start + (body.len() - rest.len());
                let to = start + body.len();
                regions.push(from..to);
                regions.push(to..continuation_end(text, to));
                break;
            }
        }
        start += line.len();
    }
    regions
}

/// The passwords of URLs written anywhere in the text (`postgres://user:s3cret@host/db`, a
/// feed's `https://user:s3cret@host/rss`): from the `:` after the user to the last `@` of
/// the authority.
fn url_passwords(text: &str) -> Vec<Range<usize>> {
    let mut regions = Vec::new();
    for (scheme_end, _) in text.match_indices("://") {
        let authority_start = scheme_end + 3;
        let authority_len = text[authority_start..]
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '\\') || c.is_whitespace())
            .unwrap_or(text.len() - authority_start);
        let authority = &text[authority_start..authority_start + authority_len];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            regions.push(authority_start + colon + 1..authority_start + at);
        }
    }
    regions
}

/// Longest key looked at, in bytes.
const MAX_KEY_BYTES: usize = 1024;

const PASSWORD: &str = "password";

/// The decoded text of a `"…"` key whose closing quote was just before `inner`'s end.
fn basic_key_before(inner: &str) -> Option<String> {
    let bytes = inner.as_bytes();
    let mut open = bytes.len();
    loop {
        open = inner[..open].rfind('"')?;
        let backslashes = bytes[..open]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            break;
        }
    }
    Some(decode_basic(&inner[open + 1..]))
}

/// A basic string's body with its escapes decoded (an invalid escape is kept as written).
fn decode_basic(raw: &str) -> String {
    let mut decoded = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            decoded.push(c);
            continue;
        }
        let escape = chars.next();
        let digits = match escape {
            Some('u') => 4,
            Some('U') => 8,
            Some('x') => 2,
            Some(other) => {
                decoded.push(match other {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
                continue;
            }
            None => break,
        };
        let hex: String = chars.by_ref().take(digits).collect();
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(c) => decoded.push(c),
            None => decoded.push_str(&hex),
        }
    }
    decoded
}

fn is_bare_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The secret part of a value (the whole value, or a clean string's body), and the comment
/// after it if any.
type Regions = (Range<usize>, Option<Range<usize>>);

/// The secret parts of the value that starts after the `=` at `after_equals - 1`.
fn value_regions(text: &str, after_equals: usize) -> Regions {
    let start = skip_blanks(text, after_equals);
    let rest = &text[start..];
    let line_end = end_of_line(text, start);
    for quotes in ["\"\"\"", "'''"] {
        if rest.starts_with(quotes) {
            let body = start + 3;
            return match multi_line_close(text, body, quotes) {
                Some((body_end, close_end)) => {
                    clean_or_line(text, start, body..body_end, close_end)
                }
                None => (start..text.len(), None),
            };
        }
    }
    match rest.as_bytes().first() {
        Some(&quote @ (b'"' | b'\'')) => match single_line_close(text, start + 1, quote) {
            Some(body_end) => clean_or_line(text, start, start + 1..body_end, body_end + 1),
            None => (start..line_end, None),
        },
        Some(b'[' | b'{') => {
            let end = bracket_close(text, start);
            (
                start..end_of_line(text, end.saturating_sub(1)).max(line_end),
                None,
            )
        }
        Some(_) | None => (start..line_end, None),
    }
}

/// The regions of a closed string value: its body when what follows it reads cleanly (and a
/// trailing comment), otherwise the whole value to the end of that line.
fn clean_or_line(text: &str, start: usize, body: Range<usize>, after: usize) -> Regions {
    match tail_after_string(&text[after..]) {
        Tail::Clean => (body, None),
        Tail::Comment(at) => (body, Some(after + at..end_of_line(text, after + at))),
        Tail::Garbage => (start..end_of_line(text, after), None),
    }
}

/// What follows a string value on its line.
enum Tail {
    /// What TOML allows there: the end of the line; in an inline table `,` and another key, or
    /// the closing `}`.
    Clean,
    /// A comment, at this offset.
    Comment(usize),
    Garbage,
}

/// Reads only as far as needed, not to the end of the line: a long line of many passwords
/// would otherwise be read once per password.
fn tail_after_string(rest: &str) -> Tail {
    let blanks = |from: usize| {
        from + (rest[from..].len() - rest[from..].trim_start_matches([' ', '\t']).len())
    };
    let at = blanks(0);
    let ends = |at: usize| match rest.as_bytes().get(at) {
        None | Some(b'\n' | b'\r') => Some(Tail::Clean),
        Some(b'#') => Some(Tail::Comment(at)),
        _ => None,
    };
    if let Some(tail) = ends(at) {
        return tail;
    }
    let next = blanks(at + 1);
    match rest.as_bytes()[at] {
        b',' => ends(next).unwrap_or_else(|| {
            if rest[next..].starts_with('}') || starts_with_key(&rest[next..]) {
                Tail::Clean
            } else {
                Tail::Garbage
            }
        }),
        b'}' => ends(next).unwrap_or_else(|| {
            if rest[next..].starts_with([',', ']', '}']) {
                Tail::Clean
            } else {
                Tail::Garbage
            }
        }),
        _ => Tail::Garbage,
    }
}

/// Whether `line` starts with a (dotted) key followed by `=`.
fn starts_with_key(line: &str) -> bool {
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        let after_part = match rest.as_bytes().first() {
            Some(b'"') => single_line_close(rest, 1, b'"').map(|close| &rest[close + 1..]),
            Some(b'\'') => single_line_close(rest, 1, b'\'').map(|close| &rest[close + 1..]),
            Some(_) => {
                let after = rest.trim_start_matches(is_bare_key_char);
                (after.len() < rest.len()).then_some(after)
            }
            None => None,
        };
        let Some(after_part) = after_part else {
            return false;
        };
        let after_part = after_part.trim_start_matches([' ', '\t']);
        match after_part.as_bytes().first() {
            Some(b'=') => return true,
            Some(b'.') => rest = &after_part[1..],
            _ => return false,
        }
    }
}

/// The end of the lines after `line_end` that may continue a value broken over lines: up to
/// a blank line, a comment, a table header or a line starting with a key.
fn continuation_end(text: &str, line_end: usize) -> usize {
    let mut end = line_end;
    while end < text.len() {
        let next_start = end + 1;
        let next_end = end_of_line(text, next_start);
        let line = text[next_start..next_end].trim();
        if line.is_empty() || line.starts_with(['#', '[']) || starts_with_key(line) {
            break;
        }
        end = next_end;
    }
    end
}

/// The offset of the `\n` ending the line that holds `at` (or the end of the text).
fn end_of_line(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |i| at + i)
}

fn skip_blanks(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    from + (rest.len() - rest.trim_start_matches([' ', '\t']).len())
}

/// For a single-line string whose body starts at `body`: the offset of its closing quote, or
/// `None` when the line ends first.
fn single_line_close(text: &str, body: usize, quote: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = body;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => return None,
            b'\\' if quote == b'"' && bytes.get(i + 1) != Some(&b'\n') => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// For a multi-line string whose body starts at `body`: the end of its body and of its
/// closing delimiter (which may follow one or two quotes that belong to the body).
fn multi_line_close(text: &str, body: usize, quotes: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut i = body;
    while i < bytes.len() {
        if bytes[i] == b'\\' && quotes == "\"\"\"" {
            i += 2;
            continue;
        }
        if bytes[i..].starts_with(quotes.as_bytes()) {
            let extra = bytes[i + 3..]
                .iter()
                .take(2)
                .take_while(|&&b| b == quotes.as_bytes()[0])
                .count();
            return Some((i + extra, i + extra + 3));
        }
        i += 1;
    }
    None
}

/// The offset just past the bracket that closes the array or inline table opening at
/// `open` (strings and comments skipped), or the end of the text.
fn bracket_close(text: &str, open: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            b'#' => {
                i = end_of_line(text, i);
                continue;
            }
            quote @ (b'"' | b'\'') => {
                let quotes = if quote == b'"' { "\"\"\"" } else { "'''" };
                i = if bytes[i..].starts_with(quotes.as_bytes()) {
                    multi_line_close(text, i + 3, quotes).map_or(text.len(), |(_, end)| end)
                } else {
                    single_line_close(text, i + 1, quote)
                        .map_or_else(|| end_of_line(text, i), |close| close + 1)
                };
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` with every secret byte shown as `*` (ASCII tests only).
    fn masked(text: &str) -> String {
        let regions = secret_regions(text);
        text.char_indices()
            .map(|(i, c)| {
                if c != '\n' && regions.iter().any(|r| r.contains(&i)) {
                    '*'
                } else {
                    c
                }
            })
            .collect()
    }

    #[test]
    fn a_clean_string_hides_its_body_only() {
        assert_eq!(masked(r#"password = "s3cret""#), r#"password = "******""#);
        assert_eq!(masked("password='abc'"), "password='***'");
        assert_eq!(masked(r#"password = "a\"b""#), r#"password = "****""#);
        assert_eq!(
            masked(r#"smtp = { "password" = "s3cret", 'password' = 'x' }"#),
            r#"smtp = { "password" = "******", 'password' = '*' }"#
        );
        assert_eq!(
            masked("password_file = \"/run/x\"\npassword_env = \"X\""),
            "password_file = \"/run/x\"\npassword_env = \"X\""
        );
        assert_eq!(
            masked("password = \"s3cret\" # horse"),
            "password = \"******\" *******"
        );
    }

    #[test]
    fn a_value_that_does_not_read_cleanly_is_hidden_to_the_end_of_its_line() {
        for (text, shown) in [
            (
                r#"password = "correct"horse-battery-staple""#,
                "password = ******************************",
            ),
            (
                r#"smtp = { password = "correct"horse, host = "h" }"#,
                "smtp = { password = ****************************",
            ),
            (
                r#"password = "correct" horse"#,
                "password = ***************",
            ),
            (
                r#"password = "correct", horse"#,
                "password = ****************",
            ),
            ("password = 'abc", "password = ****"),
            ("password = hunter2", "password = *******"),
            ("password = [1, 2] x", "password = ********"),
        ] {
            assert_eq!(masked(text), shown, "{text}");
        }
    }

    #[test]
    fn an_open_value_is_hidden_on_the_lines_that_continue_it() {
        assert_eq!(
            masked("password = \"correct\nhorse battery\"\nhost = \"h\""),
            "password = ********\n**************\nhost = \"h\""
        );
        assert_eq!(
            masked("password =\n'correct'\n\n[x]"),
            "password =\n*********\n\n[x]"
        );
        assert_eq!(
            masked("password = [\n\"correct\",\n\"horse\" x]\nhost = 1"),
            "password = *\n**********\n**********\nhost = 1"
        );
        assert_eq!(
            masked("password = \"\"\"correct\nhorse\"\"\" x\nhost = 1"),
            "password = **********\n**********\nhost = 1"
        );
        assert_eq!(
            masked("a = 1\npassword = '''x\ny"),
            "a = 1\npassword = ****\n*"
        );
        assert_eq!(
            masked("password = \"correct\"\nhorse-battery\"\n}\n\nhost = 1"),
            "password = \"*******\"\n**************\n*\n\nhost = 1"
        );
        assert_eq!(
            masked("password = correct\n horse\n# c"),
            "password = *******\n******\n# c"
        );
    }

    #[test]
    fn the_passwords_of_urls_are_hidden() {
        assert_eq!(
            masked(r#"url = "postgres://nw:s3cret@db:5432/nw?sslmode=require""#),
            r#"url = "postgres://nw:******@db:5432/nw?sslmode=require""#
        );
        assert_eq!(
            masked("url = 'mysql://root:p@ss@localhost/x' # c"),
            "url = 'mysql://root:****@localhost/x' # c"
        );
        for kept in [
            r#"url = "postgres://nw@db/nw""#,
            r#"url = "https://example.org:8443/rss""#,
            r#"url = "sqlite:///var/lib/newswatch/newswatch.db""#,
            "a = \"x://\"",
        ] {
            assert_eq!(masked(kept), kept);
        }
    }

    #[test]
    fn keys_are_recognised_however_they_are_written() {
        for key in [
            "password",
            "\"password\"",
            "'password'",
            "smtp.password",
            "smtp . \"password\"",
            "\"pass\\u0077ord\"",
            "Password",
            "smtp_password",
            "passwd",
            "smtp_secret",
        ] {
            let text = format!("{key}\t=  \"s3cret\"");
            assert!(!masked(&text).contains("s3cret"), "{text}");
            let without_equals = format!("{key} \"s3cret\"");
            assert!(
                !masked(&without_equals).contains("s3cret"),
                "{without_equals}"
            );
        }
        assert_eq!(masked("password_env = \"X\""), "password_env = \"X\"");
        assert_eq!(
            masked("host = \"smtp.example.org\""),
            "host = \"smtp.example.org\""
        );
    }

    #[test]
    fn quoted_parts_of_messages_are_hidden() {
        assert_eq!(
            hide_quoted(
                "invalid type: integer `123456`, expected a string",
                true,
                &[]
            ),
            "invalid type: integer `***`, expected a string"
        );
        assert_eq!(
            hide_quoted(
                r#"invalid type: string "a\"b", expected a sequence"#,
                true,
                &[]
            ),
            r#"invalid type: string "***", expected a sequence"#
        );
        let words = vec!["horse".to_string()];
        assert_eq!(
            hide_quoted("unknown field `horse-1`, expected `host`", false, &words),
            "unknown field `***`, expected `host`"
        );
        assert_eq!(
            hide_quoted("unterminated `horse", false, &words),
            "unterminated `***"
        );
    }
}
