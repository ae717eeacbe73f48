//! Configuration problems as a person wants to read them: file, line, column, the line itself
//! with a caret under the spot, what is wrong and how to fix it.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::{ConfigSource, secrets};
use crate::rules::RuleError;
use crate::utf8::floor_char_boundary;

/// Whether a problem stops the configuration from being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub severity: Severity,
    pub path: PathBuf,
    /// 1-based line; 0 when the problem is about the file as a whole.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub message: String,
    pub help: String,
    /// The offending line and the character range to underline in it.
    snippet: Option<(String, Range<usize>)>,
}

impl ConfigError {
    /// A problem reading the file itself.
    pub fn io(path: &Path, message: String, help: &str) -> Self {
        Self {
            severity: Severity::Error,
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message,
            help: help.to_string(),
            snippet: None,
        }
    }

    /// A problem at a byte range of the file.
    pub fn at(source: &ConfigSource, span: Range<usize>, message: String, help: &str) -> Self {
        let mut error = Self::io(&source.path, message, help);
        if span.end > 0 && span.end <= source.text().len() {
            error.locate(source, span);
        }
        error
    }

    /// A problem with a key found by its table path, e.g. `["polling", "interval"]`.
    pub fn key(source: &ConfigSource, keys: &[&str], message: String, help: &str) -> Self {
        let span = find_key(source.text(), keys).unwrap_or(0..0);
        Self::at(source, span, message, help)
    }

    /// A syntax or schema error reported by the TOML parser.
    pub fn from_toml(source: &ConfigSource, error: &toml::de::Error) -> Self {
        let index = source.index();
        let about_a_password = error
            .span()
            .is_some_and(|span| index.touches_secret(span.start..span.end.max(span.start + 1)));
        // Messages quote the value ("invalid type: integer `123456`"): every quoted part of a
        // message about a password is hidden, and so is any quoted part elsewhere that holds a
        // word of one.
        let message = secrets::hide_quoted(
            error.message().trim_end(),
            about_a_password,
            &index.secret_words,
        );
        let help = if message.contains("unknown field") {
            "remove the key or fix its spelling; the README lists every key"
        } else if message.contains("missing field") {
            "add the missing key; the README lists every key"
        } else {
            "see the configuration reference in the README"
        };
        let mut span = error.span().unwrap_or(0..0);
        if message.starts_with("invalid duration ")
            && let Some(fault) = duration_fault_in_file(source.text(), span.clone())
        {
            span = fault;
        }
        Self::at(source, span, message, help)
    }

    /// A problem inside a watch query: `rule.span` is a byte range of the query text.
    pub fn in_query(source: &ConfigSource, query: &Spanned<String>, rule: &RuleError) -> Self {
        let message = format!("watch {:?}: {}", rule.watch_name, rule.message);
        Self::in_query_at(source, query, rule.span.clone(), message, &rule.help)
    }

    /// A problem at byte range `span` of a watch query's value, located in the file.
    pub fn in_query_at(
        source: &ConfigSource,
        query: &Spanned<String>,
        span: Range<usize>,
        message: String,
        help: &str,
    ) -> Self {
        let file_span = query_span_in_file(source.text(), query, span);
        Self::at(source, file_span, message, help)
    }

    /// The offending line as shown under the message (passwords hidden), for a log format
    /// that has no room for the caret.
    pub fn line_text(&self) -> Option<&str> {
        self.snippet.as_ref().map(|(line, _)| line.as_str())
    }

    /// Marks this problem as a warning.
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Sets the line, column and snippet of the problem at `span`. Everything is found through
    /// the source's index, so that locating each of many problems costs a snippet's length,
    /// not the file's or the line's.
    fn locate(&mut self, source: &ConfigSource, span: Range<usize>) {
        let text = source.text();
        let index = source.index();
        let start = floor_char_boundary(text, span.start);
        let end = floor_char_boundary(text, span.end.max(span.start));
        self.line = index.line_of(start);
        let line = index.line_range(text, self.line);
        let line_start = line.start.min(start);
        let line_end = line.end.max(start);
        let shown_end = line_start + text[line_start..line_end].trim_end_matches('\r').len();
        let col0 = index.chars_between(text, line_start, start);
        self.column = col0 + 1;
        let underline_end = end.min(line_end).max(start);
        // Only a snippet's width of the underline is ever shown.
        let width = text[start..underline_end]
            .chars()
            .take(SNIPPET_CHARS + 1)
            .count()
            .max(1);
        let line_chars = index.chars_between(text, line_start, shown_end);
        self.snippet = Some(if line_chars <= SNIPPET_CHARS {
            let line_text = index.redact(text, line_start..shown_end);
            window(&line_text, col0..col0 + width)
        } else {
            long_line_window(
                text,
                index,
                line_start..shown_end,
                start,
                col0,
                width,
                line_chars,
            )
        });
    }
}

/// [`window`] for a long line, reading only the part shown: the same cut, marks and
/// underline, for `width` characters at byte `start` (character `col0`) of the line.
fn long_line_window(
    text: &str,
    index: &SourceIndex,
    line: Range<usize>,
    start: usize,
    col0: usize,
    width: usize,
    line_chars: usize,
) -> (String, Range<usize>) {
    let width = width.min(SNIPPET_CHARS - 2 * SNIPPET_CONTEXT);
    let from = col0.saturating_sub(SNIPPET_CONTEXT).min(line_chars);
    let to = (col0 + width + SNIPPET_CONTEXT).min(line_chars);
    // The byte where character `target` of the line starts, counted from the spot.
    let byte_of = |target: usize| {
        if target < col0 {
            text[line.start..start]
                .char_indices()
                .rev()
                .take(col0 - target)
                .last()
                .map_or(start, |(i, _)| line.start + i)
        } else {
            text.get(start..line.end)
                .and_then(|rest| rest.char_indices().nth(target - col0))
                .map_or(line.end.max(start), |(i, _)| start + i)
        }
    };
    let (from_byte, to_byte) = (byte_of(from), byte_of(to));
    let mut shown = String::new();
    if from > 0 {
        shown.push('…');
    }
    shown.push_str(&index.redact(text, from_byte..to_byte));
    if to < line_chars {
        shown.push('…');
    }
    let underline = col0 - from + usize::from(from > 0);
    (shown, underline..underline + width)
}

/// What locating problems in one text needs, computed once per text: where its lines start,
/// how many characters precede regularly spaced bytes, and where a password may be.
#[derive(Clone, Default)]
pub struct SourceIndex {
    /// Byte offset of the start of every line.
    line_starts: Vec<usize>,
    /// (byte offset, characters before it), about every [`CHAR_MARK_BYTES`] bytes.
    char_marks: Vec<(usize, usize)>,
    /// Sorted, disjoint byte ranges that may hold a password (see `secrets`).
    secrets: Vec<Range<usize>>,
    /// The words in them, sorted.
    secret_words: Vec<String>,
}

/// Bytes between two character marks: counting a column costs at most this much.
const CHAR_MARK_BYTES: usize = 4096;

impl SourceIndex {
    /// Indexes `text`: one pass over it.
    pub fn new(text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut char_marks = Vec::with_capacity(text.len() / CHAR_MARK_BYTES + 1);
        let (mut at, mut chars) = (0, 0);
        while at < text.len() {
            char_marks.push((at, chars));
            let mut next = (at + CHAR_MARK_BYTES).min(text.len());
            while !text.is_char_boundary(next) {
                next += 1;
            }
            chars += text[at..next].chars().count();
            at = next;
        }
        let secrets = secrets::secret_regions(text);
        Self {
            line_starts,
            char_marks,
            secret_words: secrets::secret_words(text, &secrets),
            secrets,
        }
    }

    /// The number of characters in `text[from..to]` (both character boundaries).
    pub fn chars_between(&self, text: &str, from: usize, to: usize) -> usize {
        self.chars_before(text, to.max(from)) - self.chars_before(text, from)
    }

    fn chars_before(&self, text: &str, at: usize) -> usize {
        let mark = self.char_marks.partition_point(|&(byte, _)| byte <= at);
        let (byte, chars) = mark
            .checked_sub(1)
            .and_then(|m| self.char_marks.get(m))
            .copied()
            .unwrap_or((0, 0));
        chars + text.get(byte..at).map_or(0, |part| part.chars().count())
    }

    /// The 1-based line holding byte `at`.
    pub fn line_of(&self, at: usize) -> usize {
        self.line_starts
            .partition_point(|&start| start <= at)
            .max(1)
    }

    /// The byte offset where 1-based `line` starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0)
    }

    /// The byte range of 1-based `line`, without its line break.
    pub fn line_range(&self, text: &str, line: usize) -> Range<usize> {
        let start = self.line_start(line);
        let end = self
            .line_starts
            .get(line)
            .map_or(text.len(), |next| next.saturating_sub(1));
        start..end.max(start)
    }

    /// The number of lines, counted as [`str::lines`] does.
    pub fn line_count(&self, text: &str) -> usize {
        if text.is_empty() {
            0
        } else {
            self.line_starts.len() - usize::from(text.ends_with('\n'))
        }
    }

    /// Whether `span` overlaps a place that may hold a password.
    fn touches_secret(&self, span: Range<usize>) -> bool {
        let first = self
            .secrets
            .partition_point(|secret| secret.end <= span.start);
        self.secrets
            .get(first)
            .is_some_and(|secret| secret.start < span.end)
    }

    /// `text[line]` with every character that may be part of a password replaced by an
    /// asterisk, so that no message ever shows a secret, even one spread over lines.
    fn redact(&self, text: &str, line: Range<usize>) -> String {
        let mut secrets = self.secrets[self.secrets.partition_point(|s| s.end <= line.start)..]
            .iter()
            .peekable();
        text[line.clone()]
            .char_indices()
            .map(|(i, c)| {
                let at = line.start + i;
                while secrets.next_if(|secret| secret.end <= at).is_some() {}
                if secrets.peek().is_some_and(|secret| secret.contains(&at)) {
                    '*'
                } else {
                    c
                }
            })
            .collect()
    }
}

impl fmt::Debug for SourceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceIndex")
            .field("lines", &self.line_starts.len())
            .finish_non_exhaustive()
    }
}

/// Characters of a line shown in a snippet; longer lines are cut around the spot.
const SNIPPET_CHARS: usize = 160;
/// Characters shown on each side of the spot in a cut line.
const SNIPPET_CONTEXT: usize = 60;

/// The part of `line` shown, and the underlined character range in it: a long line (a huge
/// query) is cut to the spot with some context, marked with "…", and so is a long underline.
fn window(line: &str, underline: Range<usize>) -> (String, Range<usize>) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= SNIPPET_CHARS {
        return (line.to_string(), underline);
    }
    let width = underline.len().min(SNIPPET_CHARS - 2 * SNIPPET_CONTEXT);
    let from = underline
        .start
        .saturating_sub(SNIPPET_CONTEXT)
        .min(chars.len());
    let to = (underline.start + width + SNIPPET_CONTEXT).min(chars.len());
    let mut shown = String::new();
    if from > 0 {
        shown.push('…');
    }
    shown.extend(&chars[from..to]);
    if to < chars.len() {
        shown.push('…');
    }
    let start = underline.start - from + usize::from(from > 0);
    (shown, start..start + width)
}

/// Maps a byte range inside a query's value to a byte range in the file, through the TOML
/// string's quotes and escapes (`\"`, `\u00e9`, a line-ending backslash); the whole string
/// when the value cannot be traced back.
fn query_span_in_file(text: &str, query: &Spanned<String>, inner: Range<usize>) -> Range<usize> {
    let whole = query.span();
    let value = query.get_ref();
    let Some(offsets) = text.get(whole.clone()).and_then(raw_offsets) else {
        return whole;
    };
    if offsets.len() != value.len() + 1 || value.is_empty() {
        return whole;
    }
    let start = inner.start.min(value.len());
    let end = inner.end.max(start + 1).min(value.len());
    whole.start + offsets[start]..whole.start + offsets[end]
}

/// For a TOML string token as written (quotes included), the offset in it of every byte of
/// the value it decodes to, plus one past the last; `None` for a token it does not understand.
fn raw_offsets(raw: &str) -> Option<Vec<usize>> {
    let (quote, opening) = match raw.as_bytes() {
        [b'"', b'"', b'"', ..] => ('"', 3),
        [b'\'', b'\'', b'\'', ..] => ('\'', 3),
        [b'"', ..] => ('"', 1),
        [b'\'', ..] => ('\'', 1),
        _ => return None,
    };
    let body_end = raw.len().checked_sub(opening)?;
    let mut body_start = opening;
    if opening == 3 {
        // A newline right after the opening quotes is not part of the value.
        let rest = raw.get(body_start..)?;
        body_start += if rest.starts_with("\r\n") {
            2
        } else {
            usize::from(rest.starts_with('\n'))
        };
    }
    let body = raw.get(body_start..body_end.max(body_start))?;
    let mut offsets = Vec::with_capacity(body.len() + 1);
    let mut chars = body.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            let (_, escape) = chars.next()?;
            let decoded = match escape {
                'u' | 'U' | 'x' => {
                    let digits = match escape {
                        'u' => 4,
                        'U' => 8,
                        _ => 2,
                    };
                    let hex: String = (0..digits)
                        .filter_map(|_| chars.next().map(|(_, h)| h))
                        .collect();
                    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                }
                ' ' | '\t' | '\r' | '\n' => {
                    // A line-ending backslash: the whitespace up to the next text is dropped.
                    while chars.next_if(|(_, w)| w.is_whitespace()).is_some() {}
                    continue;
                }
                _ => 'x',
            };
            offsets.extend(std::iter::repeat_n(body_start + at, decoded.len_utf8()));
        } else {
            offsets.extend(std::iter::repeat_n(body_start + at, c.len_utf8()));
        }
    }
    offsets.push(body_start + body.len());
    Some(offsets)
}

/// The part of a duration string at `span` of the file (quotes included) that its error is
/// about, when the string is written without escapes; `None` otherwise.
fn duration_fault_in_file(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    let raw = text.get(span.clone())?;
    let value = match raw.as_bytes() {
        [b'"', .., b'"'] if !raw.contains('\\') && !raw.starts_with("\"\"\"") => {
            raw.get(1..raw.len() - 1)?
        }
        [b'\'', .., b'\''] if !raw.starts_with("'''") => raw.get(1..raw.len() - 1)?,
        _ => return None,
    };
    let fault = super::values::duration_fault(value)?;
    Some(span.start + 1 + fault.start..span.start + 1 + fault.end)
}

/// Finds `key` under `[table]` (or a top-level key) and returns the byte range of the key.
fn find_key(text: &str, keys: &[&str]) -> Option<Range<usize>> {
    let (table, key) = match keys {
        [table] => (Some(*table), None),
        [table, key] => (Some(*table), Some(*key)),
        _ => return None,
    };
    let mut current_table = String::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(header) = trimmed.strip_prefix('[') {
            let name = header
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            current_table = name.to_string();
            if key.is_none() && Some(name) == table {
                return Some(offset + indent..offset + indent + trimmed.trim_end().len());
            }
        } else if let Some(key) = key
            && Some(current_table.as_str()) == table
            && let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return Some(offset + indent..offset + indent + key.len());
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{SNIPPET_CHARS, SourceIndex, long_line_window, window};

    fn redact_passwords(text: &str, line: std::ops::Range<usize>) -> String {
        SourceIndex::new(text).redact(text, line)
    }

    #[test]
    fn passwords_never_reach_a_snippet() {
        let redacted = |text: &str| redact_passwords(text, 0..text.len());
        assert_eq!(
            redacted(r#"smtp = { host = "h", password = "s3cret", password_env = "X" }"#),
            r#"smtp = { host = "h", password = "******", password_env = "X" }"#
        );
        assert_eq!(redacted("password='abc'"), "password='***'");
        assert_eq!(
            redacted("password_file = \"/run/x\""),
            "password_file = \"/run/x\""
        );
        assert_eq!(
            redacted("password = \"unterminated"),
            "password = *************"
        );
        assert_eq!(
            redacted(r#"smtp = { "password" = "s3cret", 'password' = 'x' }"#),
            r#"smtp = { "password" = "******", 'password' = '*' }"#
        );
        assert_eq!(redacted(r#"password = "a\"b""#), r#"password = "****""#);
        assert_eq!(
            redacted(r#"password = """s3cret""" "#),
            r#"password = """******""" "#
        );
    }

    #[test]
    fn a_huge_line_is_shown_around_the_spot() {
        let line = format!(
            "query = \"{} @nolist {}\"",
            "a OR ".repeat(2000),
            "b ".repeat(2000)
        );
        let spot = line.find("@nolist").unwrap();
        let (shown, underline) = window(&line, spot..spot + 7);
        assert!(shown.chars().count() <= SNIPPET_CHARS, "{shown}");
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        let underlined: String = shown
            .chars()
            .skip(underline.start)
            .take(underline.len())
            .collect();
        assert_eq!(underlined, "@nolist");
        let (whole, _) = window("short", 0..1);
        assert_eq!(whole, "short");
    }

    #[test]
    fn a_long_line_is_cut_reading_only_what_is_shown() {
        let line = format!(
            "smtp = {{ host = \"{}\", password = \"s3cret\", x = \"{}\" }}",
            "ж".repeat(300),
            "b".repeat(300)
        );
        let index = SourceIndex::new(&line);
        let whole = index.redact(&line, 0..line.len());
        let total = line.chars().count();
        for spot in [
            0,
            5,
            59,
            60,
            61,
            100,
            310,
            330,
            total - 61,
            total - 3,
            total - 1,
        ] {
            let start = line.char_indices().nth(spot).map(|(i, _)| i).unwrap();
            assert_eq!(index.chars_between(&line, 0, start), spot);
            for width in [1, 7, 40, 41, 161] {
                let width = width.min(total - spot);
                assert_eq!(
                    long_line_window(&line, &index, 0..line.len(), start, spot, width, total),
                    window(&whole, spot..spot + width),
                    "at {spot}, {width} wide"
                );
            }
        }
        let with_cr = format!("{line}\r");
        let index = SourceIndex::new(&with_cr);
        assert_eq!(
            long_line_window(&with_cr, &index, 0..line.len(), line.len(), total, 1, total),
            window(&whole, total..total + 1),
            "at the line's carriage return"
        );
    }

    #[test]
    fn a_password_that_is_not_a_string_is_hidden_too() {
        let redacted = |text: &str| redact_passwords(text, 0..text.len());
        assert_eq!(redacted("password = hunter2"), "password = *******");
        assert_eq!(redacted("password = 123456 # x"), "password = **********");
    }

    #[test]
    fn a_multi_line_password_is_hidden_on_every_line() {
        let text = "[email.smtp]\npassword = \"\"\"\ns3cret\n\"\"\"\nhost = \"h\"\n";
        let line = |n: usize| {
            let start = text
                .split_inclusive('\n')
                .take(n)
                .map(str::len)
                .sum::<usize>();
            let len = text[start..].find('\n').unwrap_or(text.len() - start);
            redact_passwords(text, start..start + len)
        };
        assert_eq!(line(1), "password = \"\"\"");
        assert_eq!(line(2), "******");
        assert_eq!(line(3), "\"\"\"");
        assert_eq!(line(4), "host = \"h\"");
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.line == 0 {
            write!(f, "{}: {label}: {}", self.path.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {label}: {}",
                self.path.display(),
                self.line,
                self.column,
                self.message
            )?;
        }
        if let Some((line_text, range)) = &self.snippet {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_pad: String = line_text
                .chars()
                .take(range.start)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(
                f,
                "\n{pad} |\n{number} | {line_text}\n{pad} | {caret_pad}{}",
                "^".repeat(range.len())
            )?;
        }
        if !self.help.is_empty() {
            write!(f, "\n  = help: {}", self.help)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one configuration.
#[derive(Debug, Clone, Default)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn single(error: ConfigError) -> Self {
        Self(vec![error])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        let count = self.0.len();
        if count > 1 {
            write!(f, "\n\n{count} problems in the configuration")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
