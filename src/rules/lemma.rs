//! Dictionary lemmas for Russian words.
//!
//! Watch rules are written in dictionary form ("Северная Корея", "Пхеньян",
//! "Лавров") but articles use inflected forms ("в Северную Корею", "в
//! Пхеньяне", "с Лавровым"). A stemmer alone gets this wrong both ways
//! (Snowball: Корея → "коре" but Кореи → "кор"; "лавровый" and "Лавров" share
//! a stem), so the matcher first maps every word form to the ids of the
//! dictionary lemmas it can belong to, and only falls back to Snowball for
//! words the dictionary does not know.
//!
//! The table is the OpenCorpora dictionary as shipped in the PyPI package
//! `pymorphy3-dicts-ru` (data licensed CC BY-SA 3.0, see `NOTICE`), exported
//! and compiled by `tools/ru-lemmas` into `data/ru_lemmas.fst` (an `fst` map
//! from folded form to a packed `u64`) plus `data/ru_lemmas.overflow` (ids of
//! the few forms with more than three lemmas). Both are embedded with
//! `include_bytes!`; nothing is read from disk at run time.
//!
//! Keys are the folded forms with one byte per letter (а..я -> 0xE0..0xFF,
//! the Windows-1251 codes): half as many fst transitions as UTF-8, and words
//! with any other character are rejected before touching the map.
//!
//! Value encoding (must match `tools/ru-lemmas/src/main.rs`):
//! * bit 63 clear (inline): bits 0–19, 20–39, 40–59 hold up to three lemma
//!   ids, bits 60–61 their count (1–3);
//! * bit 63 set (overflow): bits 0–31 are the index of the first id in the
//!   overflow table (little-endian `u32`s), bits 32–39 the count;
//! * bit 62 set: the first id is the form's own lemma (the lemma spelled
//!   exactly like the form). Other ids follow in ascending order.
//!
//! Lemma ids are dense and numbered in sorted (UTF-8 byte) order of the lemma
//! strings, so a rebuild from the same dictionary gives the same ids.

use std::sync::OnceLock;

use fst::Map;

static FST_BYTES: &[u8] = include_bytes!("../../data/ru_lemmas.fst");
static OVERFLOW_BYTES: &[u8] = include_bytes!("../../data/ru_lemmas.overflow");

const ID_BITS: u32 = 20;
const ID_MASK: u64 = (1 << ID_BITS) - 1;
const COUNT_SHIFT: u32 = 60;
const OWN_BIT: u64 = 1 << 62;
const OVERFLOW_BIT: u64 = 1 << 63;
const OVERFLOW_COUNT_SHIFT: u32 = 32;
/// Longest key in the map (in letters) is 35; the builder rejects > 64.
const MAX_KEY: usize = 64;

/// A Russian form → lemma-ids dictionary.
pub struct LemmaDict {
    map: Map<&'static [u8]>,
    overflow: &'static [u8],
}

impl LemmaDict {
    /// The embedded Russian dictionary, parsed once (std::sync::OnceLock / LazyLock).
    pub fn russian() -> &'static LemmaDict {
        static DICT: OnceLock<LemmaDict> = OnceLock::new();
        DICT.get_or_init(|| LemmaDict {
            // Only fails if the committed data file is corrupt, which the
            // unit tests catch.
            map: Map::new(FST_BYTES).expect("data/ru_lemmas.fst is a valid fst map"),
            overflow: OVERFLOW_BYTES,
        })
    }

    /// Lemmas of a folded word form (lowercase, ё already replaced by е). None when the form is unknown.
    pub fn lookup(&self, folded_form: &str) -> Option<Lemmas> {
        let mut key = [0u8; MAX_KEY];
        let len = encode_key(folded_form, &mut key)?;
        let value = self.map.get(&key[..len])?;
        let repr = if value & OVERFLOW_BIT == 0 {
            let count = (value >> COUNT_SHIFT) & 0b11;
            if count == 0 {
                return None;
            }
            Repr::Inline(value)
        } else {
            let start = (value & 0xFFFF_FFFF) as usize;
            let count = ((value >> OVERFLOW_COUNT_SHIFT) & 0xFF) as usize;
            let bytes = self
                .overflow
                .get(start.checked_mul(4)?..start.checked_add(count)?.checked_mul(4)?)?;
            if bytes.is_empty() {
                return None;
            }
            Repr::Overflow {
                own: value & OWN_BIT != 0,
                ids: bytes,
            }
        };
        Some(Lemmas { repr })
    }
}

/// Writes the map key of `form` into `out`: one byte per letter, а..я (UTF-8
/// `D0 B0`..`D0 BF`, `D1 80`..`D1 8F`) -> 0xE0..0xFF. None for the empty
/// string, anything that is not а..я (the map holds nothing else), or a word
/// longer than any key.
#[inline]
fn encode_key(form: &str, out: &mut [u8; MAX_KEY]) -> Option<usize> {
    let bytes = form.as_bytes();
    let len = bytes.len() / 2;
    let pairs = bytes.chunks_exact(2);
    if len == 0 || len > MAX_KEY || !pairs.remainder().is_empty() {
        return None;
    }
    for (slot, pair) in out.iter_mut().zip(pairs) {
        *slot = match (pair[0], pair[1]) {
            (0xD0, b @ 0xB0..=0xBF) => b + 0x30,
            (0xD1, b @ 0x80..=0x8F) => b + 0x70,
            _ => return None,
        };
    }
    Some(len)
}

/// The lemma ids one form may belong to (a small copyable value; no allocation in lookup).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lemmas {
    repr: Repr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Repr {
    /// The packed value itself (see the module docs).
    Inline(u64),
    /// Little-endian `u32` ids from the overflow table.
    Overflow { own: bool, ids: &'static [u8] },
}

impl Lemmas {
    /// Every lemma id this form may belong to (no duplicates).
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        match self.repr {
            Repr::Inline(v) => Ids::Inline {
                packed: v & ((1 << (ID_BITS * 3)) - 1),
                left: ((v >> COUNT_SHIFT) & 0b11) as u8,
            },
            Repr::Overflow { ids, .. } => Ids::Overflow(ids.chunks_exact(4)),
        }
    }

    /// The id of the lemma spelled exactly like the looked-up form, when the form is itself a normal form.
    pub fn own(&self) -> Option<u32> {
        match self.repr {
            Repr::Inline(v) if v & OWN_BIT != 0 => Some((v & ID_MASK) as u32),
            Repr::Overflow { own: true, ids } => {
                ids.first_chunk::<4>().map(|b| u32::from_le_bytes(*b))
            }
            _ => None,
        }
    }
}

enum Ids {
    Inline { packed: u64, left: u8 },
    Overflow(std::slice::ChunksExact<'static, u8>),
}

impl Iterator for Ids {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        match self {
            Ids::Inline { packed, left } => {
                if *left == 0 {
                    return None;
                }
                *left -= 1;
                let id = (*packed & ID_MASK) as u32;
                *packed >>= ID_BITS;
                Some(id)
            }
            Ids::Overflow(chunks) => chunks
                .next()
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict() -> &'static LemmaDict {
        LemmaDict::russian()
    }

    fn ids(form: &str) -> Vec<u32> {
        dict()
            .lookup(form)
            .unwrap_or_else(|| panic!("{form:?} should be in the dictionary"))
            .ids()
            .collect()
    }

    fn own(form: &str) -> u32 {
        dict()
            .lookup(form)
            .and_then(|l| l.own())
            .unwrap_or_else(|| panic!("{form:?} should be a normal form"))
    }

    /// The only lemma of `form`.
    fn single(form: &str) -> u32 {
        let v = ids(form);
        assert_eq!(v.len(), 1, "{form:?} has lemmas {v:?}");
        v[0]
    }

    #[test]
    fn korea_shares_one_lemma_and_korm_does_not() {
        let k = own("корея");
        for f in ["корея", "кореи", "корею", "кореей", "корее"] {
            assert!(ids(f).contains(&k), "{f}");
        }
        assert_eq!(single("кореи"), k);
        assert!(!ids("корм").contains(&k));
        assert!(!ids("корень").contains(&k));
        assert!(!ids("корейский").contains(&k));
    }

    #[test]
    fn pyongyang() {
        let p = own("пхеньян");
        for f in ["пхеньяна", "пхеньяне", "пхеньяну", "пхеньяном"]
        {
            assert_eq!(single(f), p, "{f}");
        }
    }

    #[test]
    fn lavrov_vs_laurel_and_lavra() {
        let l = own("лавров");
        // "лавров" is also the genitive plural of "лавр"; its own lemma is the surname.
        assert!(ids("лавров").len() > 1);
        for f in [
            "лаврова",
            "лаврову",
            "лавровым",
            "лаврове",
            "лавровы",
            "лавровых",
        ] {
            assert!(ids(f).contains(&l), "{f}");
        }
        for f in ["лавровый", "лавровая", "лавра", "лавры", "лавре", "лавр"]
        {
            assert!(!ids(f).contains(&l), "{f}");
        }
    }

    #[test]
    fn severnaya_is_an_inflected_adjective() {
        let lemmas = dict().lookup("северная").unwrap();
        assert_eq!(lemmas.own(), None);
        let s = own("северный");
        assert_eq!(single("северная"), s);
        for f in ["северной", "северную", "северный", "северного", "северными"]
        {
            assert!(ids(f).contains(&s), "{f}");
        }
    }

    #[test]
    fn raketa() {
        let r = own("ракета");
        for f in ["ракеты", "ракет", "ракетами", "ракете", "ракетой"]
        {
            assert!(ids(f).contains(&r), "{f}");
        }
        assert!(!ids("ракетка").contains(&r));
    }

    #[test]
    fn unknown_inputs_are_none_and_never_panic() {
        let d = dict();
        assert_eq!(d.lookup(""), None);
        assert_eq!(d.lookup("missile"), None);
        assert_eq!(d.lookup("ааааааааааааааааааааааааа"), None);
        assert_eq!(d.lookup("ёж"), None, "lookup expects folded input");
        assert_eq!(d.lookup("Корея"), None, "lookup expects folded input");
        assert_eq!(d.lookup("\0"), None);
        assert_eq!(d.lookup("корея\u{301}"), None);
        assert_eq!(d.lookup("🙂"), None);
        let huge = "я".repeat(1 << 20);
        assert_eq!(d.lookup(&huge), None);
    }

    #[test]
    fn any_character_after_a_known_prefix() {
        let d = dict();
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let word = format!("коре{c}");
            let found = d.lookup(&word);
            if !('а'..='я').contains(&c) {
                assert_eq!(found, None, "{word:?}");
            }
        }
        assert!(d.lookup("корея").is_some());
    }

    #[test]
    fn ids_are_unique_and_own_is_among_them() {
        let d = dict();
        // The forms with the most lemmas are stored in the overflow table.
        for f in [
            "поле",
            "полей",
            "алей",
            "фазиле",
            "лавров",
            "корм",
            "стали",
            "мыла",
            "корея",
        ] {
            let l = d.lookup(f).unwrap();
            let v: Vec<u32> = l.ids().collect();
            let mut dedup = v.clone();
            dedup.sort_unstable();
            dedup.dedup();
            assert_eq!(dedup.len(), v.len(), "{f}: {v:?}");
            if let Some(o) = l.own() {
                assert_eq!(v[0], o);
            }
        }
        let pole = d.lookup("поле").unwrap();
        assert!(pole.ids().count() > 3, "поле should be an overflow entry");
        assert!(pole.own().is_some());
        assert_eq!(d.lookup("поле"), Some(pole));
    }

    #[test]
    fn overflow_table_is_consistent() {
        assert_eq!(OVERFLOW_BYTES.len() % 4, 0);
        assert!(!OVERFLOW_BYTES.is_empty());
    }
}
