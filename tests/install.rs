//! Integration tests of what a first install runs into (issue 11, "What a first install
//! found"), through the real `newswatch` binary:
//!
//! 1. relative paths in the configuration resolve against the configuration file's
//!    directory, not the working directory (`--config /etc/newswatch/config.toml feeds` run
//!    from a home directory reads the daemon's database);
//! 2. read-only commands never create a database: they say none exists yet and fail (`feeds`
//!    lists the configured feeds as never polled instead, see `tests/commands.rs`);
//! 3. `once` exits non-zero when every feed failed (cron must notice), and 130 on SIGINT;
//! 4. everything that stops `run` is reported by `check`, and all three exit 2 on it
//!    (`install/preflight.rs`);
//! 5. the README's systemd steps give a service its dynamic user can check and run
//!    (`install/systemd.rs`).
//!
//! Each test has a temporary directory with the configuration in `conf/` and runs the command
//! from `cwd/`, another directory, so that a path resolved against the working directory
//! lands where the test sees it. These tests are about SQLite files: they use SQLite even when
//! `NEWSWATCH_TEST_POSTGRES` is set.

#[path = "install/preflight.rs"]
mod preflight;
mod support;
#[path = "install/systemd.rs"]
mod systemd;

use std::time::Duration;

use support::cli::{COMMAND_TIMEOUT, CliEnv, entries};
use support::{FeedServer, Item, Route, reserve_port, rss};

/// `conf/config.toml` with these feed URLs, `[database] url = "sqlite://newswatch.db"` and
/// `[email] dir = "alerts"` (both relative).
fn with_feeds(urls: &[String]) -> CliEnv {
    let mut text = String::from(
        "[database]\nurl = \"sqlite://newswatch.db\"\n\n\
         [polling]\ntimeout = \"60s\"\n\n\
         [email]\nfrom = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"file\"\n\
         dir = \"alerts\"\n",
    );
    for (i, url) in urls.iter().enumerate() {
        text += &format!("\n[[feeds]]\nname = \"feed{i}\"\nurl = \"{url}\"\n");
    }
    text += "\n[[watch]]\nname = \"Walrus\"\nquery = \"walrus\"\n\
             to = [\"analyst@example.org\"]\nmax_per_hour = 0\n";
    CliEnv::with_config(&text)
}

/// A feed with one fresh article matching the watch.
fn walrus_feed(server: &FeedServer) -> String {
    let item = Item::new("walrus", "Walrus spotted in the harbour")
        .published_ago(Duration::from_secs(300));
    server.serve("/feed.xml", Route::rss(rss(&[item])));
    server.url("/feed.xml")
}

/// A URL on loopback where nothing listens: connections are refused.
fn refused_url() -> String {
    format!("http://127.0.0.1:{}/feed.xml", reserve_port())
}

// ------------------------------------------------------------------------------------------
// 1. Relative paths resolve against the configuration file's directory.
// ------------------------------------------------------------------------------------------

#[test]
fn relative_database_and_alert_paths_land_next_to_the_config_whatever_the_working_directory() {
    let server = FeedServer::start();
    let env = with_feeds(&[walrus_feed(&server)]);

    let once = env.run(&["once"]);
    assert!(
        once.status.success(),
        "once should succeed\n{}",
        once.describe()
    );

    assert!(
        env.conf().join("newswatch.db").is_file(),
        "the database should be conf/newswatch.db, next to the config; conf/ has {:?}\n{}",
        entries(&env.conf()),
        once.describe()
    );
    let mails = entries(&env.conf().join("alerts"));
    assert!(
        mails.len() == 1 && mails[0].ends_with(".eml"),
        "one alert should be in conf/alerts/, found {mails:?}\n{}",
        once.describe()
    );
    assert_eq!(
        entries(&env.cwd()),
        Vec::<String>::new(),
        "nothing should be written to the working directory"
    );

    // A later read-only command, from the same other directory, sees that database.
    let feeds = env.run(&["feeds", "--json"]);
    assert!(
        feeds.status.success(),
        "feeds should succeed\n{}",
        feeds.describe()
    );
    assert!(
        feeds.stdout.contains("\"feed0\"") && feeds.stdout.contains("\"articles\":1"),
        "feeds should report the feed polled by once, with its article\n{}",
        feeds.describe()
    );
    assert_eq!(entries(&env.cwd()), Vec::<String>::new());
}

// ------------------------------------------------------------------------------------------
// 2. Read-only commands never create a database.
// ------------------------------------------------------------------------------------------

#[test]
fn read_only_commands_say_there_is_no_database_and_create_none() {
    let env = with_feeds(&[refused_url()]);
    let expected_path = env.conf().join("newswatch.db");
    let expected = format!("no database exists yet at {}", expected_path.display());
    // `feeds` lists the configured feeds as never polled instead (tests/commands.rs).
    for args in [
        &["alerts"][..],
        &["alerts", "retry", "--failed"],
        &["backtest", "--since", "1d"],
        &["instances"],
    ] {
        let run = env.run(args);
        assert_eq!(
            run.status.code(),
            Some(1),
            "newswatch {args:?} should fail with exit code 1\n{}",
            run.describe()
        );
        assert!(
            run.stderr.contains(&expected) && run.stderr.contains("newswatch run"),
            "newswatch {args:?} should say {expected:?} and how to create it\n{}",
            run.describe()
        );
        assert_eq!(
            run.stderr.lines().count(),
            1,
            "newswatch {args:?}: one line\n{}",
            run.describe()
        );
        assert_eq!(
            entries(&env.conf()),
            vec!["config.toml".to_string()],
            "newswatch {args:?} created files next to the config"
        );
        assert_eq!(
            entries(&env.cwd()),
            Vec::<String>::new(),
            "newswatch {args:?} created files in the working directory"
        );
    }
}

// ------------------------------------------------------------------------------------------
// 3. How `once` ends.
// ------------------------------------------------------------------------------------------

#[test]
fn once_fails_when_every_feed_failed() {
    let env = with_feeds(&[refused_url(), refused_url()]);
    let run = env.run(&["once"]);
    assert_eq!(
        run.status.code(),
        Some(1),
        "once should fail when no feed could be polled\n{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("every feed failed (2 of 2)"),
        "once should say every feed failed\n{}",
        run.describe()
    );
}

#[test]
fn once_succeeds_when_only_some_feeds_failed() {
    let server = FeedServer::start();
    let env = with_feeds(&[walrus_feed(&server), refused_url()]);
    let run = env.run(&["once"]);
    assert!(
        run.status.success(),
        "once should succeed when a feed could be polled\n{}",
        run.describe()
    );
}

#[cfg(unix)]
#[test]
fn once_exits_130_after_a_clean_stop_on_sigint() {
    let server = FeedServer::start();
    server.serve(
        "/stall.xml",
        Route::rss(rss(&[])).delayed(Duration::from_secs(600)),
    );
    let env = with_feeds(&[server.url("/stall.xml")]);
    let child = env.spawn(&["once"]);
    // Once the feed is requested, `once` is polling: its signal handlers are installed.
    server.wait_for_hits("/stall.xml", 1, COMMAND_TIMEOUT);
    let sent = std::process::Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -INT failed");
    let run = env.finish(child, "once");
    assert_eq!(
        run.status.code(),
        Some(130),
        "once should exit 130 after SIGINT\n{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("SIGINT received"),
        "once should stop gracefully, not be killed\n{}",
        run.describe()
    );
}
