//! Integration tests of the command-line surface (issue 12, "Commands"), through the real
//! `newswatch` binary: `-c`, `alerts --watch`, `feeds` over configured feeds never polled,
//! `import-opml` with nothing new, per-feed `enabled = false`, `export-opml`, shell
//! completions and the man page, and the exit codes.
//!
//! Each test has its own temporary directory ([`CliEnv`]); these tests use SQLite files.

mod support;

use std::process::Command;

use support::cli::{CliEnv, Run};

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
