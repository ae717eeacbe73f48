//! `newswatch test-rule` as an analyst uses it: the real binary over a feed file or a feed
//! served on loopback, with the shipped configuration or one of only `[lists]` and `[[watch]]`.
//! It prints why each article matched, writes no database and sends no mail.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use support::seed::{SEED_BODY, SEED_TITLE};
use support::{FeedServer, Item, Route, rss};
use tempfile::TempDir;

const DEFAULT_WATCH: &str = "Russia–DPRK military ties";

fn shipped_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml")
}

/// Runs `newswatch --config CONFIG test-rule ARGS` in `dir` (so that relative paths in the
/// configuration, such as the database's, would land there).
fn test_rule(dir: &Path, config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .current_dir(dir)
        .arg("--config")
        .arg(config)
        .arg("test-rule")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run newswatch test-rule")
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "test-rule failed: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// `--json` output: one object per line.
fn json_lines(output: &Output) -> Vec<Value> {
    stdout_of(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn by_title<'a>(articles: &'a [Value], title: &str) -> &'a Value {
    articles
        .iter()
        .find(|a| a["title"] == title)
        .unwrap_or_else(|| panic!("no article titled {title:?} in {articles:#?}"))
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

const MUNITIONS_TITLE: &str = "North Korean munitions shipped to Russia by rail, images show";
const DRILLS_TITLE: &str = "Южная Корея и США начали масштабные военные учения";
const TRADE_TITLE: &str = "Russia and China expand trade settled in yuan";
const LAUNCH_TITLE: &str = "North Korea fires ballistic missile into the sea";

fn news() -> Vec<Item> {
    vec![
        Item::new("ru/lavrov-pyongyang", SEED_TITLE)
            .published_ago(hours(1))
            .description(SEED_BODY),
        Item::new("en/munitions", MUNITIONS_TITLE)
            .published_ago(hours(2))
            .description(
                "Pyongyang has shipped more than a million artillery shells to Russia since \
                 August, deepening military cooperation between Moscow and North Korea.",
            ),
        Item::new("ru/drills", DRILLS_TITLE)
            .published_ago(hours(3))
            .description(
                "Сеул и Вашингтон проводят военные учения. Россия выразила обеспокоенность: \
                 в Москве заявили, что войска союзников отрабатывают ракетные удары.",
            ),
        Item::new("en/trade", TRADE_TITLE)
            .published_ago(hours(4))
            .description("Trade between Russia and China rose again as Moscow settles in yuan."),
        Item::new("en/launch", LAUNCH_TITLE)
            .published_ago(hours(5))
            .description(
                "Pyongyang launched a ballistic missile, South Korea's military said; \
                 Japan protested.",
            ),
    ]
}

#[test]
fn the_shipped_watch_explains_its_matches_and_stays_quiet_on_unrelated_news() {
    let dir = TempDir::new().expect("temp dir");
    let feed = dir.path().join("news.xml");
    std::fs::write(&feed, rss(&news())).expect("write the feed file");
    let output = test_rule(
        dir.path(),
        &shipped_config(),
        &["--json", "--watch", DEFAULT_WATCH, "news.xml"],
    );
    let articles = json_lines(&output);
    assert_eq!(articles.len(), 5, "one line per article, matching or not");
    for article in &articles {
        for key in ["link", "title", "published", "matches"] {
            assert!(article.get(key).is_some(), "no {key:?} in {article}");
        }
        assert!(article["published"].is_string(), "{article}");
    }

    for title in [SEED_TITLE, MUNITIONS_TITLE] {
        let article = by_title(&articles, title);
        let matches = article["matches"].as_array().expect("matches array");
        assert_eq!(matches.len(), 1, "{article:#}");
        assert_eq!(matches[0]["watch"], DEFAULT_WATCH);
        let terms: Vec<&str> = matches[0]["terms"]
            .as_array()
            .expect("terms array")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(!terms.is_empty(), "{article:#}");
        let hits = matches[0]["hits"].as_array().expect("hits array");
        assert!(
            hits.iter().all(|h| h["start"].as_u64() < h["end"].as_u64()),
            "every hit has its offsets: {article:#}"
        );
    }
    // The seed article's words are reported as written in the text, inflected.
    let seed = by_title(&articles, SEED_TITLE);
    let seed_terms = seed["matches"][0]["terms"].to_string();
    for inflected in ["России", "Северную Корею"] {
        assert!(
            seed_terms.contains(inflected),
            "{inflected:?} not among {seed_terms}"
        );
    }
    assert_eq!(
        by_title(&articles, MUNITIONS_TITLE)["link"],
        "https://news.example/en/munitions"
    );

    for title in [DRILLS_TITLE, TRADE_TITLE, LAUNCH_TITLE] {
        let article = by_title(&articles, title);
        assert_eq!(article["matches"], Value::Array(Vec::new()), "{article:#}");
    }

    // No database, no alerts: the shipped config's relative paths would put them here.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list the directory")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["news.xml"], "test-rule wrote files: {left:?}");
}

const LISTS_AND_WATCHES: &str = r#"
[lists]
dprk = ["North Korea", "Pyongyang", "КНДР", "Пхеньян"]

[[watch]]
name = "Pyongyang"
query = "@dprk"

[[watch]]
name = "Missiles"
query = "missile NOT =missiles"
"#;

#[test]
fn lists_and_watches_are_enough_and_a_source_may_be_a_url() {
    let dir = TempDir::new().expect("temp dir");
    let config = dir.path().join("rules.toml");
    std::fs::write(&config, LISTS_AND_WATCHES).expect("write the config");
    let server = FeedServer::start();
    server.serve("/news.xml", Route::rss(rss(&news())));
    let url = server.url("/news.xml");

    let articles = json_lines(&test_rule(dir.path(), &config, &["--json", &url]));
    assert_eq!(articles.len(), 5);
    let watches_of = |title: &str| -> Vec<String> {
        by_title(&articles, title)["matches"]
            .as_array()
            .expect("matches array")
            .iter()
            .filter_map(|m| m["watch"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(watches_of(SEED_TITLE), ["Pyongyang"]);
    assert_eq!(watches_of(LAUNCH_TITLE), ["Pyongyang", "Missiles"]);
    assert_eq!(watches_of(TRADE_TITLE), Vec::<String>::new());
    assert_eq!(server.hits("/news.xml"), 1);

    // --watch narrows the output to that watch.
    let only = json_lines(&test_rule(
        dir.path(),
        &config,
        &["--json", "--watch", "Missiles", &url],
    ));
    let matched: Vec<&Value> = only
        .iter()
        .filter(|a| a["matches"] != Value::Array(Vec::new()))
        .collect();
    assert_eq!(matched.len(), 1, "{only:#?}");
    assert_eq!(matched[0]["title"], LAUNCH_TITLE);

    // The human form names the watch and the words, and counts.
    let text = stdout_of(&test_rule(dir.path(), &config, &[&url]));
    assert!(text.contains(LAUNCH_TITLE), "{text}");
    assert!(text.contains("matches \"Missiles\""), "{text}");
    assert!(text.contains("\"missile\""), "{text}");
    assert!(
        !text.contains(TRADE_TITLE),
        "non-matching articles only with --all: {text}"
    );
    assert!(
        text.contains("5 articles, 3 matched (4 watch matches)"),
        "{text}"
    );
    let all = stdout_of(&test_rule(dir.path(), &config, &["--all", &url]));
    assert!(all.contains(TRADE_TITLE), "{all}");

    // An unknown watch is an error that names the known ones.
    let unknown = test_rule(dir.path(), &config, &["--watch", "Nope", &url]);
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("\"Nope\"") && stderr.contains("Pyongyang"),
        "{stderr}"
    );
}

#[test]
fn an_unreadable_source_is_reported_and_the_others_still_run() {
    let dir = TempDir::new().expect("temp dir");
    let config = dir.path().join("rules.toml");
    std::fs::write(&config, LISTS_AND_WATCHES).expect("write the config");
    std::fs::write(dir.path().join("news.xml"), rss(&news())).expect("write the feed");
    std::fs::write(dir.path().join("broken.xml"), "<rss><channel><item>").expect("write");
    let output = test_rule(
        dir.path(),
        &config,
        &["--json", "missing.xml", "broken.xml", "news.xml"],
    );
    assert!(!output.status.success(), "a failed source fails the run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing.xml"), "{stderr}");
    assert!(stderr.contains("broken.xml"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().count(),
        5,
        "news.xml still reported: {stdout}"
    );
}

#[test]
fn a_lower_case_operator_is_a_warning_with_its_line_and_column_and_the_run_goes_on() {
    let dir = TempDir::new().expect("temp dir");
    let config = dir.path().join("rules.toml");
    let text = "[[watch]]\nname = \"Ministers\"\nquery = \"putin or lavrov\"\n";
    std::fs::write(&config, text).expect("write the config");
    std::fs::write(dir.path().join("news.xml"), rss(&news())).expect("write the feed");
    let output = test_rule(dir.path(), &config, &["news.xml"]);
    let stdout = stdout_of(&output);
    assert!(stdout.contains("5 articles"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:3:16: warning: watch \"Ministers\": lower-case \"or\" is searched for as a word, \
             not used as the operator OR",
            config.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("help: write OR"), "{stderr}");
    assert!(
        !stderr.contains("no [[feeds]]"),
        "test-rule needs no feeds: {stderr}"
    );
}

/// Runs test-rule with `input` on standard input.
fn test_rule_with_input(dir: &Path, config: &Path, args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .current_dir(dir)
        .arg("--config")
        .arg(config)
        .arg("test-rule")
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run newswatch test-rule");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("wait for test-rule")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/articles")
        .join(name)
}

/// The lines of the grouped "why" that are for `list`.
fn lines_for<'a>(text: &'a str, list: &str) -> Vec<&'a str> {
    let prefix = format!("    {list}: ");
    text.lines().filter(|l| l.starts_with(&prefix)).collect()
}

/// The seed article as a text file: one line per list, the whole answer in under 15 lines.
fn assert_grouped_seed_output(text: &str) {
    assert!(text.contains(SEED_TITLE), "{text}");
    assert!(
        text.contains(&format!("matches {DEFAULT_WATCH:?}:")),
        "{text}"
    );
    for list in [
        "@russia",
        "@dprk",
        "@ukraine_war",
        "@military",
        "@relations",
    ] {
        assert_eq!(
            lines_for(text, list).len(),
            1,
            "one line for {list}: {text}"
        );
    }
    assert!(
        lines_for(text, "@russia")[0].contains("\"России\" (title, text)"),
        "{text}"
    );
    assert!(text.contains("    in the title: "), "{text}");
    assert!(text.contains(" within 12 words of "), "{text}");
    assert!(
        text.lines().count() < 15,
        "{} lines: {text}",
        text.lines().count()
    );
}

#[test]
fn a_text_file_is_one_article_explained_one_line_per_list() {
    let dir = TempDir::new().expect("temp dir");
    let seed = dir.path().join("seed.ru.txt");
    std::fs::write(&seed, format!("{SEED_TITLE}\n{SEED_BODY}\n")).expect("write the seed");
    let text = stdout_of(&test_rule(dir.path(), &shipped_config(), &["seed.ru.txt"]));
    assert_grouped_seed_output(&text);

    // The project's seed itself, when the shared checkout is there.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed");
    match std::fs::read_dir(&shared) {
        Ok(entries) => {
            let files: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.path().display().to_string())
                .collect();
            let args: Vec<&str> = files.iter().map(String::as_str).collect();
            let text = stdout_of(&test_rule(dir.path(), &shipped_config(), &args));
            assert_grouped_seed_output(&text);
        }
        Err(_) => eprintln!("skipped: no {} to check", shared.display()),
    }

    // A hand-written article: each distinct form once, with where it was found.
    let text = stdout_of(&test_rule(
        dir.path(),
        &shipped_config(),
        &[fixture("lavrov-visit.ru.txt").to_str().expect("UTF-8 path")],
    ));
    assert!(
        text.starts_with("Лавров прибыл в Пхеньян с визитом\n"),
        "{text}"
    );
    assert_eq!(
        lines_for(&text, "@dprk"),
        ["    @dprk: \"Пхеньян\" (title, text), \"КНДР\" (text), \"Цой Сон Хи\" (text)"]
    );
    assert_eq!(
        lines_for(&text, "@russia"),
        [
            "    @russia: \"Лавров\" (title, text), \"России\" (text), \"Москва\" (text), \"Москве\" (text)"
        ]
    );
    assert!(
        text.contains("    in the title: \"Лавров\", \"Пхеньян\"\n"),
        "{text}"
    );
}

#[test]
fn hits_lists_every_occurrence() {
    let dir = TempDir::new().expect("temp dir");
    let path = fixture("lavrov-visit.ru.txt");
    let path = path.to_str().expect("UTF-8 path");
    let grouped = stdout_of(&test_rule(dir.path(), &shipped_config(), &[path]));
    let every = stdout_of(&test_rule(dir.path(), &shipped_config(), &["--hits", path]));
    let pyongyang: Vec<&str> = every
        .lines()
        .filter(|l| l.contains("@dprk: Пхеньян") && l.contains("\"Пхеньян\""))
        .collect();
    assert_eq!(pyongyang.len(), 3, "title and twice in the text: {every}");
    assert!(every.contains("\"Москве\" in content at "), "{every}");
    assert!(every.lines().count() > grouped.lines().count(), "{every}");

    // --json keeps its shape.
    let articles = json_lines(&test_rule(dir.path(), &shipped_config(), &["--json", path]));
    assert_eq!(articles.len(), 1);
    let m = &articles[0]["matches"][0];
    assert_eq!(m["watch"], DEFAULT_WATCH);
    assert!(m["terms"].as_array().is_some_and(|t| !t.is_empty()), "{m}");
    assert!(m["hits"].as_array().is_some_and(|h| h.len() > 10), "{m}");
    // And adds the grouped lines the human output shows.
    let why: Vec<&str> = m["why"]
        .as_array()
        .expect("why array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let shown: Vec<&str> = grouped
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .collect();
    assert_eq!(why, shown, "{m}");
}

#[test]
fn standard_input_may_be_text_or_a_feed() {
    let dir = TempDir::new().expect("temp dir");
    let article = std::fs::read(fixture("lavrov-visit.ru.txt")).expect("read the fixture");
    let text = stdout_of(&test_rule_with_input(
        dir.path(),
        &shipped_config(),
        &["-"],
        &article,
    ));
    assert!(
        text.starts_with("Лавров прибыл в Пхеньян с визитом\n"),
        "{text}"
    );
    assert_eq!(lines_for(&text, "@dprk").len(), 1, "{text}");
    assert!(text.contains("1 article, 1 matched"), "{text}");

    let feed = rss(&news());
    let articles = json_lines(&test_rule_with_input(
        dir.path(),
        &shipped_config(),
        &["--json", "-"],
        feed.as_bytes(),
    ));
    assert_eq!(articles.len(), 5, "the feed's five articles");
    assert_eq!(
        by_title(&articles, SEED_TITLE)["matches"][0]["watch"],
        DEFAULT_WATCH
    );
}

#[test]
fn a_web_page_is_one_article_titled_by_its_title() {
    let dir = TempDir::new().expect("temp dir");
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\
         <script>var x = \"КНДР\";</script></head>\n<body><h1>Визит</h1>\n{}</body></html>\n",
        "Лавров прибыл в Пхеньян",
        SEED_BODY
            .split("\n\n")
            .map(|p| format!("<p>{p}</p>\n"))
            .collect::<String>()
    );
    // The content decides: a page named .xml is still a page.
    std::fs::write(dir.path().join("page.xml"), &page).expect("write the page");
    std::fs::write(dir.path().join("page.html"), &page).expect("write the page");
    for name in ["page.html", "page.xml"] {
        let text = stdout_of(&test_rule(dir.path(), &shipped_config(), &[name]));
        assert!(
            text.starts_with("Лавров прибыл в Пхеньян\n"),
            "{name}: {text}"
        );
        assert!(
            text.contains(&format!("matches {DEFAULT_WATCH:?}:")),
            "{name}: {text}"
        );
        assert!(
            lines_for(&text, "@dprk")[0].starts_with("    @dprk: \"Пхеньян\" (title"),
            "{name}: {text}"
        );
        assert!(!text.contains("<p>") && !text.contains("var x"), "{text}");
    }
}
