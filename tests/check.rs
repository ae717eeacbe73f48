//! `newswatch check` as a new user runs it: the real binary over a configuration with the
//! slips that would silently break a watch, each reported with the file, line and column.

use std::path::Path;
use std::process::{Command, Output};

use tempfile::TempDir;

/// Runs `newswatch --config CONFIG check` in `dir` on a configuration of `text`.
fn check(dir: &Path, text: &str) -> (Output, String) {
    let config = dir.join("config.toml");
    std::fs::write(&config, text).expect("write the config");
    let output = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .current_dir(dir)
        .arg("--config")
        .arg(&config)
        .arg("check")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run newswatch check");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stderr)
}

const FEEDS: &str = r#"
[database]
url = "sqlite://newswatch.db"

[[feeds]]
name = "TASS"
url = "https://tass.ru/rss/v2.xml"
tags = ["ru"]

[[feeds]]
name = "TASS again"
url = "https://tass.ru/rss/v2.xml"
"#;

#[test]
fn check_warns_about_what_would_never_match_and_still_passes() {
    let dir = TempDir::new().expect("temp dir");
    let text = format!(
        "{FEEDS}\n[[watch]]\nname = \"W\"\nquery = \"putin or feed:RIA\"\nto = [\"a@example.org\"]\n"
    );
    let (output, stderr) = check(dir.path(), &text);
    assert!(output.status.success(), "{stderr}");
    let file = dir.path().join("config.toml");
    let file = file.display();
    for expected in [
        format!(
            "{file}:12:7: warning: feeds \"TASS\" (line 7) and \"TASS again\" have the same URL"
        ),
        format!("{file}:16:16: warning: watch \"W\": lower-case \"or\" is searched for as a word"),
        format!("{file}:16:24: warning: watch \"W\": feed:\"RIA\" names no configured feed or tag"),
    ] {
        assert!(stderr.contains(&expected), "{expected}\nin:\n{stderr}");
    }
    assert!(
        stderr.contains("the feed names and tags are: \"TASS\", \"TASS again\", \"ru\""),
        "{stderr}"
    );
}

#[test]
fn check_refuses_a_recipient_string_and_a_language_name_with_what_to_write() {
    let dir = TempDir::new().expect("temp dir");
    let text = format!(
        "{}\nlang = \"Russian\"\n\n[[watch]]\nname = \"W\"\nquery = \"putin\"\nto = \"a@example.org\"\n",
        FEEDS.replace("\ntags = [\"ru\"]", "")
    );
    let (output, stderr) = check(dir.path(), &text);
    assert!(!output.status.success(), "{stderr}");
    let file = dir.path().join("config.toml");
    let file = file.display();
    for expected in [
        format!(
            "{file}:13:8: error: feed \"TASS again\": lang = \"Russian\" is not a language code"
        ),
        "help: write the ISO 639-1 code \"ru\"".to_string(),
        format!("{file}:18:6: error: expected a list: to = [\"a@example.org\"]"),
    ] {
        assert!(stderr.contains(&expected), "{expected}\nin:\n{stderr}");
    }
}

#[test]
fn check_warns_about_a_configuration_with_no_feeds_and_no_watches_and_passes() {
    let dir = TempDir::new().expect("temp dir");
    let (output, stderr) = check(dir.path(), "[lists]\na = [\"x\"]\n");
    assert!(output.status.success(), "{stderr}");
    let file = dir.path().join("config.toml");
    for expected in [
        "warning: the configuration has no [[feeds]]: nothing will be polled",
        "warning: the configuration has no [[watch]]: no article will ever alert",
    ] {
        assert!(
            stderr.contains(&format!("{}: {expected}", file.display())),
            "{expected}\nin:\n{stderr}"
        );
    }
}
