//! Watch matching throughput: how many articles per second one core analyses and matches
//! against 100, 1,000, 10,000 and 100,000 watches.
//!
//! Run with `cargo bench --bench matching` (all sizes, a few minutes), or limit the sizes with
//! `NEWSWATCH_BENCH_SIZES=100,10000 cargo bench --bench matching`.
//!
//! The corpus and the watches are generated (see `support/corpus.rs`): 300 English and Russian
//! news items of 100–150 words, and watches of the shapes analysts write, over a vocabulary of a
//! few thousand names and words. The shipped `config.toml` contributes its `[lists]` and its
//! default watch. Each iteration handles the whole corpus; the throughput is counted in
//! articles, so criterion reports articles/s.
//!
//! Before each size is measured, its compile time and the per-article averages (candidates the
//! presearch index proposes, watches that really match) are printed to stderr.
//!
//! On a machine shared with other work, set `NEWSWATCH_BENCH_CPU=1` to measure the CPU time of
//! the benchmarking thread instead of wall time (groups `analyze-cpu` and `match-cpu`), so time
//! spent waiting for a core is not counted.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/cpu_time.rs"]
mod cpu_time;
#[path = "support/fixture.rs"]
mod fixture;

use fixture::Fixture;

/// Distinct articles in the corpus.
const ARTICLES: usize = 300;
const DEFAULT_SIZES: &[usize] = &[100, 1_000, 10_000, 100_000];

fn sizes() -> Vec<usize> {
    match std::env::var("NEWSWATCH_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .replace('_', "")
                    .parse()
                    .expect("NEWSWATCH_BENCH_SIZES: numbers")
            })
            .collect(),
        Err(_) => DEFAULT_SIZES.to_vec(),
    }
}

fn analyze<M: Measurement>(c: &mut Criterion<M>, suffix: &str) {
    let fixture = Fixture::load(ARTICLES, corpus::HOT_SHARE);
    let views = fixture.views();
    let (set, _) = fixture.compile(100);
    let mut group = c.benchmark_group(format!("analyze{suffix}"));
    group.throughput(Throughput::Elements(views.len() as u64));
    group.bench_function("corpus", |b| {
        b.iter(|| {
            for view in &views {
                black_box(set.analyze(black_box(view)));
            }
        })
    });
    group.finish();
}

fn matching<M: Measurement>(c: &mut Criterion<M>, suffix: &str) {
    let fixture = Fixture::load(ARTICLES, corpus::HOT_SHARE);
    let views = fixture.views();
    let mut group = c.benchmark_group(format!("match{suffix}"));
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(views.len() as u64));
    for size in sizes() {
        let (set, compile_time) = fixture.compile(size);
        let stats = fixture::stats(&set, &views);
        eprintln!(
            "match/{size}: compiled {} watches in {:.3} s; per article: {:.1} words, \
             {:.2} candidates, {:.2} matches ({:.0}% of articles match)",
            set.len(),
            compile_time.as_secs_f64(),
            stats.words_per_article,
            stats.candidates_per_article,
            stats.matches_per_article,
            stats.matched_share * 100.0
        );
        group.bench_with_input(BenchmarkId::new("analyze+match", size), &set, |b, set| {
            b.iter(|| {
                for view in &views {
                    let document = set.analyze(black_box(view));
                    black_box(set.matches(&document));
                }
            })
        });
        let documents: Vec<_> = views.iter().map(|view| set.analyze(view)).collect();
        group.bench_with_input(BenchmarkId::new("match_only", size), &set, |b, set| {
            b.iter(|| {
                for document in &documents {
                    black_box(set.matches(black_box(document)));
                }
            })
        });
    }
    group.finish();
}

fn configure<M: Measurement>(c: Criterion<M>) -> Criterion<M> {
    c.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args()
}

fn main() {
    if std::env::var_os("NEWSWATCH_BENCH_CPU").is_some_and(|v| v != "0") {
        let mut c = configure(Criterion::default().with_measurement(cpu_time::ThreadCpuTime));
        analyze(&mut c, "-cpu");
        matching(&mut c, "-cpu");
    } else {
        let mut c = configure(Criterion::default());
        analyze(&mut c, "");
        matching(&mut c, "");
    }
    Criterion::default().configure_from_args().final_summary();
}
