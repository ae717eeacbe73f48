//! Per watch-set size: compile time, candidates vs matches per article, and a quick
//! single-threaded throughput, over the benchmark corpus (see `benches/matching.rs`).
//!
//! ```text
//! cargo run --release --example match_stats -- [--sizes 100,1000,10000,100000] [--hot 0.4]
//!                                              [--articles 300] [--secs 2] [--show 5]
//! ```
//!
//! `--hot` is the share of watch terms drawn from the topical vocabulary (the rest come from
//! the long-tail pool): the knob that sets how many watches an article can touch. `--show N`
//! prints N sample articles and watches. Rates are articles per second of this thread's CPU
//! time (wall-time rates in parentheses), so other work on the machine does not skew them.

use std::time::Duration;

#[path = "../benches/support/corpus.rs"]
mod corpus;
#[path = "../benches/support/cpu_time.rs"]
mod cpu_time;
#[path = "../benches/support/fixture.rs"]
mod fixture;

fn main() {
    let mut sizes = vec![100, 1_000, 10_000, 100_000];
    let mut hot = corpus::HOT_SHARE;
    let mut articles = 300;
    let mut secs = 2.0;
    let mut show = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--sizes" => {
                sizes = value
                    .split(',')
                    .map(|s| s.replace('_', "").parse().expect("--sizes: numbers"))
                    .collect()
            }
            "--hot" => hot = value.parse().expect("--hot: a number in 0..=1"),
            "--articles" => articles = value.parse().expect("--articles: a number"),
            "--secs" => secs = value.parse().expect("--secs: seconds"),
            "--show" => show = value.parse().expect("--show: a number"),
            other => panic!("unknown argument {other}"),
        }
    }
    let fixture = fixture::Fixture::load(articles, hot);
    let views = fixture.views();
    for article in fixture.articles.iter().take(show) {
        println!(
            "--- {} [{}]\n{}\n",
            article.title, article.link, article.summary
        );
    }
    for source in fixture.sources(show + fixture.shipped.len()) {
        println!("watch {:?}: {}", source.name, source.query);
    }
    println!(
        "{:>8} {:>10} {:>11} {:>8} {:>8} {:>22} {:>22}",
        "watches",
        "compile s",
        "candidates",
        "matches",
        "matched",
        "analyze+match /s",
        "match only /s"
    );
    for size in sizes {
        let (set, compile_time) = fixture.compile(size);
        let stats = fixture::stats(&set, &views);
        let documents: Vec<_> = views.iter().map(|v| set.analyze(v)).collect();
        let full = rate(secs, views.len(), || {
            for view in &views {
                let document = set.analyze(view);
                std::hint::black_box(set.matches(&document));
            }
        });
        let only = rate(secs, views.len(), || {
            for document in &documents {
                std::hint::black_box(set.matches(document));
            }
        });
        println!(
            "{size:>8} {:>10.3} {:>11.2} {:>8.2} {:>7.0}% {:>22} {:>22}",
            compile_time.as_secs_f64(),
            stats.candidates_per_article,
            stats.matches_per_article,
            stats.matched_share * 100.0,
            format!("{:.0} ({:.0})", full.0, full.1),
            format!("{:.0} ({:.0})", only.0, only.1),
        );
    }
}

/// Articles per CPU second and per wall second: repeats `pass` (which handles `per_pass`
/// articles) for about `secs` of CPU time.
fn rate(secs: f64, per_pass: usize, mut pass: impl FnMut()) -> (f64, f64) {
    pass();
    let budget = Duration::from_secs_f64(secs);
    let clock = cpu_time::Clock::start();
    let mut passes = 0;
    while clock.cpu_elapsed() < budget || passes == 0 {
        pass();
        passes += 1;
    }
    let articles = (passes * per_pass) as f64;
    (
        articles / clock.cpu_elapsed().as_secs_f64(),
        articles / clock.wall_elapsed().as_secs_f64(),
    )
}
