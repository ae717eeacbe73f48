//! Integration tests of the command-line surface (issue 12, "Commands"), through the real
//! `newswatch` binary: `-c`, `alerts --watch`, `feeds` over configured feeds never polled,
//! `import-opml` with nothing new, per-feed `enabled = false`, `export-opml`, shell
//! completions and the man page, and the exit codes.
//!
//! Each test has its own temporary directory ([`CliEnv`]); these tests use SQLite files.

mod support;

use std::process::Command;
use std::time::Duration;

use support::cli::{CliEnv, Run};
use support::{FeedServer, Item, Route, rss};

/// A configuration with these `[[feeds]]` bodies (each the keys of one table), a SQLite
/// database and the file transport next to it, and one watch.
fn config_with(feeds: &[&str]) -> String {
    let mut text = String::from(
        "[database]\nurl = \"sqlite://newswatch.db\"\n\n\
         [polling]\ntimeout = \"5s\"\n\n\
         [email]\nfrom = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"file\"\n\
         dir = \"alerts\"\n",
    );
    for feed in feeds {
        text += &format!("\n[[feeds]]\n{feed}\n");
    }
    text += "\n[[watch]]\nname = \"Walrus\"\nquery = \"walrus\"\n\
             to = [\"analyst@example.org\"]\n";
    text
}

/// `newswatch ARGS` with no `--config` of the environment's own, run from its `cwd/`.
fn bare(env: &CliEnv, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newswatch"));
    command
        .args(args)
        .current_dir(env.cwd())
        .env_remove("NEWSWATCH_CONFIG");
    env.run_command(command, &format!("{args:?}"))
}

// ------------------------------------------------------------------------------------------
// `-c`
// ------------------------------------------------------------------------------------------

#[test]
fn dash_c_is_the_short_form_of_config_before_or_after_the_command() {
    let env = CliEnv::with_config(&config_with(&[
        "name = \"One\"\nurl = \"http://127.0.0.1:9/a.xml\"",
    ]));
    let config = env.config();
    let config = config.to_str().expect("temp path is UTF-8");
    for args in [&["-c", config, "check"][..], &["check", "-c", config]] {
        let run = bare(&env, args);
        assert!(
            run.status.success() && run.stdout.contains("OK: 1 feed, 1 watch"),
            "newswatch {args:?} should check the file given with -c\n{}",
            run.describe()
        );
    }
}

// ------------------------------------------------------------------------------------------
// `alerts --watch`
// ------------------------------------------------------------------------------------------

/// The `"watch"` of each line of `alerts --json`.
fn alert_watches(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}\n{}", run.describe()));
            value["watch"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

#[test]
fn alerts_watch_lists_only_the_named_watches_and_refuses_an_unknown_name() {
    let server = FeedServer::start();
    let walrus =
        Item::new("w", "Walrus spotted in the harbour").published_ago(Duration::from_secs(300));
    let seal = Item::new("s", "Seal naps on the pier").published_ago(Duration::from_secs(300));
    server.serve("/feed.xml", Route::rss(rss(&[walrus, seal])));
    let mut text = config_with(&[&format!(
        "name = \"Harbour\"\nurl = \"{}\"",
        server.url("/feed.xml")
    )]);
    text += "\n[[watch]]\nname = \"Seal\"\nquery = \"seal\"\nto = [\"analyst@example.org\"]\n";
    let env = CliEnv::with_config(&text);
    let once = env.run(&["once"]);
    assert!(once.status.success(), "once\n{}", once.describe());

    let all = env.run(&["alerts", "--json"]);
    let mut watches = alert_watches(&all);
    watches.sort();
    assert_eq!(watches, ["Seal", "Walrus"], "{}", all.describe());

    let seal = env.run(&["alerts", "--json", "--watch", "Seal"]);
    assert!(seal.status.success(), "{}", seal.describe());
    assert_eq!(alert_watches(&seal), ["Seal"], "{}", seal.describe());

    let both = env.run(&["alerts", "--json", "--watch", "Seal", "--watch", "Walrus"]);
    assert_eq!(alert_watches(&both).len(), 2, "{}", both.describe());

    let typo = env.run(&["alerts", "--watch", "Seals"]);
    assert_eq!(typo.status.code(), Some(2), "{}", typo.describe());
    assert!(
        typo.stderr
            .contains("no watch is named \"Seals\"; the watches are: Walrus, Seal"),
        "an unknown watch is named, with the configured ones\n{}",
        typo.describe()
    );
    assert!(typo.stdout.is_empty(), "{}", typo.describe());
}
