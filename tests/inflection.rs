//! Inflected forms and look-alike words, as a user's watch meets them: every row of
//! tests/data/ru_inflection.tsv is a one-word watch matched against one word of text.

use newswatch::rules::{ArticleView, ListDefinitions, WatchSet, WatchSource};

fn verdict(watch_word: &str, text_word: &str) -> bool {
    let sources = [WatchSource {
        name: "w".into(),
        query: format!("\"{watch_word}\""),
    }];
    let set =
        WatchSet::compile(&sources, &ListDefinitions::new()).expect("a one-word watch compiles");
    let text = format!("Сегодня {text_word} сообщили");
    let view = ArticleView {
        title: &text,
        ..Default::default()
    };
    !set.matches(&set.analyze(&view)).matches.is_empty()
}

#[test]
fn inflected_forms_match_and_look_alikes_do_not() {
    let table = include_str!("data/ru_inflection.tsv");
    let mut total = 0;
    let mut failures = Vec::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let columns: Vec<&str> = line.split('\t').collect();
        let [watch_word, text_word, expected, ..] = columns[..] else {
            panic!("malformed row: {line:?}");
        };
        total += 1;
        let expected = expected == "1";
        if verdict(watch_word, text_word) != expected {
            failures.push(format!(
                "{watch_word} ~ {text_word}: expected {expected} ({line})"
            ));
        }
    }
    let score = (total - failures.len()) as f64 / total as f64;
    eprintln!(
        "{} of {total} verdicts right ({:.1} %)",
        total - failures.len(),
        score * 100.0
    );
    for failure in &failures {
        eprintln!("  {failure}");
    }
    assert!(total >= 150, "the table has {total} rows");
    assert!(
        score >= 0.97,
        "{:.3} < 0.97; failures:\n{}",
        score,
        failures.join("\n")
    );
}
