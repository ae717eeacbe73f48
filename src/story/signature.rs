//! An article's signature: what two reports of one story share, as stable hashes.
//!
//! Terms come from the title and the lead (the summary, or the start of the text), analysed as
//! the matcher analyses them (folded, stemmed): a word's stem, a number's normalised value, and
//! for capitalised words the consonant skeleton of their Latin spelling, which ties names
//! across scripts. Each term is hashed with 64-bit FNV-1a over its UTF-8 bytes: the same on every
//! platform and version, so signatures stored in the database stay comparable.

use std::cell::RefCell;
use std::hash::Hasher;

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

use super::numbers::number_at;
use crate::rules::analysis::{Word, words};
use crate::rules::{Document, Field};

/// Words of the lead that go into a signature, after the title's.
const LEAD_WORDS: usize = 60;
/// Shortest consonant skeleton that can tie two spellings of a name.
const MIN_SKELETON: usize = 3;
/// The first byte of a stored signature: its layout.
const FORMAT: u8 = 1;

/// The writing system most of an article's words are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Latin,
    Cyrillic,
    Other,
}

impl Script {
    fn code(self) -> u8 {
        match self {
            Script::Latin => 1,
            Script::Cyrillic => 2,
            Script::Other => 0,
        }
    }

    fn from_code(code: u8) -> Script {
        match code {
            1 => Script::Latin,
            2 => Script::Cyrillic,
            _ => Script::Other,
        }
    }
}

/// The terms of one article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub script: Script,
    /// Stems and numbers, sorted, each once: compared within one language.
    pub words: Vec<u64>,
    /// Numbers and name skeletons, sorted, each once: compared across languages.
    pub anchors: Vec<u64>,
}

impl Signature {
    /// The stored form: format byte, script byte, the count of words (u32), then every term as
    /// a little-endian u64.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(6 + 8 * (self.words.len() + self.anchors.len()));
        bytes.push(FORMAT);
        bytes.push(self.script.code());
        bytes.extend_from_slice(&(self.words.len() as u32).to_le_bytes());
        for term in self.words.iter().chain(&self.anchors) {
            bytes.extend_from_slice(&term.to_le_bytes());
        }
        bytes
    }

    /// Reads a stored signature; `None` for one this version cannot read.
    pub fn from_bytes(bytes: &[u8]) -> Option<Signature> {
        let [format, script, rest @ ..] = bytes else {
            return None;
        };
        if *format != FORMAT {
            return None;
        }
        let (count, terms) = rest.split_first_chunk::<4>()?;
        let count = u32::from_le_bytes(*count) as usize;
        if terms.len() % 8 != 0 || terms.len() / 8 < count {
            return None;
        }
        let mut all = terms
            .chunks_exact(8)
            .map(|chunk| u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        let words = all.by_ref().take(count).collect();
        Some(Signature {
            script: Script::from_code(*script),
            words,
            anchors: all.collect(),
        })
    }

    /// Every term, for the archive's statistics.
    pub fn terms(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().chain(&self.anchors).copied()
    }
}

/// Makes signatures; holds the stemmers.
pub struct SignatureBuilder {
    russian: Stemmer,
    english: Stemmer,
}

impl Default for SignatureBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SignatureBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignatureBuilder")
    }
}

impl SignatureBuilder {
    pub fn new() -> Self {
        Self {
            russian: Stemmer::create(Algorithm::Russian),
            english: Stemmer::create(Algorithm::English),
        }
    }

    /// The signature of an article with this title and lead (summary, else the text).
    pub fn signature(&self, title: &str, summary: &str, content: &str) -> Signature {
        let lead = if summary.trim().is_empty() {
            content
        } else {
            summary
        };
        let cut = |text: &str, limit: usize| -> Vec<Word> { words(text).take(limit).collect() };
        let (title_words, lead_words) = (cut(title, usize::MAX), cut(lead, LEAD_WORDS));
        self.of_words([(title, spelled(&title_words)), (lead, spelled(&lead_words))])
    }

    /// The signature of an article the matcher has analysed: the same terms as
    /// [`SignatureBuilder::signature`] of its title, summary and text, without cutting and
    /// folding its words again.
    pub fn of_document(&self, document: &Document) -> Signature {
        let field = |field: Field, limit: usize| -> (&str, Vec<Spelled<'_>>) {
            let found = document
                .field_words(field)
                .take(limit)
                .map(|(start, end, folded)| Spelled { start, end, folded })
                .collect();
            (document.text(field), found)
        };
        let lead = if document.text(Field::Summary).trim().is_empty() {
            Field::Content
        } else {
            Field::Summary
        };
        self.of_words([field(Field::Title, usize::MAX), field(lead, LEAD_WORDS)])
    }

    fn of_words(&self, parts: [(&str, Vec<Spelled<'_>>); 2]) -> Signature {
        let mut words_out = Vec::new();
        let mut anchors = Vec::new();
        let (mut cyrillic, mut latin) = (0usize, 0usize);
        for (text, found) in &parts {
            // In a headline written in title case every word looks like a name.
            let names_capitalised = !is_title_case(text, found);
            let mut i = 0;
            while i < found.len() {
                let word = &found[i];
                let written = &text[word.start..word.end];
                let next = found.get(i + 1).map(|w| &text[w.start..w.end]);
                if let Some((value, used)) = number_at(written, next) {
                    let term = hash("n", &value);
                    words_out.push(term);
                    anchors.push(term);
                    i += used;
                    continue;
                }
                i += 1;
                let Some(stemmed) = self.stemmed(word.folded) else {
                    continue;
                };
                match stemmed.script {
                    Script::Cyrillic => cyrillic += 1,
                    Script::Latin => latin += 1,
                    Script::Other => {}
                }
                words_out.push(stemmed.term);
                if names_capitalised && written.starts_with(char::is_uppercase) {
                    let skeleton = if stemmed.script == Script::Cyrillic {
                        russian_name_skeleton(word.folded)
                    } else {
                        skeleton(word.folded)
                    };
                    if skeleton.len() >= MIN_SKELETON {
                        anchors.push(hash("s", &skeleton));
                    }
                }
            }
        }
        words_out.sort_unstable();
        words_out.dedup();
        anchors.sort_unstable();
        anchors.dedup();
        let script = match (cyrillic, latin) {
            (0, 0) => Script::Other,
            (c, l) if c > l => Script::Cyrillic,
            _ => Script::Latin,
        };
        Signature {
            script,
            words: words_out,
            anchors,
        }
    }

    /// A folded word's stem term and script (`None` for a stop word or a single letter),
    /// remembered per thread as the matcher remembers its keys.
    fn stemmed(&self, folded: &str) -> Option<Stemmed> {
        STEMMED.with_borrow_mut(|cache| {
            if let Some(known) = cache.get(folded) {
                return *known;
            }
            let stemmed = self.stem(folded);
            if cache.len() >= STEM_CACHE_WORDS {
                cache.clear();
            }
            cache.insert(folded.into(), stemmed);
            stemmed
        })
    }

    fn stem(&self, folded: &str) -> Option<Stemmed> {
        if folded.chars().count() < 2 || is_stop_word(folded) {
            return None;
        }
        let (script, stem) = if folded.chars().any(is_cyrillic) {
            (Script::Cyrillic, self.russian.stem(folded))
        } else if folded.chars().any(|c| c.is_ascii_alphabetic()) {
            (Script::Latin, self.english.stem(folded))
        } else {
            (Script::Other, std::borrow::Cow::Borrowed(folded))
        };
        Some(Stemmed {
            script,
            term: hash("w", &stem),
        })
    }
}

/// Distinct words whose stem terms one thread remembers.
const STEM_CACHE_WORDS: usize = 50_000;

thread_local! {
    static STEMMED: RefCell<FxHashMap<Box<str>, Option<Stemmed>>> = RefCell::default();
}

/// A word's stem term, and the script that counts towards the article's language.
#[derive(Debug, Clone, Copy)]
struct Stemmed {
    script: Script,
    term: u64,
}

/// A word of a text: its byte range there and its folded form.
struct Spelled<'t> {
    start: usize,
    end: usize,
    folded: &'t str,
}

fn spelled(found: &[Word]) -> Vec<Spelled<'_>> {
    found
        .iter()
        .map(|w| Spelled {
            start: w.start,
            end: w.end,
            folded: &w.folded,
        })
        .collect()
}

/// Whether nearly all longer words of a text are capitalised ("Kim Arrives In Russia's Far East").
fn is_title_case(text: &str, found: &[Spelled]) -> bool {
    let long: Vec<&str> = found
        .iter()
        .map(|w| &text[w.start..w.end])
        // Title case is an English habit: Russian headlines capitalise only names.
        .filter(|w| w.chars().count() >= 4 && !w.chars().any(is_cyrillic))
        .collect();
    let capitalised = long
        .iter()
        .filter(|w| w.starts_with(char::is_uppercase))
        .count();
    long.len() >= 3 && capitalised * 4 > long.len() * 3
}

impl SignatureBuilder {
    /// The terms of the words a watch matched (its hits, as written): its own vocabulary.
    pub fn vocabulary<'a>(&self, matched: impl IntoIterator<Item = &'a str>) -> Vec<u64> {
        let mut terms = Vec::new();
        for text in matched {
            let signature = self.signature(text, "", "");
            terms.extend(signature.terms());
            // A name written at the start of a sentence elsewhere is capitalised there.
            for word in words(text) {
                let skeleton = if word.folded.chars().any(is_cyrillic) {
                    russian_name_skeleton(&word.folded)
                } else {
                    skeleton(&word.folded)
                };
                terms.push(hash("s", &skeleton));
            }
        }
        terms.sort_unstable();
        terms.dedup();
        terms
    }
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}')
}

/// A term's stable hash: FNV-1a over `kind`, a separator and the text.
fn hash(kind: &str, text: &str) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(kind.as_bytes());
    hasher.write(b":");
    hasher.write(text.as_bytes());
    hasher.finish()
}

/// Function words, which say nothing about a story however rare they are in a small archive.
fn is_stop_word(folded: &str) -> bool {
    const STOP_WORDS: &[&str] = &[
        "a",
        "about",
        "after",
        "again",
        "all",
        "also",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "more",
        "new",
        "not",
        "of",
        "on",
        "or",
        "our",
        "out",
        "over",
        "said",
        "says",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "there",
        "these",
        "they",
        "this",
        "to",
        "up",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "while",
        "who",
        "will",
        "with",
        "would",
        "you",
        "а",
        "без",
        "был",
        "была",
        "были",
        "было",
        "в",
        "во",
        "вот",
        "все",
        "всех",
        "для",
        "до",
        "его",
        "ее",
        "если",
        "есть",
        "же",
        "за",
        "и",
        "из",
        "или",
        "им",
        "их",
        "к",
        "как",
        "ко",
        "который",
        "которые",
        "ли",
        "на",
        "над",
        "не",
        "него",
        "нет",
        "ни",
        "но",
        "о",
        "об",
        "от",
        "по",
        "под",
        "при",
        "про",
        "с",
        "со",
        "так",
        "также",
        "то",
        "того",
        "только",
        "у",
        "уже",
        "что",
        "чтобы",
        "это",
        "этого",
        "этом",
    ];
    STOP_WORDS.contains(&folded)
}

/// The skeleton of a Russian name as written, without the instrumental's `-ом`/`-ым`/`-ем`/
/// `-им` (its other endings are vowels, which skeletons drop): `Лавровым`, `Лаврова` → `lvrv`.
fn russian_name_skeleton(folded: &str) -> String {
    let stem = ["ом", "ем", "ым", "им"]
        .iter()
        .find_map(|ending| folded.strip_suffix(ending))
        .filter(|stem| stem.chars().count() >= 3)
        .unwrap_or(folded);
    skeleton(&transliterate(stem))
}

/// A folded Russian word in Latin letters (a plain scientific transliteration).
fn transliterate(folded: &str) -> String {
    let mut latin = String::with_capacity(folded.len());
    for c in folded.chars() {
        latin.push_str(match c {
            'а' => "a",
            'б' => "b",
            'в' => "v",
            'г' => "g",
            'д' => "d",
            'е' | 'э' => "e",
            'ж' => "zh",
            'з' => "z",
            'и' | 'ы' => "i",
            'й' => "y",
            'к' => "k",
            'л' => "l",
            'м' => "m",
            'н' => "n",
            'о' => "o",
            'п' => "p",
            'р' => "r",
            'с' => "s",
            'т' => "t",
            'у' => "u",
            'ф' => "f",
            'х' => "kh",
            'ц' => "ts",
            'ч' => "ch",
            'ш' => "sh",
            'щ' => "shch",
            'ю' => "yu",
            'я' => "ya",
            _ => "",
        });
    }
    latin
}

/// A Latin spelling without its vowels and the letters transliterations disagree on
/// (`Shoigu`, `Шойгу` → `shg`; `Lavrov`, `Лавров` → `lvrv`), doubled letters once.
fn skeleton(latin: &str) -> String {
    let mut out = String::with_capacity(latin.len());
    for c in latin.chars() {
        if !c.is_ascii_alphabetic() || "aeiouyjw".contains(c) {
            continue;
        }
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> SignatureBuilder {
        SignatureBuilder::new()
    }

    fn shared(a: &[u64], b: &[u64]) -> usize {
        a.iter().filter(|t| b.contains(t)).count()
    }

    #[test]
    fn inflected_forms_and_number_spellings_give_the_same_terms() {
        let b = builder();
        let one = b.signature("Лавров прибыл в Пхеньян", "Около 1 тыс. человек", "");
        let two = b.signature("Лаврова встретили в Пхеньяне", "Около 1000 человек", "");
        assert!(shared(&one.words, &two.words) >= 3, "{one:?} {two:?}");
        assert_eq!(one.script, Script::Cyrillic);
    }

    #[test]
    fn names_tie_across_scripts() {
        let b = builder();
        let ru = b.signature("Шойгу и Лавров в Пхеньяне", "", "");
        let en = b.signature("Shoigu and Lavrov arrive in Pyongyang for talks", "", "");
        let title_case = b.signature("Kim Arrives In Russia's Far East", "", "");
        assert!(title_case.anchors.is_empty(), "{title_case:?}");
        assert!(shared(&ru.anchors, &en.anchors) >= 2, "{ru:?} {en:?}");
        assert!(shared(&ru.words, &en.words) == 0);
        assert_eq!(en.script, Script::Latin);
    }

    #[test]
    fn the_stored_form_reads_back_and_rejects_garbage() {
        let b = builder();
        let signature = b.signature("Kim arrives in Vladivostok by train", "1,000 km", "");
        assert_eq!(
            Signature::from_bytes(&signature.to_bytes()),
            Some(signature)
        );
        for garbage in [
            &[][..],
            &[1],
            &[9, 1, 0, 0, 0, 0],
            &[1, 1, 5, 0, 0, 0, 1, 2],
        ] {
            assert_eq!(Signature::from_bytes(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn hashes_are_the_documented_fnv_1a() {
        // FNV-1a 64 of "w:kim": fixed by the algorithm, whatever the platform or version.
        let mut expected: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in b"w:kim" {
            expected ^= u64::from(*byte);
            expected = expected.wrapping_mul(0x0100_0000_01b3);
        }
        assert_eq!(hash("w", "kim"), expected);
    }

    #[test]
    fn the_lead_is_the_summary_or_else_the_start_of_the_text() {
        let b = builder();
        let text = "word ".repeat(10) + &"filler ".repeat(200) + "zebra";
        let signature = b.signature("Title", "", &text);
        assert!(!signature.words.contains(&hash("w", "zebra")));
        assert!(signature.words.contains(&hash("w", "word")));
    }

    fn of_document(b: &SignatureBuilder, title: &str, summary: &str, content: &str) -> Signature {
        let view = crate::rules::ArticleView {
            title,
            summary,
            content,
            ..Default::default()
        };
        b.of_document(&Document::build(
            &crate::rules::Analyzer::new(),
            &view,
            false,
        ))
    }

    #[test]
    fn an_analysed_article_gives_the_signature_of_its_text() {
        let b = builder();
        let long =
            "Putin said on Tuesday that 1,000 troops and 1.5 million shells would go. ".repeat(12);
        for (title, summary, content) in [
            (
                "Kim Jong Un arrives in Russia's Far East",
                "Kim's armoured train crossed at Khasan.",
                "",
            ),
            ("Kim Arrives In Russia's Far East", "", &long[..]),
            (
                "Лавров прибыл в Пхеньян",
                "Около 1 тыс. человек встретили Лаврова",
                "текст",
            ),
            (
                "",
                "  ",
                "Шойгу и Ким Чен Ын: 2 млн снарядов, Jong-un's visit",
            ),
            ("Ü-Boot “Ärger” — ½ price", "Ⅻ chapters, ﬁne print", ""),
        ] {
            assert_eq!(
                of_document(&b, title, summary, content),
                b.signature(title, summary, content),
                "{title:?} / {summary:?}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 200, failure_persistence: None, ..Default::default()
        })]
        #[test]
        fn any_analysed_text_gives_the_signature_of_the_text(
            parts in proptest::collection::vec(
                proptest::sample::select(&[
                    "Kim", "Putin", "kim", "1,000", "1K", "тыс.", "1", "млн", "Лавров", "Пхеньяне",
                    "the", "and", "Far", "East", "-", ", ", ". ", " ", " ", " ", "'s", "Jong-un",
                    "ШОЙГУ", "x", "2.5", "million", "\u{00AD}", "é", "Ärger",
                ][..]),
                0..80,
            ),
            split in 0usize..80,
            empty_summary in proptest::bool::ANY,
        ) {
            let text: String = parts.concat();
            let cut = text.char_indices().map(|(i, _)| i).nth(split).unwrap_or(text.len());
            let (title, rest) = text.split_at(cut);
            let (summary, content) = if empty_summary { ("", rest) } else { (rest, title) };
            let b = builder();
            proptest::prop_assert_eq!(
                of_document(&b, title, summary, content),
                b.signature(title, summary, content)
            );
        }
    }
}
