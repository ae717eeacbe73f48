//! An article's signature: what two reports of one story share, as stable hashes.
//!
//! Terms come from the title and the lead (the summary, or the start of the text), analysed as
//! the matcher analyses them (folded, stemmed): a word's stem, a number's normalised value, and
//! for capitalised words the consonant skeleton of their Latin spelling, which ties names
//! across scripts. Each term is hashed with 64-bit FNV-1a over its UTF-8 bytes: the same on every
//! platform and version, so signatures stored in the database stay comparable.

use std::hash::Hasher;

use rust_stemmers::{Algorithm, Stemmer};

use super::numbers::number_at;
use crate::rules::analysis::words;

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
        let mut words_out = Vec::new();
        let mut anchors = Vec::new();
        let (mut cyrillic, mut latin) = (0usize, 0usize);
        for (text, limit) in [(title, usize::MAX), (lead, LEAD_WORDS)] {
            let found: Vec<_> = words(text).take(limit).collect();
            // In a headline written in title case every word looks like a name.
            let names_capitalised = !is_title_case(text, &found);
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
                if word.folded.chars().count() < 2 || is_stop_word(&word.folded) {
                    continue;
                }
                let is_cyrillic = word.folded.chars().any(is_cyrillic);
                let stem = if is_cyrillic {
                    cyrillic += 1;
                    self.russian.stem(&word.folded)
                } else if word.folded.chars().any(|c| c.is_ascii_alphabetic()) {
                    latin += 1;
                    self.english.stem(&word.folded)
                } else {
                    std::borrow::Cow::Borrowed(word.folded.as_str())
                };
                words_out.push(hash("w", &stem));
                if names_capitalised && written.starts_with(char::is_uppercase) {
                    let skeleton = if is_cyrillic {
                        russian_name_skeleton(&word.folded)
                    } else {
                        skeleton(&word.folded)
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
}

/// Whether nearly all longer words of a text are capitalised ("Kim Arrives In Russia's Far East").
fn is_title_case(text: &str, found: &[crate::rules::analysis::Word]) -> bool {
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
}
