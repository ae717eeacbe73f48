//! The cost of the worst phrases a query may hold, on one long article: what bounds the time a
//! single watch can take (issue 9, point 9).
//!
//! ```text
//! cargo run --release --example phrase_cost -- [--kb 100] [--secs 0.5]
//! ```
//!
//! The article is one field of `--kb` KB of one- or two-letter words, built so that each
//! phrase's words are everywhere: phrases of 64 words (the most allowed) that occur at every
//! position, that fail only at their last word at every position, or that fail because a word
//! is absent; 64-word phrases on both sides of a NEAR; and the 10,000-word phrase of the issue,
//! which `check` now refuses. Each case prints whether the query compiles, then the time of one
//! `WatchSet::matches` call (presearch, evaluation and explanation): this thread's CPU time
//! and the wall time, averaged over calls repeated for `--secs`.

use std::time::Duration;

use newswatch::rules::{ArticleView, ListDefinitions, WatchSet, WatchSource};

#[path = "../benches/support/cpu_time.rs"]
mod cpu_time;

fn repeat_words(words: &[&str], count: usize) -> String {
    words
        .iter()
        .cycle()
        .take(count)
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let mut kb = 100;
    let mut secs = 0.5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--kb" => kb = value.parse().expect("--kb: a number"),
            "--secs" => secs = value.parse().expect("--secs: seconds"),
            other => panic!("unknown argument {other}"),
        }
    }
    // Two bytes a word: "a a a …", "a b a b …".
    let words = kb * 1024 / 2;
    let all_a = repeat_words(&["a"], words);
    let alternating = repeat_words(&["a", "b"], words);
    let mut groups = repeat_words(&["a"], 62);
    groups.push_str(" b");
    let a62_b = repeat_words(&[groups.as_str()], words / 63);
    let phrase = |words: &[&str], count: usize| format!("\"{}\"", repeat_words(words, count));
    let a63_b = format!("\"{} b\"", repeat_words(&["a"], 63));
    let alternating_then_a = format!("\"{} a\"", repeat_words(&["a", "b"], 63));
    let cases: Vec<(&str, String, &str)> = vec![
        ("a × 64, text a a a …", phrase(&["a"], 64), &all_a),
        ("a × 63 b, text a a a … (no b)", a63_b.clone(), &all_a),
        ("a × 63 b, text (a × 62 b) × …", a63_b, &a62_b),
        (
            "(a b) × 31 a a, text a b a b …",
            alternating_then_a,
            &alternating,
        ),
        (
            "a × 64 NEAR/1000 a × 64, text a a a …",
            format!("{} NEAR/1000 {}", phrase(&["a"], 64), phrase(&["a"], 64)),
            &all_a,
        ),
        (
            "a × 9,997 b (the issue's 20 KB), text a a a …",
            format!("\"{} b\"", repeat_words(&["a"], 9_997)),
            &all_a,
        ),
    ];
    println!("article: {kb} KB, {words} words; time of one match (CPU, wall)");
    for (name, query, content) in cases {
        let sources = [WatchSource {
            name: "w".into(),
            query,
        }];
        let set = match WatchSet::compile(&sources, &ListDefinitions::new()) {
            Ok(set) => set,
            Err(errors) => {
                let message = errors.first().map_or("", |e| e.message.as_str());
                println!("{name:<46} refused: {message}");
                continue;
            }
        };
        let view = ArticleView {
            content,
            ..Default::default()
        };
        let document = set.analyze(&view);
        let matched = !set.matches(&document).matches.is_empty();
        let clock = cpu_time::Clock::start();
        let mut calls = 0u32;
        while calls == 0 || clock.wall_elapsed() < Duration::from_secs_f64(secs) {
            std::hint::black_box(set.matches(std::hint::black_box(&document)));
            calls += 1;
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(calls);
        println!(
            "{name:<46} {:>10.3} ms {:>10.3} ms  {}",
            ms(clock.cpu_elapsed()),
            ms(clock.wall_elapsed()),
            if matched { "matches" } else { "no match" }
        );
    }
}
