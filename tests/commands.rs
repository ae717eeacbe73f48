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

// ------------------------------------------------------------------------------------------
// `feeds`
// ------------------------------------------------------------------------------------------

/// Each line of `feeds --json`, parsed.
fn feeds_json(env: &CliEnv) -> Vec<serde_json::Value> {
    let run = env.run(&["feeds", "--json"]);
    assert!(run.status.success(), "feeds --json\n{}", run.describe());
    run.stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect()
}

#[test]
fn feeds_lists_every_shipped_feed_as_never_polled_before_any_run_and_creates_no_database() {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))
        .expect("read the shipped config.toml");
    let configured = shipped.matches("[[feeds]]").count();
    assert_eq!(configured, 11, "the shipped configuration has 11 feeds");
    let env = CliEnv::with_config(&shipped);

    let table = env.run(&["feeds"]);
    assert!(table.status.success(), "{}", table.describe());
    let rows: Vec<&str> = table.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 11, "one line per feed\n{}", table.describe());
    for row in &rows {
        assert!(
            row.contains(" never polled ") && row.contains(" at start "),
            "every feed is never polled, due when the daemon starts: {row:?}"
        );
    }
    assert!(
        table.stderr.contains("no database exists yet at") && table.stderr.contains("newswatch.db"),
        "a note says why: no database yet\n{}",
        table.describe()
    );

    let json = feeds_json(&env);
    assert_eq!(json.len(), 11);
    assert!(
        json.iter()
            .all(|f| f["status"] == "never polled" && f["next_poll"].is_null()),
        "{json:#?}"
    );
    assert_eq!(
        support::cli::entries(&env.conf()),
        ["config.toml"],
        "feeds created no database"
    );
}

#[test]
fn feeds_shows_a_feed_added_since_the_last_run_as_never_polled_and_the_whole_error() {
    let server = FeedServer::start();
    server.serve("/ok.xml", Route::rss(rss(&[])));
    // A refused connection to a long URL: the error names it, well past 40 characters.
    let long_path = format!("/{}.xml", "a-very-long-feed-path".repeat(4));
    let broken = format!("http://127.0.0.1:{}{long_path}", support::reserve_port());
    let ok = format!("name = \"Ok\"\nurl = \"{}\"", server.url("/ok.xml"));
    let bad = format!("name = \"Broken\"\nurl = \"{broken}\"");
    let env = CliEnv::with_config(&config_with(&[&ok, &bad]));
    let once = env.run(&["once"]);
    assert!(once.status.success(), "{}", once.describe());

    // A feed added after the run has no row in the database yet.
    let later = format!("name = \"Later\"\nurl = \"{}\"", server.url("/later.xml"));
    env.write_config(&config_with(&[&ok, &bad, &later]));

    let json = feeds_json(&env);
    let names: Vec<&str> = json
        .iter()
        .map(|f| f["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        ["Ok", "Broken", "Later"],
        "the configuration's order"
    );
    assert_eq!(json[0]["status"], "ok");
    assert_eq!(json[2]["status"], "never polled");
    let error = json[1]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.len() > 40, "a long error: {error:?}");

    let table = env.run(&["feeds"]);
    assert!(table.status.success(), "{}", table.describe());
    let lines: Vec<&str> = table.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("Broken "))
        .unwrap_or_else(|| panic!("Broken missing\n{}", table.describe()));
    assert_eq!(
        lines.get(at + 1).copied(),
        Some(format!("  error: {error}").as_str()),
        "the whole error, on its own line under the feed\n{}",
        table.describe()
    );
    let later_line = lines
        .iter()
        .find(|l| l.starts_with("Later "))
        .unwrap_or_else(|| panic!("Later missing\n{}", table.describe()));
    assert!(
        later_line.contains(" never polled ") && later_line.contains(" at start "),
        "{later_line}"
    );
}

// ------------------------------------------------------------------------------------------
// `import-opml` with nothing new
// ------------------------------------------------------------------------------------------

#[test]
fn import_opml_with_nothing_new_says_so_and_names_each_skipped_entry() {
    let env = CliEnv::with_config(&config_with(&[
        "name = \"Guardian World\"\nurl = \"https://www.theguardian.com/world/rss\"",
        "name = \"BBC\"\nurl = \"https://feeds.bbci.co.uk/news/world/rss.xml\"",
    ]));
    let opml = env.root().join("subs.opml");
    let write_opml = |body: &str| {
        std::fs::write(
            &opml,
            format!(
                "<?xml version=\"1.0\"?>\n<opml version=\"2.0\"><body>\n{body}\n</body></opml>\n"
            ),
        )
        .expect("write OPML")
    };
    let opml_arg = opml.to_str().expect("UTF-8 path");

    // Everything configured already.
    write_opml(
        r#"<outline text="World">
  <outline type="rss" text="The Guardian" xmlUrl="https://www.theguardian.com/world/rss"/>
  <outline type="rss" text="BBC News" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
</outline>"#,
    );
    let run = env.run(&["import-opml", opml_arg]);
    assert!(run.status.success(), "{}", run.describe());
    assert_eq!(
        run.stdout.trim_end(),
        format!("# nothing to import: all 2 feeds in {opml_arg} are configured already"),
        "a comment, not `feeds = []`\n{}",
        run.describe()
    );
    assert!(
        run.stderr.contains(
            "skipped \"The Guardian\" (https://www.theguardian.com/world/rss): \
             already configured as \"Guardian World\""
        ),
        "{}",
        run.describe()
    );

    // Nothing new, for every other reason.
    write_opml(
        r#"<outline type="rss" text="BBC News" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
<outline type="rss" text="Gopher" xmlUrl="gopher://old.example/feed"/>
<outline type="link" text="A bookmark" htmlUrl="https://example.org/"/>"#,
    );
    let run = env.run(&["import-opml", opml_arg]);
    assert!(run.status.success(), "{}", run.describe());
    assert!(
        run.stdout
            .starts_with("# nothing to import: none of the 2 feeds in")
            && !run.stdout.contains("feeds = []"),
        "{}",
        run.describe()
    );
    for expected in [
        "0 new feeds, 3 skipped",
        "skipped \"Gopher\" (gopher://old.example/feed): not an http(s) URL",
        "skipped \"A bookmark\": no xmlUrl",
        "already configured as \"BBC\"",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?}\n{}",
            run.describe()
        );
    }

    // With --write, nothing is appended and no backup is made.
    let before = std::fs::read_to_string(env.config()).expect("read config");
    let run = env.run(&["import-opml", "--write", opml_arg]);
    assert!(run.status.success(), "{}", run.describe());
    assert!(
        run.stderr.contains("nothing to import"),
        "{}",
        run.describe()
    );
    assert_eq!(std::fs::read_to_string(env.config()).expect("read"), before);
    assert_eq!(support::cli::entries(&env.conf()), ["config.toml"]);
}

#[test]
fn import_opml_names_a_duplicate_within_the_file() {
    let env = CliEnv::with_config(&config_with(&[
        "name = \"Other\"\nurl = \"https://other.example/feed.xml\"",
    ]));
    let opml = env.root().join("subs.opml");
    std::fs::write(
        &opml,
        r#"<opml version="2.0"><body>
<outline type="rss" text="38 North" xmlUrl="https://www.38north.org/feed/"/>
<outline type="rss" text="38 North again" xmlUrl="https://www.38north.org/feed/"/>
</body></opml>"#,
    )
    .expect("write OPML");
    let run = env.run(&["import-opml", opml.to_str().expect("UTF-8 path")]);
    assert!(run.status.success(), "{}", run.describe());
    let tables: toml::Table = toml::from_str(&run.stdout).expect("TOML");
    assert_eq!(tables["feeds"].as_array().map(Vec::len), Some(1));
    assert!(
        run.stderr.contains(
            "skipped \"38 North again\" (https://www.38north.org/feed/): \
             the same URL as \"38 North\" above"
        ),
        "{}",
        run.describe()
    );
}

// ------------------------------------------------------------------------------------------
// `enabled = false`
// ------------------------------------------------------------------------------------------

#[test]
fn a_disabled_feed_stays_configured_is_not_polled_and_shows_as_disabled() {
    let server = FeedServer::start();
    let item =
        Item::new("w", "Walrus spotted in the harbour").published_ago(Duration::from_secs(300));
    server.serve("/on.xml", Route::rss(rss(&[])));
    server.serve("/off.xml", Route::rss(rss(&[item])));
    let on = format!("name = \"On\"\nurl = \"{}\"", server.url("/on.xml"));
    let off = format!(
        "name = \"Off\"\nurl = \"{}\"\nenabled = false",
        server.url("/off.xml")
    );
    let env = CliEnv::with_config(&config_with(&[&on, &off]));
    let check = env.run(&["check"]);
    assert!(check.status.success(), "{}", check.describe());

    let once = env.run(&["once"]);
    assert!(once.status.success(), "{}", once.describe());
    assert_eq!(server.hits("/on.xml"), 1, "the enabled feed is polled");
    assert_eq!(server.hits("/off.xml"), 0, "the disabled feed is not");
    let alerts = env.run(&["alerts", "--json"]);
    assert!(
        alerts.stdout.trim().is_empty(),
        "no alert from it\n{}",
        alerts.describe()
    );

    let json = feeds_json(&env);
    assert_eq!(json.len(), 2, "{json:#?}");
    assert_eq!(json[1]["name"], "Off");
    assert_eq!(json[1]["status"], "disabled");
    assert_eq!(json[1]["enabled"], false);
    assert!(json[1]["next_poll"].is_null());
    assert_eq!(json[0]["enabled"], true);

    let table = env.run(&["feeds"]);
    let off_line = table
        .stdout
        .lines()
        .find(|l| l.starts_with("Off "))
        .unwrap_or_else(|| panic!("Off missing\n{}", table.describe()));
    assert_eq!(
        off_line.split_whitespace().nth(1),
        Some("disabled"),
        "{off_line}"
    );

    // Enabled again, it is polled.
    env.write_config(&config_with(&[
        &on,
        &off.replace("enabled = false", "enabled = true"),
    ]));
    let once = env.run(&["once"]);
    assert!(once.status.success(), "{}", once.describe());
    assert_eq!(server.hits("/off.xml"), 1, "{}", once.describe());
}

// ------------------------------------------------------------------------------------------
// `export-opml`
// ------------------------------------------------------------------------------------------

#[test]
fn export_opml_round_trips_through_import_opml() {
    let feeds = [
        "name = \"Tom & Jerry <\\\"news\\\"> 'n'\"\nurl = \"https://example.org/rss?a=1&b=2\"\n\
         tags = [\"cartoons\", \"a/b, c\"]",
        "name = \"Север\"\nurl = \"https://example.ru/rss.xml\"\nlang = \"ru\"\nenabled = false",
        "name = \"Line\\nbreak\"\nurl = \"https://example.net/feed\"",
    ];
    let env = CliEnv::with_config(&config_with(&feeds));
    let export = env.run(&["export-opml"]);
    assert!(export.status.success(), "{}", export.describe());
    assert!(
        export
            .stdout
            .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">"),
        "{}",
        export.describe()
    );
    assert!(
        export.stdout.contains("category=\"/cartoons,/a b  c\"")
            && export.stdout.contains("language=\"ru\""),
        "{}",
        export.describe()
    );
    // `feeds` shows the name with the line break escaped: one line per feed.
    let table = env.run(&["feeds"]);
    assert_eq!(table.stdout.lines().count(), 4, "{}", table.describe());
    assert!(
        table.stdout.lines().any(|l| l.starts_with("Line\\nbreak ")),
        "{}",
        table.describe()
    );

    let opml = env.root().join("export.opml");
    std::fs::write(&opml, &export.stdout).expect("write export");
    let opml = opml.to_str().expect("UTF-8 path");

    // Into the same configuration: nothing new.
    let again = env.run(&["import-opml", opml]);
    assert!(again.status.success(), "{}", again.describe());
    assert_eq!(
        again.stdout.trim_end(),
        format!("# nothing to import: all 3 feeds in {opml} are configured already"),
        "{}",
        again.describe()
    );

    // Into another configuration: the same names and URLs, escaping undone.
    let other = CliEnv::with_config(&config_with(&[
        "name = \"Other\"\nurl = \"https://other.example/feed.xml\"",
    ]));
    let imported = other.run(&["import-opml", opml]);
    assert!(imported.status.success(), "{}", imported.describe());
    let tables: toml::Table = toml::from_str(&imported.stdout)
        .unwrap_or_else(|e| panic!("TOML ({e})\n{}", imported.describe()));
    let found: Vec<(&str, &str)> = tables["feeds"]
        .as_array()
        .expect("[[feeds]]")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap_or(""),
                f["url"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "Tom & Jerry <\"news\"> 'n'",
                "https://example.org/rss?a=1&b=2"
            ),
            ("Север", "https://example.ru/rss.xml"),
            ("Line\nbreak", "https://example.net/feed"),
        ]
    );
}

// ------------------------------------------------------------------------------------------
// Shell completions and the man page
// ------------------------------------------------------------------------------------------

/// Whether `program` can be run (it is on the PATH).
fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|out| out.status.success())
}

#[test]
fn completions_bash_is_a_script_bash_sources_and_registers_for_newswatch() {
    if !installed("bash") {
        eprintln!("skipped: no bash");
        return;
    }
    let env = CliEnv::new();
    let binary = env!("CARGO_BIN_EXE_newswatch");
    let mut command = Command::new("bash");
    command.args([
        "-c",
        &format!("source <('{binary}' completions bash) && complete -p newswatch"),
    ]);
    let run = env.run_command(command, "bash sourcing the completions");
    assert!(run.status.success(), "{}", run.describe());
    assert!(
        run.stdout.contains("complete") && run.stdout.trim_end().ends_with(" newswatch"),
        "bash has a completion for newswatch\n{}",
        run.describe()
    );
    assert!(run.stderr.is_empty(), "{}", run.describe());

    // The other shells named in the README get a script too (not run: the shells may be
    // missing here).
    for shell in ["zsh", "fish"] {
        let run = bare(&env, &["completions", shell]);
        assert!(
            run.status.success() && run.stdout.contains("export-opml"),
            "{shell}\n{}",
            run.describe()
        );
    }
}

#[test]
fn man_prints_a_page_that_man_renders() {
    let env = CliEnv::new();
    let page = bare(&env, &["man"]);
    assert!(page.status.success(), "{}", page.describe());
    assert!(page.stdout.starts_with(".ie"), "roff\n{}", page.describe());
    let page_file = env.root().join("newswatch.1");
    std::fs::write(&page_file, &page.stdout).expect("write the page");
    let page_path = page_file.to_str().expect("UTF-8 path");

    // Rendered by man if installed, else by groff; with neither, the test has nothing to
    // render with and says so.
    let mut render = if installed("man") {
        let mut man = Command::new("man");
        man.args(["-l", page_path])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80");
        man
    } else if installed("groff") {
        let mut groff = Command::new("groff");
        groff.args(["-man", "-Tutf8", "-ww", page_path]);
        groff
    } else {
        eprintln!("skipped: neither man nor groff is installed");
        return;
    };
    render.env("LC_ALL", "C.UTF-8");
    let rendered = env.run_command(render, "rendering the man page");
    assert!(rendered.status.success(), "{}", rendered.describe());
    assert!(
        rendered.stderr.trim().is_empty(),
        "rendered without warnings\n{}",
        rendered.describe()
    );
    for section in ["NAME", "SYNOPSIS", "OPTIONS", "COMMANDS", "EXIT STATUS"] {
        assert!(
            rendered.stdout.contains(section),
            "the page has {section}\n{}",
            rendered.stdout
        );
    }
    assert!(
        rendered.stdout.contains("newswatch export-opml"),
        "{}",
        rendered.stdout
    );
    // No page is installed per command: the page must not send readers to one.
    assert!(
        !rendered.stdout.contains("newswatch-run(1)"),
        "the page names no man page that does not exist\n{}",
        rendered.stdout
    );
}

// ------------------------------------------------------------------------------------------
// Exit codes
// ------------------------------------------------------------------------------------------

#[test]
fn usage_errors_exit_64_config_errors_2_and_help_lists_the_codes() {
    let env = CliEnv::with_config("[[feeds]]\nname = \"x\"\nbogus_key = 1\n");
    for args in [
        &["bogus-command"][..],
        &["feeds", "--no-such-flag"],
        &["alerts", "--status", "lost"],
        &["completions", "tcsh"],
        &[],
    ] {
        let run = bare(&env, args);
        assert_eq!(
            run.status.code(),
            Some(64),
            "newswatch {args:?} is a usage error\n{}",
            run.describe()
        );
        assert!(
            run.stderr.contains("error:") || run.stderr.contains("Usage: newswatch"),
            "clap says what is wrong\n{}",
            run.describe()
        );
        assert!(run.stdout.is_empty(), "{}", run.describe());
    }

    // A configuration that does not load is 2, not a usage error.
    let check = env.run(&["check"]);
    assert_eq!(check.status.code(), Some(2), "{}", check.describe());

    for args in [&["--help"][..], &["-h"]] {
        let help = bare(&env, args);
        assert_eq!(help.status.code(), Some(0), "{}", help.describe());
        let block = help
            .stdout
            .split("Exit status:")
            .nth(1)
            .unwrap_or_else(|| panic!("an Exit status block\n{}", help.describe()));
        let codes: Vec<&str> = block
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(codes, ["0", "1", "2", "64", "130"], "{}", help.describe());
        assert!(block.contains("usage error") && block.contains("configuration error"));
    }
    let version = bare(&env, &["--version"]);
    assert_eq!(version.status.code(), Some(0), "{}", version.describe());
    assert!(
        version.stdout.starts_with("newswatch "),
        "{}",
        version.describe()
    );
}
