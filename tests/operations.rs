//! Running newswatch as a service (issue 11): the HTTP endpoint (`/metrics`, `/healthz`,
//! `/readyz`, `newswatch healthcheck`), reloading the configuration by SIGHUP and by a change
//! of the file, and systemd's notify protocol. Through the real `newswatch run`, against a
//! real HTTP feed server and a real SMTP server on loopback, with a real SQLite file.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use support::{FeedServer, Item, Route, SmtpServer, reserve_port, rss, wait_until};
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(30);

/// A `newswatch run` in a directory of its own, killed if a test fails before stopping it.
struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    fn start(dir: &Path, config: &Path, args: &[&str], envs: &[(&str, &str)]) -> Daemon {
        let file = |name: &str| std::fs::File::create(dir.join(name)).expect("create output file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_newswatch"));
        command
            .arg("--config")
            .arg(config)
            .args(args)
            .current_dir(dir)
            .env_remove("NEWSWATCH_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file("stdout"))
            .stderr(file("stderr"));
        for (key, value) in envs {
            command.env(key, value);
        }
        Daemon {
            child: command.spawn().expect("spawn newswatch"),
            dir: dir.to_path_buf(),
        }
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.join("stderr")).unwrap_or_default())
            .into_owned()
    }

    /// Waits until the log has a line containing every one of `parts`.
    fn wait_for_log(&self, parts: &[&str]) -> String {
        let mut found = None;
        let seen = wait_until(WAIT, || {
            found = self
                .log()
                .lines()
                .find(|line| parts.iter().all(|part| line.contains(part)))
                .map(str::to_string);
            found.is_some()
        });
        assert!(seen, "no log line with {parts:?}:\n{}", self.log());
        found.unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal}");
    }

    /// SIGTERM, then the exit status.
    fn stop(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait_exit()
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "newswatch did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 GET on loopback: (status, body), or `None` when nothing listens yet.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(WAIT)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The value of the sample `series` (name and labels, as written) in an exposition.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

/// An item published a minute ago: new enough to alert on a feed's first poll.
fn fresh(id: &str, title: &str) -> Item {
    Item::new(id, title).published_ago(Duration::from_secs(60))
}

fn sqlite(dir: &Path) -> String {
    format!("sqlite://{}/newswatch.db", dir.display())
}

fn plain_smtp(port: u16) -> String {
    format!(
        "[email.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout = \"5s\"\n"
    )
}

/// A configuration: the feeds and watches given as (name, url) and (name, query), SMTP on
/// `smtp_port`, and `extra` after the `[polling]` table.
fn config_text(
    dir: &Path,
    smtp_port: u16,
    feeds: &[(&str, &str)],
    watches: &[(&str, &str)],
    extra: &str,
) -> String {
    let mut text = format!(
        "[database]\nurl = \"{}\"\n\n[polling]\ninterval = \"2s\"\ntimeout = \"5s\"\n{extra}\n\
         [email]\nfrom = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"smtp\"\n\n{}",
        sqlite(dir),
        plain_smtp(smtp_port)
    );
    for (name, url) in feeds {
        text.push_str(&format!(
            "\n[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\n"
        ));
    }
    for (name, query) in watches {
        text.push_str(&format!(
            "\n[[watch]]\nname = \"{name}\"\nquery = '{query}'\nto = [\"analyst@example.org\"]\n"
        ));
    }
    text
}

fn subjects(smtp: &SmtpServer) -> Vec<String> {
    smtp.messages().iter().filter_map(|m| m.subject()).collect()
}

fn wait_for_subject(smtp: &SmtpServer, needle: &str, daemon: &Daemon) {
    let arrived = wait_until(WAIT, || subjects(smtp).iter().any(|s| s.contains(needle)));
    assert!(
        arrived,
        "no mail about {needle:?}; got {:?}\n--- log ---\n{}",
        subjects(smtp),
        daemon.log()
    );
}

#[test]
fn metrics_after_a_cycle_show_polls_articles_matches_deliveries_and_the_outbox() {
    let feeds = FeedServer::start();
    feeds.serve(
        "/news.xml",
        Route::rss(rss(&[
            fresh("1", "Walrus seen off the coast"),
            fresh("2", "Second walrus sighting"),
            fresh("3", "Council meets"),
        ])),
    );
    let smtp = SmtpServer::start();
    let dir = TempDir::new().expect("temp dir");
    let port = reserve_port();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        config_text(
            dir.path(),
            smtp.port(),
            &[("news", &feeds.url("/news.xml"))],
            &[("Walrus", "walrus")],
            &format!("\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n[log]\nformat = \"json\"\n"),
        ),
    )
    .expect("write config");
    let mut daemon = Daemon::start(dir.path(), &config, &["run"], &[]);
    smtp.wait_for(2, WAIT);

    // The outbox is read at scrape time: once both alerts are recorded as sent, it says so.
    let mut metrics = String::new();
    let recorded = wait_until(WAIT, || {
        metrics = get(port, "/metrics")
            .map(|(_, body)| body)
            .unwrap_or_default();
        sample(&metrics, r#"newswatch_outbox_alerts{status="sent"}"#) == Some(2.0)
    });
    assert!(
        recorded,
        "the outbox never showed 2 sent:\n{metrics}\n{}",
        daemon.log()
    );
    let polls_ok = sample(
        &metrics,
        r#"newswatch_polls_total{feed="news",outcome="ok"}"#,
    );
    assert!(polls_ok >= Some(1.0), "{metrics}");
    assert_eq!(
        sample(&metrics, "newswatch_articles_ingested_total"),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, r#"newswatch_matches_total{watch="Walrus"}"#),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, r#"newswatch_alerts_queued_total{kind="article"}"#),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, r#"newswatch_deliveries_total{outcome="sent"}"#),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "newswatch_delivery_duration_seconds_count"),
        Some(2.0)
    );
    assert_eq!(
        sample(&metrics, r#"newswatch_outbox_alerts{status="queued"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&metrics, "newswatch_outbox_oldest_queued_age_seconds"),
        Some(0.0)
    );
    assert!(sample(&metrics, "newswatch_presearch_candidates_total") >= Some(2.0));
    assert_eq!(
        sample(&metrics, "newswatch_presearch_matches_total"),
        Some(2.0)
    );
    assert_eq!(
        sample(&metrics, r#"newswatch_feed_interval_seconds{feed="news"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &metrics,
            r#"newswatch_feed_consecutive_errors{feed="news"}"#
        ),
        Some(0.0)
    );
    assert!(
        sample(
            &metrics,
            r#"newswatch_feed_last_success_timestamp_seconds{feed="news"}"#
        ) > Some(1.7e9)
    );
    let version = format!(
        r#"newswatch_build_info{{version="{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sample(&metrics, &version), Some(1.0), "{metrics}");
    promtool_accepts(&metrics);

    assert_eq!(get(port, "/healthz").map(|(s, _)| s), Some(200));
    assert_eq!(get(port, "/readyz"), Some((200, "ready\n".to_string())));
    let healthcheck = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .arg("--config")
        .arg(&config)
        .arg("healthcheck")
        .output()
        .expect("run healthcheck");
    assert!(
        healthcheck.status.success(),
        "healthcheck: {}",
        String::from_utf8_lossy(&healthcheck.stderr)
    );

    assert!(daemon.stop().success(), "{}", daemon.log());
    // `[log] format = "json"`: every line of the run is a JSON object.
    for line in daemon.log().lines().filter(|l| !l.trim().is_empty()) {
        let parsed: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{}", daemon.log()));
        assert!(parsed.is_object(), "{line}");
    }
}

/// `promtool check metrics` (Debian's prometheus package) accepts the exposition: names,
/// types, help texts and the conventions its linter knows.
fn promtool_accepts(metrics: &str) {
    let Ok(mut promtool) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool is not installed (apt-get install prometheus): not checked with it");
        return;
    };
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(metrics.as_bytes())
        .expect("write to promtool");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{metrics}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// Feeds "walrus" (news) and "otter" (wildlife) served; the first config has only the first
/// feed and a walrus watch.
struct ReloadSetup {
    feeds: FeedServer,
    smtp: SmtpServer,
    dir: TempDir,
    config: PathBuf,
}

impl ReloadSetup {
    fn new() -> ReloadSetup {
        let feeds = FeedServer::start();
        feeds.serve(
            "/news.xml",
            Route::rss(rss(&[fresh("1", "Walrus seen off the coast")])),
        );
        feeds.serve(
            "/wildlife.xml",
            Route::rss(rss(&[fresh("w1", "Otter family returns to the river")])),
        );
        let setup = ReloadSetup {
            smtp: SmtpServer::start(),
            dir: TempDir::new().expect("temp dir"),
            feeds,
            config: PathBuf::new(),
        };
        let config = setup.dir.path().join("config.toml");
        std::fs::write(&config, setup.first_config()).expect("write config");
        ReloadSetup { config, ..setup }
    }

    fn first_config(&self) -> String {
        config_text(
            self.dir.path(),
            self.smtp.port(),
            &[("news", &self.feeds.url("/news.xml"))],
            &[("Walrus", "walrus")],
            "",
        )
    }

    /// The first config plus the wildlife feed and an otter watch.
    fn second_config(&self) -> String {
        config_text(
            self.dir.path(),
            self.smtp.port(),
            &[
                ("news", &self.feeds.url("/news.xml")),
                ("wildlife", &self.feeds.url("/wildlife.xml")),
            ],
            &[("Walrus", "walrus"), ("Otter", "otter")],
            "",
        )
    }

    /// Replaces the config as editors do: a new file renamed over the old one.
    fn replace_config(&self, text: &str) {
        let staged = self.dir.path().join(".config.toml.new");
        std::fs::write(&staged, text).expect("write staged config");
        std::fs::rename(&staged, &self.config).expect("mv over the config");
    }

    fn start(&self, args: &[&str]) -> Daemon {
        let daemon = Daemon::start(self.dir.path(), &self.config, args, &[]);
        wait_for_subject(&self.smtp, "Walrus seen", &daemon);
        daemon
    }

    /// The new feed is polled and the new watch alerts.
    fn assert_second_config_in_force(&self, daemon: &Daemon) {
        let polled = self.feeds.wait_for_hits("/wildlife.xml", 1, WAIT);
        assert!(!polled.is_empty(), "{}", daemon.log());
        wait_for_subject(&self.smtp, "Otter family", daemon);
    }
}

#[test]
fn sighup_reloads_the_config_a_new_feed_is_polled_and_a_new_watch_alerts() {
    let setup = ReloadSetup::new();
    // Without the file watch, only the signal can bring the change in.
    let mut daemon = setup.start(&["run", "--no-watch"]);
    std::fs::write(&setup.config, setup.second_config()).expect("edit config");
    daemon.signal("HUP");
    let reloaded = daemon.wait_for_log(&["configuration reloaded (SIGHUP)"]);
    assert!(
        reloaded.contains("feeds=+1 \u{2212}0 ~0") && reloaded.contains("watches=+1 \u{2212}0 ~0"),
        "the log says what changed: {reloaded}"
    );
    daemon.wait_for_log(&["feed added", "wildlife"]);
    setup.assert_second_config_in_force(&daemon);
    assert!(daemon.stop().success(), "{}", daemon.log());
}

#[test]
fn replacing_the_config_file_with_mv_reloads_it_without_a_signal() {
    let setup = ReloadSetup::new();
    let mut daemon = setup.start(&["run"]);
    setup.replace_config(&setup.second_config());
    daemon.wait_for_log(&["configuration reloaded (the file changed)", "feeds=+1"]);
    setup.assert_second_config_in_force(&daemon);
    assert!(daemon.stop().success(), "{}", daemon.log());
}

#[test]
fn an_invalid_edit_logs_every_problem_and_the_running_config_keeps_alerting() {
    let setup = ReloadSetup::new();
    let mut daemon = setup.start(&["run"]);
    let broken = setup
        .second_config()
        .replace("query = 'otter'", "query = 'otter AND ('")
        .replace("interval = \"2s\"", "interval = \"2 fortnights\"");
    setup.replace_config(&broken);
    daemon.wait_for_log(&[
        "configuration reload (the file changed) refused",
        "problems=2",
    ]);
    let log = daemon.log();
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains("2 fortnights") && l.contains("line=5")),
        "the bad interval is logged with its line:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains("watch \"Otter\"") && l.contains("line=")),
        "the bad query is logged with its line:\n{log}"
    );
    // The running config still alerts on its watch, and the new feed is not polled.
    setup.feeds.serve(
        "/news.xml",
        Route::rss(rss(&[
            fresh("1", "Walrus seen off the coast"),
            fresh("2", "Walrus colony grows"),
        ])),
    );
    wait_for_subject(&setup.smtp, "Walrus colony grows", &daemon);
    assert_eq!(setup.feeds.hits("/wildlife.xml"), 0, "{}", daemon.log());
    assert!(daemon.stop().success(), "{}", daemon.log());
}

/// The datagrams a `Type=notify` service sends, as systemd would receive them.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
    received: Vec<String>,
}

impl NotifySocket {
    fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("set timeout");
        NotifySocket {
            socket,
            path,
            received: Vec::new(),
        }
    }

    /// Waits for a datagram with the line `line`; returns that datagram.
    fn wait_for(&mut self, line: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut buffer = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buffer) {
                let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
                self.received.push(message.clone());
                if message.lines().any(|l| l == line) {
                    return message;
                }
            }
        }
        panic!("no {line:?} within {WAIT:?}; received {:?}", self.received);
    }
}

#[test]
fn under_systemd_it_notifies_ready_pings_the_watchdog_and_says_when_it_reloads_and_stops() {
    let setup = ReloadSetup::new();
    let mut notify = NotifySocket::bind(setup.dir.path());
    let socket = notify.path.display().to_string();
    let mut daemon = Daemon::start(
        setup.dir.path(),
        &setup.config,
        &["run"],
        &[("NOTIFY_SOCKET", &socket), ("WATCHDOG_USEC", "1000000")],
    );
    let ready = notify.wait_for("READY=1");
    assert!(
        ready.lines().any(|l| l.starts_with("STATUS=1 feed;")),
        "READY comes with a status: {ready:?}"
    );
    // A one-second watchdog: pinged at least every half second, by the scheduler loop.
    let first = Instant::now();
    notify.wait_for("WATCHDOG=1");
    notify.wait_for("WATCHDOG=1");
    notify.wait_for("WATCHDOG=1");
    assert!(
        first.elapsed() < Duration::from_secs(3),
        "three pings took {:?}",
        first.elapsed()
    );
    daemon.signal("HUP");
    notify.wait_for("RELOADING=1");
    notify.wait_for("READY=1");
    daemon.signal("TERM");
    notify.wait_for("STOPPING=1");
    assert!(daemon.wait_exit().success(), "{}", daemon.log());
}

#[test]
fn the_shipped_alerting_rules_are_valid_and_fire_on_what_they_describe() {
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib");
    let Ok(tested) = Command::new("promtool")
        .args(["test", "rules", "prometheus-alerts.test.yml"])
        .current_dir(&contrib)
        .output()
    else {
        eprintln!("promtool is not installed (apt-get install prometheus): rules not tested");
        return;
    };
    assert!(
        tested.status.success(),
        "promtool test rules: {}{}",
        String::from_utf8_lossy(&tested.stdout),
        String::from_utf8_lossy(&tested.stderr)
    );
}

#[test]
fn a_clean_stop_leaves_the_instances_table_and_a_restart_with_another_config_does_not_warn() {
    let setup = ReloadSetup::new();
    let mut first = setup.start(&["run"]);
    assert!(first.stop().success(), "{}", first.log());
    let listed = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .arg("--config")
        .arg(&setup.config)
        .args(["instances", "--json"])
        .output()
        .expect("run instances");
    assert!(listed.status.success());
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).lines().count(),
        0,
        "no instance is left after a clean stop: {}",
        String::from_utf8_lossy(&listed.stdout)
    );
    std::fs::write(&setup.config, setup.second_config()).expect("edit config");
    let mut second = Daemon::start(setup.dir.path(), &setup.config, &["run"], &[]);
    second.wait_for_log(&["newswatch started"]);
    assert!(second.stop().success(), "{}", second.log());
    assert!(
        !second.log().contains("different configuration"),
        "the process that stopped is not another instance:\n{}",
        second.log()
    );
}
