//! The parsing stage over a public corpus of real and malformed feeds: feedparser's test suite
//! (BSD-2-Clause) and feed-rs's fixtures (MIT), selected into `tests/data/feeds/` by
//! `tools/fetch-feed-corpus.sh`.
//!
//! Every file goes through `feed::parse_bytes` (decode → feed-rs → normalise) and every parsed
//! article through the matcher. Nothing may panic; the number of files that parse is printed
//! and must not fall below a floor, so a regression in the parser shows up here.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use newswatch::article::{MAX_CONTENT_CHARS, MAX_LIST_ITEMS, MAX_SUMMARY_CHARS, MAX_TITLE_CHARS};
use newswatch::feed::parse_bytes;
use newswatch::rules::{Field, ListDefinitions, WatchSet, WatchSource};

const FEED_URL: &str = "https://example.org/feed";

/// Measured with feed-rs 3.0.0: 641 files, 482 parse (feed-rs fixtures 72 of 76, feedparser
/// 410 of 565), 157 are rejected with an error and 2 panic (see the report in
/// `every_corpus_feed_parses_or_is_rejected_without_panicking`). Most rejections are feed-rs
/// declining `<rss>` without a `version` attribute, CDF, empty or truncated documents and
/// compressed bodies. The floor leaves a little room for a parser upgrade that turns a few
/// lenient parses into errors; a real regression loses far more.
const MIN_PARSED: usize = 570;
const MIN_FILES: usize = 600;

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/feeds")
}

/// Every corpus file, sorted; licence and readme files are not feeds.
fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            corpus_files(&path, out);
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("LICENSE") || name.starts_with("README") {
            continue;
        }
        out.push(path);
    }
}

fn watches() -> WatchSet {
    let mut lists = ListDefinitions::new();
    lists.insert(
        "common".into(),
        vec![
            "example".into(),
            "feed".into(),
            "entry".into(),
            "Россия".into(),
        ],
    );
    let queries = [
        "@common",
        "title:(test* OR example)",
        "\"example feed\" OR author:(mark OR pilgrim)",
        "entry NEAR/5 (content OR summary) -spam",
        "site:example.org lang:en",
        "=Title OR category:(test OR example)",
    ];
    let sources: Vec<WatchSource> = queries
        .iter()
        .enumerate()
        .map(|(i, q)| WatchSource {
            name: format!("w{i}"),
            query: (*q).to_string(),
        })
        .collect();
    WatchSet::compile(&sources, &lists).expect("the corpus watches compile")
}

#[derive(Default)]
struct Tally {
    files: usize,
    parsed: usize,
    articles: usize,
    rejected: Vec<(String, String)>,
    panicked: Vec<(String, String)>,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

/// Parses one file and matches its articles; `Err` is the message of a panic.
fn check_file(bytes: &[u8], set: &WatchSet) -> Result<Option<usize>, String> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let Ok(feed) = parse_bytes(bytes, None, FEED_URL, None) else {
            return None;
        };
        let feeds = vec!["Corpus".to_string()];
        for article in &feed.articles {
            assert!(article.title.chars().count() <= MAX_TITLE_CHARS);
            assert!(article.summary.chars().count() <= MAX_SUMMARY_CHARS);
            assert!(article.content.chars().count() <= MAX_CONTENT_CHARS);
            assert!(article.authors.len() <= MAX_LIST_ITEMS);
            assert!(article.categories.len() <= MAX_LIST_ITEMS);
            assert!(!article.title.contains(['\r', '\n']));
            if let Some(link) = &article.link {
                assert!(link.starts_with("http://") || link.starts_with("https://"));
            }
            let doc = set.analyze(&article.view(&feeds));
            let outcome = set.matches(&doc);
            let mut indexed: Vec<usize> = outcome.matches.iter().map(|m| m.watch).collect();
            indexed.sort_unstable();
            assert_eq!(indexed, set.matches_without_index(&doc));
            for hit in outcome.matches.iter().flat_map(|m| &m.hits) {
                if let Some(field) = hit.field {
                    assert_eq!(doc.text(field).get(hit.start..hit.end), Some(&*hit.text));
                }
            }
            let _ = doc.text(Field::Title);
        }
        Some(feed.articles.len())
    }));
    result.map_err(|payload| panic_message(&*payload))
}

#[test]
fn every_corpus_feed_parses_or_is_rejected_without_panicking() {
    let started = Instant::now();
    let root = corpus_root();
    let mut files = Vec::new();
    corpus_files(&root, &mut files);
    let set = watches();

    // Panics are caught and counted; keep the default hook from printing each one.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut by_source: std::collections::BTreeMap<String, Tally> = Default::default();
    let mut total = Tally::default();
    for path in &files {
        let relative = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let source = relative.split('/').next().unwrap_or("").to_string();
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {relative}: {e}"));
        let tally = by_source.entry(source).or_default();
        tally.files += 1;
        total.files += 1;
        match check_file(&bytes, &set) {
            Ok(Some(articles)) => {
                tally.parsed += 1;
                tally.articles += articles;
                total.parsed += 1;
                total.articles += articles;
            }
            Ok(None) => {
                let error = parse_bytes(&bytes, None, FEED_URL, None)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                total.rejected.push((relative, error));
            }
            Err(message) => total.panicked.push((relative, message)),
        }
    }
    std::panic::set_hook(hook);

    for (source, tally) in &by_source {
        eprintln!(
            "{source}: {} files, {} parsed ({} articles), {} rejected",
            tally.files,
            tally.parsed,
            tally.articles,
            tally.files - tally.parsed,
        );
    }
    eprintln!(
        "corpus: {} files, {} parsed ({} articles), {} rejected with an error, {} panicked, in {:.2?}",
        total.files,
        total.parsed,
        total.articles,
        total.rejected.len(),
        total.panicked.len(),
        started.elapsed()
    );
    if std::env::var_os("NEWSWATCH_CORPUS_VERBOSE").is_some() {
        for (file, error) in &total.rejected {
            eprintln!("  rejected {file}: {error}");
        }
    }

    assert!(
        total.panicked.is_empty(),
        "panics while parsing or matching corpus feeds:\n{}",
        total
            .panicked
            .iter()
            .map(|(file, message)| format!("  {file}: {message}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        total.files >= MIN_FILES,
        "only {} corpus files found under {}; run tools/fetch-feed-corpus.sh",
        total.files,
        root.display()
    );
    assert!(
        total.parsed >= MIN_PARSED,
        "only {} of {} corpus feeds parse (floor {MIN_PARSED}); set NEWSWATCH_CORPUS_VERBOSE=1 \
         to list the rejected files",
        total.parsed,
        total.files
    );
}
