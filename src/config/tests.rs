use std::path::Path;

use super::*;

const VALID: &str = r#"
[database]
url = "sqlite://test.db"

[polling]
interval = "15m"
timeout = "30s"

[email]
from = "Newswatch <newswatch@localhost>"
transport = "file"
dir = "alerts"

[lists]
dprk = ["North Korea", "КНДР"]
russia = ["Russia", "Россия"]

[[feeds]]
name = "One"
url = "https://example.org/rss"
interval = "10m"
tags = ["en"]

[[watch]]
name = "W"
query = "@russia AND @dprk"
to = ["analyst@example.org"]
"#;

fn errors_of(text: &str) -> Vec<ConfigError> {
    Config::parse(Path::new("config.toml"), text)
        .expect_err("the config should be rejected")
        .0
}

#[test]
fn a_valid_config_parses_with_defaults_filled_in() {
    let config = Config::parse(Path::new("config.toml"), VALID).unwrap();
    assert_eq!(config.polling.interval.0, Duration::from_secs(900));
    assert_eq!(config.polling.max_age.0, Duration::from_secs(7 * 86400));
    assert_eq!(config.polling.max_body.0, 8 * 1024 * 1024);
    assert_eq!(config.feeds().count(), 1);
    assert_eq!(
        config.feed_interval(config.feeds().next().unwrap()),
        Duration::from_secs(600)
    );
    assert_eq!(config.compile_watches().unwrap().len(), 1);
    assert!(Config::parse_for_delivery(Path::new("c.toml"), VALID).is_ok());
}

#[test]
fn lists_and_watches_alone_are_enough() {
    let text = "[lists]\na = [\"x\"]\n[[watch]]\nname = \"n\"\nquery = \"@a\"\n";
    let config = Config::parse(Path::new("c.toml"), text).unwrap();
    assert_eq!(config.compile_watches().unwrap().len(), 1);
    let errors = Config::parse_for_delivery(Path::new("c.toml"), text).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert!(errors.to_string().contains("has no recipients"), "{errors}");
}

#[test]
fn missing_recipients_are_reported_with_every_other_error() {
    let text = "[lists]\na = [\"x\"]\n[[watch]]\nname = \"n\"\nquery = \"@a AND (\"\n\
                to = [\"a@example.org\"]\n[[watch]]\nname = \"m\"\nquery = \"@a\"\n";
    let errors = Config::parse_for_delivery(Path::new("c.toml"), text).unwrap_err();
    let text = errors.to_string();
    assert_eq!(errors.0.len(), 2, "{text}");
    assert!(text.contains("has no recipients"), "{text}");
    assert!(text.contains("watch \"n\""), "{text}");
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let text = VALID.replace("timeout = \"30s\"", "timout = \"30s\"");
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert!(e.message.contains("timout"), "{e}");
    assert_eq!(e.line, 7, "{e}");
    assert!(e.to_string().starts_with("config.toml:7:1: error:"), "{e}");
}

#[test]
fn bad_durations_point_at_the_value() {
    let text = VALID.replace("interval = \"15m\"", "interval = \"15 minutos\"");
    let e = &errors_of(&text)[0];
    assert_eq!(e.line, 6);
    assert!(e.message.contains("invalid duration"), "{e}");
}

#[test]
fn query_errors_point_into_the_query_with_a_caret() {
    let text = VALID.replace("@russia AND @dprk", "@russia AND @nkorea");
    let e = &errors_of(&text)[0];
    assert_eq!(e.line, 26);
    assert_eq!(e.column, 22, "{e}");
    let shown = e.to_string();
    assert!(
        shown.contains("watch \"W\": unknown list @nkorea"),
        "{shown}"
    );
    assert!(shown.contains("@dprk, @russia"), "{shown}");
    assert!(shown.contains("                     ^^^^^^^"), "{shown}");
}

#[test]
fn the_caret_finds_its_spot_through_escapes_in_the_query_string() {
    for query_lines in [
        r#"query = "\"x y\" AND @nolist""#,
        r#"query = "\u0078 \t AND @nolist""#,
        "query = '\"x y\" AND @nolist'",
        "query = \"\"\"\n\"x y\" AND \\\n    @nolist\"\"\"",
    ] {
        let text = VALID.replace(r#"query = "@russia AND @dprk""#, query_lines);
        assert_ne!(text, VALID, "the fixture holds the query line");
        let e = &errors_of(&text)[0];
        assert!(e.message.contains("@nolist"), "{e}");
        let (line, on_line) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("@nolist"))
            .expect("the query is in the text");
        assert_eq!(e.line, line + 1, "{query_lines}: {e}");
        assert_eq!(
            e.column,
            on_line.find("@nolist").unwrap() + 1,
            "{query_lines}: {e}"
        );
        assert!(e.to_string().contains("^^^^^^^"), "{e}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = VALID
        .replace("@russia AND @dprk", "(@russia AND @dprk")
        .replace("analyst@example.org", "not an address")
        .replace("https://example.org/rss", "ftp://example.org/rss")
        + "\n[[watch]]\nname = \"W\"\nquery = \"@nothing\"\nto = [\"a@b.c\"]\n";
    let errors = errors_of(&text);
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("never closed")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("not an email address")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("\"ftp\" is not supported")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("two watches are named")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("unknown list @nothing")),
        "{messages:?}"
    );
}

#[test]
fn smtp_transport_needs_its_table_and_one_password_source() {
    let text = VALID.replace("transport = \"file\"", "transport = \"smtp\"");
    let e = &errors_of(&text)[0];
    assert!(e.message.contains("needs an [email.smtp] table"), "{e}");

    let text = format!(
        "{VALID}\n[email.smtp]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"A\"\npassword_file = \"/b\"\n"
    );
    let e = &errors_of(&text)[0];
    assert!(e.message.contains("more than one of"), "{e}");
}

#[test]
fn a_password_in_the_file_is_a_warning() {
    let text =
        format!("{VALID}\n[email.smtp]\nhost = \"h\"\nusername = \"u\"\npassword = \"s3cret\"\n")
            .replace("sqlite://test.db", "postgres://u:s3cret@db.example/news");
    let config = Config::parse(Path::new("c.toml"), &text).unwrap();
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 1);
    assert!(!warnings[0].to_string().contains("s3cret"));
    let shown = format!("{config:?}");
    assert!(shown.contains("host: \"h\""), "{shown}");
    assert!(
        !shown.contains("s3cret"),
        "a debug print of the config shows no password: {shown}"
    );
}

#[test]
fn a_missing_file_says_how_to_fix_it() {
    let e = Config::load(Path::new("/nonexistent/newswatch.toml")).unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("/nonexistent/newswatch.toml"), "{shown}");
    assert!(shown.contains("--config"), "{shown}");
}

#[test]
fn intervals_under_a_minute_are_allowed_with_a_warning() {
    let text = VALID.replace("interval = \"10m\"", "interval = \"2s\"");
    let config = Config::parse(Path::new("c.toml"), &text).unwrap();
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].message.contains("\"One\" is polled every 2s"),
        "{}",
        warnings[0]
    );
}

#[test]
fn wrong_keys_and_values_are_reported_together_with_every_other_problem() {
    let text = VALID
        .replace(
            "url = \"sqlite://test.db\"",
            "url = \"sqlite://test.db\"\ncolour = \"blue\"",
        )
        .replace("timeout = \"30s\"", "timeout = \"fast\"")
        .replace("transport = \"file\"", "transport = \"pigeon\"")
        .replace("interval = \"10m\"", "intervall = \"10m\"")
        .replace("@russia AND @dprk", "@russia AND @nkorea");
    let errors = errors_of(&text);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    for (needle, line_text) in [
        ("unknown field `colour`", "colour = \"blue\""),
        ("invalid duration \"fast\"", "timeout = \"fast\""),
        ("pigeon", "transport = \"pigeon\""),
        ("unknown field `intervall`", "intervall = \"10m\""),
        ("unknown list @nkorea", "@nkorea"),
    ] {
        let expected_line = text
            .lines()
            .position(|l| l.contains(line_text))
            .map(|i| i + 1)
            .unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e.line == expected_line && e.to_string().contains(needle)),
            "{needle:?} at line {expected_line}; got lines {lines:?}:\n{}",
            shown.join("\n\n")
        );
    }
    assert_eq!(errors.len(), 5, "{}", shown.join("\n\n"));
}

#[test]
fn a_syntax_error_is_reported_alone() {
    let text = VALID.replace("[lists]", "[lists") + "\ncolour = 1\n";
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn a_wrong_value_is_not_reported_again_through_its_consequences() {
    let text = VALID.replace(
        "to = [\"analyst@example.org\"]",
        "to = [\"analyst@example.org\", 7]\nmode = \"digets\"\nevery = \"1h\"",
    ) + "\n[[watch]]\nname = \"Other\"\nquery = \"@nkorea\"\nto = [\"a@example.org\"]\n";
    let errors = Config::parse_for_delivery(Path::new("config.toml"), &text)
        .expect_err("rejected")
        .0;
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        shown.iter().any(|e| e.contains("invalid type")),
        "{shown:#?}"
    );
    assert!(shown.iter().any(|e| e.contains("digets")), "{shown:#?}");
    assert!(
        shown.iter().any(|e| e.contains("unknown list @nkorea")),
        "problems in other tables are still reported: {shown:#?}"
    );
    assert!(
        !shown
            .iter()
            .any(|e| e.contains("no recipients") || e.contains("every")),
        "no echo of the blanked keys: {shown:#?}"
    );
}

#[test]
fn a_database_url_of_another_kind_is_refused_where_it_is_written() {
    let text = VALID.replace("sqlite://test.db", "mysql://db/newswatch");
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, 3);
    assert!(
        errors[0].message.contains("mysql://db/newswatch"),
        "{errors:?}"
    );
    for url in [
        "postgres://newswatch@127.0.0.1:5432/newswatch",
        "postgresql://db/newswatch?sslmode=require",
        "sqlite:relative.db",
    ] {
        let text = VALID.replace("sqlite://test.db", url);
        assert!(Config::parse(Path::new("c.toml"), &text).is_ok(), "{url}");
    }
}

/// What `newswatch check` prints about a configuration text: its problems, or its warnings.
fn check_output(text: &str) -> String {
    match Config::parse_for_delivery(Path::new("config.toml"), text) {
        Err(errors) => errors.to_string(),
        Ok(config) => {
            let warnings: Vec<String> = config.warnings().iter().map(|w| w.to_string()).collect();
            warnings.join("\n\n")
        }
    }
}

/// The distinctive parts of the secret every password form below is built around.
const SECRET_WORDS: [&str; 4] = ["correct", "horse", "battery", "staple"];

/// Values written after `password =`, well-formed and malformed in every way found so far:
/// quotes missing, doubled or inside the value, trailing garbage, bad escapes, other types,
/// multi-line strings and arrays, an unterminated string continued on the next line, no value.
const PASSWORD_VALUES: &[&str] = &[
    r#""correct horse battery staple""#,
    "'correct horse battery staple'",
    r#""""correct horse battery staple""""#,
    "'''correct horse battery staple'''",
    r#""correct"horse-battery-staple""#,
    "'correct'horse-battery-staple'",
    r#""correct" horse battery staple"#,
    r#""correct horse battery staple" staple"#,
    r#""correct horse battery staple"""#,
    r#"""correct horse battery staple"""#,
    r#""correct horse battery staple"#,
    "'correct horse battery staple",
    r#"correct horse battery staple""#,
    "correct-horse-battery-staple",
    r#""correct \q horse battery staple""#,
    r#""correct \u12 horse battery staple""#,
    r#""correct\" horse battery staple"#,
    r#""correct horse battery staple\""#,
    r#""correct horse", "battery staple""#,
    r#"["correct", "horse battery staple"]"#,
    r#"["correct", "horse" "battery staple"]"#,
    r#"{ value = "correct horse battery staple" }"#,
    r#"= "correct horse battery staple""#,
    r#""correct horse battery staple" = staple"#,
    r#""correct horse battery staple" # battery"#,
    r#""""correct horse battery staple"#,
    "'''correct horse battery staple",
    r#""""correct horse""" battery staple""""#,
    "12345 correct horse battery staple",
    "correct horse battery staple}",
    r#""correct horse battery staple"}""#,
    "\"correct horse\nbattery staple\"",
    "\"\"\"correct horse\nbattery staple\"\"\"",
    "\"\"\"correct horse\nbattery staple\"\"\" trailing",
    "\"\"\"\ncorrect horse\nbattery staple\n\"\"\"x",
    "'''correct horse\nbattery staple",
    "[\"correct\",\n\"horse\" \"battery staple\"]",
    "\n\"correct horse battery staple\"",
    "\"correct\"\nhorse-battery-staple\"",
    "correct\nhorse battery staple",
    "'correct'\n  horse battery staple'",
];

/// The key of a password line, written every way TOML allows.
const PASSWORD_KEYS: &[&str] = &[
    "password",
    "\"password\"",
    "'password'",
    "PASSWORD",
    "passwd",
];

/// Configurations around one `password` line: in `[email.smtp]`, in an inline table (in the
/// middle, at the end, on a line long enough to be cut in snippets), as a dotted key, at the
/// top level, and where no password belongs.
fn password_contexts(line: &str) -> Vec<String> {
    let head = "[email]\nfrom = \"Newswatch <newswatch@localhost>\"\ntransport = \"smtp\"\n";
    let tail = "\n[lists]\na = [\"x\"]\n\n[[watch]]\nname = \"W\"\nquery = \"@a\"\n\
                to = [\"analyst@example.org\"]\n";
    let long_host = "h".repeat(150);
    vec![
        format!(
            "{head}\n[email.smtp]\nhost = \"smtp.example.org\"\nusername = \"alice\"\n{line}\n\
             port = 587\n{tail}"
        ),
        format!(
            "{head}smtp = {{ host = \"smtp.example.org\", username = \"alice\", {line}, port = 587 }}\n{tail}"
        ),
        format!(
            "{head}smtp = {{ host = \"smtp.example.org\", username = \"alice\", {line} }}\n{tail}"
        ),
        format!(
            "{head}smtp = {{ host = \"{long_host}.example.org\", username = \"alice\", {line}, \
             password_env = \"SMTP_PASSWORD\", timeout = \"{long_host}\" }}\n{tail}"
        ),
        format!(
            "{head}smtp.host = \"smtp.example.org\"\nsmtp.username = \"alice\"\nsmtp.{line}\n{tail}"
        ),
        format!(
            "email.from = \"n@localhost\"\nemail.transport = \"smtp\"\nemail.smtp.host = \"h\"\n\
             email.smtp.{line}\n{tail}"
        ),
        format!("{head}{tail}{line}\n"),
        format!("{head}\n[lists]\na = [\"x\"]\n{line}\nb = [\"y\"]\n"),
    ]
}

#[test]
fn no_malformed_password_line_shows_any_part_of_the_secret() {
    let mut leaks = Vec::new();
    let mut cases = 0;
    for value in PASSWORD_VALUES {
        for key in PASSWORD_KEYS {
            for equals in [" = ", "=", "\t=  ", " "] {
                for text in password_contexts(&format!("{key}{equals}{value}")) {
                    cases += 1;
                    let shown = check_output(&text);
                    assert!(!shown.is_empty(), "nothing reported for:\n{text}");
                    if SECRET_WORDS.iter().any(|word| shown.contains(word)) {
                        leaks.push(format!("--- config ---\n{text}\n--- check ---\n{shown}"));
                    }
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} of {cases} configurations show part of the password; the first ones:\n{}",
        leaks.len(),
        leaks[..leaks.len().min(3)].join("\n\n")
    );
}

#[test]
fn past_the_limit_the_first_wrong_keys_in_the_file_are_reported() {
    let mut text = String::from("[lists]\na = [\"x\"]\n");
    for n in 0..60 {
        text += &format!(
            "\n[[watch]]\nname = \"w{n}\"\nquery = \"@a\"\ncolour = \"blue\"\nmax_per_hour = \"many\"\n"
        );
    }
    let errors = errors_of(&text);
    let expected: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with("colour") || line.starts_with("max_per_hour"))
        .map(|(i, _)| i + 1)
        .take(recover::MAX_ERRORS)
        .collect();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, expected);
}

#[test]
fn a_blank_that_would_break_the_file_ends_recovery_after_its_error() {
    let text = "[[watch]]\nname = \"a\"\nquery = \"x\"\ncolour = \"x\"\n\n\
                [[watch]]\nname = \"b\"\nquery = \"x\"\nmood = [\n  1,\n  2,\n]\n\n\
                [[watch]]\nname = \"c\"\nquery = \"@nolist\"\nzzz = 1\n";
    let errors = errors_of(text);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors.iter().map(|e| e.line).collect::<Vec<_>>(),
        [4, 9],
        "{shown:#?}"
    );
    assert!(shown[1].contains("unknown field `mood`"), "{shown:#?}");
}

#[test]
fn the_log_format_is_text_by_default_json_on_request_and_nothing_else() {
    let config = Config::parse(Path::new("c.toml"), VALID).unwrap();
    assert_eq!(config.log.format, LogFormat::Text);
    let json = format!("{VALID}\n[log]\nformat = \"json\"\n");
    let config = Config::parse(Path::new("c.toml"), &json).unwrap();
    assert_eq!(config.log.format, LogFormat::Json);

    let yaml = format!("{VALID}\n[log]\nformat = \"yaml\"\n");
    let errors = errors_of(&yaml);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let line = yaml.lines().position(|l| l == "format = \"yaml\"").unwrap() + 1;
    let shown = errors[0].to_string();
    assert_eq!(errors[0].line, line, "{shown}");
    assert!(
        shown.starts_with(&format!("config.toml:{line}:")) && shown.contains("format = \"yaml\""),
        "{shown}"
    );
    let unknown = format!("{VALID}\n[log]\nformat = \"json\"\nlevel = \"debug\"\n");
    let errors = errors_of(&unknown);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].message.contains("unknown field `level`"),
        "{}",
        errors[0]
    );
}

fn parsed(text: &str) -> Config {
    Config::parse(Path::new("config.toml"), text).unwrap()
}

#[test]
fn a_reload_diff_names_feeds_watches_and_lists_added_removed_and_changed() {
    let old = parsed(VALID);
    let new = parsed(
        &(VALID
            .replace("interval = \"10m\"", "interval = \"5m\"")
            .replace("russia = [\"Russia\", \"Россия\"]", "russia = [\"Russia\"]")
            .replace("name = \"W\"", "name = \"W2\"")
            + "\n[[feeds]]\nname = \"Two\"\nurl = \"https://example.org/two\"\n"),
    );
    let diff = ConfigDiff::between(&old, &new, &old);
    assert_eq!(diff.feeds.added, ["Two"]);
    assert_eq!(
        diff.feeds.changed,
        ["One"],
        "a new interval changes the feed"
    );
    assert!(diff.feeds.removed.is_empty());
    assert_eq!(diff.watches.added, ["W2"]);
    assert_eq!(diff.watches.removed, ["W"]);
    assert_eq!(diff.lists.changed, ["russia"]);
    assert_eq!(diff.feeds.counts(), "+1 \u{2212}0 ~1");
    assert!(diff.needs_restart.is_empty(), "{:?}", diff.needs_restart);
    assert!(ConfigDiff::between(&old, &parsed(VALID), &old).is_empty());
}

#[test]
fn a_reload_names_the_changed_keys_that_need_a_restart() {
    let old = parsed(VALID);
    let new = parsed(
        &VALID
            .replace("sqlite://test.db", "sqlite://other.db")
            .replace("timeout = \"30s\"", "timeout = \"10s\"")
            .replace("[lists]", "[http]\nlisten = \"127.0.0.1:9464\"\n\n[lists]"),
    );
    let diff = ConfigDiff::between(&old, &new, &old);
    assert_eq!(
        diff.needs_restart,
        ["[database]", "[http] listen", "[polling] timeout"]
    );
    assert!(diff.is_empty(), "nothing a reload applies changed");
    // Against what the process started with, not the last reload: a pending change is named
    // again at the next reload, and one reverted is named no more.
    let then_a_watch = parsed(&new.source.text().replace("name = \"W\"", "name = \"W2\""));
    let diff = ConfigDiff::between(&new, &then_a_watch, &old);
    assert_eq!(diff.needs_restart.len(), 3, "{:?}", diff.needs_restart);
    let reverted = ConfigDiff::between(&then_a_watch, &old, &old);
    assert!(
        reverted.needs_restart.is_empty(),
        "{:?}",
        reverted.needs_restart
    );
}

#[test]
fn http_listen_must_be_an_address_and_port() {
    let text = VALID.replace("[lists]", "[http]\nlisten = \"localhost\"\n\n[lists]");
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].message.contains("[http] listen"), "{}", errors[0]);
    assert_eq!(errors[0].line, 15, "{}", errors[0]);
    let good = VALID.replace("[lists]", "[http]\nlisten = \"[::1]:9464\"\n\n[lists]");
    assert_eq!(
        parsed(&good).http.listen_addr(),
        Some("[::1]:9464".parse().unwrap())
    );
}

#[test]
fn retention_defaults_to_90_180_and_365_days_and_zero_keeps_for_ever() {
    let days = |n: u64| Some(Duration::from_secs(n * 86400));
    let config = Config::parse(Path::new("c.toml"), VALID).unwrap();
    let policy = config.retention.policy();
    assert_eq!(
        (policy.articles, policy.alerts_sent, policy.alerts_failed),
        (days(90), days(180), days(365))
    );
    let text = format!("{VALID}\n[retention]\narticles = \"30d\"\nalerts_failed = \"0\"\n");
    let config = Config::parse(Path::new("c.toml"), &text).unwrap();
    let policy = config.retention.policy();
    assert_eq!(
        (policy.articles, policy.alerts_sent, policy.alerts_failed),
        (days(30), days(180), None)
    );
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
}

#[test]
fn a_bad_retention_value_or_key_is_named_with_its_file_and_line() {
    for (line_text, needle) in [
        (
            "alerts_sent = \"six months\"",
            "invalid duration \"six months\"",
        ),
        ("alerts_sent = 180", "a duration such as"),
        ("articels = \"30d\"", "unknown field `articels`"),
    ] {
        let text = format!("{VALID}\n[retention]\narticles = \"30d\"\n{line_text}\n");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1, "{line_text}: {errors:?}");
        let line = text.lines().position(|l| l == line_text).unwrap() + 1;
        let shown = errors[0].to_string();
        assert_eq!(errors[0].line, line, "{shown}");
        assert!(
            shown.starts_with(&format!("config.toml:{line}:"))
                && shown.contains(line_text)
                && shown.contains(needle),
            "{shown}"
        );
    }
}

#[test]
fn articles_kept_less_than_two_days_are_allowed_with_a_warning() {
    let text = format!("{VALID}\n[retention]\narticles = \"1h\"\n");
    let config = Config::parse(Path::new("c.toml"), &text).unwrap();
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let line = text.lines().position(|l| l == "articles = \"1h\"").unwrap() + 1;
    assert_eq!(warnings[0].line, line, "{}", warnings[0]);
    assert!(
        warnings[0].message.contains("[retention] articles = 1h"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].to_string().contains("48h"), "{}", warnings[0]);
}

/// The 1-based line of the first line of `text` containing `needle`, and the 1-based column
/// (in characters) where `needle` starts in it.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    text.lines()
        .enumerate()
        .find_map(|(i, line)| {
            line.find(needle)
                .map(|at| (i + 1, line[..at].chars().count() + 1))
        })
        .unwrap_or_else(|| panic!("{needle:?} is not in the text"))
}

fn warnings_of(text: &str) -> Vec<ConfigError> {
    Config::parse(Path::new("config.toml"), text)
        .unwrap_or_else(|e| panic!("the config should load: {e}"))
        .warnings()
}

#[test]
fn a_lower_case_operator_between_terms_is_a_warning_at_the_word() {
    let text = VALID.replace("@russia AND @dprk", "putin or lavrov");
    let config = Config::parse(Path::new("config.toml"), &text).unwrap();
    let warnings = config.query_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = &warnings[0];
    assert_eq!(warning.severity, diagnostic::Severity::Warning);
    assert_eq!(
        warning.message,
        "watch \"W\": lower-case \"or\" is searched for as a word, not used as the operator OR"
    );
    assert_eq!(
        (warning.line, warning.column),
        position_of(&text, "or lavrov")
    );
    assert!(warning.help.contains("write OR"), "{warning}");
    assert!(warning.to_string().contains("^^"), "{warning}");
    assert_eq!(config.warnings().len(), 1, "check prints it too");

    for quiet in [
        "\"war and peace\"",
        "путин или лавров",
        "putin OR lavrov",
        "and",
    ] {
        let text = VALID.replace("@russia AND @dprk", &quiet.replace('"', "\\\""));
        assert!(warnings_of(&text).is_empty(), "{quiet}");
    }
}

#[test]
fn no_feeds_or_no_watches_is_a_warning_about_the_file() {
    let warnings = warnings_of("[lists]\na = [\"x\"]\n");
    let messages: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "the configuration has no [[feeds]]: nothing will be polled",
            "the configuration has no [[watch]]: no article will ever alert",
        ]
    );
    assert!(warnings.iter().all(|w| w.line == 0));
    assert!(
        warnings[0]
            .clone()
            .warning()
            .to_string()
            .starts_with("config.toml: warning: the configuration has no [[feeds]]"),
        "{}",
        warnings[0]
    );
}

#[test]
fn a_feed_scope_naming_no_feed_or_tag_is_a_warning_naming_the_known_ones() {
    let text = VALID.replace("@russia AND @dprk", "@russia AND feed:Tass");
    let warnings = warnings_of(&text);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].message,
        "watch \"W\": feed:\"Tass\" names no configured feed or tag: it never matches"
    );
    assert_eq!(
        warnings[0].help,
        "the feed names and tags are: \"One\", \"en\""
    );
    assert_eq!(
        (warnings[0].line, warnings[0].column),
        position_of(&text, "Tass")
    );
    for known in ["feed:one", "feed:EN", "feed:(One OR \\\"en\\\")"] {
        let text = VALID.replace("@russia AND @dprk", &format!("@russia AND {known}"));
        assert!(warnings_of(&text).is_empty(), "{known}");
    }
}

#[test]
fn a_language_name_instead_of_a_code_is_an_error_with_the_code() {
    let text = VALID.replace("tags = [\"en\"]", "tags = [\"en\"]\nlang = \"Russian\"");
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].message,
        "feed \"One\": lang = \"Russian\" is not a language code: `lang:` would never match it"
    );
    assert_eq!(errors[0].help, "write the ISO 639-1 code \"ru\"");
    assert_eq!(errors[0].line, position_of(&text, "lang = ").0);

    let text = VALID.replace("@russia AND @dprk", "@russia AND lang:English");
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].message,
        "watch \"W\": lang:\"English\" is not a language code: it would never match"
    );
    assert_eq!(errors[0].help, "write the ISO 639-1 code \"en\"");
    assert_eq!(
        (errors[0].line, errors[0].column),
        position_of(&text, "English")
    );
    for fine in ["ru", "ru-RU", "rus", "EN"] {
        let text = VALID.replace("tags = [\"en\"]", &format!("lang = \"{fine}\""));
        assert!(Config::parse(Path::new("c.toml"), &text).is_ok(), "{fine}");
    }
}

#[test]
fn two_feeds_with_one_url_are_a_warning_naming_both_lines() {
    let text = format!("{VALID}\n[[feeds]]\nname = \"Two\"\nurl = \"https://EXAMPLE.org/rss\"\n");
    let warnings = warnings_of(&text);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let first = position_of(&text, "url = \"https://example.org/rss\"").0;
    assert_eq!(
        warnings[0].message,
        format!(
            "feeds \"One\" (line {first}) and \"Two\" have the same URL \"https://EXAMPLE.org/rss\""
        )
    );
    assert_eq!(
        warnings[0].line,
        position_of(&text, "url = \"https://EXAMPLE.org/rss\"").0
    );
}

#[test]
fn recipients_written_as_one_string_say_to_write_a_list() {
    let text = VALID.replace(
        "to = [\"analyst@example.org\"]",
        "to = \"analyst@example.org\"",
    );
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].message,
        "expected a list: to = [\"analyst@example.org\"]"
    );
    assert_eq!(errors[0].line, position_of(&text, "to = ").0);
}

#[test]
fn a_bad_duration_names_the_part_at_fault_on_its_line() {
    for (value, problem) in [
        (
            "seven days",
            "a number is expected where \"seven\" is written",
        ),
        ("15 minutos", "\"minutos\" is not a unit of time"),
    ] {
        let text = VALID.replace("interval = \"15m\"", &format!("interval = \"{value}\""));
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .message
                .starts_with(&format!("invalid duration \"{value}\": {problem}")),
            "{}",
            errors[0]
        );
        assert!(!errors[0].message.contains(" at 0"), "{}", errors[0]);
        let (line, column) = position_of(&text, value);
        assert_eq!(errors[0].line, line);
        let part = &value[values::duration_fault(value).unwrap()];
        let part_column = column + value.find(part).unwrap();
        assert_eq!(errors[0].column, part_column, "{}", errors[0]);
        let caret = format!(
            " | {}{}\n",
            " ".repeat(part_column - 1),
            "^".repeat(part.len())
        );
        assert!(
            errors[0].to_string().contains(&caret),
            "the caret is under {part:?}: {}",
            errors[0]
        );
    }
}

#[test]
fn a_duplicate_name_points_at_the_second_and_names_the_first_line() {
    let text = format!(
        "{VALID}\n[[feeds]]\nname = \"One\"\nurl = \"https://example.org/other\"\n\
         [[watch]]\nname = \"W\"\nquery = \"@dprk\"\nto = [\"a@example.org\"]\n"
    );
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 2, "{errors:?}");
    let lines = |needle: &str| -> Vec<usize> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| *l == needle)
            .map(|(i, _)| i + 1)
            .collect()
    };
    let feeds = lines("name = \"One\"");
    let watches = lines("name = \"W\"");
    assert_eq!(
        errors[0].message,
        format!("two feeds are named \"One\": here and at line {}", feeds[0])
    );
    assert_eq!(errors[0].line, feeds[1]);
    assert_eq!(
        errors[1].message,
        format!(
            "two watches are named \"W\": here and at line {}",
            watches[0]
        )
    );
    assert_eq!(errors[1].line, watches[1]);
}
