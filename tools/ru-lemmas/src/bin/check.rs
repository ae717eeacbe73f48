//! Checks on the embedded dictionary, through newswatch's own loader.
//!
//! `check eval tests/data/ru_inflection.tsv` — scores the labelled set with
//!     the dictionary-only rule (no Snowball fallback): a text word matches a
//!     watch word when one of its lemma ids equals key(watch word), where the
//!     key is the watch word's own lemma id when it is a normal form, else all
//!     of its lemma ids. Unknown words never match.
//! `check verify EXPORT.tsv` — checks every form of the export against
//!     `lookup`: same lemma set (ids = rank of the lemma string), correct `own`.
//! `check bench EXPORT.tsv` — times `lookup` + `ids()` + `own()` over forms
//!     taken from the export TSV (about every 7th) plus unknown words.
#![allow(dead_code)]

#[path = "../../../../src/rules/lemma.rs"]
mod lemma;

use lemma::LemmaDict;
use std::hint::black_box;
use std::time::Instant;

fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

/// key(watch word): None when the word is unknown.
fn key(dict: &LemmaDict, watch: &str) -> Option<Vec<u32>> {
    let l = dict.lookup(watch)?;
    Some(match l.own() {
        Some(own) => vec![own],
        None => l.ids().collect(),
    })
}

fn eval(path: &str) {
    let dict = LemmaDict::russian();
    let text = std::fs::read_to_string(path).expect("read TSV");
    let (mut total, mut ok) = (0, 0);
    let mut failures = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 3, "bad row {line:?}");
        let (watch, word, expected) = (fold(cols[0]), fold(cols[1]), cols[2] == "1");
        let note = cols.get(3).copied().unwrap_or("");
        let k = key(dict, &watch);
        let t = dict.lookup(&word);
        let got = match (&k, t) {
            (Some(k), Some(t)) => t.ids().any(|id| k.contains(&id)),
            _ => false,
        };
        total += 1;
        if got == expected {
            ok += 1;
        } else {
            let why = match (&k, t) {
                (None, _) => "watch word unknown",
                (_, None) => "text word unknown",
                _ => "lemma sets differ",
            };
            failures.push(format!(
                "  {} / {}: expected {}, got {} ({why}) -- {note}",
                cols[0], cols[1], expected as u8, got as u8
            ));
        }
    }
    println!(
        "{ok}/{total} rows correct ({:.1}%)",
        100.0 * ok as f64 / total as f64
    );
    if !failures.is_empty() {
        println!("failures:");
        for f in failures {
            println!("{f}");
        }
    }
}

fn verify(tsv: &str) {
    let dict = LemmaDict::russian();
    let text = std::fs::read_to_string(tsv).expect("read TSV");
    let pairs: Vec<(&str, &str)> = text
        .lines()
        .map(|l| l.split_once('\t').expect("form<TAB>lemma"))
        .collect();
    let mut lemmas: Vec<&str> = pairs.iter().map(|p| p.1).collect();
    lemmas.sort_unstable();
    lemmas.dedup();
    let id = |l: &str| lemmas.binary_search(&l).unwrap() as u32;
    let mut forms = 0usize;
    let mut bad = 0usize;
    let mut i = 0;
    while i < pairs.len() {
        let form = pairs[i].0;
        let mut want: Vec<u32> = Vec::new();
        let mut want_own = None;
        while i < pairs.len() && pairs[i].0 == form {
            want.push(id(pairs[i].1));
            if pairs[i].1 == form {
                want_own = Some(id(form));
            }
            i += 1;
        }
        want.sort_unstable();
        want.dedup();
        forms += 1;
        let got = dict.lookup(form);
        let mut got_ids: Vec<u32> = got.map(|l| l.ids().collect()).unwrap_or_default();
        let n = got_ids.len();
        got_ids.sort_unstable();
        got_ids.dedup();
        if got_ids != want || n != want.len() || got.and_then(|l| l.own()) != want_own {
            bad += 1;
            if bad <= 10 {
                eprintln!("mismatch for {form}: want {want:?} own {want_own:?}, got {got:?}");
            }
        }
    }
    println!(
        "verified {forms} forms, {} lemmas: {bad} mismatches",
        lemmas.len()
    );
    if bad > 0 {
        std::process::exit(1);
    }
}

fn bench(tsv: &str) {
    let dict = LemmaDict::russian();
    let text = std::fs::read_to_string(tsv).expect("read TSV");
    let mut words: Vec<String> = Vec::new();
    let mut last = "";
    for (i, line) in text.lines().enumerate() {
        let form = line.split('\t').next().unwrap_or("");
        if form != last && i % 7 == 0 {
            words.push(form.to_owned());
        }
        last = form;
    }
    // Unknown words, as in real text (names, typos, Latin).
    for w in [
        "ына",
        "ыном",
        "nato",
        "missile",
        "зеленского",
        "qwerty",
        "ааааа",
    ] {
        for _ in 0..1000 {
            words.push(w.to_owned());
        }
    }
    // Shuffle deterministically so the lookups are not in key order.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..words.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        words.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let cold: Vec<&str> = words.iter().map(String::as_str).collect();
    let hot: Vec<&str> = cold
        .iter()
        .take(2000)
        .cycle()
        .take(cold.len())
        .copied()
        .collect();
    time("random forms (cold, worst case)", dict, &cold);
    time(
        "2000 distinct forms repeated (hot, like running text)",
        dict,
        &hot,
    );
}

fn time(label: &str, dict: &LemmaDict, words: &[&str]) {
    let mut best = f64::MAX;
    let mut found = 0usize;
    for _ in 0..5 {
        found = 0;
        let start = Instant::now();
        for w in words {
            if let Some(l) = dict.lookup(black_box(w)) {
                found += 1;
                for id in l.ids() {
                    black_box(id);
                }
                black_box(l.own());
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / words.len() as f64;
        best = best.min(ns);
    }
    println!(
        "{label}: {} lookups ({found} found), best of 5 runs: {best:.0} ns per lookup+ids+own",
        words.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("eval") if args.len() == 3 => eval(&args[2]),
        Some("bench") if args.len() == 3 => bench(&args[2]),
        Some("verify") if args.len() == 3 => verify(&args[2]),
        _ => {
            eprintln!(
                "usage: check eval RU_INFLECTION.tsv | check verify EXPORT.tsv | check bench EXPORT.tsv"
            );
            std::process::exit(2);
        }
    }
}
