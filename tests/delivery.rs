//! Acceptance tests of alert delivery: the real `newswatch` binary, run as a child process
//! against a real HTTP feed server and a real SMTP server (mailin) on loopback, each test in a
//! temporary directory of its own (config, SQLite file) with its own ports.
//!
//! Covered: STARTTLS + AUTH with the password from the environment (and never in the log),
//! implicit TLS, header and markup injection from feed text, the outbox across an SMTP outage
//! and across SIGKILL, transient and permanent SMTP failures, `alerts retry`, digests, the
//! hourly cap, `check` on unsafe SMTP settings, SIGTERM, and a server refusing the configuration
//! (no STARTTLS, a refused login) logged at ERROR once, then WARN.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    FeedServer, Item, ReceivedMail, Route, SmtpServer, SmtpStage, Stall, rss, wait_until,
};
use tempfile::TempDir;

const RECIPIENT: &str = "analyst@example.org";
const FROM_DOMAIN: &str = "newswatch.test";
const WATCH: &str = "DPRK watch";
const QUERY: &str = "Pyongyang";

/// Longest any single short command (`once`, `check`, `alerts`) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------------------------------
// The test's world: a temp dir with config and database, commands run against it.
// ------------------------------------------------------------------------------------------

struct Env {
    dir: TempDir,
    config: PathBuf,
    /// `[database] url`: SQLite in `dir`, or a PostgreSQL schema (see `support::database`).
    database: String,
    /// Extra environment variables for every command.
    vars: Vec<(String, String)>,
}

/// What a finished command printed.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    fn assert_success(&self, what: &str) -> &Run {
        assert!(
            self.status.success(),
            "{what} should succeed\n{}",
            self.describe()
        );
        self
    }

    /// stdout and stderr together.
    fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The `[email.smtp]` table of a plain server (no TLS, no AUTH) on loopback.
fn plain_smtp(port: u16) -> String {
    format!("host = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout = \"5s\"\n")
}

/// What differs between the tests' configurations.
struct Setup<'a> {
    feed_url: &'a str,
    /// Body of `[email.smtp]`.
    smtp: String,
    /// Extra `[email]` keys.
    email: &'a str,
    /// Extra `[[watch]]` keys.
    watch: &'a str,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("newswatch-delivery-")
            .tempdir()
            .expect("create temp dir");
        let config = dir.path().join("config.toml");
        Env {
            database: support::database::url(dir.path()),
            dir,
            config,
            vars: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn var(mut self, name: &str, value: &str) -> Env {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    fn config_text(&self, setup: &Setup) -> String {
        format!(
            "[database]\nurl = \"{database}\"\n\n\
             [polling]\ntimeout = \"5s\"\n\n\
             [email]\nfrom = \"Newswatch <alerts@{FROM_DOMAIN}>\"\ntransport = \"smtp\"\n{email}\n\
             [email.smtp]\n{smtp}\n\
             [[feeds]]\nname = \"Test feed\"\nurl = \"{url}\"\n\n\
             [[watch]]\nname = \"{WATCH}\"\nquery = \"{QUERY}\"\nto = [\"{RECIPIENT}\"]\n{group}{watch}\n",
            // One alert per fixture article: the articles are templated rewrites of each
            // other, which story grouping rightly takes as copies (tests/stories.rs).
            group = "group = \"off\"\n",
            database = self.database,
            email = setup.email,
            smtp = setup.smtp,
            url = setup.feed_url,
            watch = setup.watch,
        )
    }

    /// Whether the database exists yet (a starting daemon creates it): until it does,
    /// read-only commands such as `alerts` fail. A PostgreSQL database always exists.
    fn database_exists(&self) -> bool {
        !self.database.starts_with("sqlite:") || self.path().join("newswatch.db").exists()
    }

    fn write_config(&self, setup: &Setup) {
        std::fs::write(&self.config, self.config_text(setup)).expect("write config");
    }

    /// Writes a configuration file of exactly this text (for `check` tests).
    fn write_raw_config(&self, text: &str) {
        std::fs::write(&self.config, text).expect("write config");
    }

    fn command(&self, args: &[&str], rust_log: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_newswatch"));
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir(self.path())
            .env("RUST_LOG", rust_log)
            .env_remove("NEWSWATCH_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in &self.vars {
            command.env(name, value);
        }
        command
    }

    /// Runs `newswatch --config … ARGS` to completion (bounded in time), RUST_LOG=info.
    fn run(&self, args: &[&str]) -> Run {
        self.run_logged(args, "info")
    }

    fn run_logged(&self, args: &[&str], rust_log: &str) -> Run {
        let mut child = Running::spawn(self.command(args, rust_log));
        let status = child.wait_timeout(COMMAND_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "newswatch {args:?} did not finish within {COMMAND_TIMEOUT:?}\n--- stderr ---\n{}",
                child.stderr()
            )
        });
        Run {
            status,
            stdout: child.stdout(),
            stderr: child.stderr(),
        }
    }

    fn once(&self) -> Run {
        let run = self.run(&["once"]);
        run.assert_success("newswatch once");
        run
    }

    /// `newswatch run` in the background.
    fn daemon(&self) -> Running {
        Running::spawn(self.command(&["run"], "info"))
    }

    /// `newswatch alerts --json [extra…]`, one object per alert.
    fn alerts(&self, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["alerts", "--json"];
        args.extend_from_slice(extra);
        let run = self.run(&args);
        run.assert_success("newswatch alerts --json");
        run.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("alerts --json printed a line that is not JSON ({e}): {l}")
                })
            })
            .collect()
    }

    /// How many alerts are in each status.
    fn alert_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for alert in self.alerts(&[]) {
            *counts
                .entry(alert["status"].as_str().unwrap_or("?").to_owned())
                .or_insert(0) += 1;
        }
        counts
    }
}

/// A child process whose output is collected by reader threads; killed if dropped while still
/// running, so a failing test leaves no daemon behind.
struct Running {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Running {
    fn spawn(mut command: Command) -> Running {
        let mut child = command.spawn().expect("spawn newswatch");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            readers.push(drain(pipe, Arc::clone(&stdout)));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.push(drain(pipe, Arc::clone(&stderr)));
        }
        Running {
            child,
            stdout,
            stderr,
            readers,
            status: None,
        }
    }

    /// Sends a signal with `kill -SIG PID`.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed: {status}");
    }

    /// SIGKILL, and reap the process.
    fn kill_hard(&mut self) {
        self.signal("KILL");
        let status = self
            .wait_timeout(Duration::from_secs(10))
            .expect("a SIGKILLed process exits at once");
        assert!(!status.success(), "SIGKILL should not look like success");
    }

    /// Waits for the exit; `None` if it has not exited within `timeout`.
    fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.status = Some(status);
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// SIGTERM, then the exit status and how long the exit took (panics after `limit`).
    fn terminate(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let asked = Instant::now();
        self.signal("TERM");
        let status = self.wait_timeout(limit).unwrap_or_else(|| {
            panic!(
                "newswatch run did not exit within {limit:?} of SIGTERM\n--- stderr ---\n{}",
                self.stderr()
            )
        });
        (status, asked.elapsed())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn drain(
    mut pipe: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

// ------------------------------------------------------------------------------------------
// Feeds and mail assertions.
// ------------------------------------------------------------------------------------------

/// `n` matching items, published a few minutes ago (so the first poll alerts them).
fn pyongyang_items(prefix: &str, n: usize) -> Vec<Item> {
    (1..=n)
        .map(|i| {
            Item::new(
                &format!("{prefix}-{i}"),
                &format!("Pyongyang report {prefix} number {i}"),
            )
            .published_ago(Duration::from_secs(60 * (i as u64 + 1)))
            .description(&format!(
                "Officials in Pyongyang said something newsworthy ({prefix} {i})."
            ))
        })
        .collect()
}

/// A feed server serving `items` at `/feed.xml`.
fn feed_with(items: &[Item]) -> (FeedServer, String) {
    let server = FeedServer::start();
    server.serve("/feed.xml", Route::rss(rss(items)));
    let url = server.url("/feed.xml");
    (server, url)
}

fn message_id(mail: &ReceivedMail) -> String {
    mail.header("Message-ID")
        .unwrap_or_else(|| panic!("mail without Message-ID:\n{}", mail.text()))
}

/// Distinct Message-IDs of these mails.
fn distinct_ids(mails: &[ReceivedMail]) -> BTreeSet<String> {
    mails.iter().map(message_id).collect()
}

/// `<32 hex digits>.article@newswatch.test>`: a hash of watch and article, so a re-send of
/// the same alert carries the same ID.
fn assert_article_message_id(id: &str) {
    let inner = id
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or_else(|| panic!("Message-ID {id:?} is not in angle brackets"));
    let (local, domain) = inner
        .split_once('@')
        .unwrap_or_else(|| panic!("Message-ID {id:?} has no @"));
    assert_eq!(domain, FROM_DOMAIN, "Message-ID {id:?}: domain");
    let (hash, kind) = local
        .split_once('.')
        .unwrap_or_else(|| panic!("Message-ID {id:?} is not <hex.article@domain>"));
    assert_eq!(kind, "article", "Message-ID {id:?}");
    assert!(
        hash.len() >= 16 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "Message-ID {id:?}: {hash:?} is not a hex hash"
    );
}

/// The headers every alert carries, and its two alternative parts.
fn assert_alert_headers(mail: &ReceivedMail, watch: &str) {
    let context = mail.text();
    let list_id = mail
        .header("List-Id")
        .unwrap_or_else(|| panic!("no List-Id:\n{context}"));
    assert!(
        list_id.starts_with('<') && list_id.ends_with(".newswatch>"),
        "List-Id {list_id:?}"
    );
    assert_eq!(
        mail.header("Auto-Submitted").as_deref(),
        Some("auto-generated"),
        "{context}"
    );
    assert_eq!(
        mail.header_decoded("X-Newswatch-Watch").as_deref(),
        Some(watch),
        "{context}"
    );
    let content_type = mail.header("Content-Type").unwrap_or_default();
    assert!(
        content_type
            .to_ascii_lowercase()
            .starts_with("multipart/alternative"),
        "Content-Type {content_type:?}"
    );
    assert!(mail.body_text().is_some(), "no text/plain part:\n{context}");
    assert!(mail.body_html().is_some(), "no text/html part:\n{context}");
    assert_eq!(mail.headers("To"), vec![RECIPIENT.to_owned()], "{context}");
}

/// The header block of a raw message.
fn header_block(mail: &ReceivedMail) -> String {
    let text = mail.text();
    match text.find("\r\n\r\n") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}

/// A tag in an HTML text: name and attributes (lowercased names, raw values).
#[derive(Debug)]
struct Tag {
    name: String,
    attributes: Vec<(String, String)>,
}

/// The start tags of an HTML text, tolerant of anything.
fn tags(html: &str) -> Vec<Tag> {
    let bytes = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' || !bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
            continue;
        }
        i += 1;
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-') {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        let mut attributes = Vec::new();
        loop {
            while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
                i += 1;
            }
            if i >= bytes.len() || bytes[i] == b'>' {
                i += 1;
                break;
            }
            let name_start = i;
            while i < bytes.len()
                && !bytes[i].is_ascii_whitespace()
                && !matches!(bytes[i], b'=' | b'>' | b'/')
            {
                i += 1;
            }
            let attribute = html[name_start..i].to_ascii_lowercase();
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut value = String::new();
            if i < bytes.len() && bytes[i] == b'=' {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < bytes.len() && matches!(bytes[i], b'"' | b'\'') {
                    let quote = bytes[i];
                    i += 1;
                    let value_start = i;
                    while i < bytes.len() && bytes[i] != quote {
                        i += 1;
                    }
                    value = html[value_start..i].to_owned();
                    i += 1;
                } else {
                    let value_start = i;
                    while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                        i += 1;
                    }
                    value = html[value_start..i].to_owned();
                }
            }
            if !attribute.is_empty() {
                attributes.push((attribute, value));
            }
        }
        out.push(Tag { name, attributes });
    }
    out
}

/// Everything in an HTML part that a mail client could execute or fetch.
fn active_markup(html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let lower = html.to_ascii_lowercase();
    for needle in ["<script", "<iframe", "<object", "<embed", "<img", "<form"] {
        if lower.contains(needle) {
            problems.push(format!("contains {needle}"));
        }
    }
    for tag in tags(html) {
        if matches!(
            tag.name.as_str(),
            "script" | "iframe" | "frame" | "object" | "embed" | "img" | "form" | "base" | "link"
        ) {
            problems.push(format!("<{}> tag: {tag:?}", tag.name));
        }
        for (name, value) in &tag.attributes {
            let value = value.trim().to_ascii_lowercase();
            if name.starts_with("on") {
                problems.push(format!("event handler {name}= in {tag:?}"));
            }
            if matches!(name.as_str(), "href" | "src" | "action" | "background")
                && (value.starts_with("javascript:")
                    || value.starts_with("vbscript:")
                    || value.starts_with("data:"))
            {
                problems.push(format!("script URL in {tag:?}"));
            }
            if name == "src" || name == "background" || (name == "style" && value.contains("url("))
            {
                problems.push(format!("remote resource in {tag:?}"));
            }
        }
    }
    problems
}

// ------------------------------------------------------------------------------------------
// Small helpers: base64 (for the AUTH forms of the password).
// ------------------------------------------------------------------------------------------

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The password as it could leak: plain, AUTH PLAIN, AUTH LOGIN.
fn password_forms(user: &str, password: &str) -> Vec<String> {
    vec![
        password.to_owned(),
        base64(format!("\0{user}\0{password}").as_bytes()),
        base64(format!("{user}\0{user}\0{password}").as_bytes()),
        base64(password.as_bytes()),
    ]
}

fn assert_no_password(output: &str, user: &str, password: &str, what: &str) {
    for form in password_forms(user, password) {
        assert!(
            !output.contains(&form),
            "{what} contains the password (as {form:?}):\n{output}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Implicit TLS: the support server only speaks STARTTLS, so a TLS terminator in front of a
// plain SmtpServer plays an SMTPS server (rustls, blocking, one thread per connection).
// ------------------------------------------------------------------------------------------

struct TlsFront {
    port: u16,
    ca_path: PathBuf,
    handshakes: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
}

impl TlsFront {
    /// Listens on a free port of 127.0.0.1; every connection is TLS from the first byte,
    /// forwarded in plain text to `backend`. The CA is written to `dir/tls-ca.pem`.
    fn start(backend: SocketAddr, dir: &Path) -> TlsFront {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

        support::install_crypto_provider();
        let mut ca_params = CertificateParams::default();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "newswatch SMTPS test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA cert");
        let key = KeyPair::generate().expect("server key");
        let cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server cert params")
            .signed_by(&key, &ca)
            .expect("server cert");
        let ca_path = dir.join("tls-ca.pem");
        std::fs::write(&ca_path, ca.pem()).expect("write CA");
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("TLS server config");
        let config = Arc::new(config);

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind TLS front");
        let port = listener.local_addr().expect("addr").port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        {
            let handshakes = Arc::clone(&handshakes);
            let stopping = Arc::clone(&stopping);
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let config = Arc::clone(&config);
                    let handshakes = Arc::clone(&handshakes);
                    std::thread::spawn(move || {
                        let _ = tls_forward(client, backend, config, &handshakes);
                    });
                }
            });
        }
        TlsFront {
            port,
            ca_path,
            handshakes,
            stopping,
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn would_block(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Pumps bytes between a TLS client and a plain backend until either side closes.
fn tls_forward(
    mut client: TcpStream,
    backend: SocketAddr,
    config: Arc<rustls::ServerConfig>,
    handshakes: &AtomicUsize,
) -> std::io::Result<()> {
    let mut tls = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut server = TcpStream::connect(backend)?;
    let tick = Some(Duration::from_millis(5));
    client.set_read_timeout(tick)?;
    server.set_read_timeout(tick)?;
    let mut counted = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while tls.wants_write() {
            tls.write_tls(&mut client)?;
        }
        if !counted && !tls.is_handshaking() {
            counted = true;
            handshakes.fetch_add(1, Ordering::SeqCst);
        }
        match tls.read_tls(&mut client) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                let state = tls.process_new_packets().map_err(std::io::Error::other)?;
                if state.plaintext_bytes_to_read() > 0 {
                    let mut plain = vec![0u8; state.plaintext_bytes_to_read()];
                    tls.reader().read_exact(&mut plain)?;
                    server.write_all(&plain)?;
                }
                if state.peer_has_closed() {
                    return Ok(());
                }
            }
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(e),
        }
        if tls.is_handshaking() {
            continue;
        }
        match server.read(&mut buf) {
            Ok(0) => {
                tls.send_close_notify();
                while tls.wants_write() {
                    tls.write_tls(&mut client)?;
                }
                return Ok(());
            }
            Ok(n) => tls.writer().write_all(&buf[..n])?,
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Acceptance 1: STARTTLS + AUTH, password from the environment, never in the log.
// ------------------------------------------------------------------------------------------

#[test]
fn starttls_auth_with_password_from_env_delivers_and_never_logs_the_password() {
    const USER: &str = "alice@example.org";
    const PASSWORD: &str = "Zq9-Lk2-wX7-rT4-s3cret";
    let smtp = SmtpServer::builder()
        .starttls(true)
        .auth(USER, PASSWORD)
        .start();
    let feed = FeedServer::start();
    feed.serve("/feed.xml", Route::rss(rss(&pyongyang_items("tls", 1))));
    let feed_url = feed.url("/feed.xml");
    let env = Env::new().var("NW_TEST_SMTP_PASSWORD", PASSWORD);
    let smtp_table = format!(
        "host = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nusername = \"{USER}\"\n\
         password_env = \"NW_TEST_SMTP_PASSWORD\"\nca_file = '{}'\ntimeout = \"5s\"\n",
        smtp.port(),
        smtp.ca_pem_path().display()
    );
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: smtp_table,
        email: "",
        watch: "",
    });

    // `check` is happy with this configuration and does not print the password either.
    let check = env.run_logged(&["check"], "debug");
    check.assert_success("newswatch check");
    assert_no_password(&check.output(), USER, PASSWORD, "`check` output");

    // RUST_LOG=debug: one article, one mail.
    let first = env.run_logged(&["once"], "debug");
    first.assert_success("newswatch once (debug)");
    assert!(
        first.stderr.contains("DEBUG"),
        "RUST_LOG=debug should produce debug lines:\n{}",
        first.stderr
    );
    let mails = smtp.wait_for(1, Duration::from_secs(10));
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let events = smtp.events();
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("AUTH ") && e.ends_with(&format!("{USER}: ok"))),
        "the daemon should authenticate: {events:#?}"
    );
    assert_no_password(&first.output(), USER, PASSWORD, "debug log of `once`");

    let mail = &mails[0];
    assert_eq!(mail.to, vec![RECIPIENT.to_owned()]);
    assert_eq!(mail.from, format!("alerts@{FROM_DOMAIN}"));
    assert_eq!(
        mail.subject().as_deref(),
        Some(format!("[{WATCH}] Pyongyang report tls number 1").as_str())
    );
    assert_alert_headers(mail, WATCH);
    assert_article_message_id(&message_id(mail));
    assert!(
        !mail.text().contains(PASSWORD),
        "the mail carries the password"
    );

    // RUST_LOG=trace: a second article, a second mail, still no password anywhere.
    let mut items = pyongyang_items("tls", 1);
    items.extend(pyongyang_items("trace", 1));
    feed.serve("/feed.xml", Route::rss(rss(&items)));
    // `once` polls every feed, due or not.
    let second = env.run_logged(&["once"], "trace");
    second.assert_success("newswatch once (trace)");
    assert!(
        second.stderr.contains("TRACE"),
        "RUST_LOG=trace should produce trace lines"
    );
    let mails = smtp.wait_for_exactly(2, Duration::from_secs(10), Duration::from_millis(300));
    assert_no_password(&second.output(), USER, PASSWORD, "trace log of `once`");
    let subjects: BTreeSet<String> = mails.iter().filter_map(ReceivedMail::subject).collect();
    assert!(
        subjects.contains(&format!("[{WATCH}] Pyongyang report trace number 1")),
        "{subjects:?}"
    );
}

// ------------------------------------------------------------------------------------------
// Acceptance 2: header injection and markup from the feed.
// ------------------------------------------------------------------------------------------

#[test]
fn injected_bcc_and_markup_from_the_feed_are_neutralised() {
    let smtp = SmtpServer::start();
    let published = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc2822();
    let markup = concat!(
        "&lt;p&gt;Talks in Pyongyang went on.&lt;/p&gt;",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&lt;img src=http://tracker.example/pixel.gif onerror=\"alert(2)\"&gt;",
        "&lt;a href=\"javascript:alert(3)\" onclick=\"steal()\"&gt;read more&lt;/a&gt;",
        "&lt;iframe src=\"http://evil.example/frame\"&gt;&lt;/iframe&gt;",
        "&lt;div onmouseover=\"x()\" style=\"background:url(http://tracker.example/bg)\"&gt;hover&lt;/div&gt;",
    );
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n\
         <title>Hostile feed</title>\n<link>https://news.example/</link>\n<description>x</description>\n\
         <item>\n\
         <title>Pyongyang summit&#13;&#10;Bcc: victim@example.org &amp;lt;img src=http://tracker.example/t.gif onerror=alert(4)&amp;gt;</title>\n\
         <link>https://news.example/hostile</link>\n\
         <guid isPermaLink=\"false\">https://news.example/hostile</guid>\n\
         <pubDate>{published}</pubDate>\n\
         <description>{markup}</description>\n\
         </item>\n</channel>\n</rss>\n"
    );
    let feed = FeedServer::start();
    feed.serve("/feed.xml", Route::rss(xml));
    let feed_url = feed.url("/feed.xml");
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(smtp.port()),
        email: "",
        watch: "",
    });
    env.once();
    let mails = smtp.wait_for_exactly(1, Duration::from_secs(10), Duration::from_millis(500));
    let mail = &mails[0];

    // The envelope: the watch's recipient, nobody else.
    assert_eq!(mail.to, vec![RECIPIENT.to_owned()], "envelope recipients");
    let rcpts: Vec<String> = smtp
        .events()
        .into_iter()
        .filter(|e| e.starts_with("RCPT TO"))
        .collect();
    assert_eq!(rcpts, vec![format!("RCPT TO {RECIPIENT}")]);

    // The header block: no Bcc (or any header) made from the title; the title stays in
    // the Subject, on one line.
    let head = header_block(mail);
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        assert!(
            !lower.starts_with("bcc") && !lower.starts_with("cc:"),
            "injected header line {line:?} in:\n{head}"
        );
        assert!(!line.contains('\r') && !line.contains('\n'));
    }
    assert!(mail.headers("Bcc").is_empty(), "{head}");
    assert!(!head.contains("victim@example.org>"), "{head}");
    let subject = mail.subject().unwrap_or_default();
    assert!(
        subject.starts_with(&format!("[{WATCH}] Pyongyang summit")),
        "subject {subject:?}"
    );
    assert!(
        !subject.contains('\r') && !subject.contains('\n'),
        "{subject:?}"
    );
    assert_alert_headers(mail, WATCH);
    assert_article_message_id(&message_id(mail));

    // The HTML part: nothing active, nothing remote.
    let html = mail.body_html().expect("an HTML part");
    let problems = active_markup(&html);
    assert!(
        problems.is_empty(),
        "active markup in the HTML part: {problems:#?}\n{html}"
    );
    // Markup in the title is shown as text, escaped.
    assert!(html.contains("&lt;img src="), "{html}");
    // The article's link is still there, as a plain https link.
    assert!(
        html.contains("href=\"https://news.example/hostile\""),
        "{html}"
    );
    let text = mail.body_text().expect("a text part");
    assert!(text.contains("Pyongyang summit"), "{text}");
}

// ------------------------------------------------------------------------------------------
// Acceptance 3: SMTP down when the matches happen, up 6 s later.
// ------------------------------------------------------------------------------------------

#[test]
fn smtp_down_then_up_six_seconds_later_delivers_each_alert_once() {
    let port = support::reserve_port();
    let (feed, feed_url) = feed_with(&pyongyang_items("outage", 3));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(port),
        email: "retry_initial = \"1s\"\nretry_max = \"2s\"\n",
        watch: "",
    });
    let mut daemon = env.daemon();
    feed.wait_for_hits("/feed.xml", 1, Duration::from_secs(20));
    // The three matches are queued and a first attempt has failed (connection refused).
    let failed_once = wait_until(Duration::from_secs(20), || {
        let alerts = env.alerts(&[]);
        alerts.len() == 3
            && alerts
                .iter()
                .all(|a| a["attempts"].as_i64().unwrap_or(0) >= 1 && a["status"] == "queued")
    });
    assert!(
        failed_once,
        "three alerts should be queued after a failed attempt: {:#?}\n--- stderr ---\n{}",
        env.alerts(&[]),
        daemon.stderr()
    );
    let down_since = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    let smtp = SmtpServer::builder().port(port).start();
    let up_at = Instant::now();
    smtp.wait_for(3, Duration::from_secs(45));
    let delivered_after = up_at.elapsed();
    // retry_max is 2 s: any duplicate would show up within a few seconds.
    std::thread::sleep(Duration::from_secs(3));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 3, "exactly three mails: {mails:#?}");
    assert_eq!(distinct_ids(&mails).len(), 3, "{mails:#?}");
    let subjects: BTreeSet<String> = mails.iter().filter_map(ReceivedMail::subject).collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    let counts = env.alert_counts();
    assert_eq!(counts.get("sent"), Some(&3), "{counts:?}");
    let (status, took) = daemon.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit after SIGTERM: {status}");
    eprintln!(
        "outage: down {:?}, delivered {delivered_after:?} after the server came up, SIGTERM exit in {took:?}",
        up_at - down_since
    );
}

// ------------------------------------------------------------------------------------------
// Acceptance 4: 20 alerts, slow SMTP, SIGKILL twice.
// ------------------------------------------------------------------------------------------

/// Waits (briefly) until the server has seen the `RCPT TO` of message number `n`, i.e. a
/// message is in flight; the server then sleeps its delay before answering the DATA.
fn wait_in_flight(smtp: &SmtpServer, n: usize) {
    wait_until(Duration::from_secs(5), || {
        smtp.events()
            .iter()
            .filter(|e| e.starts_with("RCPT TO"))
            .count()
            >= n
    });
}

#[test]
fn sigkill_twice_during_delivery_loses_nothing_and_duplicates_at_most_one_per_kill() {
    let smtp = SmtpServer::builder()
        .delay_per_message(Duration::from_millis(150))
        .start();
    let (_feed, feed_url) = feed_with(&pyongyang_items("kill", 20));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(smtp.port()),
        email: "retry_initial = \"1s\"\nretry_max = \"2s\"\n",
        watch: "max_per_hour = 0\n",
    });
    let started = Instant::now();
    let mut first = env.daemon();
    smtp.wait_for(5, Duration::from_secs(30));
    wait_in_flight(&smtp, 6);
    first.kill_hard();
    let after_first_kill = smtp.messages().len();

    let mut second = env.daemon();
    smtp.wait_for(12, Duration::from_secs(30));
    wait_in_flight(&smtp, 13);
    second.kill_hard();
    let after_second_kill = smtp.messages().len();

    let mut third = env.daemon();
    let all_there = wait_until(Duration::from_secs(45), || {
        distinct_ids(&smtp.messages()).len() >= 20
    });
    assert!(
        all_there,
        "all 20 alerts should arrive; got {} distinct of {} mails\n--- stderr ---\n{}",
        distinct_ids(&smtp.messages()).len(),
        smtp.messages().len(),
        third.stderr()
    );
    // The killed processes' claims were queued again once their leases expired (the second
    // run may have been killed before the first run's expired).
    assert!(
        third.stderr().contains(
            "alerts whose claim expired (the process sending them stopped) are queued again"
        ),
        "the third run should requeue the claimed alerts:\n{}",
        third.stderr()
    );
    // Nothing left to send, nothing claimed.
    let settled = wait_until(Duration::from_secs(10), || {
        env.alert_counts().get("sent") == Some(&20)
    });
    assert!(settled, "all 20 alerts sent: {:?}", env.alert_counts());
    std::thread::sleep(Duration::from_millis(500));
    let mails = smtp.messages();
    assert!(
        mails.len() <= 22,
        "at most 22 mails for 20 alerts and two kills, got {}: {mails:#?}",
        mails.len()
    );
    // A re-sent alert carries the same Message-ID: one ID per article.
    let mut ids_by_subject: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for mail in &mails {
        assert_article_message_id(&message_id(mail));
        ids_by_subject
            .entry(mail.subject().unwrap_or_default())
            .or_default()
            .insert(message_id(mail));
    }
    assert_eq!(ids_by_subject.len(), 20, "{ids_by_subject:#?}");
    assert!(
        ids_by_subject.values().all(|ids| ids.len() == 1),
        "{ids_by_subject:#?}"
    );
    let (status, _) = third.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    eprintln!(
        "sigkill: {after_first_kill} mails at the first kill, {after_second_kill} at the second, {} in all ({} duplicates), {:?}",
        mails.len(),
        mails.len() - 20,
        started.elapsed()
    );
}

// ------------------------------------------------------------------------------------------
// Acceptance 5: a digest every 5 s.
// ------------------------------------------------------------------------------------------

#[test]
fn digest_every_five_seconds_sends_one_mail_listing_all_three() {
    let smtp = SmtpServer::start();
    let items = pyongyang_items("digest", 3);
    let (_feed, feed_url) = feed_with(&items);
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(smtp.port()),
        email: "",
        watch: "mode = \"digest\"\nevery = \"5s\"\n",
    });
    let started = Instant::now();
    let mut daemon = env.daemon();
    // The matches are recorded at once; the digest is due at the next 5 s boundary. 20 s is
    // four periods of slack.
    let arrived = wait_until(Duration::from_secs(20), || !smtp.messages().is_empty());
    assert!(
        arrived,
        "a digest of a 5 s period should arrive within 20 s of the start; alerts: {:#?}\n--- daemon stderr ---\n{}",
        env.alerts(&[]),
        daemon.stderr()
    );
    let first_after = started.elapsed();
    // A period is 5 s: wait longer than one more to see that no second digest comes.
    std::thread::sleep(Duration::from_secs(6));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "exactly one digest: {mails:#?}");
    let mail = &mails[0];
    assert_eq!(
        mail.subject().as_deref(),
        Some(format!("[{WATCH}] 3 new articles").as_str())
    );
    assert_eq!(mail.to, vec![RECIPIENT.to_owned()]);
    let text = mail.body_text().expect("text part");
    let html = mail.body_html().expect("html part");
    for item in &items {
        assert!(text.contains(&item.title), "{:?} in:\n{text}", item.title);
        // The matched word is marked in the title of the HTML part.
        let marked = item.title.replace("Pyongyang", "<mark>Pyongyang</mark>");
        assert!(html.contains(&marked), "{marked:?} in:\n{html}");
    }
    // The digest names its period: 5 s, on multiples of 5 s.
    let period = text
        .lines()
        .find(|l| l.starts_with("3 new articles matched the watch"))
        .unwrap_or_else(|| panic!("no intro in:\n{text}"));
    assert!(
        period.contains(" from ") && period.contains(" to ") && period.ends_with(" UTC."),
        "{period}"
    );
    let id = message_id(mail);
    assert!(
        id.ends_with(&format!(".digest@{FROM_DOMAIN}>")),
        "digest Message-ID {id:?}"
    );
    let alerts = env.alerts(&[]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["kind"], "digest");
    assert_eq!(alerts[0]["items"], 3);
    assert_eq!(alerts[0]["status"], "sent");
    let (status, _) = daemon.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    eprintln!("digest: first mail after {first_after:?}");
}

// ------------------------------------------------------------------------------------------
// Acceptance 6: SIGTERM.
// ------------------------------------------------------------------------------------------

#[test]
fn sigterm_when_idle_exits_zero_within_ten_seconds() {
    let smtp = SmtpServer::start();
    let (_feed, feed_url) = feed_with(&pyongyang_items("idle", 1));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(smtp.port()),
        email: "",
        watch: "",
    });
    let mut daemon = env.daemon();
    smtp.wait_for(1, Duration::from_secs(20));
    let (status, took) = daemon.terminate(Duration::from_secs(10));
    assert!(
        status.success(),
        "exit status {status}\n{}",
        daemon.stderr()
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    eprintln!("sigterm idle: exit in {took:?}");
}

#[test]
fn sigterm_during_a_slow_delivery_exits_zero_and_keeps_the_rest_queued() {
    let smtp = SmtpServer::builder()
        .delay_per_message(Duration::from_secs(2))
        .start();
    let (_feed, feed_url) = feed_with(&pyongyang_items("slow", 5));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(smtp.port()),
        email: "",
        watch: "max_per_hour = 0\n",
    });
    let mut daemon = env.daemon();
    // The first message took 2 s; the second is now in flight (the server sleeps in DATA).
    smtp.wait_for(1, Duration::from_secs(30));
    let in_flight = wait_until(Duration::from_secs(5), || {
        smtp.events()
            .iter()
            .filter(|e| e.starts_with("RCPT TO"))
            .count()
            >= 2
    });
    assert!(in_flight, "a second delivery should be in flight");
    let (status, took) = daemon.terminate(Duration::from_secs(10));
    assert!(
        status.success(),
        "exit status {status}\n{}",
        daemon.stderr()
    );
    assert!(took < Duration::from_secs(10), "{took:?}");

    // Nothing is left claimed: what was sent is marked sent, the rest is queued.
    let counts = env.alert_counts();
    assert_eq!(counts.get("sending"), None, "{counts:?}");
    let sent_before = smtp.messages().len();
    assert_eq!(
        counts.get("sent").copied().unwrap_or(0),
        sent_before,
        "the in-flight message was finished and recorded: {counts:?}"
    );
    assert_eq!(
        counts.values().sum::<usize>(),
        5,
        "five alerts in all: {counts:?}"
    );

    // The rest goes out with the next run, none twice.
    smtp.set_delay_per_message(Duration::ZERO);
    env.once();
    let mails = smtp.wait_for_exactly(5, Duration::from_secs(20), Duration::from_millis(300));
    assert_eq!(distinct_ids(&mails).len(), 5, "{mails:#?}");
    eprintln!("sigterm in flight: exit in {took:?}, {sent_before} sent before the exit");
}

/// A message still in flight when SIGTERM comes is finished, however slow the server, as long
/// as it answers within its timeout: the server that accepted it is recorded as having it, and
/// the next run does not send it again. (It was cut after 5 s, and sent twice.)
#[test]
fn sigterm_lets_a_slow_message_finish_within_the_smtp_timeout_and_it_is_not_sent_again() {
    let smtp = SmtpServer::builder()
        .delay_per_message(Duration::from_secs(7))
        .start();
    let (_feed, feed_url) = feed_with(&pyongyang_items("slow-one", 1));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\ntimeout = \"20s\"\n",
            smtp.port()
        ),
        email: "",
        watch: "",
    });
    let mut daemon = env.daemon();
    let in_flight = wait_until(Duration::from_secs(30), || {
        smtp.events().iter().any(|e| e.starts_with("RCPT TO"))
    });
    assert!(in_flight, "the message should be in flight");
    let (status, took) = daemon.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "exit status {status}\n{}",
        daemon.stderr()
    );
    assert_eq!(smtp.messages().len(), 1, "the server got the message");
    let counts = env.alert_counts();
    assert_eq!(
        counts.get("sent").copied(),
        Some(1),
        "the accepted message is recorded as sent: {counts:?}\n{}",
        daemon.stderr()
    );
    smtp.set_delay_per_message(Duration::ZERO);
    env.once();
    let mails = smtp.wait_for_exactly(1, Duration::from_secs(10), Duration::from_millis(500));
    assert_eq!(mails.len(), 1, "not sent again: {mails:#?}");
    eprintln!("sigterm with a 7 s message in flight: exit in {took:?}");
}

// ------------------------------------------------------------------------------------------
// Permanent and transient SMTP failures.
// ------------------------------------------------------------------------------------------

#[test]
fn permanent_550_marks_the_alert_failed_and_alerts_retry_failed_requeues_it() {
    let smtp = SmtpServer::start();
    smtp.set_failure_at(
        SmtpStage::RcptTo,
        Some((550, "5.1.1 mailbox unavailable".into())),
    );
    let (_feed, feed_url) = feed_with(&pyongyang_items("perm", 1));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(smtp.port()),
        email: "",
        watch: "",
    });
    env.once();
    assert!(smtp.messages().is_empty());
    assert!(
        smtp.events().iter().any(|e| e == "injected 550 at RcptTo"),
        "{:#?}",
        smtp.events()
    );

    let failed = env.alerts(&["--status", "failed"]);
    assert_eq!(failed.len(), 1, "one failed alert: {failed:#?}");
    let alert = &failed[0];
    assert_eq!(alert["status"], "failed");
    assert_eq!(alert["attempts"], 1, "a permanent failure is not retried");
    let last_error = alert["last_error"].as_str().unwrap_or_default();
    assert!(
        last_error.contains("550"),
        "last_error should carry the server's reply: {alert:#}"
    );
    assert!(env.alerts(&["--status", "queued"]).is_empty());

    // Another `once` does not try again on its own.
    env.once();
    assert!(smtp.messages().is_empty());

    smtp.set_failure_at(SmtpStage::RcptTo, None);
    let retry = env.run(&["alerts", "retry", "--failed"]);
    retry.assert_success("newswatch alerts retry --failed");
    assert!(retry.stdout.contains('1'), "{}", retry.describe());
    let queued = env.alerts(&["--status", "queued"]);
    assert_eq!(queued.len(), 1, "{queued:#?}");

    env.once();
    let mails = smtp.wait_for_exactly(1, Duration::from_secs(10), Duration::from_millis(300));
    assert_eq!(
        mails[0].subject().as_deref(),
        Some(format!("[{WATCH}] Pyongyang report perm number 1").as_str())
    );
    let sent = env.alerts(&["--status", "sent"]);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(sent[0]["last_error"].is_null(), "{:#}", sent[0]);
}

/// A refused login (535) is the configuration's fault, not the alert's: the alert waits in the
/// queue, and once the password is fixed it goes out.
#[test]
fn a_wrong_password_keeps_the_alert_queued_until_it_is_fixed() {
    const USER: &str = "alerts@example.org";
    const PASSWORD: &str = "right-password-4711";
    let smtp = SmtpServer::builder()
        .starttls(true)
        .auth(USER, PASSWORD)
        .start();
    let (_feed, feed_url) = feed_with(&pyongyang_items("login", 1));
    let env = Env::new();
    let password_file = env.path().join("smtp-password");
    std::fs::write(&password_file, "wrong-password").expect("write the password file");
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nusername = \"{USER}\"\n\
             password_file = '{}'\nca_file = '{}'\ntimeout = \"5s\"\n",
            smtp.port(),
            password_file.display(),
            smtp.ca_pem_path().display()
        ),
        email: "retry_initial = \"1s\"\nretry_max = \"1s\"\n",
        watch: "",
    });
    // The refused login is the mail server's answer to the whole session: `once` says so
    // with a non-zero exit, and the alert stays queued.
    let refused = env.run(&["once"]);
    assert!(
        !refused.status.success() && refused.stderr.contains("535"),
        "{}",
        refused.describe()
    );
    assert!(smtp.messages().is_empty());
    let queued = env.alerts(&["--status", "queued"]);
    assert_eq!(queued.len(), 1, "the alert waits for a retry: {queued:#?}");
    let last_error = queued[0]["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains("535"), "{:#}", queued[0]);
    assert!(env.alerts(&["--status", "failed"]).is_empty());

    std::fs::write(&password_file, PASSWORD).expect("fix the password file");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while env.alerts(&["--status", "sent"]).is_empty() && std::time::Instant::now() < deadline {
        env.run(&["once"]);
    }
    let mails = smtp.wait_for_exactly(1, Duration::from_secs(10), Duration::from_millis(300));
    assert_eq!(
        mails[0].subject().as_deref(),
        Some(format!("[{WATCH}] Pyongyang report login number 1").as_str())
    );
}

#[test]
fn transient_451_is_retried_later_and_delivered() {
    let smtp = SmtpServer::start();
    smtp.fail_next(1, SmtpStage::MailFrom, 451, "4.3.0 try again later");
    let (_feed, feed_url) = feed_with(&pyongyang_items("transient", 1));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(smtp.port()),
        email: "retry_initial = \"1s\"\nretry_max = \"2s\"\n",
        watch: "",
    });
    let started = Instant::now();
    let mut daemon = env.daemon();
    let mails = smtp.wait_for(1, Duration::from_secs(30));
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(smtp.messages().len(), 1, "{mails:#?}");
    let events = smtp.events();
    let injected = events
        .iter()
        .position(|e| e == "injected 451 at MailFrom")
        .unwrap_or_else(|| panic!("no 451 was answered: {events:#?}"));
    let accepted = events
        .iter()
        .position(|e| e.starts_with("accepted"))
        .expect("accepted");
    assert!(injected < accepted, "{events:#?}");
    let done = wait_until(Duration::from_secs(5), || {
        let alerts = env.alerts(&[]);
        alerts.len() == 1 && alerts[0]["status"] == "sent"
    });
    assert!(done, "{:#?}", env.alerts(&[]));
    let alerts = env.alerts(&[]);
    assert_eq!(alerts[0]["attempts"], 2, "{:#}", alerts[0]);
    let (status, _) = daemon.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    eprintln!("transient: delivered after {took:?}");
}

// ------------------------------------------------------------------------------------------
// The hourly cap.
// ------------------------------------------------------------------------------------------

#[test]
fn max_per_hour_two_sends_two_single_mails_now() {
    let smtp = SmtpServer::start();
    let (_feed, feed_url) = feed_with(&pyongyang_items("cap", 5));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(smtp.port()),
        email: "",
        watch: "max_per_hour = 2\n",
    });
    let hour = |t: chrono::DateTime<chrono::Utc>| t.timestamp().div_euclid(3600);
    let before = chrono::Utc::now();
    env.once();
    let after = chrono::Utc::now();
    let mails = smtp.wait_for(2, Duration::from_secs(10));
    let singles: Vec<&ReceivedMail> = mails
        .iter()
        .filter(|m| m.subject().is_some_and(|s| s.contains("Pyongyang report")))
        .collect();
    assert_eq!(singles.len(), 2, "two single alerts: {mails:#?}");
    if hour(before) == hour(after) {
        // The other three wait for the end of the clock hour.
        assert_eq!(mails.len(), 2, "{mails:#?}");
    }
    let alerts = env.alerts(&[]);
    let articles: Vec<&Value> = alerts.iter().filter(|a| a["kind"] == "article").collect();
    assert_eq!(articles.len(), 2, "{alerts:#?}");
    assert!(
        articles.iter().all(|a| a["status"] == "sent"),
        "{alerts:#?}"
    );
}

// ------------------------------------------------------------------------------------------
// `check` on SMTP settings.
// ------------------------------------------------------------------------------------------

const CHECK_PASSWORD: &str = "Pl41n-T3xt-Secr3t";

fn check_config(smtp_block: &str) -> String {
    format!(
        "[email]\nfrom = \"Newswatch <alerts@{FROM_DOMAIN}>\"\ntransport = \"smtp\"\n{smtp_block}\n\
         [[feeds]]\nname = \"f\"\nurl = \"http://127.0.0.1:9/feed.xml\"\n\n\
         [[watch]]\nname = \"{WATCH}\"\nquery = \"{QUERY}\"\nto = [\"{RECIPIENT}\"]\n"
    )
}

#[test]
fn check_warns_about_a_password_in_the_file_without_printing_it() {
    let env = Env::new();
    env.write_raw_config(&check_config(&format!(
        "\n[email.smtp]\nhost = \"smtp.example.org\"\nport = 587\nsecurity = \"starttls\"\n\
         username = \"alice\"\npassword = \"{CHECK_PASSWORD}\"\n"
    )));
    let check = env.run(&["check"]);
    check.assert_success("newswatch check with a password in the file");
    assert!(
        check
            .stderr
            .contains("password is written in the configuration file"),
        "check should warn:\n{}",
        check.describe()
    );
    assert!(check.stderr.contains("warning"), "{}", check.describe());
    assert_no_password(&check.output(), "alice", CHECK_PASSWORD, "`check` output");
}

/// The same with the table written inline: the diagnostic's snippet is the line of the
/// table, which then holds the password.
#[test]
fn check_never_prints_a_password_written_in_an_inline_smtp_table() {
    let env = Env::new();
    env.write_raw_config(&check_config(&format!(
        "smtp = {{ host = \"smtp.example.org\", username = \"alice\", password = \"{CHECK_PASSWORD}\" }}\n"
    )));
    let check = env.run(&["check"]);
    check.assert_success("newswatch check with an inline [email.smtp]");
    assert!(
        check
            .stderr
            .contains("password is written in the configuration file"),
        "{}",
        check.describe()
    );
    assert_no_password(
        &check.output(),
        "alice",
        CHECK_PASSWORD,
        "`check` warning for an inline smtp table",
    );

    // An error about the same table must not print it either.
    env.write_raw_config(&check_config(&format!(
        "smtp = {{ host = \"127.0.0.1\", security = \"none\", username = \"alice\", password = \"{CHECK_PASSWORD}\" }}\n"
    )));
    let check = env.run(&["check"]);
    assert!(!check.status.success(), "{}", check.describe());
    assert_no_password(
        &check.output(),
        "alice",
        CHECK_PASSWORD,
        "`check` error for an inline smtp table",
    );
}

#[test]
fn check_refuses_auth_over_an_unencrypted_connection() {
    // The variable is set: check also requires that (see tests/install/preflight.rs).
    let env = Env::new().var("NW_TEST_SMTP_PASSWORD", "not-a-real-password");
    env.write_raw_config(&check_config(
        "\n[email.smtp]\nhost = \"127.0.0.1\"\nport = 25\nsecurity = \"none\"\n\
         username = \"alice\"\npassword_env = \"NW_TEST_SMTP_PASSWORD\"\n",
    ));
    let check = env.run(&["check"]);
    assert_eq!(
        check.status.code(),
        Some(2),
        "check should fail with the config exit code\n{}",
        check.describe()
    );
    let err = &check.stderr;
    assert!(
        err.contains("unencrypted") && err.contains("security = \"none\""),
        "check should name the problem:\n{}",
        check.describe()
    );
    assert!(
        err.contains("allow_insecure_auth"),
        "and the way out:\n{}",
        check.describe()
    );
    assert!(
        err.contains("config.toml:"),
        "and where: {}",
        check.describe()
    );

    // With allow_insecure_auth = true it is accepted.
    env.write_raw_config(&check_config(
        "\n[email.smtp]\nhost = \"127.0.0.1\"\nport = 25\nsecurity = \"none\"\n\
         username = \"alice\"\npassword_env = \"NW_TEST_SMTP_PASSWORD\"\nallow_insecure_auth = true\n",
    ));
    let check = env.run(&["check"]);
    check.assert_success("check with allow_insecure_auth = true");
}

// ------------------------------------------------------------------------------------------
// Implicit TLS (security = "tls").
// ------------------------------------------------------------------------------------------

#[test]
fn implicit_tls_with_a_private_ca_delivers() {
    let smtp = SmtpServer::start();
    let (_feed, feed_url) = feed_with(&pyongyang_items("smtps", 1));
    let env = Env::new();
    let front = TlsFront::start(smtp.addr(), env.path());
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nca_file = '{}'\ntimeout = \"5s\"\n",
            front.port,
            front.ca_path.display()
        ),
        email: "",
        watch: "",
    });
    env.once();
    let mails = smtp.wait_for_exactly(1, Duration::from_secs(10), Duration::from_millis(300));
    assert!(
        front.handshakes.load(Ordering::SeqCst) >= 1,
        "the mail should come through TLS"
    );
    assert_eq!(mails[0].to, vec![RECIPIENT.to_owned()]);
    assert_alert_headers(&mails[0], WATCH);
    let alerts = env.alerts(&[]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["status"], "sent");
}

// ------------------------------------------------------------------------------------------
// A hung or crawling mail server, and recipients refused one by one.
// ------------------------------------------------------------------------------------------

/// `[email.smtp]` for a plain server with this timeout.
fn plain_smtp_with_timeout(port: u16, timeout: &str) -> String {
    format!("host = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout = \"{timeout}\"\n")
}

/// The server stalls (accepts and never answers, or answers a byte a second) for 20 s, then
/// recovers: each of ten alerts arrives exactly once within 60 s of the recovery, and the stall
/// is logged with the server's address.
fn stalled_server_then_recovery_delivers_each_alert_once(stall: Stall) {
    let smtp = SmtpServer::start();
    smtp.set_stall(Some(stall));
    let (_feed, feed_url) = feed_with(&pyongyang_items("stall", 10));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp_with_timeout(smtp.port(), "3s"),
        email: "retry_initial = \"2s\"\nretry_max = \"10s\"\n",
        watch: "max_per_hour = 0\n",
    });
    let stalled_at = Instant::now();
    let mut daemon = env.daemon();
    let attempted = wait_until(Duration::from_secs(20), || {
        env.database_exists()
            && env
                .alerts(&[])
                .iter()
                .any(|a| a["attempts"].as_i64().unwrap_or(0) >= 1 && a["status"] == "queued")
    });
    assert!(
        attempted,
        "a stalled attempt should be recorded on an alert: {:#?}\n--- stderr ---\n{}",
        env.alerts(&[]),
        daemon.stderr()
    );
    let stalled_alert = env
        .alerts(&[])
        .into_iter()
        .find(|a| a["attempts"].as_i64().unwrap_or(0) >= 1)
        .expect("an attempted alert");
    let error = stalled_alert["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("127.0.0.1:{}", smtp.port())),
        "the alert's error names the server: {stalled_alert:#}"
    );
    std::thread::sleep(Duration::from_secs(20).saturating_sub(stalled_at.elapsed()));
    smtp.set_stall(None);
    let recovered_at = Instant::now();
    smtp.wait_for(10, Duration::from_secs(60));
    let delivered_after = recovered_at.elapsed();
    let mails = smtp.wait_for_exactly(10, Duration::ZERO, Duration::from_secs(3));
    assert_eq!(distinct_ids(&mails).len(), 10, "{mails:#?}");
    let stderr = daemon.stderr();
    assert!(
        stderr.contains("mail server unavailable")
            && stderr.contains(&format!("127.0.0.1:{}", smtp.port())),
        "the stall is logged with the server's address:\n{stderr}"
    );
    let (status, _) = daemon.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}");
    eprintln!("{stall:?}: all 10 delivered {delivered_after:?} after the server recovered");
}

#[test]
fn a_silent_server_holds_nothing_up_and_every_alert_goes_out_once_it_recovers() {
    stalled_server_then_recovery_delivers_each_alert_once(Stall::Silent);
}

#[test]
fn a_server_answering_one_byte_a_second_is_dropped_and_retried() {
    stalled_server_then_recovery_delivers_each_alert_once(Stall::Trickle(Duration::from_secs(1)));
}

/// `once` against a server that never answers (or crawls) ends within twice the timeout, with
/// a non-zero exit that names the server, and the alert stays queued with the error.
fn once_against_a_stalled_server_ends_in_time(stall: Stall) {
    let smtp = SmtpServer::start();
    smtp.set_stall(Some(stall));
    let (_feed, feed_url) = feed_with(&pyongyang_items("hung", 3));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp_with_timeout(smtp.port(), "4s"),
        email: "",
        watch: "max_per_hour = 0\n",
    });
    let started = Instant::now();
    let run = env.run(&["once"]);
    let took = started.elapsed();
    assert!(!run.status.success(), "{}", run.describe());
    assert!(
        took < Duration::from_secs(8),
        "once took {took:?}, more than twice the 4 s timeout\n{}",
        run.describe()
    );
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{}", smtp.port())),
        "{}",
        run.describe()
    );
    assert!(smtp.messages().is_empty());
    let alerts = env.alerts(&[]);
    assert_eq!(alerts.len(), 3, "{alerts:#?}");
    assert!(
        alerts.iter().all(|a| a["status"] == "queued"),
        "{alerts:#?}"
    );
    eprintln!("{stall:?}: once ended in {took:?}");
}

#[test]
fn once_against_a_silent_server_ends_within_twice_the_timeout() {
    once_against_a_stalled_server_ends_in_time(Stall::Silent);
}

#[test]
fn once_against_a_crawling_server_ends_within_twice_the_timeout() {
    once_against_a_stalled_server_ends_in_time(Stall::Trickle(Duration::from_secs(1)));
}

/// Two recipients, one of them stale: the good one gets every alert once, the stale one is
/// shown as failed with the server's reply, and nothing is sent twice on the next run.
#[test]
fn a_rejected_recipient_does_not_hold_back_the_other() {
    const STALE: &str = "stale@example.org";
    let smtp = SmtpServer::start();
    smtp.refuse_recipient(STALE, 550, "5.1.1 no such user here", None);
    let (_feed, feed_url) = feed_with(&pyongyang_items("stale", 3));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(smtp.port()),
        email: "",
        watch: "",
    });
    let config = std::fs::read_to_string(&env.config).expect("read config");
    env.write_raw_config(&config.replace(
        &format!("to = [\"{RECIPIENT}\"]"),
        &format!("to = [\"{RECIPIENT}\", \"{STALE}\"]"),
    ));
    env.once();
    let mails = smtp.wait_for_exactly(3, Duration::from_secs(10), Duration::from_millis(300));
    assert!(
        mails.iter().all(|m| m.to == [RECIPIENT]),
        "each mail goes to the good recipient alone: {mails:#?}"
    );
    assert_eq!(distinct_ids(&mails).len(), 3);
    let alerts = env.alerts(&[]);
    assert_eq!(alerts.len(), 3, "{alerts:#?}");
    for alert in &alerts {
        assert_eq!(alert["status"], "failed", "{alert:#}");
        let deliveries = alert["deliveries"].as_array().expect("deliveries");
        let state = |address: &str| {
            deliveries
                .iter()
                .find(|d| d["address"] == address)
                .unwrap_or_else(|| panic!("no delivery for {address}: {alert:#}"))
                .clone()
        };
        assert_eq!(state(RECIPIENT)["status"], "sent", "{alert:#}");
        let stale = state(STALE);
        assert_eq!(stale["status"], "failed", "{alert:#}");
        assert!(
            stale["error"]
                .as_str()
                .is_some_and(|e| e.contains("550") && e.contains("no such user")),
            "the server's reply is kept: {alert:#}"
        );
    }
    let table = env.run(&["alerts"]);
    assert!(
        table.stdout.contains(&format!("{STALE} (failed)")),
        "{}",
        table.describe()
    );
    // Another run sends nothing again, and retrying the failed alerts reaches only the
    // address that was refused (now refused for a while): the good one gets nothing twice.
    env.once();
    assert_eq!(smtp.messages().len(), 3);
    env.run(&["alerts", "retry", "--failed"])
        .assert_success("alerts retry --failed");
    smtp.refuse_recipient(STALE, 451, "4.2.0 still not here", None);
    env.run(&["once"]);
    assert_eq!(
        smtp.messages().len(),
        3,
        "a retry never re-sends to the recipient who has it: {:#?}",
        smtp.messages()
    );
    let tried_again = smtp
        .events()
        .iter()
        .filter(|e| e.as_str() == format!("injected 451 for {STALE}"))
        .count();
    assert_eq!(tried_again, 3, "{:#?}", smtp.events());
}

/// A 451 for one recipient, accepted later: each recipient gets each alert exactly once.
#[test]
fn a_deferred_recipient_is_retried_alone_and_each_gets_each_alert_once() {
    const SLOW: &str = "slow@example.org";
    let smtp = SmtpServer::start();
    smtp.refuse_recipient(SLOW, 451, "4.2.1 mailbox busy, try later", Some(2));
    let (_feed, feed_url) = feed_with(&pyongyang_items("defer", 3));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(smtp.port()),
        email: "retry_initial = \"1s\"\nretry_max = \"2s\"\n",
        watch: "max_per_hour = 0\n",
    });
    let config = std::fs::read_to_string(&env.config).expect("read config");
    env.write_raw_config(&config.replace(
        &format!("to = [\"{RECIPIENT}\"]"),
        &format!("to = [\"{RECIPIENT}\", \"{SLOW}\"]"),
    ));
    let mut daemon = env.daemon();
    smtp.wait_for(6, Duration::from_secs(30));
    let settled = wait_until(Duration::from_secs(10), || {
        env.alert_counts().get("sent") == Some(&3)
    });
    assert!(settled, "{:#?}", env.alerts(&[]));
    std::thread::sleep(Duration::from_secs(3));
    let mails = smtp.messages();
    let mut per_pair: BTreeMap<(String, String), usize> = BTreeMap::new();
    for mail in &mails {
        for to in &mail.to {
            *per_pair.entry((to.clone(), message_id(mail))).or_default() += 1;
        }
    }
    assert_eq!(
        per_pair.len(),
        6,
        "two recipients × three alerts: {per_pair:#?}"
    );
    assert!(
        per_pair.values().all(|&n| n == 1),
        "each recipient gets each alert once: {per_pair:#?}"
    );
    assert_eq!(
        smtp.events()
            .iter()
            .filter(|e| e.starts_with("injected 451"))
            .count(),
        2
    );
    let (status, _) = daemon.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

/// A second process that reaches the database through a symlink finds the first one's lock.
#[test]
fn a_symlink_to_the_database_does_not_get_past_the_lock() {
    if !support::database::sqlite_only("the lock file") {
        return;
    }
    let smtp = SmtpServer::start();
    let (_feed, feed_url) = feed_with(&pyongyang_items("link", 1));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: plain_smtp(smtp.port()),
        email: "",
        watch: "",
    });
    env.once();
    let database = env.path().join("newswatch.db");
    let other_dir = env.path().join("elsewhere");
    std::fs::create_dir(&other_dir).expect("create dir");
    let link = other_dir.join("linked.db");
    std::os::unix::fs::symlink(&database, &link).expect("symlink");
    let config = std::fs::read_to_string(&env.config).expect("read config");
    let linked_config = env.path().join("linked.toml");
    std::fs::write(
        &linked_config,
        config.replace(
            &format!("sqlite://{}", database.display()),
            &format!("sqlite://{}", link.display()),
        ),
    )
    .expect("write config");
    let mut daemon = env.daemon();
    let locked = wait_until(Duration::from_secs(20), || {
        daemon.stderr().contains("newswatch started")
    });
    assert!(locked, "{}", daemon.stderr());
    let mut command = Command::new(env!("CARGO_BIN_EXE_newswatch"));
    command
        .arg("--config")
        .arg(&linked_config)
        .arg("once")
        .current_dir(&other_dir)
        .env_remove("NEWSWATCH_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut second = Running::spawn(command);
    let status = second
        .wait_timeout(COMMAND_TIMEOUT)
        .expect("the second once ends");
    let second = Run {
        status,
        stdout: second.stdout(),
        stderr: second.stderr(),
    };
    assert!(
        !second.status.success() && second.stderr.contains("another newswatch process"),
        "{}",
        second.describe()
    );
    let (status, _) = daemon.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

// ------------------------------------------------------------------------------------------
// Many instances on one PostgreSQL database (the backend matrix's PostgreSQL run), and moving
// an installation there.
// ------------------------------------------------------------------------------------------

/// Three instances started at the same moment on an empty database: the schema is created
/// once, all three run, and 20 matches give exactly 20 mails through a slow server. Then the
/// same with one of them killed twice during delivery: all 20, at most 22 mails.
#[test]
fn three_instances_send_each_alert_once_and_survive_kills() {
    if !support::database::on_postgres() {
        eprintln!("PostgreSQL only (instances share a database): nothing to test on SQLite");
        return;
    }
    for kills in [0, 2] {
        let smtp = SmtpServer::builder()
            .delay_per_message(Duration::from_millis(150))
            .start();
        let (_feed, feed_url) = feed_with(&pyongyang_items(&format!("three{kills}"), 20));
        let env = Env::new();
        env.write_config(&Setup {
            feed_url: &feed_url,
            smtp: plain_smtp(smtp.port()),
            email: "retry_initial = \"1s\"\nretry_max = \"2s\"\n",
            watch: "max_per_hour = 0\n",
        });
        let mut daemons: Vec<Running> = (0..3).map(|_| env.daemon()).collect();
        let started = wait_until(Duration::from_secs(30), || {
            daemons
                .iter()
                .all(|d| d.stderr().contains("newswatch started"))
        });
        assert!(
            started,
            "all three start on an empty database:\n{}",
            daemons
                .iter()
                .map(Running::stderr)
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        for n in 0..kills {
            smtp.wait_for(4 + 6 * n, Duration::from_secs(30));
            wait_in_flight(&smtp, 5 + 6 * n);
            daemons[0].kill_hard();
            daemons[0] = env.daemon();
        }
        let all_there = wait_until(Duration::from_secs(60), || {
            distinct_ids(&smtp.messages()).len() >= 20
        });
        assert!(
            all_there,
            "all 20 alerts arrive: {} distinct of {} mails",
            distinct_ids(&smtp.messages()).len(),
            smtp.messages().len()
        );
        let settled = wait_until(Duration::from_secs(30), || {
            env.alert_counts().get("sent") == Some(&20)
        });
        assert!(settled, "{:?}", env.alert_counts());
        std::thread::sleep(Duration::from_secs(1));
        let mails = smtp.messages().len();
        if kills == 0 {
            assert_eq!(mails, 20, "three instances, each alert sent once");
        } else {
            assert!(
                mails <= 22,
                "two kills, at most 22 mails for 20 alerts: {mails}"
            );
        }
        let listed = env.run(&["instances", "--json"]);
        listed.assert_success("newswatch instances --json");
        assert!(
            listed.stdout.lines().count() >= 3,
            "the running instances are listed: {}",
            listed.describe()
        );
        for daemon in &mut daemons {
            let (status, _) = daemon.terminate(Duration::from_secs(15));
            assert!(status.success(), "{status}");
        }
        let left = env.run(&["instances", "--json"]);
        assert_eq!(
            left.stdout.lines().count(),
            kills,
            "an instance that stopped cleanly leaves; only the killed ones are still listed \
             until they age out: {}",
            left.describe()
        );
        eprintln!("three instances, {kills} kills: {mails} mails for 20 alerts");
    }
}

/// `migrate-db` copies a database made by `once` on SQLite into an empty PostgreSQL one: the
/// counts agree, `once` on PostgreSQL sends nothing again, and a new match sends one alert.
#[test]
fn migrate_db_moves_an_installation_to_postgres_without_sending_again() {
    let Ok(base) = std::env::var("NEWSWATCH_TEST_POSTGRES") else {
        eprintln!("PostgreSQL tests skipped: NEWSWATCH_TEST_POSTGRES is not set");
        return;
    };
    if support::database::on_postgres() {
        eprintln!("runs once, in the SQLite run of the matrix");
        return;
    }
    let smtp = SmtpServer::start();
    let feed = FeedServer::start();
    feed.serve("/feed.xml", Route::rss(rss(&pyongyang_items("move", 3))));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed.url("/feed.xml"),
        smtp: plain_smtp(smtp.port()),
        email: "",
        watch: "max_per_hour = 0\n",
    });
    env.once();
    smtp.wait_for_exactly(3, Duration::from_secs(10), Duration::from_millis(200));
    let target = support::database::fresh_schema(&base);
    let moved = env.run(&["migrate-db", "--to", &target]);
    moved.assert_success("newswatch migrate-db");
    for table in ["feeds", "articles", "alerts", "matches", "alert_recipients"] {
        let line = moved
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no count for {table}: {}", moved.describe()));
        let counts: Vec<&str> = line.split_whitespace().skip(1).collect();
        assert_eq!(counts.len(), 2, "{line}");
        assert_eq!(counts[0], counts[1], "{table}: {line}");
        assert_ne!(counts[0], "0", "{table}: {line}");
    }
    let again = env.run(&["migrate-db", "--to", &target]);
    assert!(
        !again.status.success() && again.stderr.contains("not empty"),
        "a non-empty target is refused: {}",
        again.describe()
    );
    let config = std::fs::read_to_string(&env.config).expect("read config");
    env.write_raw_config(&config.replace(&env.database, &target));
    env.once();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        smtp.messages().len(),
        3,
        "nothing is sent again on PostgreSQL"
    );
    let mut items = pyongyang_items("move", 3);
    items.push(
        Item::new("move-new", "Pyongyang report move new")
            .published_ago(Duration::from_secs(30))
            .description("Officials in Pyongyang said more."),
    );
    feed.serve("/feed.xml", Route::rss(rss(&items)));
    env.once();
    let mails = smtp.wait_for_exactly(4, Duration::from_secs(10), Duration::from_millis(300));
    assert_eq!(
        mails[3].subject().as_deref(),
        Some(format!("[{WATCH}] Pyongyang report move new").as_str())
    );
}

#[test]
fn a_server_refusing_the_configuration_is_logged_at_error_with_what_to_change() {
    // security = "starttls" against a server that does not offer it: waiting will not heal
    // it, so it is an ERROR naming the server and the fix, not "unavailable; paused".
    let smtp = SmtpServer::start();
    let (_feed, feed_url) = feed_with(&pyongyang_items("mode", 1));
    let env = Env::new();
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\ntimeout = \"5s\"\n",
            smtp.port()
        ),
        email: "",
        watch: "",
    });
    let run = env.run(&["once"]);
    assert!(!run.status.success(), "{}", run.describe());
    let hint = format!(
        "127.0.0.1:{}: the server does not offer STARTTLS: set security = \\\"none\\\" for a \
         local relay or \\\"tls\\\" for port 465",
        smtp.port()
    );
    let logged = run.stderr.lines().find(|line| {
        line.contains("ERROR") && line.contains("the mail server refuses this configuration")
    });
    let logged = logged.unwrap_or_else(|| panic!("no ERROR line\n{}", run.describe()));
    assert!(
        logged.contains(&hint) || logged.contains(&hint.replace("\\\"", "\"")),
        "{logged}\n{}",
        run.describe()
    );
    assert!(
        !run.stderr
            .contains("mail server unavailable; delivery paused"),
        "{}",
        run.describe()
    );
    assert!(smtp.messages().is_empty());
    let alerts = env.alerts(&[]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["status"], "queued", "{alerts:#?}");
}

#[test]
fn the_daemon_logs_a_refused_login_at_error_once_then_warns_while_it_lasts() {
    const USER: &str = "alice@example.org";
    let smtp = SmtpServer::builder()
        .starttls(true)
        .auth(USER, "the-right-one")
        .start();
    let (_feed, feed_url) = feed_with(&pyongyang_items("again", 1));
    let env = Env::new().var("NW_TEST_SMTP_PASSWORD", "a-wrong-one");
    env.write_config(&Setup {
        feed_url: &feed_url,
        smtp: format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nusername = \"{USER}\"\n\
             password_env = \"NW_TEST_SMTP_PASSWORD\"\nca_file = '{}'\ntimeout = \"5s\"\n",
            smtp.port(),
            smtp.ca_pem_path().display()
        ),
        email: "retry_initial = \"1s\"\nretry_max = \"1s\"\n",
        watch: "",
    });
    let mut daemon = env.daemon();
    let reminded = wait_until(Duration::from_secs(30), || {
        daemon
            .stderr()
            .contains("the mail server still refuses this configuration")
    });
    let (status, _) = daemon.terminate(Duration::from_secs(20));
    let stderr = daemon.stderr();
    assert!(reminded, "no reminder within 30 s\n{stderr}");
    assert!(status.success(), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("refuses this configuration"))
        .collect();
    assert!(errors.len() >= 2, "{stderr}");
    assert!(
        errors[0].contains("ERROR")
            && errors[0].contains("authentication refused (")
            && errors[0].contains("check [email.smtp] username and the password"),
        "{stderr}"
    );
    assert!(
        errors[1..].iter().all(|line| line.contains(" WARN ")),
        "{stderr}"
    );
    assert!(!stderr.contains("a-wrong-one"), "{stderr}");
    assert!(smtp.messages().is_empty());
}
