//! `SmtpServer`: a real SMTP server on loopback for integration tests, built
//! on `mailin-embedded` (blocking I/O, its own thread pool).
//!
//! ```ignore
//! let smtp = SmtpServer::builder().starttls(true).auth("user", "secret").start();
//! // configure the daemon: host 127.0.0.1, port smtp.port(),
//! // STARTTLS with ca_file = smtp.ca_pem_path(), user/secret
//! let mails = smtp.wait_for(1, Duration::from_secs(10));
//! assert_eq!(mails[0].subject().as_deref(), Some("[newswatch] 1 new match"));
//! ```
//!
//! What mailin-embedded 0.8 / mailin 0.6 can and cannot do (read from source):
//! * `Server::serve()` blocks forever; there is no way to stop it or close
//!   its listener. So the public port is served by a small TCP forwarder in
//!   front of mailin (mailin itself listens on a private ephemeral port):
//!   [`SmtpServer::stop`] closes the public listener and cuts every open
//!   connection (the port then refuses connections), [`SmtpServer::resume`]
//!   binds the same port again. The private mailin instance lives until the
//!   test process exits (one idle thread blocked in `accept`).
//! * STARTTLS: enabled by `with_ssl(SslConfig::Trusted{cert,key,chain})`
//!   (PEM *files*: certificate, PKCS#8 key, chain). The server config is built
//!   with `rustls::ServerConfig::builder()`, i.e. the process-default crypto
//!   provider; since both `ring` and `aws-lc-rs` are compiled into the test
//!   binaries, one must be installed first — [`SmtpServer::builder`]'s
//!   `start` installs ring's (ignoring "already installed").
//! * AUTH (PLAIN, LOGIN) is only advertised and accepted *after* STARTTLS;
//!   mailin-embedded has no switch for plaintext auth (mailin has
//!   `insecure_enable_plaintext_auth`, but mailin-embedded does not expose
//!   it). With AUTH enabled and no STARTTLS every `MAIL FROM` gets `503`,
//!   so `.auth(..)` without `.starttls(true)` panics in `start()`.
//!   Before authenticating, `MAIL FROM` gets `503 Bad sequence of commands`
//!   (not `530`). Bad credentials get `535`.
//! * Quirks of mailin's parser: `MAIL FROM:<>` (null sender) and any
//!   `MAIL`/`RCPT` parameter other than `BODY=8BITMIME|7BIT` (e.g. `SIZE=`)
//!   are `500 Syntax error`; `HELO` is rejected when AUTH is enabled (use
//!   `EHLO`); `RSET` (or a second `EHLO`) in an authenticated session makes
//!   the next `MAIL FROM` fail with `503`. lettre sends none of these.
//! * A `421` reply from the failure injection closes the connection.
//! * An error reply to the final `.` of `DATA` leaves a mailin session in
//!   DATA mode (later commands are swallowed as message text, the client
//!   hangs), so injected `DataEnd` failures close the connection after the
//!   reply.

use std::fmt;
use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mailin_embedded::response::{AUTH_OK, INVALID_CREDENTIALS, OK};
use mailin_embedded::{Action, AuthMechanism, Handler, Response, Server, SslConfig};

/// One message accepted by the server (after a successful `DATA`).
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// Envelope recipients (`RCPT TO`), without angle brackets.
    pub to: Vec<String>,
    /// The raw RFC 5322 message as transmitted (CRLF line ends, dot-unstuffed).
    pub data: Vec<u8>,
}

impl fmt::Debug for ReceivedMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedMail")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", &self.subject())
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl ReceivedMail {
    /// The message as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The first header with that name (case-insensitive), unfolded, raw
    /// (RFC 2047 encoded words are left as they are).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    /// All headers with that name, unfolded, raw.
    pub fn headers(&self, name: &str) -> Vec<String> {
        let (head, _) = split_message(&self.data);
        parse_headers(head)
            .into_iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .collect()
    }

    /// The first header with that name, unfolded, with RFC 2047 encoded
    /// words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`) decoded.
    pub fn header_decoded(&self, name: &str) -> Option<String> {
        self.header(name).map(|v| decode_rfc2047(&v))
    }

    /// The decoded `Subject`.
    pub fn subject(&self) -> Option<String> {
        self.header_decoded("Subject")
    }

    /// Best-effort text of the first `text/plain` part (or of the message
    /// if it is not multipart), with `Content-Transfer-Encoding`
    /// (base64 / quoted-printable) undone and line ends normalised to `\n`.
    /// Charset is assumed UTF-8.
    pub fn body_text(&self) -> Option<String> {
        find_part(&self.data, "text/plain", 0).or_else(|| {
            // Not multipart and no Content-Type: the body itself.
            let (head, body) = split_message(&self.data);
            let headers = parse_headers(head);
            let has_ct = headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
            (!has_ct).then(|| decode_body(&headers, body))
        })
    }

    /// Best-effort text of the first `text/html` part, decoded like
    /// [`ReceivedMail::body_text`].
    pub fn body_html(&self) -> Option<String> {
        find_part(&self.data, "text/html", 0)
    }
}

/// At which SMTP step an injected failure answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpStage {
    /// `MAIL FROM`
    MailFrom,
    /// every `RCPT TO`
    RcptTo,
    /// the final `.` of `DATA`: the message is not recorded and the server
    /// closes the connection after the reply (mailin cannot leave DATA mode
    /// after an error reply, see the module docs)
    DataEnd,
}

/// How the server misbehaves on new connections (see [`SmtpServer::set_stall`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stall {
    /// Accepts the connection and never says a word (a hung MTA).
    Silent,
    /// Answers, but one byte of its replies per this interval (a server crawling).
    Trickle(Duration),
}

#[derive(Clone, Debug)]
struct Failure {
    stage: SmtpStage,
    code: u16,
    message: String,
    /// `None`: until cleared; `Some(n)`: the next `n` times.
    remaining: Option<usize>,
}

/// The reply to a refused recipient's `RCPT TO`, and for how many more times (`None`: always).
type Refusal = (u16, String, Option<usize>);

struct Shared {
    mails: Mutex<Vec<ReceivedMail>>,
    arrived: Condvar,
    failure: Mutex<Option<Failure>>,
    delay: Mutex<Duration>,
    credentials: Option<(String, String)>,
    events: Mutex<Vec<String>>,
    connections: AtomicUsize,
    stall: Mutex<Option<Stall>>,
    /// Address (lower-case) → the reply to its `RCPT TO`, and for how many more times.
    refused_recipients: Mutex<std::collections::HashMap<String, Refusal>>,
}

impl Shared {
    fn event(&self, e: String) {
        self.events.lock().unwrap().push(e);
    }

    /// The injected failure for `stage`, consuming one use if counted.
    fn failure(&self, stage: SmtpStage) -> Option<Response> {
        let mut slot = self.failure.lock().unwrap();
        let f = slot.as_mut().filter(|f| f.stage == stage)?;
        let mut res = Response::custom(f.code, f.message.clone());
        if stage == SmtpStage::DataEnd {
            // mailin stays in DATA mode after an error reply to the final
            // `.`, swallowing every later command as message text; closing
            // the connection after the reply is the only sane outcome.
            res.action = Action::Close;
        }
        if let Some(n) = f.remaining.as_mut() {
            *n -= 1;
            if *n == 0 {
                *slot = None;
            }
        }
        drop(slot);
        self.event(format!("injected {} at {stage:?}", res.code));
        Some(res)
    }

    /// The reply injected for this recipient, consuming one use if counted.
    fn refusal_of(&self, to: &str) -> Option<Response> {
        let address = to.trim_matches(['<', '>']).to_lowercase();
        let mut refused = self.refused_recipients.lock().unwrap();
        let (code, message, remaining) = refused.get_mut(&address)?;
        let response = Response::custom(*code, message.clone());
        if let Some(n) = remaining.as_mut() {
            *n -= 1;
            if *n == 0 {
                refused.remove(&address);
            }
        }
        drop(refused);
        self.event(format!("injected {} for {address}", response.code));
        Some(response)
    }

    fn check_credentials(&self, mechanism: &str, user: &str, password: &str) -> Response {
        let ok = self
            .credentials
            .as_ref()
            .is_some_and(|(u, p)| u == user && p == password);
        self.event(format!(
            "AUTH {mechanism} {user}: {}",
            if ok { "ok" } else { "rejected" }
        ));
        if ok { AUTH_OK } else { INVALID_CREDENTIALS }
    }
}

#[derive(Clone)]
struct MailHandler {
    shared: Arc<Shared>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for MailHandler {
    fn helo(&mut self, _ip: IpAddr, domain: &str) -> Response {
        self.shared.event(format!("EHLO {domain}"));
        OK
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.shared.event(format!("MAIL FROM {from}"));
        self.shared.failure(SmtpStage::MailFrom).unwrap_or(OK)
    }

    fn rcpt(&mut self, to: &str) -> Response {
        self.shared.event(format!("RCPT TO {to}"));
        if let Some(refusal) = self.shared.refusal_of(to) {
            return refusal;
        }
        self.shared.failure(SmtpStage::RcptTo).unwrap_or(OK)
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let delay = *self.shared.delay.lock().unwrap();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        if let Some(res) = self.shared.failure(SmtpStage::DataEnd) {
            return res;
        }
        let mail = ReceivedMail {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        };
        self.shared
            .event(format!("accepted {:?}", mail.subject().unwrap_or_default()));
        self.shared.mails.lock().unwrap().push(mail);
        self.shared.arrived.notify_all();
        OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, user: &str, password: &str) -> Response {
        self.shared.check_credentials("PLAIN", user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.shared.check_credentials("LOGIN", user, password)
    }
}

/// Options for [`SmtpServer`]; see [`SmtpServer::builder`].
#[derive(Clone, Debug, Default)]
pub struct SmtpServerBuilder {
    starttls: bool,
    auth: Option<(String, String)>,
    delay: Duration,
    port: u16,
}

impl SmtpServerBuilder {
    /// Offer STARTTLS with a freshly generated CA and a server certificate
    /// for `localhost` and `127.0.0.1` (see [`SmtpServer::ca_pem_path`]).
    pub fn starttls(mut self, on: bool) -> Self {
        self.starttls = on;
        self
    }

    /// Require AUTH PLAIN or LOGIN with these credentials (others get
    /// `535`). Needs `.starttls(true)`: mailin only offers AUTH over TLS.
    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Sleep this long at the end of `DATA` before answering (slow server).
    pub fn delay_per_message(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Listen on this port of 127.0.0.1 (e.g. from [`super::reserve_port`]);
    /// default: a random free port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Starts the server; it accepts connections when this returns.
    /// Panics if the port cannot be bound.
    pub fn start(self) -> SmtpServer {
        assert!(
            self.auth.is_none() || self.starttls,
            "SmtpServer: .auth() needs .starttls(true): mailin-embedded only offers AUTH after STARTTLS"
        );
        super::install_crypto_provider();
        let shared = Arc::new(Shared {
            mails: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            failure: Mutex::new(None),
            delay: Mutex::new(self.delay),
            credentials: self.auth.clone(),
            events: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            stall: Mutex::new(None),
            refused_recipients: Mutex::new(std::collections::HashMap::new()),
        });
        let handler = MailHandler {
            shared: Arc::clone(&shared),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(handler);
        server.with_name("localhost").with_num_threads(16);
        let tls = self.starttls.then(TlsFiles::generate);
        if let Some(tls) = &tls {
            server
                .with_ssl(SslConfig::Trusted {
                    cert_path: path_string(&tls.cert),
                    key_path: path_string(&tls.key),
                    chain_path: path_string(&tls.ca),
                })
                .expect("SmtpServer: TLS setup");
        }
        if self.auth.is_some() {
            server
                .with_auth(AuthMechanism::Plain)
                .with_auth(AuthMechanism::Login);
        }
        let backend_listener =
            TcpListener::bind("127.0.0.1:0").expect("SmtpServer: bind backend port");
        let backend = backend_listener.local_addr().expect("backend addr");
        server.with_tcp_listener(backend_listener);
        std::thread::Builder::new()
            .name(format!("smtp-backend-{}", backend.port()))
            .spawn(move || {
                if let Err(e) = server.serve() {
                    eprintln!("SmtpServer backend on {backend} stopped: {e}");
                }
            })
            .expect("SmtpServer: spawn backend");

        let front = Front::start(self.port, backend, Arc::clone(&shared));
        SmtpServer {
            port: front.addr.port(),
            shared,
            backend,
            tls,
            front: Mutex::new(Some(front)),
        }
    }
}

fn path_string(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_owned()
}

struct TlsFiles {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    ca_pem: String,
}

impl TlsFiles {
    fn generate() -> TlsFiles {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
            ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::default();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name = DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "newswatch test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA cert");

        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server cert params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &ca).expect("server cert");

        let dir = tempfile::tempdir().expect("temp dir for TLS files");
        let ca_pem = ca.pem();
        let write = |name: &str, contents: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, contents).expect("write PEM");
            p
        };
        TlsFiles {
            ca: write("ca.pem", &ca_pem),
            cert: write("cert.pem", &cert.pem()),
            key: write("key.pem", &key.serialize_pem()),
            ca_pem,
            _dir: dir,
        }
    }
}

/// A real SMTP server on 127.0.0.1 (see the module docs). Dropping it stops
/// it and frees its port.
pub struct SmtpServer {
    port: u16,
    shared: Arc<Shared>,
    backend: SocketAddr,
    tls: Option<TlsFiles>,
    front: Mutex<Option<Front>>,
}

impl SmtpServer {
    /// Options: `.starttls(true)`, `.auth(user, pw)`,
    /// `.delay_per_message(d)`, `.port(p)`, then `.start()`.
    pub fn builder() -> SmtpServerBuilder {
        SmtpServerBuilder::default()
    }

    /// A plain server (no TLS, no AUTH) on a random port.
    pub fn start() -> SmtpServer {
        SmtpServer::builder().start()
    }

    /// The public port (stable across [`SmtpServer::stop`]/[`SmtpServer::resume`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// PEM file of the CA that signed the server certificate (for the
    /// client's `ca_file`). Panics unless started with `.starttls(true)`.
    pub fn ca_pem_path(&self) -> &Path {
        &self.tls_files().ca
    }

    /// Contents of [`SmtpServer::ca_pem_path`].
    pub fn ca_pem(&self) -> &str {
        &self.tls_files().ca_pem
    }

    fn tls_files(&self) -> &TlsFiles {
        self.tls
            .as_ref()
            .expect("SmtpServer was started without .starttls(true)")
    }

    /// All messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.mails.lock().unwrap().clone()
    }

    /// Forgets the messages received so far.
    pub fn clear_messages(&self) {
        self.shared.mails.lock().unwrap().clear();
    }

    /// Blocks until at least `n` messages have arrived and returns all of
    /// them; panics with what arrived (and the SMTP event log) if that takes
    /// longer than `timeout`. Blocks the calling thread: in a
    /// `#[tokio::test]` that runs the daemon in-process use
    /// [`SmtpServer::wait_for_async`].
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        let mut mails = self.shared.mails.lock().unwrap();
        loop {
            if mails.len() >= n {
                return mails.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let got = mails.clone();
                drop(mails);
                panic!(
                    "SmtpServer on port {}: expected >= {n} messages within {timeout:?}, got {}: {got:#?}\nSMTP events: {:#?}",
                    self.port,
                    got.len(),
                    self.events()
                );
            }
            mails = self
                .shared
                .arrived
                .wait_timeout(mails, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Async [`SmtpServer::wait_for`]: polls every 20 ms, yielding to the
    /// runtime in between.
    pub async fn wait_for_async(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        super::wait_until_async(timeout, || self.shared.mails.lock().unwrap().len() >= n).await;
        self.wait_for(n, Duration::ZERO)
    }

    /// [`SmtpServer::wait_for`] `n`, then checks that no further message
    /// arrives during `settle` (an intentional wait: "exactly once").
    pub fn wait_for_exactly(
        &self,
        n: usize,
        timeout: Duration,
        settle: Duration,
    ) -> Vec<ReceivedMail> {
        self.wait_for(n, timeout);
        std::thread::sleep(settle);
        let mails = self.messages();
        assert_eq!(
            mails.len(),
            n,
            "SmtpServer: expected exactly {n} messages, got {}: {mails:#?}",
            mails.len()
        );
        mails
    }

    /// Makes every subsequent `MAIL FROM` answer `code message` (e.g.
    /// `Some((451, "try later".into()))`, `Some((550, "no".into()))`) until
    /// cleared with `None`.
    pub fn set_failure(&self, failure: Option<(u16, String)>) {
        self.set_failure_at(SmtpStage::MailFrom, failure);
    }

    /// Like [`SmtpServer::set_failure`] at a chosen step.
    pub fn set_failure_at(&self, stage: SmtpStage, failure: Option<(u16, String)>) {
        *self.shared.failure.lock().unwrap() = failure.map(|(code, message)| Failure {
            stage,
            code,
            message,
            remaining: None,
        });
    }

    /// Makes only the next `times` occurrences of `stage` answer
    /// `code message`, then behaves normally again.
    pub fn fail_next(&self, times: usize, stage: SmtpStage, code: u16, message: &str) {
        *self.shared.failure.lock().unwrap() = (times > 0).then(|| Failure {
            stage,
            code,
            message: message.to_owned(),
            remaining: Some(times),
        });
    }

    /// Makes `RCPT TO` for `address` answer `code message`: always (`times = None`) or the
    /// next `times` times. Other recipients are not affected.
    pub fn refuse_recipient(&self, address: &str, code: u16, message: &str, times: Option<usize>) {
        self.shared
            .refused_recipients
            .lock()
            .unwrap()
            .insert(address.to_lowercase(), (code, message.to_owned(), times));
    }

    /// Makes new connections stall (`Some`) or behave again (`None`). Connections already
    /// stalled stay so: a hung connection does not heal when the server does.
    pub fn set_stall(&self, stall: Option<Stall>) {
        *self.shared.stall.lock().unwrap() = stall;
    }

    /// Changes the per-message delay at run time.
    pub fn set_delay_per_message(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }

    /// What happened so far, for assertions and failure messages:
    /// `"connect"`, `"EHLO x"`, `"AUTH PLAIN user: ok"`, `"MAIL FROM a@b"`,
    /// `"RCPT TO c@d"`, `"injected 451 at MailFrom"`, `"accepted \"subject\""`.
    pub fn events(&self) -> Vec<String> {
        self.shared.events.lock().unwrap().clone()
    }

    /// Number of TCP connections accepted on the public port.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Closes the public port (new connections are refused) and cuts every
    /// open connection. Received messages are kept. No-op if stopped.
    pub fn stop(&self) {
        if let Some(front) = self.front.lock().unwrap().take() {
            front.stop();
        }
    }

    /// Listens on the same port again after [`SmtpServer::stop`]. Panics if
    /// the port was taken meanwhile. No-op if running.
    pub fn resume(&self) {
        let mut front = self.front.lock().unwrap();
        if front.is_none() {
            *front = Some(Front::start(
                self.port,
                self.backend,
                Arc::clone(&self.shared),
            ));
        }
    }

    /// Whether the public port is currently open.
    pub fn is_running(&self) -> bool {
        self.front.lock().unwrap().is_some()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The public listener: forwards each connection to the mailin backend.
struct Front {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<Conn>>>,
    thread: JoinHandle<()>,
}

struct Conn {
    client: TcpStream,
    backend: TcpStream,
    live_pipes: Arc<AtomicUsize>,
}

impl Front {
    fn start(port: u16, backend: SocketAddr, shared: Arc<Shared>) -> Front {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("SmtpServer: cannot bind 127.0.0.1:{port}: {e}"));
        let addr = listener.local_addr().expect("SmtpServer: local_addr");
        let stopping = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<Conn>>> = Arc::default();
        let thread = {
            let stopping = Arc::clone(&stopping);
            let conns = Arc::clone(&conns);
            std::thread::Builder::new()
                .name(format!("smtp-front-{}", addr.port()))
                .spawn(move || {
                    for client in listener.incoming() {
                        if stopping.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(client) = client else { continue };
                        let stall = *shared.stall.lock().unwrap();
                        if stall == Some(Stall::Silent) {
                            shared.connections.fetch_add(1, Ordering::SeqCst);
                            shared.event("connect (silent)".to_owned());
                            hold_silently(&client, &conns);
                            continue;
                        }
                        let Ok(server) = TcpStream::connect(backend) else {
                            continue;
                        };
                        shared.connections.fetch_add(1, Ordering::SeqCst);
                        shared.event("connect".to_owned());
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let live_pipes = Arc::new(AtomicUsize::new(2));
                        let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
                            client.try_clone(),
                            server.try_clone(),
                            client.try_clone(),
                            server.try_clone(),
                        ) else {
                            continue;
                        };
                        pipe(c2, s2, Arc::clone(&live_pipes));
                        match stall {
                            Some(Stall::Trickle(every)) => {
                                shared.event("connect (trickling)".to_owned());
                                trickle(s3, c3, every, Arc::clone(&live_pipes));
                            }
                            _ => pipe(s3, c3, Arc::clone(&live_pipes)),
                        }
                        let mut conns = conns.lock().unwrap();
                        conns.retain(|c| c.live_pipes.load(Ordering::SeqCst) > 0);
                        conns.push(Conn {
                            client,
                            backend: server,
                            live_pipes,
                        });
                    }
                    // Dropping the listener here frees the port.
                })
                .expect("SmtpServer: spawn front")
        };
        Front {
            addr,
            stopping,
            conns,
            thread,
        }
    }

    fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop; it sees the flag and exits.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = self.thread.join();
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.client.shutdown(Shutdown::Both);
            let _ = c.backend.shutdown(Shutdown::Both);
        }
    }
}

/// Keeps a connection open without a word, reading and dropping what the client sends, until
/// the client or [`Front::stop`] closes it.
fn hold_silently(client: &TcpStream, conns: &Mutex<Vec<Conn>>) {
    let (Ok(mut reader), Ok(held)) = (client.try_clone(), client.try_clone()) else {
        return;
    };
    let live = Arc::new(AtomicUsize::new(1));
    let (Ok(backend), live_reader) = (client.try_clone(), Arc::clone(&live)) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = io::copy(&mut reader, &mut io::sink());
        live_reader.fetch_sub(1, Ordering::SeqCst);
    });
    conns.lock().unwrap().push(Conn {
        client: held,
        backend,
        live_pipes: live,
    });
}

/// Like [`pipe`], one byte per `every`.
fn trickle(mut from: TcpStream, mut to: TcpStream, every: Duration, live: Arc<AtomicUsize>) {
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        while let Ok(1) = io::Read::read(&mut from, &mut byte) {
            std::thread::sleep(every);
            if io::Write::write_all(&mut to, &byte).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
        live.fetch_sub(1, Ordering::SeqCst);
    });
}

fn pipe(mut from: TcpStream, mut to: TcpStream, live: Arc<AtomicUsize>) {
    std::thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
        live.fetch_sub(1, Ordering::SeqCst);
    });
}

// ---------------------------------------------------------------------------
// Minimal MIME reading (best effort, for assertions).
// ---------------------------------------------------------------------------

/// Splits at the first empty line: (header block, body).
fn split_message(data: &[u8]) -> (&[u8], &[u8]) {
    for (i, w) in data.windows(2).enumerate() {
        if w == b"\n\n" {
            return (&data[..i + 1], &data[i + 2..]);
        }
        if i + 4 <= data.len() && &data[i..i + 4] == b"\r\n\r\n" {
            return (&data[..i + 2], &data[i + 4..]);
        }
    }
    (data, &[])
}

/// Header fields in order, unfolded (`CRLF` + whitespace -> the whitespace).
fn parse_headers(head: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(head);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push_str(line);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_owned(), v.trim_start().to_owned()));
        }
    }
    for (_, v) in &mut out {
        let trimmed = v.trim_end().len();
        v.truncate(trimmed);
    }
    out
}

fn header_param(value: &str, param: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(param)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// First part (depth-first) whose Content-Type starts with `mime`, decoded.
fn find_part(entity: &[u8], mime: &str, depth: usize) -> Option<String> {
    if depth > 8 {
        return None;
    }
    let (head, body) = split_message(entity);
    let headers = parse_headers(head);
    let ct = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "text/plain".to_owned());
    let ct_lower = ct.to_ascii_lowercase();
    if ct_lower.starts_with("multipart/") {
        let boundary = header_param(&ct, "boundary")?;
        let delim = format!("--{boundary}");
        let text = body;
        let mut parts = Vec::new();
        let mut start: Option<usize> = None;
        let mut pos = 0;
        while pos < text.len() {
            let end = text[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(text.len(), |i| pos + i + 1);
            let line = &text[pos..end];
            let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
            let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
            if trimmed.starts_with(delim.as_bytes()) {
                if let Some(s) = start {
                    // The line break before the delimiter belongs to it.
                    let mut e = pos;
                    if e > s && text[e - 1] == b'\n' {
                        e -= 1;
                        if e > s && text[e - 1] == b'\r' {
                            e -= 1;
                        }
                    }
                    parts.push(&text[s..e]);
                }
                if trimmed[delim.len()..].starts_with(b"--") {
                    break;
                }
                start = Some(end);
            }
            pos = end;
        }
        parts
            .into_iter()
            .find_map(|p| find_part(p, mime, depth + 1))
    } else if ct_lower.starts_with(mime) {
        Some(decode_body(&headers, body))
    } else {
        None
    }
}

fn decode_body(headers: &[(String, String)], body: &[u8]) -> String {
    let cte = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-transfer-encoding"))
        .map(|(_, v)| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let bytes = match cte.as_str() {
        "base64" => base64_decode(body),
        "quoted-printable" => qp_decode(body, false),
        _ => body.to_vec(),
    };
    String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
}

fn base64_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => continue, // whitespace, line breaks, padding
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Quoted-printable; `underscore_is_space` for RFC 2047 "Q" words.
fn qp_decode(input: &[u8], underscore_is_space: bool) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'=' => {
                let rest = &input[i + 1..];
                if rest.starts_with(b"\r\n") {
                    i += 3; // soft line break
                } else if rest.starts_with(b"\n") {
                    i += 2;
                } else if let (Some(h), Some(l)) = (
                    rest.first().copied().and_then(hex),
                    rest.get(1).copied().and_then(hex),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                } else {
                    out.push(b'=');
                    i += 1;
                }
            }
            b'_' if underscore_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Decodes RFC 2047 encoded words; whitespace between adjacent encoded
/// words is dropped. Charsets other than UTF-8/ASCII are decoded lossily.
pub fn decode_rfc2047(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut pending_ws = String::new();
    let mut last_was_word = false;
    loop {
        let Some(start) = rest.find("=?") else {
            out.push_str(&pending_ws);
            out.push_str(rest);
            return out;
        };
        let (before, candidate) = rest.split_at(start);
        let decoded = parse_encoded_word(candidate);
        match decoded {
            Some((text, len)) => {
                if !(last_was_word && before.chars().all(char::is_whitespace)) {
                    out.push_str(&pending_ws);
                    out.push_str(before);
                }
                pending_ws.clear();
                out.push_str(&text);
                rest = &candidate[len..];
                last_was_word = true;
                // Whitespace after a word is held back until we know whether
                // another encoded word follows.
                let ws_len = rest.len() - rest.trim_start().len();
                pending_ws.push_str(&rest[..ws_len]);
                rest = &rest[ws_len..];
            }
            None => {
                out.push_str(&pending_ws);
                pending_ws.clear();
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
                last_was_word = false;
            }
        }
    }
}

/// `=?charset?B|Q?text?=` at the start of `s` -> (decoded, length consumed).
fn parse_encoded_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (_charset, rest) = inner.split_once('?')?;
    let (encoding, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let text = &rest[..end];
    if text.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64_decode(text.as_bytes()),
        "Q" | "q" => qp_decode(text.as_bytes(), true),
        _ => return None,
    };
    let consumed = s.len() - rest.len() + end + 2;
    Some((String::from_utf8_lossy(&bytes).into_owned(), consumed))
}
