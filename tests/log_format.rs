//! The log's format and what it says at start-up and per poll (issue 11, "systemd and logs"):
//! `[log] format = "json"` and `--log-format` give one JSON object per line, with the fields
//! of the event's spans; `run` and `once` say what they start with; a poll that brought
//! nothing new is DEBUG. Through the real `newswatch` binary, against a real HTTP server on
//! loopback.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{FeedServer, Item, Route, reserve_port, rss, wait_until};
use tempfile::TempDir;

const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Output {
    fn describe(&self) -> String {
        format!(
            "exit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `newswatch --config CONFIG ARGS` in `dir`, its output in files there; `rust_log` is
/// `RUST_LOG` (`None`: unset, the command's default level).
fn spawn(dir: &Path, config: &Path, args: &[&str], rust_log: Option<&str>) -> Child {
    let file = |name: &str| std::fs::File::create(dir.join(name)).expect("create output file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_newswatch"));
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(dir)
        .env_remove("NEWSWATCH_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(file("stdout"))
        .stderr(file("stderr"));
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    command.spawn().expect("spawn newswatch")
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// Runs `newswatch --config CONFIG ARGS` to completion, bounded in time.
fn newswatch(dir: &Path, config: &Path, args: &[&str], rust_log: Option<&str>) -> Output {
    let mut child = spawn(dir, config, args, rust_log);
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
    Output {
        code: status.code(),
        stdout: read(&dir.join("stdout")),
        stderr: read(&dir.join("stderr")),
    }
}

/// A configuration with these feeds, one watch and `extra` at the end (a `[log]` table).
fn config(dir: &Path, database: &str, feeds: &[(&str, String)], extra: &str) -> PathBuf {
    let root = dir.display();
    let mut text = format!(
        "[database]\nurl = \"{database}\"\n\n[polling]\ntimeout = \"5s\"\n\n\
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
    text.push_str(extra);
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn sqlite(dir: &Path) -> String {
    format!("sqlite://{}/newswatch.db", dir.display())
}

/// A feed with new articles and a feed whose port refuses connections.
fn good_and_dead(server: &FeedServer) -> Vec<(&'static str, String)> {
    server.serve(
        "/good.xml",
        Route::rss(rss(&[
            Item::new("1", "Walrus seen"),
            Item::new("2", "Council meets"),
        ])),
    );
    let dead = format!("http://127.0.0.1:{}/dead.xml", reserve_port());
    vec![("good", server.url("/good.xml")), ("dead", dead)]
}

/// Every non-empty line of `log` as a JSON object; panics on any other line.
fn json_lines(log: &str) -> Vec<serde_json::Map<String, Value>> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => object,
            other => panic!("not a JSON object ({other:?}): {line:?}\n--- log ---\n{log}"),
        })
        .collect()
}

fn message_is(object: &serde_json::Map<String, Value>, message: &str) -> bool {
    object.get("message").and_then(Value::as_str) == Some(message)
}

/// Whether a JSON event was logged inside a span with `feed` = `name`.
fn in_feed_span(object: &serde_json::Map<String, Value>, name: &str) -> bool {
    let current = object.get("span").and_then(|s| s.get("feed"));
    let listed = object
        .get("spans")
        .and_then(Value::as_array)
        .is_some_and(|spans| {
            spans
                .iter()
                .any(|s| s.get("feed") == Some(&Value::from(name)))
        });
    current == Some(&Value::from(name)) && listed
}

/// Checks a `once` logged in JSON over [`good_and_dead`]: every line an object, the start-up
/// object, the good feed's poll and the dead feed's failure each in their feed's span.
fn assert_json_log_of_once(once: &Output) {
    assert_eq!(once.code, Some(0), "once succeeds:\n{}", once.describe());
    let events = json_lines(&once.stderr);
    let start = events
        .iter()
        .find(|e| message_is(e, "newswatch once starting"))
        .unwrap_or_else(|| panic!("no start-up object:\n{}", once.stderr));
    assert_eq!(start["level"], "INFO", "{start:?}");
    assert_eq!(start["version"], env!("CARGO_PKG_VERSION"), "{start:?}");
    assert_eq!(start["feeds"], 2, "{start:?}");
    assert_eq!(start["watches"], 1, "{start:?}");
    assert_eq!(start["mail"], "file", "{start:?}");
    assert!(
        events
            .iter()
            .any(|e| message_is(e, "polled") && in_feed_span(e, "good") && e["new"] == 2),
        "the good feed's poll carries its span's feed name:\n{}",
        once.stderr
    );
    assert!(
        events
            .iter()
            .any(|e| message_is(e, "poll failed") && in_feed_span(e, "dead")),
        "the dead feed's failure carries its span's feed name:\n{}",
        once.stderr
    );
}

#[test]
fn log_format_json_in_the_config_writes_one_object_per_line() {
    let server = FeedServer::start();
    let dir = TempDir::new().expect("temp dir");
    let feeds = good_and_dead(&server);
    let config = config(
        dir.path(),
        &sqlite(dir.path()),
        &feeds,
        "\n[log]\nformat = \"json\"\n",
    );
    let once = newswatch(dir.path(), &config, &["once"], Some("info"));
    assert_json_log_of_once(&once);
}

#[test]
fn the_log_format_flag_overrides_the_config() {
    let server = FeedServer::start();
    let dir = TempDir::new().expect("temp dir");
    let feeds = good_and_dead(&server);
    let config = config(
        dir.path(),
        &sqlite(dir.path()),
        &feeds,
        "\n[log]\nformat = \"text\"\n",
    );
    let once = newswatch(
        dir.path(),
        &config,
        &["--log-format", "json", "once"],
        Some("info"),
    );
    assert_json_log_of_once(&once);
}

#[test]
fn an_unknown_log_format_is_refused_with_its_file_line_and_key() {
    let dir = TempDir::new().expect("temp dir");
    let config = config(
        dir.path(),
        &sqlite(dir.path()),
        &[("good", "http://127.0.0.1:9/good.xml".to_string())],
        "\n[log]\nformat = \"yaml\"\n",
    );
    let text = std::fs::read_to_string(&config).expect("read config");
    let line = text
        .lines()
        .position(|l| l == "format = \"yaml\"")
        .map(|i| i + 1)
        .expect("the format line");

    let check = newswatch(dir.path(), &config, &["check"], None);
    assert_eq!(check.code, Some(2), "{}", check.describe());
    let at = format!("config.toml:{line}:");
    assert!(
        check.stderr.contains(&at)
            && check.stderr.contains("unknown variant `yaml`")
            && check
                .stderr
                .contains(&format!("{line} | format = \"yaml\"")),
        "the file, line and key are named:\n{}",
        check.describe()
    );

    // With the flag, the configuration's errors come out in its format.
    for command in ["check", "once"] {
        let run = newswatch(
            dir.path(),
            &config,
            &["--log-format", "json", command],
            None,
        );
        assert_eq!(run.code, Some(2), "{command}: {}", run.describe());
        let events = json_lines(&run.stderr);
        assert!(
            events.iter().any(|e| {
                e["level"] == "ERROR"
                    && e["line"] == line
                    && e["file"]
                        .as_str()
                        .is_some_and(|f| f.ends_with("config.toml"))
                    && e["source"] == "format = \"yaml\""
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("unknown variant `yaml`"))
            }),
            "{command}: the problem as a JSON object with file, line and key:\n{}",
            run.describe()
        );
    }
}

/// A server with one feed, "news", of one new article, and a configuration polling it.
fn one_news_feed(dir: &Path) -> (FeedServer, PathBuf) {
    let server = FeedServer::start();
    server.serve(
        "/news.xml",
        Route::rss(rss(&[Item::new("1", "Walrus seen")])),
    );
    let config = config(dir, &sqlite(dir), &[("news", server.url("/news.xml"))], "");
    (server, config)
}

/// Whether the text `log` has the "news" feed's poll line with this status.
fn polled(log: &str, status: &str) -> bool {
    log.lines().any(|l| {
        l.contains("poll{feed=news}: polled") && l.contains(&format!("status=\"{status}\""))
    })
}

#[test]
fn text_log_starts_with_what_once_runs_with() {
    let dir = TempDir::new().expect("temp dir");
    let (_server, config) = one_news_feed(dir.path());
    let once = newswatch(dir.path(), &config, &["once"], None);
    assert_eq!(once.code, Some(0), "{}", once.describe());
    let version = format!("version=\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(
        once.stderr.lines().any(|l| {
            l.contains(" INFO ")
                && l.contains("newswatch once starting")
                && l.contains(&version)
                && l.contains("feeds=1")
                && l.contains("watches=1")
                && l.contains(&format!("database={}", sqlite(dir.path())))
                && l.contains("mail=\"file\"")
        }),
        "the start-up line:\n{}",
        once.describe()
    );
}

#[test]
fn text_log_shows_polls_without_news_only_at_debug() {
    let dir = TempDir::new().expect("temp dir");
    let (server, config) = one_news_feed(dir.path());
    let first = newswatch(dir.path(), &config, &["once"], None);
    assert_eq!(first.code, Some(0), "{}", first.describe());
    assert!(
        polled(&first.stderr, "ok"),
        "a poll with new articles is INFO:\n{}",
        first.describe()
    );

    // The server answers the next polls 304: at the default level, nothing is said of them.
    let second = newswatch(dir.path(), &config, &["once"], None);
    assert_eq!(second.code, Some(0), "{}", second.describe());
    assert_eq!(server.hits("/news.xml"), 2, "{}", second.describe());
    assert!(
        !second.stderr.contains("polled"),
        "a 304 poll is not INFO:\n{}",
        second.describe()
    );
    let third = newswatch(dir.path(), &config, &["once"], Some("newswatch=debug"));
    assert_eq!(third.code, Some(0), "{}", third.describe());
    assert!(
        third.stderr.lines().any(|l| l.contains(" DEBUG "))
            && polled(&third.stderr, "not modified"),
        "a 304 poll is DEBUG:\n{}",
        third.describe()
    );
}

#[test]
fn the_start_up_line_hides_the_database_password() {
    let dir = TempDir::new().expect("temp dir");
    // Nothing listens there: the start-up line comes before the database is opened.
    let database = format!(
        "postgres://alice:s3cret-word@127.0.0.1:{}/news",
        reserve_port()
    );
    let config = config(
        dir.path(),
        &database,
        &[("good", "http://127.0.0.1:9/good.xml".to_string())],
        "",
    );
    let mut child = spawn(dir.path(), &config, &["once"], None);
    let stderr = dir.path().join("stderr");
    let started = wait_until(COMMAND_TIMEOUT, || {
        read(&stderr).contains("newswatch once starting")
    });
    let _ = child.kill();
    let _ = child.wait();
    let log = read(&stderr);
    assert!(started, "no start-up line:\n{log}");
    assert!(
        log.contains("database=postgres://alice:***@127.0.0.1:"),
        "the URL is shown with its password hidden:\n{log}"
    );
    assert!(!log.contains("s3cret"), "the password is shown:\n{log}");
}

#[test]
fn newswatch_debug_shows_each_request_response_parse_and_new_article() {
    let server = FeedServer::start();
    let dir = TempDir::new().expect("temp dir");
    let feeds = good_and_dead(&server);
    let config = config(dir.path(), &sqlite(dir.path()), &feeds, "");
    let once = newswatch(dir.path(), &config, &["once"], Some("newswatch=debug"));
    assert_eq!(once.code, Some(0), "{}", once.describe());
    let log = &once.stderr;
    let line_with = |parts: &[&str]| {
        log.lines()
            .any(|line| line.contains("DEBUG") && parts.iter().all(|p| line.contains(p)))
    };
    let good = server.url("/good.xml");
    assert!(line_with(&["poll{feed=good}", "GET", &good]), "{log}");
    assert!(
        line_with(&["poll{feed=good}", "response", "status=200"]),
        "{log}"
    );
    assert!(
        line_with(&["poll{feed=good}", "parsed", "entries=2"]),
        "{log}"
    );
    assert!(
        line_with(&["new article", "Walrus seen", "matches=1"]),
        "{log}"
    );
    assert!(
        line_with(&["new article", "Council meets", "matches=0"]),
        "{log}"
    );
}
