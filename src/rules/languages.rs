//! Language codes as `lang:` in a query and a feed's `lang` take them: ISO 639-1 two-letter
//! codes. A value that is no such code never matches, so it is refused with the code to write
//! instead (`"Russian"` → `"ru"`).

use super::document::normalize_lang;

/// Every ISO 639-1 code.
const ISO_639_1: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce \
ch co cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha \
he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku \
kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv \
ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st \
su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

/// Language names people write instead of the code, in English and in the language itself.
const NAMES: &[(&str, &str)] = &[
    ("russian", "ru"),
    ("русский", "ru"),
    ("english", "en"),
    ("ukrainian", "uk"),
    ("українська", "uk"),
    ("belarusian", "be"),
    ("german", "de"),
    ("deutsch", "de"),
    ("french", "fr"),
    ("français", "fr"),
    ("francais", "fr"),
    ("spanish", "es"),
    ("español", "es"),
    ("italian", "it"),
    ("portuguese", "pt"),
    ("chinese", "zh"),
    ("mandarin", "zh"),
    ("japanese", "ja"),
    ("korean", "ko"),
    ("arabic", "ar"),
    ("turkish", "tr"),
    ("polish", "pl"),
    ("dutch", "nl"),
    ("persian", "fa"),
    ("farsi", "fa"),
    ("hebrew", "he"),
    ("hindi", "hi"),
    ("kazakh", "kk"),
    ("georgian", "ka"),
    ("armenian", "hy"),
    ("czech", "cs"),
    ("swedish", "sv"),
    ("finnish", "fi"),
    ("greek", "el"),
    ("romanian", "ro"),
    ("serbian", "sr"),
    ("bulgarian", "bg"),
];

/// Whether `value` names a language as `lang:` compares it: an ISO 639-1 code, possibly with
/// a region (`ru-RU`) or as its three-letter form (`rus`).
pub fn is_language_code(value: &str) -> bool {
    let code = normalize_lang(value);
    code.len() == 2 && ISO_639_1.split(' ').any(|known| known == code)
}

/// What to write instead of `value`, which is no language code: the code when `value` is a
/// language's name, else a few examples.
pub fn language_code_help(value: &str) -> String {
    let folded = value.trim().to_lowercase();
    match NAMES.iter().find(|(name, _)| *name == folded) {
        Some((_, code)) => format!("write the ISO 639-1 code {code:?}"),
        None => "write an ISO 639-1 two-letter code, e.g. \"ru\", \"en\" or \"uk\"".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_with_regions_and_three_letter_forms_are_codes() {
        for code in ["ru", "EN", "ru-RU", "en_GB", "rus", "uk"] {
            assert!(is_language_code(code), "{code}");
        }
        for other in ["Russian", "xx", "", "r", "русский"] {
            assert!(!is_language_code(other), "{other}");
        }
    }

    #[test]
    fn a_language_name_gets_its_code() {
        assert!(language_code_help("Russian").contains("\"ru\""));
        assert!(language_code_help(" English ").contains("\"en\""));
        assert!(language_code_help("Klingon").contains("two-letter code"));
    }
}
