//! Text analysis shared by queries and articles, so both sides are cut and folded the same way:
//! word segmentation (UAX #29, hyphens split words, possessive 's dropped), NFKC, case folding,
//! ё = е, and the keys a word is matched by.
//!
//! Keys decide inflection. A Russian word the OpenCorpora dictionary knows is keyed by its lemma
//! ids ("Кореи" → the lemma of "корея"); an unknown Russian word, and every Latin word, by its
//! Snowball stem. A watch word keys on its own lemma when it is written in dictionary form (so
//! "Лавров" the surname does not match "лавра" the monastery), on all its lemmas otherwise, and
//! always also on its stem, which is how unknown text words are reached.

use std::cell::RefCell;
use std::sync::Arc;

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use super::lemma::LemmaDict;

/// What a word is matched by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// A dictionary lemma (Russian).
    Lemma(u32),
    /// A Snowball stem, or the folded word itself in scripts without a stemmer.
    Stem(Arc<str>),
    /// The folded word exactly as written (`=word`).
    Exact(Arc<str>),
}

/// Distinct words whose keys one thread remembers; news vocabulary repeats, and stemming and
/// dictionary lookups are most of the cost of analysing an article.
const KEY_CACHE_WORDS: usize = 50_000;

thread_local! {
    static TEXT_KEYS: RefCell<FxHashMap<Box<str>, Box<[Key]>>> = RefCell::default();
}

/// One word of a text: where it is and how it folds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Byte range in the analysed text (original spelling).
    pub start: usize,
    pub end: usize,
    /// NFKC, lower case, ё → е, without apostrophes, possessive 's or invisible characters.
    pub folded: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Cyrillic,
    Latin,
    Other,
}

/// The analyser: stemmers and the Russian dictionary.
pub struct Analyzer {
    russian: Stemmer,
    english: Stemmer,
    lemmas: &'static LemmaDict,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer {
    pub fn new() -> Self {
        Self {
            russian: Stemmer::create(Algorithm::Russian),
            english: Stemmer::create(Algorithm::English),
            lemmas: LemmaDict::russian(),
        }
    }

    /// The keys an article word is found by.
    pub fn text_keys(&self, folded: &str, out: &mut Vec<Key>) {
        TEXT_KEYS.with_borrow_mut(|cache| {
            if let Some(keys) = cache.get(folded) {
                out.extend_from_slice(keys);
                return;
            }
            let first = out.len();
            self.compute_text_keys(folded, out);
            if cache.len() >= KEY_CACHE_WORDS {
                cache.clear();
            }
            cache.insert(folded.into(), out[first..].into());
        });
    }

    fn compute_text_keys(&self, folded: &str, out: &mut Vec<Key>) {
        match script(folded) {
            Script::Cyrillic => match self.lemmas.lookup(folded) {
                Some(lemmas) => out.extend(lemmas.ids().map(Key::Lemma)),
                None => out.push(Key::Stem(self.russian.stem(folded).into())),
            },
            Script::Latin => out.push(Key::Stem(self.english.stem(folded).into())),
            Script::Other => out.push(Key::Stem(folded.into())),
        }
    }

    /// The keys a query word matches: any article word having one of them is a match.
    pub fn query_keys(&self, folded: &str) -> Vec<Key> {
        let mut keys = Vec::new();
        match script(folded) {
            Script::Cyrillic => {
                if let Some(lemmas) = self.lemmas.lookup(folded) {
                    match lemmas.own() {
                        Some(own) => keys.push(Key::Lemma(own)),
                        None => keys.extend(lemmas.ids().map(Key::Lemma)),
                    }
                }
                keys.push(Key::Stem(self.russian.stem(folded).into()));
            }
            Script::Latin => keys.push(Key::Stem(self.english.stem(folded).into())),
            Script::Other => keys.push(Key::Stem(folded.into())),
        }
        keys
    }
}

fn script(folded: &str) -> Script {
    let mut latin = false;
    for c in folded.chars() {
        if matches!(c, '\u{0400}'..='\u{04FF}' | '\u{0500}'..='\u{052F}') {
            return Script::Cyrillic;
        }
        if c.is_ascii_alphabetic() || matches!(c, '\u{00C0}'..='\u{024F}') {
            latin = true;
        }
    }
    if latin { Script::Latin } else { Script::Other }
}

/// Cuts `text` into words. Hyphens and other punctuation separate words; apostrophes inside a
/// word do not (`Jong-un's` → `jong`, `un`).
pub fn words(text: &str) -> impl Iterator<Item = Word> + '_ {
    text.split_word_bound_indices()
        .filter_map(|(start, segment)| {
            if !segment.chars().any(char::is_alphanumeric) {
                return None;
            }
            let folded = fold(segment);
            if folded.is_empty() {
                return None;
            }
            Some(Word {
                start,
                end: start + segment.len(),
                folded,
            })
        })
}

/// Calls `each(start, end, folded)` for every word of `text`, as [`words`] cuts them, folding
/// into one buffer: what an article's analysis uses, so a word costs no allocation.
pub fn for_each_word(text: &str, mut each: impl FnMut(usize, usize, &str)) {
    let mut folded = String::new();
    for (start, segment) in text.split_word_bound_indices() {
        if !segment.chars().any(char::is_alphanumeric) {
            continue;
        }
        folded.clear();
        fold_into(segment, &mut folded);
        if !folded.is_empty() {
            each(start, start + segment.len(), &folded);
        }
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | 'ʼ' | '`' | '´')
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{0300}' | '\u{0301}'
    )
}

/// Folds one word: NFKC, lower case, ё → е, no invisible characters, no possessive 's, no
/// apostrophes or dots.
pub fn fold(segment: &str) -> String {
    let mut folded = String::with_capacity(segment.len());
    fold_into(segment, &mut folded);
    folded
}

/// [`fold`] into an empty buffer.
fn fold_into(segment: &str, folded: &mut String) {
    if segment.is_ascii() {
        folded.extend(segment.chars().map(|c| c.to_ascii_lowercase()));
    } else if segment
        .chars()
        .all(|c| c.is_ascii() || ('\u{0400}'..='\u{045F}').contains(&c))
    {
        // ASCII and basic Cyrillic are in NFKC already: fold case without the normaliser.
        folded.extend(segment.chars().map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'Ё' | 'ё' => 'е',
            'А'..='Я' => char::from_u32(c as u32 + 0x20).unwrap_or(c),
            'Ѐ'..='Џ' => char::from_u32(c as u32 + 0x50).unwrap_or(c),
            _ => c,
        }));
    } else {
        for c in segment.nfkc() {
            if is_invisible(c) {
                continue;
            }
            for lower in c.to_lowercase() {
                folded.push(match lower {
                    'ё' => 'е',
                    other => other,
                });
            }
        }
    }
    for suffix in ["'s", "’s", "ʼs"] {
        if let Some(stem) = folded.strip_suffix(suffix)
            && !stem.is_empty()
        {
            let len = stem.len();
            folded.truncate(len);
            break;
        }
    }
    if folded.contains(|c: char| is_apostrophe(c) || c == '.') {
        folded.retain(|c| !is_apostrophe(c) && c != '.');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(text: &str) -> Vec<String> {
        words(text).map(|w| w.folded).collect()
    }

    #[test]
    fn hyphens_split_and_possessives_drop() {
        assert_eq!(
            folded("Kim Jong-un's visit"),
            ["kim", "jong", "un", "visit"]
        );
        assert_eq!(folded("Kim Jong-un’s"), ["kim", "jong", "un"]);
        assert_eq!(folded("военно-морские силы"), ["военно", "морские", "силы"]);
    }

    #[test]
    fn case_yo_and_compatibility_forms_fold() {
        assert_eq!(folded("ЁЛКА Ёж"), ["елка", "еж"]);
        assert_eq!(folded("ﬁnal ＫＮＤＲ"), ["final", "kndr"]);
        assert_eq!(
            folded("Пхень\u{00AD}ян Коре\u{0301}я"),
            ["пхеньян", "корея"]
        );
    }

    #[test]
    fn offsets_point_at_the_original_spelling() {
        let text = "В Пхеньяне, 19 октября";
        let w: Vec<Word> = words(text).collect();
        assert_eq!(&text[w[1].start..w[1].end], "Пхеньяне");
        assert_eq!(w[2].folded, "19");
    }

    #[test]
    fn words_and_for_each_word_agree() {
        let text = "Kim Jong-un’s ﬁnal ЁЛКА, 19 — Пхень\u{00AD}ян";
        let mut each = Vec::new();
        for_each_word(text, |start, end, folded| {
            each.push(Word {
                start,
                end,
                folded: folded.to_string(),
            })
        });
        assert_eq!(each, words(text).collect::<Vec<_>>());
    }

    #[test]
    fn punctuation_alone_is_not_a_word() {
        assert!(folded(" — ... !!! « »").is_empty());
    }

    #[test]
    fn english_words_key_by_stem() {
        let a = Analyzer::new();
        let mut text = Vec::new();
        a.text_keys("missiles", &mut text);
        let query = a.query_keys("missile");
        assert!(text.iter().any(|k| query.contains(k)));
    }

    #[test]
    fn russian_words_key_by_lemma() {
        let a = Analyzer::new();
        let query = a.query_keys("корея");
        for form in ["кореи", "корею", "кореей", "корее"] {
            let mut text = Vec::new();
            a.text_keys(form, &mut text);
            assert!(text.iter().any(|k| query.contains(k)), "{form}");
        }
        let mut text = Vec::new();
        a.text_keys("корм", &mut text);
        assert!(!text.iter().any(|k| query.contains(k)));
    }
}
