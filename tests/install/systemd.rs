//! 5. The README's systemd steps give a service that its dynamic user can run (issue 11,
//!    acceptance 6): the shell steps of the README's "systemd" section, read from the README
//!    itself, are run into a temporary root (`/etc`, `/var/lib` and `/usr/local/bin` moved
//!    inside it, `sudo` and the `systemctl` steps left out); then what systemd does for the
//!    unit `contrib/newswatch.service` is done by hand (the state directory made and given to
//!    the dynamic user, the unit's umask, environment and working directory), and its
//!    `ExecStart=` command is run as an unused uid with `setpriv`, as `DynamicUser=yes` does:
//!    `check` must pass and `run` must start, poll, alert and stop cleanly on SIGTERM.
//!
//! The shipped configuration's feeds are pointed at a loopback feed server first: nothing
//! leaves this machine. Needs root (to change user) and `setpriv` (util-linux); skipped, with
//! a message, without them.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

use crate::support::cli::{self, COMMAND_TIMEOUT, Run, entries};
use crate::support::{FeedServer, Item, Route, reserve_port, rss, wait_until};

/// The uid and gid the dynamic user gets here: one no account has.
const DYNAMIC_UID: u32 = 61234;

/// The repository's files that the README's steps use.
fn repository_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read_repository_file(path: &str) -> String {
    std::fs::read_to_string(repository_file(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<&'static str> {
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if uid != Some(0) {
        return Some("not running as root, so cannot run a command as another user");
    }
    let setpriv = Command::new("setpriv")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !setpriv.is_ok_and(|s| s.success()) {
        return Some("setpriv (util-linux) is not installed");
    }
    None
}

macro_rules! skip_unless_possible {
    () => {
        if let Some(reason) = skip_reason() {
            eprintln!("skipped: {reason}");
            return;
        }
    };
}

/// The logical lines (a line ending in `\` goes on with the next) of the first `sh` block
/// after the README's heading `heading`.
fn readme_block(heading: &str, nth: usize) -> Vec<String> {
    let readme = read_repository_file("README.md");
    let section = readme
        .find(heading)
        .map(|at| &readme[at..])
        .unwrap_or_else(|| panic!("the README has no {heading:?}"));
    let block = section
        .split("```sh\n")
        .nth(nth + 1)
        .and_then(|block| block.split("```").next())
        .unwrap_or_else(|| panic!("the README's {heading:?} has no sh block {nth}"));
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in block.lines() {
        current.push_str(line);
        if line.ends_with('\\') {
            current.push('\n');
        } else {
            lines.push(std::mem::take(&mut current));
        }
    }
    lines
}

/// The values of `key=` in the unit, in order.
fn unit_values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .map(str::trim)
        .collect()
}

fn unit_value<'a>(unit: &'a str, key: &str) -> &'a str {
    match unit_values(unit, key)[..] {
        [value] => value,
        ref values => panic!("the unit should set {key}= once, has {values:?}"),
    }
}

/// A system root in a temporary directory, where the README's steps install newswatch.
struct Root {
    dir: TempDir,
    unit: String,
}

impl Root {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// An absolute path of the real system, moved into this root.
    fn inside(&self, path: &str) -> PathBuf {
        self.path().join(path.trim_start_matches('/'))
    }

    /// A README step, to run in this root: `None` for what only a real system does (building,
    /// `systemctl`, `journalctl`).
    fn step(&self, step: &str) -> Option<String> {
        let step = step.replace("sudo ", "");
        let program = step.split_whitespace().next()?;
        if ["cargo", "systemctl", "journalctl"].contains(&program) {
            return None;
        }
        let root = self.path().display().to_string();
        let mut moved = step.replace("target/release/newswatch", env!("CARGO_BIN_EXE_newswatch"));
        for system in [
            "/etc/",
            "/var/lib/",
            "/usr/local/bin/",
            "/usr/local/share/",
            "/run/",
        ] {
            moved = moved.replace(system, &format!("{root}{system}"));
        }
        Some(moved)
    }

    /// Runs README steps (logical lines) with `sh -eu` from `src/`, the copy of the repository.
    fn run_steps(&self, steps: &[String]) {
        let script: Vec<String> = steps.iter().filter_map(|s| self.step(s)).collect();
        let script = format!("set -eu\n{}\n", script.join("\n"));
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(self.path().join("src"))
            .output()
            .expect("run sh");
        assert!(
            out.status.success(),
            "the README's steps failed\n--- script ---\n{script}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The state directory as systemd makes it for `StateDirectory=` with `DynamicUser=yes`:
    /// owned by the dynamic user, mode 0755.
    fn make_state_directory(&self) -> PathBuf {
        let name = unit_value(&self.unit, "StateDirectory");
        let state = self.inside(&format!("/var/lib/{name}"));
        std::fs::create_dir_all(&state).expect("create the state directory");
        std::os::unix::fs::chown(&state, Some(DYNAMIC_UID), Some(DYNAMIC_UID))
            .expect("chown the state directory");
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the state directory");
        state
    }

    /// The unit's `ExecStart=` with its last word (the subcommand) replaced by `subcommand`,
    /// run as systemd would for the dynamic user: its uid and gid, no supplementary groups,
    /// the unit's umask, `Environment=` and `WorkingDirectory=`, output in files in the root.
    fn spawn_as_service(&self, subcommand: &str) -> Child {
        assert_eq!(unit_value(&self.unit, "DynamicUser"), "yes");
        let mut words: Vec<String> = unit_value(&self.unit, "ExecStart")
            .split_whitespace()
            .map(|word| match word.strip_prefix('/') {
                Some(_) => self.inside(word).display().to_string(),
                None => word.to_string(),
            })
            .collect();
        assert_eq!(words.last().map(String::as_str), Some("run"));
        words.pop();
        words.push(subcommand.to_string());
        let id = DYNAMIC_UID.to_string();
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={id}"))
            .arg(format!("--regid={id}"))
            .arg("--clear-groups")
            .arg("--")
            .args(["sh", "-c", "umask \"$0\" && exec \"$@\""])
            .arg(unit_value(&self.unit, "UMask"))
            .args(&words)
            .current_dir(self.inside(unit_value(&self.unit, "WorkingDirectory")))
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin");
        for assignment in unit_values(&self.unit, "Environment") {
            let (name, value) = assignment.split_once('=').expect("NAME=value");
            command.env(name, value);
        }
        let out = |name: &str| {
            std::fs::File::create(self.path().join(format!("{subcommand}.{name}")))
                .expect("output file")
        };
        command
            .stdin(Stdio::null())
            .stdout(out("stdout"))
            .stderr(out("stderr"))
            .spawn()
            .expect("spawn setpriv")
    }

    fn output(&self, subcommand: &str, name: &str) -> String {
        std::fs::read_to_string(self.path().join(format!("{subcommand}.{name}")))
            .unwrap_or_default()
    }

    /// Waits (bounded) for a command started by [`Root::spawn_as_service`].
    fn finish(&self, child: Child, subcommand: &str) -> Run {
        let output = |name: &str| self.path().join(format!("{subcommand}.{name}"));
        cli::finish(child, &output("stdout"), &output("stderr"), subcommand)
    }

    fn run_as_service(&self, subcommand: &str) -> Run {
        self.finish(self.spawn_as_service(subcommand), subcommand)
    }

    /// The configuration as installed.
    fn config(&self) -> PathBuf {
        self.inside("/etc/newswatch/config.toml")
    }
}

/// The shipped configuration with every feed on the loopback server (serving a headline the
/// shipped watch matches) and any listen address on a free port.
fn shipped_config_on_loopback(server: &FeedServer) -> String {
    let item = Item::new(
        "kursk",
        "North Korean troops fight for Russia in the Kursk region",
    )
    .description("Pyongyang sent soldiers to Russia; Moscow and the DPRK signed a military pact.")
    .published_ago(std::time::Duration::from_secs(300));
    let mut feeds = 0;
    let mut text = String::new();
    for line in read_repository_file("config.toml").lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("url = \"http") {
            let path = format!("/feed{feeds}.xml");
            server.serve(&path, Route::rss(rss(std::slice::from_ref(&item))));
            text += &format!("url = \"{}\"\n", server.url(&path));
            feeds += 1;
        } else if trimmed.starts_with("listen = \"") {
            text += &format!("listen = \"127.0.0.1:{}\"\n", reserve_port());
        } else {
            text += line;
            text.push('\n');
        }
    }
    assert!(feeds > 0, "the shipped config should have feeds");
    text
}

/// A temporary root (readable by the dynamic user on the way down) with `src/`, a copy of what
/// the README's steps read from the repository, and the system directories a Debian system has.
fn new_root(config: &str) -> Root {
    let dir = tempfile::Builder::new()
        .prefix("newswatch-systemd-")
        .tempdir()
        .expect("create temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the root");
    let root = Root {
        dir,
        unit: read_repository_file("contrib/newswatch.service"),
    };
    for system in ["/usr/local/bin", "/etc/systemd/system", "/src/contrib"] {
        std::fs::create_dir_all(root.inside(system)).expect("create a system directory");
    }
    std::fs::write(root.inside("/src/config.toml"), config).expect("write config.toml");
    std::fs::write(root.inside("/src/contrib/newswatch.service"), &root.unit)
        .expect("copy the unit");
    root
}

#[test]
fn the_readme_systemd_steps_give_a_service_its_dynamic_user_can_check_and_run() {
    skip_unless_possible!();
    let server = FeedServer::start();
    let root = new_root(&shipped_config_on_loopback(&server));
    root.run_steps(&readme_block("### systemd", 0));
    assert!(
        root.inside("/etc/systemd/system/newswatch.service")
            .is_file(),
        "the README installs the unit"
    );
    let documentation = unit_value(&root.unit, "Documentation");
    let page = documentation
        .strip_prefix("man:")
        .and_then(|page| page.strip_suffix("(1)"))
        .unwrap_or_else(|| panic!("Documentation={documentation} should name a man page"));
    let installed = root.inside(&format!("/usr/local/share/man/man1/{page}.1"));
    let roff = std::fs::read_to_string(&installed)
        .unwrap_or_else(|e| panic!("the README installs {}: {e}", installed.display()));
    assert!(
        roff.contains(".TH"),
        "{} is a man page",
        installed.display()
    );
    let state = root.make_state_directory();

    let check = root.run_as_service("check");
    assert!(
        check.status.success() && check.stdout.contains(": OK: "),
        "check, run as the dynamic user, should pass on the installed config (mode {:o})\n{}",
        std::fs::metadata(root.config()).map_or(0, |m| m.mode() & 0o7777),
        check.describe()
    );
    assert_eq!(
        entries(&state),
        Vec::<String>::new(),
        "check should leave the state directory as it was"
    );

    let child = root.spawn_as_service("run");
    let pid = child.id();
    let alerts = state.join("alerts");
    let started = wait_until(COMMAND_TIMEOUT, || {
        root.output("run", "stderr").contains("newswatch started")
            && entries(&alerts).iter().any(|name| name.ends_with(".eml"))
    });
    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -TERM failed");
    let run = root.finish(child, "run");
    assert!(
        started,
        "run, as the dynamic user, should start and write an alert into {}\n{}",
        alerts.display(),
        run.describe()
    );
    assert!(
        run.status.success() && run.stderr.contains("SIGTERM received"),
        "run should stop cleanly on SIGTERM and exit 0\n{}",
        run.describe()
    );
    let database = state.join("newswatch.db");
    let owner = std::fs::metadata(&database).map(|m| m.uid());
    assert_eq!(
        owner.ok(),
        Some(DYNAMIC_UID),
        "the database should be in the state directory, the dynamic user's"
    );
}

#[test]
fn what_the_dynamic_user_cannot_read_or_write_is_a_config_error() {
    skip_unless_possible!();
    let server = FeedServer::start();
    let root = new_root(&shipped_config_on_loopback(&server));
    root.run_steps(&readme_block("### systemd", 0));
    root.make_state_directory();
    let config = root.config();

    // The shipped config as it is: its relative database and alerts in /etc/newswatch, which
    // only root can write.
    std::fs::copy(root.inside("/src/config.toml"), &config).expect("install the config as is");
    let check = root.run_as_service("check");
    assert_eq!(check.status.code(), Some(2), "{}", check.describe());
    for problem in [
        "[database] url: the directory",
        "of the SQLite database is not writable (by uid 61234)",
        "[email] dir = ",
        "Permission denied",
    ] {
        assert!(
            check.stderr.contains(problem),
            "check should say {problem:?}\n{}",
            check.describe()
        );
    }

    // A config only root can read (as the README installed it before).
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640))
        .expect("chmod the config");
    for subcommand in ["check", "run"] {
        let run = root.run_as_service(subcommand);
        assert_eq!(
            run.status.code(),
            Some(2),
            "{subcommand}\n{}",
            run.describe()
        );
        assert!(
            run.stderr
                .contains("cannot read the configuration file: Permission denied"),
            "{subcommand} should say it cannot read the configuration\n{}",
            run.describe()
        );
    }
}

#[test]
fn the_smtp_password_as_a_systemd_credential_passes_check_and_the_root_only_file_does_not() {
    skip_unless_possible!();
    let server = FeedServer::start();
    let root = new_root(&shipped_config_on_loopback(&server));
    root.run_steps(&readme_block("### systemd", 0));
    root.make_state_directory();

    // The README's credential: a root-only file, which systemd copies for the service into
    // /run/credentials/<unit>/<id>, readable by the service's user alone.
    let steps = readme_block("### systemd", 1);
    let password_step = root
        .step(&steps[0])
        .expect("the first credential step writes the password");
    let out = Command::new("sh")
        .arg("-c")
        .arg(&password_step)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(b"s3cret-password\n")?;
            child.wait()
        })
        .expect("write the password as the README says");
    assert!(out.success(), "{password_step}");
    let drop_in = steps.join("\n");
    let (id, source) = drop_in
        .split("LoadCredential=")
        .nth(1)
        .and_then(|rest| rest.split(['\\', '\n', '\'']).next())
        .and_then(|credential| credential.split_once(':'))
        .expect("the README's drop-in sets LoadCredential=ID:PATH");
    let source = root.inside(source);
    assert_eq!(
        std::fs::metadata(&source).map(|m| m.mode() & 0o777).ok(),
        Some(0o600),
        "the password file should be root's alone"
    );
    let credentials = root.inside("/run/credentials/newswatch.service");
    std::fs::create_dir_all(&credentials).expect("create the credentials directory");
    let credential = credentials.join(id);
    std::fs::copy(&source, &credential).expect("copy the credential");
    std::os::unix::fs::chown(&credential, Some(DYNAMIC_UID), Some(DYNAMIC_UID))
        .expect("chown the credential");
    std::fs::set_permissions(&credential, std::fs::Permissions::from_mode(0o400))
        .expect("chmod the credential");

    let readme = read_repository_file("README.md");
    let password_file = format!("/run/credentials/newswatch.service/{id}");
    assert!(
        readme.contains(&format!("password_file = \"{password_file}\"")),
        "the README should name the credential's path {password_file}"
    );
    let installed = std::fs::read_to_string(root.config()).expect("read the config");
    let with_smtp = |password_file: &Path| {
        format!(
            "{}\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {}\n\
             username = \"alerts\"\npassword_file = \"{}\"\n",
            installed.replace("transport = \"file\"", "transport = \"smtp\""),
            reserve_port(),
            password_file.display()
        )
    };

    std::fs::write(root.config(), with_smtp(&root.inside(&password_file))).expect("write");
    let check = root.run_as_service("check");
    assert!(
        check.status.success(),
        "check should read the password from the credential\n{}",
        check.describe()
    );
    assert!(!check.stderr.contains("s3cret") && !check.stdout.contains("s3cret"));

    std::fs::write(root.config(), with_smtp(&source)).expect("write");
    let check = root.run_as_service("check");
    assert_eq!(check.status.code(), Some(2), "{}", check.describe());
    assert!(
        check.stderr.contains("cannot read the SMTP password file")
            && check.stderr.contains("Permission denied"),
        "the root-only file is not the service's to read\n{}",
        check.describe()
    );
}
