//! 4. Everything that stops `run` is reported by `check`, as a configuration error with the
//!    file and line of the key it comes from, and `check`, `run` and `once` all exit 2 on it
//!    without opening (or creating) the database. Before, `check` passed most of these (an
//!    unset password variable was a warning) and `run` then exited 1, so a systemd unit with
//!    `ExecStartPre=newswatch check` restart-looped.

use std::process::Command;

use crate::support::cli::{CliEnv, entries};

/// Exit code for a configuration that cannot be used (README: "bad config: 2").
const EXIT_CONFIG: i32 = 2;

/// A configuration that `run` accepts, with `[email]` and anything else from `email`: a
/// relative SQLite file, one feed (never polled: every case stops before) and one watch.
fn config_with(database: &str, polling: &str, email: &str) -> String {
    format!(
        "[database]\n{database}\n\n\
         [polling]\n{polling}\n\n\
         [email]\n{email}\n\n\
         [[feeds]]\nname = \"one\"\nurl = \"http://127.0.0.1:9/feed.xml\"\n\n\
         [[watch]]\nname = \"Walrus\"\nquery = \"walrus\"\nto = [\"analyst@example.org\"]\n"
    )
}

const SQLITE: &str = "url = \"sqlite://newswatch.db\"";
const POLLING: &str = "interval = \"15m\"";
const FILE_TRANSPORT: &str =
    "from = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"file\"\ndir = \"alerts\"";

/// `[email]` for an SMTP relay that needs a login, with `password` the password source line
/// (and any other `[email.smtp]` key).
fn smtp(password: &str) -> String {
    format!(
        "from = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"smtp\"\n\n\
         [email.smtp]\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"starttls\"\n\
         username = \"alerts\"\n{password}"
    )
}

/// The 1-based line of `text` that starts with `start`.
fn line_of(text: &str, start: &str) -> usize {
    text.lines()
        .position(|line| line.starts_with(start))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no line starts with {start:?} in\n{text}"))
}

/// One configuration that `run` cannot use: each of `check`, `run` and `once` must exit 2,
/// say `problem` at `conf/config.toml:LINE:` (the line starting with `key_line`, when the
/// problem is about a key) and leave `conf/` as it was (no database, no lock).
struct Case<'a> {
    name: &'a str,
    config: String,
    key_line: Option<&'a str>,
    problem: &'a str,
    /// Files the case itself put beside the configuration.
    setup: &'a dyn Fn(&CliEnv),
    /// Changes to each command's environment.
    command: &'a dyn Fn(&CliEnv, &mut Command),
}

impl Case<'_> {
    fn assert_refused(&self) {
        let env = CliEnv::with_config(&self.config);
        (self.setup)(&env);
        let before = entries(&env.conf());
        let at = self
            .key_line
            .map(|key| format!("{}:{}:", env.config().display(), line_of(&self.config, key)));
        for args in [&["check"][..], &["run"], &["once"]] {
            let mut command = env.command(args);
            (self.command)(&env, &mut command);
            let run = env.run_command(command, &format!("{args:?}"));
            let what = format!("{}: newswatch {args:?}", self.name);
            assert_eq!(
                run.status.code(),
                Some(EXIT_CONFIG),
                "{what} should exit 2 (a configuration problem)\n{}",
                run.describe()
            );
            assert!(
                run.stderr.contains(self.problem),
                "{what} should say {:?}\n{}",
                self.problem,
                run.describe()
            );
            if let Some(at) = &at {
                assert!(
                    run.stderr.contains(at.as_str()) && run.stderr.contains("error:"),
                    "{what} should point at {at}\n{}",
                    run.describe()
                );
            }
            assert_eq!(
                entries(&env.conf()),
                before,
                "{what} should open no database and write nothing\n{}",
                run.describe()
            );
            assert!(
                !run.stderr.contains("starting"),
                "{what} should stop before it starts\n{}",
                run.describe()
            );
        }
    }
}

fn nothing(_: &CliEnv) {}

fn unchanged(_: &CliEnv, _: &mut Command) {}

/// A variable name no environment has.
const UNSET_VARIABLE: &str = "NEWSWATCH_TEST_PASSWORD_NEVER_SET";

#[test]
fn an_unset_password_variable_stops_check_run_and_once() {
    let config = config_with(
        SQLITE,
        POLLING,
        &smtp(&format!("password_env = \"{UNSET_VARIABLE}\"\n")),
    );
    Case {
        name: "password_env unset",
        config,
        key_line: Some("password_env"),
        problem: &format!("the SMTP password variable {UNSET_VARIABLE} is not set"),
        setup: &nothing,
        command: &|_, command| {
            command.env_remove(UNSET_VARIABLE);
        },
    }
    .assert_refused();
}

#[test]
fn a_set_password_variable_passes_check() {
    let config = config_with(
        SQLITE,
        POLLING,
        &smtp(&format!("password_env = \"{UNSET_VARIABLE}\"\n")),
    );
    let env = CliEnv::with_config(&config);
    let mut command = env.command(&["check"]);
    command.env(UNSET_VARIABLE, "s3cret-password");
    let run = env.run_command(command, "check");
    assert!(
        run.status.success() && run.stdout.contains("OK"),
        "check should pass once the variable is set\n{}",
        run.describe()
    );
    assert!(!run.stderr.contains("s3cret") && !run.stdout.contains("s3cret"));
    assert_eq!(
        entries(&env.conf()),
        vec!["config.toml".to_string()],
        "check should leave nothing behind (its probe of the database's directory included)"
    );
}

#[test]
fn a_missing_password_file_stops_check_run_and_once() {
    Case {
        name: "password_file missing",
        config: config_with(
            SQLITE,
            POLLING,
            &smtp("password_file = \"smtp-password\"\n"),
        ),
        key_line: Some("password_file"),
        problem: "cannot read the SMTP password file",
        setup: &nothing,
        command: &unchanged,
    }
    .assert_refused();
}

#[test]
fn a_ca_file_that_is_not_pem_stops_check_run_and_once() {
    Case {
        name: "ca_file not PEM",
        config: config_with(
            SQLITE,
            POLLING,
            &smtp("password = \"x\"\nca_file = \"ca.pem\"\n"),
        ),
        key_line: Some("ca_file"),
        problem: "is not a PEM certificate",
        setup: &|env| std::fs::write(env.conf().join("ca.pem"), "not a certificate\n").unwrap(),
        command: &unchanged,
    }
    .assert_refused();
}

#[test]
fn an_alerts_directory_that_cannot_be_made_stops_check_run_and_once() {
    // A file where the directory's parent should be: no user, root included, can make it.
    Case {
        name: "alerts dir under a file",
        config: config_with(
            SQLITE,
            POLLING,
            &FILE_TRANSPORT.replace("dir = \"alerts\"", "dir = \"blocker/alerts\""),
        ),
        key_line: Some("dir ="),
        problem: "blocker\" is not a directory",
        setup: &|env| std::fs::write(env.conf().join("blocker"), "").unwrap(),
        command: &unchanged,
    }
    .assert_refused();
}

#[test]
fn a_missing_sendmail_command_stops_check_run_and_once() {
    let email = "from = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"sendmail\"\n\
                 sendmail_command = \"/nonexistent/sbin/sendmail\"";
    Case {
        name: "sendmail_command missing",
        config: config_with(SQLITE, POLLING, email),
        key_line: Some("sendmail_command"),
        problem: "the command \"/nonexistent/sbin/sendmail\" cannot be run",
        setup: &nothing,
        command: &unchanged,
    }
    .assert_refused();
}

#[test]
fn no_sendmail_on_the_path_stops_check_run_and_once() {
    let email = "from = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"sendmail\"";
    Case {
        name: "sendmail not on PATH",
        config: config_with(SQLITE, POLLING, email),
        key_line: Some("transport"),
        problem: "the command \"sendmail\" is not found on PATH",
        setup: &|env| std::fs::create_dir(env.conf().join("empty-bin")).unwrap(),
        command: &|env, command| {
            command.env("PATH", env.conf().join("empty-bin"));
        },
    }
    .assert_refused();
}

#[test]
fn a_missing_database_directory_stops_check_run_and_once() {
    Case {
        name: "database directory missing",
        config: config_with(
            "url = \"sqlite://state/newswatch.db\"",
            POLLING,
            FILE_TRANSPORT,
        ),
        key_line: Some("url ="),
        problem: "of the SQLite database does not exist",
        setup: &nothing,
        command: &unchanged,
    }
    .assert_refused();
}

#[test]
fn a_database_url_sqlx_cannot_parse_stops_check_run_and_once() {
    Case {
        name: "sqlite URL with a bad mode",
        config: config_with(
            "url = \"sqlite://newswatch.db?mode=bogus\"",
            POLLING,
            FILE_TRANSPORT,
        ),
        key_line: Some("url ="),
        problem: "cannot be used: ",
        setup: &nothing,
        command: &unchanged,
    }
    .assert_refused();
}

#[test]
fn an_unsupported_database_url_stops_check_run_and_once_without_showing_its_password() {
    let case = Case {
        name: "mysql URL",
        config: config_with(
            "url = \"mysql://newswatch:hunter2-secret@localhost/newswatch\"",
            POLLING,
            FILE_TRANSPORT,
        ),
        key_line: Some("url ="),
        problem: "is neither a SQLite nor a PostgreSQL URL",
        setup: &nothing,
        command: &unchanged,
    };
    case.assert_refused();
    let env = CliEnv::with_config(&case.config);
    let run = env.run(&["check"]);
    assert!(
        !run.stderr.contains("hunter2"),
        "the URL's password must not be shown\n{}",
        run.describe()
    );
}

#[test]
fn a_user_agent_that_is_no_header_stops_check_run_and_once() {
    Case {
        name: "user_agent with a control character",
        config: config_with(SQLITE, "user_agent = \"newswatch\\u0007\"", FILE_TRANSPORT),
        key_line: Some("user_agent"),
        problem: "[polling] user_agent cannot be sent as an HTTP header",
        setup: &nothing,
        command: &unchanged,
    }
    .assert_refused();
}

#[test]
fn an_invalid_sender_stops_check_run_and_once() {
    Case {
        name: "invalid from",
        config: config_with(
            SQLITE,
            POLLING,
            &FILE_TRANSPORT.replace(
                "Newswatch <alerts@newswatch.test>",
                "newswatch at localhost",
            ),
        ),
        key_line: Some("from ="),
        problem: "is not an email address",
        setup: &nothing,
        command: &unchanged,
    }
    .assert_refused();
}
