//! Text from feeds reaches the log and the commands' output escaped and bounded (issue 9,
//! point 4): a feed's parse error carrying a newline and an ANSI sequence must not forge a log
//! line or reach the terminal, and a 100 KB error is cut. Through the real `newswatch` binary,
//! against a real HTTP server on loopback.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{FeedServer, Item, Route, rss};
use tempfile::TempDir;

/// What a hostile feed puts in its error text: a line of its own, then red.
const FORGED: &str = "x\n2026-01-01 INFO forged\x1b[31m";
/// How the log must show it.
const SHOWN: &str = r"x\n2026-01-01 INFO forged\x1b[31m";

const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `newswatch --config CONFIG ARGS` in `dir` with `RUST_LOG=info`, bounded in time.
fn newswatch(dir: &Path, config: &Path, args: &[&str]) -> Output {
    let stdout_path = dir.join("stdout");
    let stderr_path = dir.join("stderr");
    let file = |path: &Path| std::fs::File::create(path).expect("create output file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .env_remove("NEWSWATCH_CONFIG")
        .stdin(Stdio::null())
        .stdout(file(&stdout_path))
        .stderr(file(&stderr_path))
        .spawn()
        .expect("spawn newswatch");
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("newswatch {args:?} did not finish within {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |path: &Path| {
        String::from_utf8_lossy(&std::fs::read(path).expect("read output")).into_owned()
    };
    Output {
        success: status.success(),
        stdout: read(&stdout_path),
        stderr: read(&stderr_path),
    }
}

fn config(dir: &Path, feeds: &[(&str, String)]) -> PathBuf {
    let root = dir.display();
    let mut text = format!(
        "[database]\nurl = \"sqlite://{root}/newswatch.db\"\n\n[polling]\ntimeout = \"5s\"\n\n\
         [email]\nfrom = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"file\"\n\
         dir = '{root}/alerts'\n"
    );
    for (name, url) in feeds {
        text.push_str(&format!(
            "\n[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\n"
        ));
    }
    text.push_str(
        "\n[[watch]]\nname = \"Walrus\"\nquery = \"walrus\"\nto = [\"analyst@example.org\"]\n",
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// A JSON Feed whose `version` is `version` (feed-rs puts it in its error verbatim).
fn json_feed_with_version(version: &str) -> String {
    serde_json::json!({"version": version, "title": "T", "items": []}).to_string()
}

/// Whether `line` starts the way tracing's lines do: an RFC 3339 time, then a level.
fn is_log_line(line: &str) -> bool {
    let mut parts = line.split_whitespace();
    parts
        .next()
        .is_some_and(|time| chrono::DateTime::parse_from_rfc3339(time).is_ok())
        && matches!(
            parts.next(),
            Some("TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR")
        )
}

#[test]
fn feed_text_in_parse_errors_cannot_forge_log_lines_and_is_bounded() {
    let server = FeedServer::start();
    server.serve(
        "/version.json",
        Route::feed(json_feed_with_version(FORGED), "application/feed+json"),
    );
    server.serve(
        "/end-tag.xml",
        Route::rss(format!(
            "<rss version=\"2.0\"><channel><title>T</title></{FORGED}></rss>"
        )),
    );
    let long_version = format!("{FORGED}{}", "y".repeat(100_000));
    server.serve(
        "/long.json",
        Route::feed(
            json_feed_with_version(&long_version),
            "application/feed+json",
        ),
    );
    server.serve(
        "/good.xml",
        Route::rss(rss(&[Item::new("1", "Walrus seen")])),
    );
    let dir = TempDir::new().expect("temp dir");
    let config = config(
        dir.path(),
        &[
            ("version", server.url("/version.json")),
            ("end-tag", server.url("/end-tag.xml")),
            ("long", server.url("/long.json")),
            ("good", server.url("/good.xml")),
        ],
    );

    let once = newswatch(dir.path(), &config, &["once"]);
    let log = &once.stderr;
    assert!(!log.contains('\x1b'), "a raw ESC reached the log:\n{log}");
    for line in log.lines() {
        assert!(
            is_log_line(line),
            "a line that tracing did not start (forged?): {line:?}\n--- log ---\n{log}"
        );
    }
    let failures: Vec<&str> = log.lines().filter(|l| l.contains("poll failed")).collect();
    assert_eq!(failures.len(), 3, "one failure line per bad feed:\n{log}");
    for feed in ["version", "end-tag", "long"] {
        let line = failures
            .iter()
            .find(|l| l.contains(&format!("feed={feed}}}")))
            .unwrap_or_else(|| panic!("no failure line for {feed}:\n{log}"));
        assert!(line.contains(SHOWN), "{feed}: escapes not shown: {line}");
        assert!(
            line.len() < 2_000,
            "{feed}: the error is not bounded ({} bytes)",
            line.len()
        );
    }
    let long = failures
        .iter()
        .find(|l| l.contains("feed=long}"))
        .unwrap_or_else(|| panic!("no failure line for the long feed:\n{log}"));
    assert!(
        long.contains("yyyy… (100"),
        "the cut and the original length are shown: {long}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("feed=good}") && l.contains("polled")),
        "the good feed is polled:\n{log}"
    );
    assert!(once.success, "once succeeds:\n{log}");
}

#[test]
fn test_rule_shows_a_feeds_error_on_one_line() {
    let dir = TempDir::new().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[[watch]]\nname = \"Walrus\"\nquery = \"walrus\"\n",
    )
    .expect("write config");
    let feed = dir.path().join("feed.json");
    std::fs::write(&feed, json_feed_with_version(FORGED)).expect("write feed");
    let feed = feed.display().to_string();

    let run = newswatch(dir.path(), &config, &["test-rule", &feed]);
    assert!(!run.success, "an unreadable source fails test-rule");
    assert!(
        !run.stderr.contains('\x1b'),
        "a raw ESC reached the terminal: {:?}",
        run.stderr
    );
    let errors: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(errors.len(), 1, "one line for the error: {:?}", run.stderr);
    assert!(
        errors[0].starts_with(&format!("error: {feed}: ")) && errors[0].contains(SHOWN),
        "{:?}",
        errors[0]
    );
    assert!(!run.stdout.contains('\x1b'), "{:?}", run.stdout);
}
