//! Every problem in one pass. Deserialising stops at the first wrong key or value, so after
//! each such error the offending `key = value` line is blanked (spaces of the same length, so
//! every later position in the file stays true) and the text is read again; the errors are
//! collected until the rest reads cleanly, or until blanking would make the rest meaningless.
//!
//! Reading the whole file again after each error would cost the file's length per error. So
//! the file is cut into parts that deserialise independently (each top-level key, each
//! `[[watch]]` and `[[feeds]]` table, each list): the errors of one part do not depend on the
//! others, and one re-read of the text serves the next error of every part at once. The errors
//! are reported exactly as reading the whole file again after each one would report them: part
//! by part in the order deserialisation visits them, each part's errors in the order found.
//! A clean file is read once; a file with errors once more per error of the part with the most
//! (at most [`MAX_ERRORS`]), however many parts have errors. A part whose lines hold nothing
//! else (a `[[watch]]` table, a list, `[polling]`…) is read again from its own lines alone, so
//! that even one table with many errors in a huge file costs no more than the table.

use std::collections::HashMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeArray, DeString, DeTable, DeValue, ValueDeserializer};

use super::diagnostic::SourceIndex;
use super::{Config, ConfigError, ConfigSource, FeedConfig, WatchConfig};

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

/// What reading a text with recovery found: the configuration read from what was left, when
/// the rest read cleanly; every wrong key or value; the lines blanked after them.
pub struct Collected {
    pub config: Option<Config>,
    pub errors: Vec<ConfigError>,
    pub blanked: Vec<Blanked>,
}

/// Deserialises the text, collecting every wrong key or value rather than only the first. A
/// TOML syntax error is reported alone: past it nothing can be read reliably.
pub fn collect(source: &ConfigSource) -> Collected {
    Recovery::new(source).run()
}

/// Whether a validation error may only follow from a blanked line: it is about the same
/// table (a watch whose `to` or `mode` was wrong), or about the list that was blanked.
pub fn follows_from_blanking(error: &ConfigError, blanked: &[Blanked]) -> bool {
    let about_a_list = error.message.contains("unknown list");
    blanked.iter().any(|b| {
        b.table.contains(&error.line)
            || (about_a_list && !b.key.is_empty() && mentions_list(&error.message, &b.key))
    })
}

/// Whether `message` names `@key`.
fn mentions_list(message: &str, key: &str) -> bool {
    message
        .match_indices('@')
        .any(|(at, _)| message[at + 1..].starts_with(key))
}

/// A part of the file that deserialises on its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PartId {
    /// A top-level key (`database`, `email`, a misspelt key…), read as part of [`Config`].
    Key(String),
    /// The n-th `[[watch]]` table.
    Watch(usize),
    /// The n-th `[[feeds]]` table.
    Feed(usize),
    /// One list of `[lists]`.
    List(String),
}

/// A part read without error: the tables of the arrays are kept for the configuration, the
/// rest is read again with the whole root at the end.
enum Value {
    Watch(Spanned<WatchConfig>),
    Feed(Spanned<FeedConfig>),
    Other,
}

/// What became of the line of an error.
enum Outcome {
    /// Not blanked yet.
    Pending,
    Blanked(Blanked),
    /// Recovery stops after this error: its line cannot be blanked, or blanking it leaves no
    /// valid TOML.
    Stop,
}

/// One part and what reading it found.
struct Part {
    id: PartId,
    /// The part's errors so far, in the order found.
    errors: Vec<(toml::de::Error, Outcome)>,
    /// Set once the part reads without error.
    value: Option<Value>,
    /// False for the parts never read: past enough failing parts, they cannot be reported.
    read: bool,
    /// The lines the part is written on, while they are not yet known to hold nothing else.
    extent: Option<Extent>,
    /// The lines the part is written on, when they hold nothing else and read alone as they
    /// read in the file.
    own_lines: Option<Range<usize>>,
}

impl Part {
    fn needs_reread(&self) -> bool {
        self.value.is_none() && matches!(self.errors.last(), Some((_, Outcome::Blanked(_))))
    }
}

/// The lines a part is written on.
struct Extent {
    /// From the start of the line of the part's first byte to the end of the line of its last.
    lines: Range<usize>,
    /// Whether every table header in those lines is one of the part's.
    only_its_headers: bool,
}

impl Extent {
    /// The extent of a part: its `key` (none for a table of an array) and all of `value`.
    fn of(
        key: Option<&Spanned<DeString<'_>>>,
        value: &Spanned<DeValue<'_>>,
        text: &str,
        headers: &[usize],
    ) -> Extent {
        let mut first = key.map_or(value.span().start, |key| key.span().start);
        let mut last = key.map_or(value.span().end, |key| key.span().end);
        let mut own_headers = 0;
        let mut values = vec![value];
        while let Some(value) = values.pop() {
            let span = value.span();
            first = first.min(span.start);
            last = last.max(span.end);
            match value.get_ref() {
                DeValue::Table(entries) => {
                    if text.as_bytes().get(span.start) == Some(&b'[') {
                        own_headers += 1;
                    }
                    for (key, item) in entries.iter() {
                        first = first.min(key.span().start);
                        last = last.max(key.span().end);
                        values.push(item);
                    }
                }
                DeValue::Array(items) => values.extend(items.iter()),
                _ => {}
            }
        }
        let start = text
            .get(..first)
            .and_then(|before| before.rfind('\n'))
            .map_or(0, |newline| newline + 1);
        let end = text
            .as_bytes()
            .get(last..)
            .and_then(|after| after.iter().position(|&b| b == b'\n'))
            .map_or(text.len(), |newline| last + newline);
        let headers_in_lines = headers.partition_point(|&header| header < end)
            - headers.partition_point(|&header| header < start);
        Extent {
            lines: start..end,
            only_its_headers: headers_in_lines == own_headers,
        }
    }
}

/// What reading a part from its own lines alone gave.
enum Alone {
    /// Its lines are not valid TOML alone.
    Broken,
    /// They no longer hold the part (its only key was blanked).
    Absent,
    Read(Box<Result<Value, toml::de::Error>>),
}

/// A line blanked in this round, not yet known to leave valid TOML.
struct Tentative {
    part: usize,
    range: Range<usize>,
    original: String,
}

/// Where reporting the errors found so far in order gets to. It is final when `work` is
/// empty: until then, the parts in `work` may have more errors, reported before those of
/// later parts, or may end recovery earlier.
struct Walk {
    /// (part, error) in report order.
    reported: Vec<(usize, usize)>,
    /// Reporting ends before the last part: an error past which nothing is reported.
    stopped: bool,
    /// The parts inside the reported stretch whose next error is not known yet.
    work: Vec<usize>,
}

/// Reading one text with recovery.
struct Recovery<'s> {
    source: &'s ConfigSource,
    index: &'s SourceIndex,
    /// The text with every blanked line so far.
    text: String,
    parts: Vec<Part>,
    positions: HashMap<PartId, usize>,
    tentative: Vec<Tentative>,
}

impl<'s> Recovery<'s> {
    fn new(source: &'s ConfigSource) -> Self {
        Self {
            source,
            index: source.index(),
            text: source.text().to_string(),
            parts: Vec::new(),
            positions: HashMap::new(),
            tentative: Vec::new(),
        }
    }

    /// Reads every part, then rounds of: blank the line of each part's latest error, re-read
    /// the text once, read again the parts blanked.
    fn run(&mut self) -> Collected {
        let mut first_round = true;
        loop {
            if !first_round && self.rereads_are_local() {
                self.reread_locally();
                let walk = self.walk();
                if walk.work.is_empty() {
                    return self.finish(&walk, None);
                }
                for part in walk.work {
                    self.blank_latest_error(part);
                }
                continue;
            }
            let text = self.text.clone();
            let document = match DeTable::parse(&text) {
                Ok(document) => document,
                Err(_) if !self.tentative.is_empty() => {
                    self.undo_the_blank_that_broke_the_text();
                    continue;
                }
                Err(error) if first_round => return self.alone(&error),
                Err(_) => {
                    // Only blanks that left valid TOML are kept, so this cannot happen; if it
                    // did, what was found so far is all that can be said.
                    let mut walk = self.walk();
                    walk.stopped = true;
                    return self.finish(&walk, None);
                }
            };
            self.tentative.clear();
            let rest = if first_round {
                let root = document.into_inner();
                let headers = header_starts(&root, &text);
                let rest = self.read_all(root, &text, &headers);
                self.settle_own_lines();
                rest
            } else {
                self.reread(document.into_inner(), &text)
            };
            if first_round {
                first_round = false;
                // Blanking lines would not help a text that reads as TOML but not as TOML
                // values (an integer too large): its first error is all there is to say.
                if let Some((error, _)) = self.parts.iter().find_map(|part| part.errors.first())
                    && self.source.text().parse::<toml::Table>().is_err()
                {
                    return self.alone(error);
                }
            }
            let walk = self.walk();
            if walk.work.is_empty() {
                return self.finish(&walk, Some(rest));
            }
            drop(rest);
            for part in walk.work {
                self.blank_latest_error(part);
            }
        }
    }

    /// `error` as the only problem found.
    fn alone(&self, error: &toml::de::Error) -> Collected {
        Collected {
            config: None,
            errors: vec![ConfigError::from_toml(self.source, error)],
            blanked: Vec::new(),
        }
    }

    /// The first round: every part is read, up to the part whose errors could no longer be
    /// reported (each failing part has at least one).
    fn read_all<'t>(&mut self, root: DeTable<'t>, text: &str, headers: &[usize]) -> DeTable<'t> {
        let mut failing = 0;
        split(root, text, Some(headers), |id, extent, read| {
            let result = (failing < MAX_ERRORS).then(read);
            let mut part = Part {
                id: id.clone(),
                errors: Vec::new(),
                value: None,
                read: result.is_some(),
                extent,
                own_lines: None,
            };
            match result {
                Some(Ok(value)) => part.value = Some(value),
                Some(Err(error)) => {
                    failing += 1;
                    part.errors.push((error, Outcome::Pending));
                }
                None => {}
            }
            self.positions.insert(id.clone(), self.parts.len());
            self.parts.push(part);
        })
    }

    /// A later round: the parts whose line was just blanked are read again. A part no longer
    /// in the text (its only key was blanked) reads cleanly.
    fn reread<'t>(&mut self, root: DeTable<'t>, text: &str) -> DeTable<'t> {
        let mut seen = vec![false; self.parts.len()];
        let rest = split(root, text, None, |id, _, read| {
            let Some(&position) = self.positions.get(id) else {
                return;
            };
            let part = &mut self.parts[position];
            if !part.needs_reread() {
                return;
            }
            seen[position] = true;
            match read() {
                Ok(value) => part.value = Some(value),
                Err(error) => part.errors.push((error, Outcome::Pending)),
            }
        });
        for (part, seen) in self.parts.iter_mut().zip(seen) {
            if seen || !part.needs_reread() {
                continue;
            }
            match (&part.id, part.errors.last_mut()) {
                // Blanking never removes a `[[…]]` header: if it did, stop rather than lose it.
                (PartId::Watch(_) | PartId::Feed(_), Some((_, outcome))) => {
                    *outcome = Outcome::Stop;
                }
                _ => part.value = Some(Value::Other),
            }
        }
        rest
    }

    /// Whether every part to read again can be read from its own lines alone.
    fn rereads_are_local(&self) -> bool {
        self.parts
            .iter()
            .filter(|part| part.needs_reread())
            .all(|part| part.own_lines.is_some())
    }

    /// After the first round: the failing parts whose lines hold nothing else, share no line
    /// with another part, and read alone with the same first error as in the whole file, are
    /// read from their own lines from now on.
    fn settle_own_lines(&mut self) {
        let mut order: Vec<usize> = (0..self.parts.len())
            .filter(|&p| self.parts[p].extent.is_some())
            .collect();
        order.sort_by_key(|&p| self.parts[p].extent.as_ref().map(|e| e.lines.start));
        let mut shared = vec![false; self.parts.len()];
        let mut furthest: Option<(usize, usize)> = None;
        for &p in &order {
            let Some(lines) = self.parts[p].extent.as_ref().map(|e| e.lines.clone()) else {
                continue;
            };
            match furthest {
                Some((end, q)) if lines.start <= end => {
                    shared[p] = true;
                    shared[q] = true;
                    if lines.end > end {
                        furthest = Some((lines.end, p));
                    }
                }
                _ => furthest = Some((lines.end, p)),
            }
        }
        for (part, shared) in self.parts.iter_mut().zip(shared) {
            let Some(extent) = part.extent.take() else {
                continue;
            };
            let Some((first, _)) = part.errors.first() else {
                continue;
            };
            if shared || !extent.only_its_headers {
                continue;
            }
            if let Alone::Read(read) = read_alone(&self.text, &part.id, &extent.lines)
                && let Err(alone) = *read
                && alone.message() == first.message()
                && alone.span() == first.span()
            {
                part.own_lines = Some(extent.lines);
            }
        }
    }

    /// A round in which each part blanked is read again from its own lines: they are valid
    /// TOML alone exactly when the whole text is (blanking only removes keys, and every other
    /// line stays as it was), and they hold the whole part.
    fn reread_locally(&mut self) {
        let tentative = std::mem::take(&mut self.tentative);
        for (p, part) in self.parts.iter_mut().enumerate() {
            if !part.needs_reread() {
                continue;
            }
            let Some(lines) = part.own_lines.clone() else {
                continue;
            };
            match read_alone(&self.text, &part.id, &lines) {
                Alone::Read(read) => match *read {
                    Ok(value) => part.value = Some(value),
                    Err(error) => part.errors.push((error, Outcome::Pending)),
                },
                Alone::Absent if !matches!(part.id, PartId::Watch(_) | PartId::Feed(_)) => {
                    part.value = Some(Value::Other);
                }
                Alone::Absent | Alone::Broken => {
                    // The blank broke the part's lines: undone, and recovery ends there.
                    for blank in tentative.iter().filter(|blank| blank.part == p) {
                        self.text
                            .replace_range(blank.range.clone(), &blank.original);
                    }
                    if let Some((_, outcome)) = part.errors.last_mut() {
                        *outcome = Outcome::Stop;
                    }
                }
            }
        }
    }

    /// Reports the errors found so far in the order reading the whole text after each blank
    /// would find them, up to the first that ends recovery.
    fn walk(&self) -> Walk {
        let mut walk = Walk {
            reported: Vec::new(),
            stopped: false,
            work: Vec::new(),
        };
        let mut keys: Vec<&str> = Vec::new();
        'parts: for (p, part) in self.parts.iter().enumerate() {
            if !part.read {
                walk.stopped = true;
                break;
            }
            for (e, (error, outcome)) in part.errors.iter().enumerate() {
                if echoes_a_blanked_key(error, &keys) {
                    walk.stopped = true;
                    break 'parts;
                }
                walk.reported.push((p, e));
                if walk.reported.len() == MAX_ERRORS {
                    // Nothing after this one is reported, and the configuration is not used;
                    // unless an earlier part in `work` has more errors, which come first.
                    walk.stopped = true;
                    break 'parts;
                }
                match outcome {
                    Outcome::Pending => walk.work.push(p),
                    Outcome::Blanked(blanked) => keys.push(&blanked.key),
                    Outcome::Stop => {
                        walk.stopped = true;
                        break 'parts;
                    }
                }
            }
        }
        walk
    }

    /// The errors as reported, and the configuration when every part read cleanly in the end.
    /// `rest` is the root read with the text as it is now, if the last round read it.
    fn finish(&mut self, walk: &Walk, rest: Option<DeTable<'_>>) -> Collected {
        let mut errors: Vec<ConfigError> = walk
            .reported
            .iter()
            .map(|&(p, e)| ConfigError::from_toml(self.source, &self.parts[p].errors[e].0))
            .collect();
        let blanked = walk
            .reported
            .iter()
            .filter_map(|&(p, e)| match &self.parts[p].errors[e].1 {
                Outcome::Blanked(blanked) => Some(blanked.clone()),
                _ => None,
            })
            .collect();
        let complete = !walk.stopped && errors.len() < MAX_ERRORS;
        let config = if complete {
            let assembled = match rest {
                Some(rest) => self.assemble(rest),
                None => {
                    let text = self.text.clone();
                    DeTable::parse(&text).and_then(|document| {
                        let rest = split(document.into_inner(), &text, None, |_, _, _| {});
                        self.assemble(rest)
                    })
                }
            };
            match assembled {
                Ok(config) => Some(config),
                Err(error) => {
                    errors.push(ConfigError::from_toml(self.source, &error));
                    None
                }
            }
        } else {
            None
        };
        Collected {
            config,
            errors,
            blanked,
        }
    }

    /// The configuration: the root without its arrays of tables, and the tables read.
    fn assemble(&mut self, rest: DeTable<'_>) -> Result<Config, toml::de::Error> {
        let mut config = Config::deserialize(ValueDeserializer::from(Spanned::new(
            0..0,
            DeValue::Table(rest),
        )))?;
        let mut watches = Vec::new();
        let mut feeds = Vec::new();
        for part in &mut self.parts {
            match part.value.take() {
                Some(Value::Watch(watch)) => watches.push(watch),
                Some(Value::Feed(feed)) => feeds.push(feed),
                _ => {}
            }
        }
        if !watches.is_empty() {
            config.watch = watches;
        }
        if !feeds.is_empty() {
            config.feeds = feeds;
        }
        Ok(config)
    }

    /// Blanks the line(s) of part `p`'s latest error, or marks recovery to stop there.
    fn blank_latest_error(&mut self, p: usize) {
        let Some((error, outcome)) = self.parts[p].errors.last_mut() else {
            return;
        };
        let blank = error
            .span()
            .and_then(|span| blank_offending_line(&mut self.text, span, self.index));
        *outcome = match blank {
            Some((blanked, range, original)) => {
                self.tentative.push(Tentative {
                    part: p,
                    range,
                    original,
                });
                Outcome::Blanked(blanked)
            }
            None => Outcome::Stop,
        };
    }

    /// The blanks of this round together left invalid TOML: they are applied again one by
    /// one, in report order, and the first that breaks the text ends recovery after its error.
    /// The later ones are undone too (reporting stops before them).
    fn undo_the_blank_that_broke_the_text(&mut self) {
        let tentative = std::mem::take(&mut self.tentative);
        for blank in tentative.iter().rev() {
            self.text
                .replace_range(blank.range.clone(), &blank.original);
        }
        let mut broken = false;
        for blank in &tentative {
            let Some((_, outcome)) = self.parts[blank.part].errors.last_mut() else {
                continue;
            };
            if broken {
                *outcome = Outcome::Pending;
                continue;
            }
            self.text
                .replace_range(blank.range.clone(), &spaces_like(&blank.original));
            if DeTable::parse(&self.text).is_err() {
                self.text
                    .replace_range(blank.range.clone(), &blank.original);
                *outcome = Outcome::Stop;
                broken = true;
            }
        }
    }
}

/// Cuts a parsed root table into its parts, in the order deserialising the whole root visits
/// them, and hands each to `visit` with a way to read it (and, given the `headers`, the own
/// lines of a table of an array). Returns the root without the arrays of tables (`[[watch]]`,
/// `[[feeds]]`), for reading the rest of the configuration at the end.
fn split<'t>(
    root: DeTable<'t>,
    text: &str,
    headers: Option<&[usize]>,
    mut visit: impl FnMut(&PartId, Option<Extent>, &mut dyn FnMut() -> Result<Value, toml::de::Error>),
) -> DeTable<'t> {
    let extent = |key: Option<&Spanned<DeString<'t>>>, value: &Spanned<DeValue<'t>>| {
        headers.map(|headers| Extent::of(key, value, text, headers))
    };
    let mut rest = DeTable::new();
    for (key, value) in root {
        let name: &str = key.get_ref();
        match name {
            "watch" | "feeds" if is_array_of_tables(&value, text) => {
                let DeValue::Array(tables) = value.into_inner() else {
                    continue;
                };
                for (n, table) in tables.into_iter().enumerate() {
                    let extent = extent(None, &table);
                    let mut table = Some(table);
                    let (id, read): (PartId, Read<'t>) = if name == "watch" {
                        (PartId::Watch(n), read_watch)
                    } else {
                        (PartId::Feed(n), read_feed)
                    };
                    visit(&id, extent, &mut || match table.take() {
                        Some(table) => read(table),
                        None => Ok(Value::Other),
                    });
                }
            }
            "lists" if matches!(value.get_ref(), DeValue::Table(_)) => {
                if let DeValue::Table(lists) = value.get_ref() {
                    for (list, items) in lists.iter() {
                        let id = PartId::List(list.get_ref().to_string());
                        visit(&id, extent(Some(list), items), &mut || {
                            read_list(items.clone())
                        });
                    }
                }
                rest.insert(key, value);
            }
            _ => {
                let id = PartId::Key(name.to_string());
                visit(&id, extent(Some(&key), &value), &mut || {
                    read_key(key.clone(), value.clone())
                });
                rest.insert(key, value);
            }
        }
    }
    rest
}

/// How one table of an array of tables is read.
type Read<'t> = fn(Spanned<DeValue<'t>>) -> Result<Value, toml::de::Error>;

/// Whether a value is an array of `[[…]]` tables (whose count blanking cannot change), not an
/// inline array.
fn is_array_of_tables(value: &Spanned<DeValue<'_>>, text: &str) -> bool {
    match value.get_ref() {
        DeValue::Array(items) => {
            !items.is_empty()
                && items.iter().all(|item| {
                    matches!(item.get_ref(), DeValue::Table(_))
                        && text
                            .get(item.span().start..)
                            .is_some_and(|t| t.starts_with("[["))
                })
        }
        _ => false,
    }
}

/// The sorted offsets of every table header (`[…]`, `[[…]]`) in the document.
fn header_starts(root: &DeTable<'_>, text: &str) -> Vec<usize> {
    let mut headers = Vec::new();
    let mut values: Vec<&Spanned<DeValue<'_>>> = root.values().collect();
    while let Some(value) = values.pop() {
        let starts = text.as_bytes().get(value.span().start).copied();
        match value.get_ref() {
            // An inline table holds no header.
            DeValue::Table(table) if starts != Some(b'{') => {
                if starts == Some(b'[') {
                    headers.push(value.span().start);
                }
                values.extend(table.values());
            }
            DeValue::Array(tables) if is_array_of_tables(value, text) => {
                values.extend(tables.iter())
            }
            _ => {}
        }
    }
    headers.sort_unstable();
    headers
}

/// Reads part `id` from `lines` of `text` alone, its spans placed back where the lines are.
fn read_alone(text: &str, id: &PartId, lines: &Range<usize>) -> Alone {
    let Some(Ok(document)) = text.get(lines.clone()).map(DeTable::parse) else {
        return Alone::Broken;
    };
    let mut root = document.into_inner();
    let by = lines.start;
    let read = match id {
        PartId::Watch(_) | PartId::Feed(_) => {
            let (key, read): (&str, Read<'_>) = match id {
                PartId::Feed(_) => ("feeds", read_feed),
                _ => ("watch", read_watch),
            };
            let table = match root.remove(key).map(Spanned::into_inner) {
                Some(DeValue::Array(tables)) => tables.into_iter().next(),
                _ => None,
            };
            table.map(|table| read(shifted(table, by)))
        }
        PartId::List(name) => root
            .remove(name.as_str())
            .map(|items| read_list(shifted(items, by))),
        PartId::Key(name) => root.remove_entry(name.as_str()).map(|(key, value)| {
            let span = key.span();
            let key = Spanned::new(span.start + by..span.end + by, key.into_inner());
            read_key(key, shifted(value, by))
        }),
    };
    read.map_or(Alone::Absent, |read| Alone::Read(Box::new(read)))
}

/// `value` with every span moved `by` bytes on: a table read from its own lines, placed back
/// where those lines are in the file.
fn shifted<'t>(value: Spanned<DeValue<'t>>, by: usize) -> Spanned<DeValue<'t>> {
    let span = value.span();
    let moved = span.start + by..span.end + by;
    let inner = match value.into_inner() {
        DeValue::Table(table) => DeValue::Table(
            table
                .into_iter()
                .map(|(key, item)| {
                    let key_span = key.span();
                    let key =
                        Spanned::new(key_span.start + by..key_span.end + by, key.into_inner());
                    (key, shifted(item, by))
                })
                .collect(),
        ),
        DeValue::Array(items) => {
            let mut moved_items = DeArray::new();
            for item in items {
                moved_items.push(shifted(item, by));
            }
            DeValue::Array(moved_items)
        }
        other => other,
    };
    Spanned::new(moved, inner)
}

fn read_watch(table: Spanned<DeValue<'_>>) -> Result<Value, toml::de::Error> {
    Spanned::<WatchConfig>::deserialize(ValueDeserializer::from(table)).map(Value::Watch)
}

fn read_feed(table: Spanned<DeValue<'_>>) -> Result<Value, toml::de::Error> {
    Spanned::<FeedConfig>::deserialize(ValueDeserializer::from(table)).map(Value::Feed)
}

fn read_list(items: Spanned<DeValue<'_>>) -> Result<Value, toml::de::Error> {
    Spanned::<Vec<Spanned<String>>>::deserialize(ValueDeserializer::from(items))
        .map(|_| Value::Other)
}

/// A top-level key read as the only key of a configuration, so that an unknown key gets the
/// same message as in the whole file.
fn read_key<'t>(
    key: Spanned<DeString<'t>>,
    value: Spanned<DeValue<'t>>,
) -> Result<Value, toml::de::Error> {
    let mut root = DeTable::new();
    root.insert(key, value);
    Config::deserialize(ValueDeserializer::from(Spanned::new(
        0..0,
        DeValue::Table(root),
    )))
    .map(|_| Value::Other)
}

/// Whether `error` only repeats an earlier one: a key reported missing because its wrong
/// value was blanked.
fn echoes_a_blanked_key(error: &toml::de::Error, keys: &[&str]) -> bool {
    let message = error.message();
    keys.iter().any(|key| {
        !key.is_empty()
            && message.match_indices("missing field `").any(|(at, found)| {
                message[at + found.len()..]
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.starts_with('`'))
            })
    })
}

/// Blanks the line(s) `span` points at in `text`, when that leaves TOML that still means what
/// the user wrote elsewhere: a `key = value` line, or a line of a multi-line array, outside
/// inline tables and table headers. Returns what was blanked, the byte range and its former
/// text; `None` when recovery should stop. Whether the rest is still valid TOML is for the
/// caller to check.
fn blank_offending_line(
    text: &mut String,
    span: Range<usize>,
    index: &SourceIndex,
) -> Option<(Blanked, Range<usize>, String)> {
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
    let table = table_around(text, index, line_start);
    let original = lines.to_string();
    let blanked = spaces_like(&original);
    text.replace_range(line_start..line_end, &blanked);
    Some((Blanked { key, table }, line_start..line_end, original))
}

/// `lines` as spaces of the same byte length, line breaks kept.
fn spaces_like(lines: &str) -> String {
    lines
        .chars()
        .map(|c| {
            if c == '\n' || c == '\r' {
                c.to_string()
            } else {
                " ".repeat(c.len_utf8())
            }
        })
        .collect()
}

/// The 1-based line range of the table holding the byte `at`: from the nearest line before
/// that looks like a header to the next one. Blanking keeps every line where it was, so the
/// original text's line starts still apply.
fn table_around(text: &str, index: &SourceIndex, at: usize) -> Range<usize> {
    let line_count = index.line_count(text);
    let line_text = |n: usize| text.get(index.line_range(text, n)).unwrap_or("");
    let is_header = |n: usize| line_text(n).trim_start().starts_with('[');
    let line_of_at = index.line_of(at);
    let first = (1..=line_of_at.min(line_count))
        .rev()
        .find(|&n| is_header(n))
        .unwrap_or(1);
    let after = (line_of_at + 1..=line_count)
        .find(|&n| is_header(n))
        .unwrap_or(line_count + 1);
    first..after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(text: &mut String, span: Range<usize>) -> Option<Blanked> {
        let index = SourceIndex::new(text);
        blank_offending_line(text, span, &index).map(|(blanked, _, _)| blanked)
    }

    #[test]
    fn a_key_line_is_blanked_in_place() {
        let mut text = String::from("a = 1\ncolour = \"réd\"\nb = 2\n");
        let span = 6..12;
        let blanked = blank(&mut text, span).unwrap();
        assert_eq!(blanked.key, "colour");
        assert_eq!(blanked.table, 1..4);
        assert_eq!(text.len(), "a = 1\ncolour = \"réd\"\nb = 2\n".len());
        assert_eq!(text.lines().nth(1).map(str::trim), Some(""));
        assert_eq!(text.lines().nth(2), Some("b = 2"));
    }

    #[test]
    fn inline_tables_and_headers_stop_recovery() {
        let mut inline = String::from("smtp = { host = \"h\", colour = 1 }\n");
        assert!(blank(&mut inline, 22..28).is_none());
        let mut header = String::from("[emial]\nfrom = \"x\"\n");
        assert!(blank(&mut header, 1..6).is_none());
        let mut commented = String::from("[[watch]] # a = b\nname = \"x\"\n");
        assert!(blank(&mut commented, 2..7).is_none());
    }

    #[test]
    fn the_table_of_a_line_runs_from_its_header_to_the_next() {
        let text = "a = 1\n[x]\nb = 2\nc = 3\n[[y]]\nd = 4";
        let index = SourceIndex::new(text);
        assert_eq!(table_around(text, &index, 0), 1..2);
        assert_eq!(table_around(text, &index, text.find("c =").unwrap()), 2..5);
        assert_eq!(table_around(text, &index, text.find("d =").unwrap()), 5..7);
    }
}
