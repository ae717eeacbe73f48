//! Numbers as a story states them, normalised so that rewrites agree: `1,000`, `1000`, `1K`,
//! `one thousand`'s digits and `1 тыс.` are all `1000`; `1.5 million` and `1,5 млн` are
//! `1500000`.

/// A multiplier word (or suffix) after a number.
fn multiplier(word: &str) -> Option<f64> {
    Some(match word {
        "k" | "thousand" | "thousands" | "тыс" | "тысяча" | "тысячи" | "тысяч" | "тысячу" => {
            1e3
        }
        "m" | "mn" | "million" | "millions" | "млн" | "миллион" | "миллиона" | "миллионов" => {
            1e6
        }
        "b" | "bn" | "billion" | "billions" | "млрд" | "миллиард" | "миллиарда" | "миллиардов" => {
            1e9
        }
        _ => return None,
    })
}

/// The value of a number as written (`1,000`, `1.5`, `1,5`, `12`), without a multiplier.
fn plain_value(text: &str) -> Option<f64> {
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut digits = String::with_capacity(text.len());
    let groups: Vec<&str> = text.split([',', '.']).collect();
    match groups.as_slice() {
        [whole] => digits.push_str(whole),
        // A separator before exactly three digits groups thousands (`1,000`, `1.000`), else
        // it is a decimal point (`1.5`, `1,5`).
        [first, rest @ ..] if rest.iter().all(|g| g.len() == 3) && first.len() <= 3 => {
            for group in groups {
                digits.push_str(group);
            }
        }
        [whole, fraction] => {
            digits.push_str(whole);
            digits.push('.');
            digits.push_str(fraction);
        }
        _ => return None,
    }
    if !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    digits.parse().ok()
}

/// The number a word states, with a multiplier in the word itself (`1K`, `5bn`) or in the
/// next word (`1.5 million`, `1 тыс`): the normalised text and how many words it took.
pub fn number_at(word: &str, next: Option<&str>) -> Option<(String, usize)> {
    let split = word
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .unwrap_or(word.len());
    let (number, suffix) = word.split_at(split);
    let value = plain_value(number.trim_end_matches(['.', ',']))?;
    let (value, used) = if suffix.is_empty() {
        match next
            .map(|w| w.to_lowercase())
            .as_deref()
            .and_then(multiplier)
        {
            Some(m) => (value * m, 2),
            None => (value, 1),
        }
    } else {
        (value * multiplier(&suffix.to_lowercase())?, 1)
    };
    Some((format_value(value), used))
}

fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e18 {
        format!("{}", value as i64)
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(word: &str, next: Option<&str>) -> Option<String> {
        number_at(word, next).map(|(v, _)| v)
    }

    #[test]
    fn rewrites_of_one_number_agree() {
        for (word, next) in [
            ("1,000", None),
            ("1000", None),
            ("1K", None),
            ("1", Some("тыс")),
            ("1", Some("thousand")),
            ("1.000", None),
        ] {
            assert_eq!(n(word, next).as_deref(), Some("1000"), "{word} {next:?}");
        }
        assert_eq!(n("1.5", Some("million")).as_deref(), Some("1500000"));
        assert_eq!(n("1,5", Some("млн")).as_deref(), Some("1500000"));
        assert_eq!(n("5bn", None).as_deref(), Some("5000000000"));
        assert_eq!(n("2.75", None).as_deref(), Some("2.75"));
    }

    #[test]
    fn a_multiplier_in_the_next_word_is_counted_as_used() {
        assert_eq!(
            number_at("10", Some("million")),
            Some(("10000000".into(), 2))
        );
        assert_eq!(number_at("10", Some("troops")), Some(("10".into(), 1)));
    }

    #[test]
    fn words_that_are_not_numbers_are_not() {
        for word in ["abc", "k5", "1.2.3", "1,2,3", "", "1x"] {
            assert_eq!(n(word, None), None, "{word}");
        }
    }
}
