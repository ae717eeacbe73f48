//! An article analysed once for matching: its words per field with positions, the keys they are
//! found by, and where the article comes from (site, feed, language).

use std::borrow::Cow;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::analysis::{self, Analyzer, Key};
use super::compile::fold_name;

/// The parts of an article a query can look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Summary,
    Content,
    Author,
    Category,
}

impl Field {
    pub const ALL: [Field; 5] = [
        Field::Title,
        Field::Summary,
        Field::Content,
        Field::Author,
        Field::Category,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Author => "author",
            Field::Category => "category",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldMask(u8);

impl FieldMask {
    pub const TITLE: FieldMask = FieldMask(1);
    pub const AUTHOR: FieldMask = FieldMask(8);
    pub const CATEGORY: FieldMask = FieldMask(16);
    /// The default scope: title, summary and content.
    pub const TEXT: FieldMask = FieldMask(1 | 2 | 4);
    pub const NONE: FieldMask = FieldMask(0);
    pub const ALL: FieldMask = FieldMask(1 | 2 | 4 | 8 | 16);

    pub fn contains(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }

    pub fn with(self, field: Field) -> FieldMask {
        FieldMask(self.0 | field.bit())
    }

    pub fn union(self, other: FieldMask) -> FieldMask {
        FieldMask(self.0 | other.0)
    }

    pub fn intersects(self, other: FieldMask) -> bool {
        self.0 & other.0 != 0
    }
}

/// What the matcher needs to know of an article, borrowed from wherever it lives.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArticleView<'a> {
    pub title: &'a str,
    /// Plain text (HTML already reduced to text).
    pub summary: &'a str,
    /// Plain text (HTML already reduced to text).
    pub content: &'a str,
    pub authors: &'a [String],
    pub categories: &'a [String],
    pub link: Option<&'a str>,
    /// Names and tags of the feeds the article came through.
    pub feeds: &'a [String],
    /// The language declared for the article or its feed.
    pub lang: Option<&'a str>,
}

/// One word occurrence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub field: Field,
    /// Word position within the field.
    pub pos: u32,
    /// Byte range in the field's text.
    pub start: u32,
    pub end: u32,
    /// Index into the document's distinct words.
    pub word: u32,
}

/// Distinct words met so far while building a document, and a buffer for a new word's keys.
#[derive(Default)]
struct WordIds {
    ids: FxHashMap<String, u32>,
    keys: Vec<Key>,
}

/// Positions between two authors or two categories, so phrases and NEAR never span them.
const VALUE_GAP: u32 = 50;

/// An analysed article.
pub struct Document<'a> {
    texts: [Cow<'a, str>; 5],
    pub(crate) tokens: Vec<Token>,
    /// Distinct folded words.
    pub(crate) words: Vec<Box<str>>,
    /// Per distinct word: its occurrences.
    pub(crate) word_tokens: Vec<Vec<u32>>,
    /// Per distinct word: the fields it occurs in.
    pub(crate) word_fields: Vec<FieldMask>,
    /// Key → distinct words having it.
    pub(crate) index: FxHashMap<Key, Vec<u32>>,
    /// Distinct word ids sorted by spelling, for prefix search.
    sorted_words: Vec<u32>,
    pub(crate) sites: Vec<String>,
    pub(crate) feeds: Vec<String>,
    pub(crate) lang: Option<String>,
}

impl<'a> Document<'a> {
    pub(crate) fn build(analyzer: &Analyzer, article: &ArticleView<'a>, detect_lang: bool) -> Self {
        let mut doc = Document {
            texts: [
                Cow::Borrowed(article.title),
                Cow::Borrowed(article.summary),
                Cow::Borrowed(article.content),
                Cow::Owned(article.authors.join("; ")),
                Cow::Owned(article.categories.join("; ")),
            ],
            tokens: Vec::new(),
            words: Vec::new(),
            word_tokens: Vec::new(),
            word_fields: Vec::new(),
            index: FxHashMap::default(),
            sorted_words: Vec::new(),
            sites: article.link.map(site_suffixes).unwrap_or_default(),
            feeds: article.feeds.iter().map(|f| fold_name(f)).collect(),
            lang: article.lang.map(normalize_lang),
        };
        let mut word_ids = WordIds::default();
        doc.add_text(analyzer, Field::Title, article.title, 0, 0, &mut word_ids);
        doc.add_text(
            analyzer,
            Field::Summary,
            article.summary,
            0,
            0,
            &mut word_ids,
        );
        doc.add_text(
            analyzer,
            Field::Content,
            article.content,
            0,
            0,
            &mut word_ids,
        );
        for (field, values) in [
            (Field::Author, article.authors),
            (Field::Category, article.categories),
        ] {
            let mut offset = 0;
            let mut pos = 0;
            for value in values {
                pos = doc.add_text(analyzer, field, value, offset, pos, &mut word_ids) + VALUE_GAP;
                offset += value.len() + 2;
            }
        }
        let mut sorted: Vec<u32> = (0..doc.words.len() as u32).collect();
        sorted.sort_unstable_by(|a, b| doc.words[*a as usize].cmp(&doc.words[*b as usize]));
        doc.sorted_words = sorted;
        if doc.lang.is_none() && detect_lang {
            doc.lang = detect_language(article);
        }
        doc
    }

    /// Adds the words of one text; returns the next free position.
    fn add_text(
        &mut self,
        analyzer: &Analyzer,
        field: Field,
        text: &str,
        offset: usize,
        first_pos: u32,
        word_ids: &mut WordIds,
    ) -> u32 {
        let mut pos = first_pos;
        analysis::for_each_word(text, |start, end, folded| {
            let id = match word_ids.ids.get(folded) {
                Some(&id) => id,
                None => {
                    let id = self.words.len() as u32;
                    analyzer.text_keys(folded, &mut word_ids.keys);
                    for key in word_ids.keys.drain(..) {
                        self.index.entry(key).or_default().push(id);
                    }
                    self.words.push(folded.into());
                    self.word_tokens.push(Vec::new());
                    self.word_fields.push(FieldMask::NONE);
                    word_ids.ids.insert(folded.into(), id);
                    id
                }
            };
            let token = self.tokens.len() as u32;
            self.tokens.push(Token {
                field,
                pos,
                start: (offset + start) as u32,
                end: (offset + end) as u32,
                word: id,
            });
            self.word_tokens[id as usize].push(token);
            self.word_fields[id as usize] = self.word_fields[id as usize].with(field);
            pos += 1;
        });
        pos
    }

    /// Distinct words starting with `prefix`.
    pub(crate) fn words_with_prefix<'s>(
        &'s self,
        prefix: &'s str,
    ) -> impl Iterator<Item = u32> + 's {
        let first = self
            .sorted_words
            .partition_point(|w| &*self.words[*w as usize] < prefix);
        self.sorted_words[first..]
            .iter()
            .copied()
            .take_while(move |w| self.words[*w as usize].starts_with(prefix))
    }

    /// Distinct word spelled exactly `folded`.
    pub(crate) fn word_id(&self, folded: &str) -> Option<u32> {
        let i = self
            .sorted_words
            .partition_point(|w| &*self.words[*w as usize] < folded);
        self.sorted_words
            .get(i)
            .copied()
            .filter(|w| &*self.words[*w as usize] == folded)
    }

    /// The text of a field, as the offsets of its tokens see it.
    pub fn text(&self, field: Field) -> &str {
        &self.texts[field as usize]
    }

    /// The words of one field, in order: each one's byte range in [`Document::text`] and its
    /// folded form.
    pub fn field_words(&self, field: Field) -> impl Iterator<Item = (usize, usize, &str)> + '_ {
        self.tokens
            .iter()
            .filter(move |t| t.field == field)
            .map(|t| {
                (
                    t.start as usize,
                    t.end as usize,
                    &*self.words[t.word as usize],
                )
            })
    }

    /// The language the article is in, declared or detected.
    pub fn lang(&self) -> Option<&str> {
        self.lang.as_deref()
    }

    /// Number of word occurrences analysed.
    pub fn word_count(&self) -> usize {
        self.tokens.len()
    }
}

/// `www.tass.ru` → `www.tass.ru`, `tass.ru`, `ru`.
fn site_suffixes(link: &str) -> Vec<String> {
    let Ok(url) = url::Url::parse(link) else {
        return Vec::new();
    };
    let Some(host) = url.host_str() else {
        return Vec::new();
    };
    let host = host.trim_end_matches('.').to_lowercase();
    let mut suffixes = vec![host.clone()];
    let mut rest = host.as_str();
    while let Some(dot) = rest.find('.') {
        rest = &rest[dot + 1..];
        if !rest.is_empty() {
            suffixes.push(rest.to_string());
        }
    }
    suffixes
}

/// Reduces a language tag to its primary subtag in ISO 639-1 where known: `ru-RU` → `ru`,
/// `rus` → `ru`.
pub fn normalize_lang(tag: &str) -> String {
    let primary = tag
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let two_letter = match primary.as_str() {
        "rus" => "ru",
        "eng" => "en",
        "ukr" => "uk",
        "deu" | "ger" => "de",
        "fra" | "fre" => "fr",
        "spa" => "es",
        "ita" => "it",
        "por" => "pt",
        "zho" | "chi" | "cmn" => "zh",
        "jpn" => "ja",
        "kor" => "ko",
        "ara" => "ar",
        "tur" => "tr",
        "pol" => "pl",
        "nld" | "dut" => "nl",
        "bel" => "be",
        "kaz" => "kk",
        "heb" => "he",
        "fas" | "per" | "pes" => "fa",
        "hin" => "hi",
        "vie" => "vi",
        "ces" | "cze" => "cs",
        "swe" => "sv",
        "fin" => "fi",
        "ell" | "gre" => "el",
        other => other,
    };
    two_letter.to_string()
}

/// Guesses the language from the title and summary.
fn detect_language(article: &ArticleView) -> Option<String> {
    let mut sample = String::with_capacity(article.title.len() + article.summary.len() + 1);
    sample.push_str(article.title);
    sample.push(' ');
    let summary = if article.summary.is_empty() {
        article.content
    } else {
        article.summary
    };
    let cut = summary
        .char_indices()
        .nth(1000)
        .map_or(summary.len(), |(i, _)| i);
    sample.push_str(&summary[..cut]);
    whatlang::detect_lang(&sample).map(|lang| normalize_lang(lang.code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_include_parent_domains() {
        assert_eq!(
            site_suffixes("https://WWW.Tass.ru/politika/1"),
            ["www.tass.ru", "tass.ru", "ru"]
        );
        assert!(site_suffixes("not a url").is_empty());
    }

    #[test]
    fn language_tags_reduce_to_two_letters() {
        assert_eq!(normalize_lang("ru-RU"), "ru");
        assert_eq!(normalize_lang("rus"), "ru");
        assert_eq!(normalize_lang("en_GB"), "en");
    }

    #[test]
    fn language_is_detected_when_not_declared() {
        let analyzer = Analyzer::new();
        let view = ArticleView {
            title: "Министр иностранных дел России прибыл в Пхеньян",
            summary: "Сергей Лавров заявил, что отношения Москвы с Северной Кореей достигли нового уровня",
            ..Default::default()
        };
        let doc = Document::build(&analyzer, &view, true);
        assert_eq!(doc.lang(), Some("ru"));
    }

    #[test]
    fn words_are_found_by_prefix_and_spelling() {
        let analyzer = Analyzer::new();
        let view = ArticleView {
            title: "Ракетные войска и ракета",
            ..Default::default()
        };
        let doc = Document::build(&analyzer, &view, false);
        let found: Vec<&str> = doc
            .words_with_prefix("ракет")
            .map(|w| &*doc.words[w as usize])
            .collect();
        assert_eq!(found, ["ракета", "ракетные"]);
        assert!(doc.word_id("войска").is_some());
        assert!(doc.word_id("войск").is_none());
    }
}
