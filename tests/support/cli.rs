//! Running the real `newswatch` binary as a user would: [`CliEnv`] is a temporary directory
//! with the configuration in `conf/` and a separate working directory `cwd/` (so that a path
//! resolved against the working directory lands where a test sees it); every command's wait
//! is bounded, and what it printed is kept in files beside the two directories.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::wait_until;

/// Longest any single command may take before the test gives up on it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The world of one test: `conf/config.toml` and `cwd/`, the working directory of every
/// command.
pub struct CliEnv {
    dir: TempDir,
}

/// What a finished command did.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything about the run, for an assertion's message.
    pub fn describe(&self) -> String {
        format!(
            "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

impl CliEnv {
    /// Empty `conf/` and `cwd/` in a new temporary directory; no configuration yet.
    pub fn new() -> CliEnv {
        let dir = tempfile::Builder::new()
            .prefix("newswatch-cli-")
            .tempdir()
            .expect("create temp dir");
        let env = CliEnv { dir };
        std::fs::create_dir(env.conf()).expect("create conf/");
        std::fs::create_dir(env.cwd()).expect("create cwd/");
        env
    }

    /// A new environment whose `conf/config.toml` is `text`.
    pub fn with_config(text: &str) -> CliEnv {
        let env = CliEnv::new();
        env.write_config(text);
        env
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config(), text).expect("write config");
    }

    /// The temporary directory itself (command output goes here).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn conf(&self) -> PathBuf {
        self.root().join("conf")
    }

    pub fn cwd(&self) -> PathBuf {
        self.root().join("cwd")
    }

    pub fn config(&self) -> PathBuf {
        self.conf().join("config.toml")
    }

    /// `newswatch --config <abs conf/config.toml> ARGS`, to run from `cwd/` with `RUST_LOG=info`
    /// and no `NEWSWATCH_CONFIG`; add to it before [`CliEnv::spawn_command`].
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_newswatch"));
        command
            .arg("--config")
            .arg(self.config())
            .args(args)
            .current_dir(self.cwd())
            .env("RUST_LOG", "info")
            .env_remove("NEWSWATCH_CONFIG");
        command
    }

    /// Starts `command` with no input and its output in files beside the directories.
    pub fn spawn_command(&self, mut command: Command) -> Child {
        let out = |name: &str| File::create(self.root().join(name)).expect("output file");
        command
            .stdin(Stdio::null())
            .stdout(out("stdout"))
            .stderr(out("stderr"))
            .spawn()
            .expect("spawn newswatch")
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.spawn_command(self.command(args))
    }

    /// What a spawned command has written to standard error so far.
    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(self.root().join("stderr")).unwrap_or_default()
    }

    /// Waits (bounded) for a spawned command and reads what it printed.
    pub fn finish(&self, child: Child, what: &str) -> Run {
        finish(
            child,
            &self.root().join("stdout"),
            &self.root().join("stderr"),
            what,
        )
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.finish(self.spawn(args), &format!("{args:?}"))
    }

    pub fn run_command(&self, command: Command, what: &str) -> Run {
        self.finish(self.spawn_command(command), what)
    }
}

/// Waits (bounded: [`COMMAND_TIMEOUT`], then killed and a panic) for `child`, whose output
/// went to the files `stdout` and `stderr`, and reads them.
pub fn finish(mut child: Child, stdout: &Path, stderr: &Path, what: &str) -> Run {
    let mut status = None;
    let ended = wait_until(COMMAND_TIMEOUT, || {
        status = child.try_wait().expect("wait for newswatch");
        status.is_some()
    });
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
    }
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let (stdout, stderr) = (read(stdout), read(stderr));
    let Some(status) = status else {
        panic!("newswatch {what} did not finish within {COMMAND_TIMEOUT:?}\n{stderr}");
    };
    Run {
        status,
        stdout,
        stderr,
    }
}

/// The names of the entries of `dir`, sorted (empty when it does not exist).
pub fn entries(dir: &Path) -> Vec<String> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = read
        .map(|e| {
            e.expect("read dir")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}
