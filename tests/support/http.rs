//! `FeedServer`: a real HTTP/1.1 server on loopback for integration tests.
//!
//! The server is built on axum/hyper and runs on its own tokio runtime (two
//! worker threads) in a background OS thread, so it works the same from a plain
//! `#[test]`, from `#[tokio::test]` and while the test blocks on a child
//! process (`Command::output()`). Every path's behaviour is configured with a
//! [`Route`] and can be replaced at any time; every request is recorded.
//!
//! ```ignore
//! let server = FeedServer::start();
//! server.serve("/a.xml", Route::rss(support::rss(&[Item::new("1", "Hello")])));
//! server.serve("/old", Route::redirect("/a.xml", 301));
//! // ... run the daemon against server.url("/a.xml") ...
//! assert_eq!(server.hits("/a.xml"), 2);
//! assert!(server.requests("/a.xml")[1].header("if-none-match").is_some());
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::IntoFuture;
use std::hash::{Hash, Hasher};
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use futures_util::stream;

/// What a path of a [`FeedServer`] answers.
#[derive(Clone, Debug)]
pub enum Route {
    /// `200` with the body, a strong `ETag` (hash of the body) and a
    /// `Last-Modified` (the time [`FeedServer::serve`] was called, whole
    /// seconds). Conditional requests are honoured: `If-None-Match` matching
    /// the ETag (or `*`) gives `304`; without `If-None-Match`, an
    /// `If-Modified-Since` at or after `Last-Modified` gives `304`.
    Feed { body: Vec<u8>, content_type: String },
    /// Any status with extra headers and a body, e.g. `404`, `500`,
    /// `429` + `Retry-After`, `503`. A `200` here has no validators.
    Status {
        code: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A redirect (`301`/`302`/`303`/`307`/`308`) with `Location: to`,
    /// verbatim (relative like `/b.xml` or absolute via [`FeedServer::url`]).
    /// A loop is two paths redirecting to each other.
    Redirect { to: String, code: u16 },
    /// `200`, `Content-Type: application/rss+xml`, `Content-Encoding: gzip`,
    /// a ~1 MiB body that inflates to [`gzip_bomb_inflated_len`] (≥ 1 GiB)
    /// bytes: an RSS prefix followed by spaces. See [`gzip_bomb`].
    GzipBomb,
    /// `200`, `application/rss+xml`, chunked; an XML-looking body that never
    /// ends, produced as fast as the client reads, until it disconnects.
    Endless,
    /// `200`, `application/rss+xml`, chunked; the headers and the first byte
    /// are sent at once, then the body trickles at about `bytes_per_sec`
    /// forever (`bytes_per_sec <= 100`: one byte every `1/bytes_per_sec` s;
    /// above: `bytes_per_sec / 100` bytes every 10 ms).
    Trickle { bytes_per_sec: u32 },
    /// Wait `delay` before answering with `then` (the request is recorded on
    /// arrival). A delayed `Feed` keeps its conditional-GET behaviour.
    Delay { delay: Duration, then: Box<Route> },
}

impl Route {
    /// `Feed` with `Content-Type: application/rss+xml; charset=utf-8`.
    pub fn rss(xml: impl Into<String>) -> Route {
        Route::feed(xml.into(), "application/rss+xml; charset=utf-8")
    }

    /// `Feed` with `Content-Type: application/atom+xml; charset=utf-8`.
    pub fn atom(xml: impl Into<String>) -> Route {
        Route::feed(xml.into(), "application/atom+xml; charset=utf-8")
    }

    /// `Feed` with an arbitrary body and content type.
    pub fn feed(body: impl Into<Vec<u8>>, content_type: &str) -> Route {
        Route::Feed {
            body: body.into(),
            content_type: content_type.to_owned(),
        }
    }

    /// `Status` with no extra headers and an empty body.
    pub fn status(code: u16) -> Route {
        Route::Status {
            code,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `Status` with headers and a body, e.g.
    /// `Route::status_with(429, &[("Retry-After", "120")], "slow down")`.
    pub fn status_with(code: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Route {
        Route::Status {
            code,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        }
    }

    /// `Redirect` to `to` with the given status code.
    pub fn redirect(to: impl Into<String>, code: u16) -> Route {
        Route::Redirect {
            to: to.into(),
            code,
        }
    }

    /// Wraps this route in a [`Route::Delay`].
    pub fn delayed(self, delay: Duration) -> Route {
        Route::Delay {
            delay,
            then: Box::new(self),
        }
    }

    /// Panics (on the test thread, at `serve` time) if the route cannot be
    /// turned into a valid HTTP response.
    fn validate(&self) {
        match self {
            Route::Feed { content_type, .. } => {
                HeaderValue::from_str(content_type)
                    .unwrap_or_else(|e| panic!("invalid content type {content_type:?}: {e}"));
            }
            Route::Status { code, headers, .. } => {
                StatusCode::from_u16(*code)
                    .unwrap_or_else(|e| panic!("invalid status code {code}: {e}"));
                for (k, v) in headers {
                    HeaderName::from_bytes(k.as_bytes())
                        .unwrap_or_else(|e| panic!("invalid header name {k:?}: {e}"));
                    HeaderValue::from_str(v)
                        .unwrap_or_else(|e| panic!("invalid header value {v:?}: {e}"));
                }
            }
            Route::Redirect { to, code } => {
                StatusCode::from_u16(*code)
                    .unwrap_or_else(|e| panic!("invalid status code {code}: {e}"));
                HeaderValue::from_str(to)
                    .unwrap_or_else(|e| panic!("invalid redirect target {to:?}: {e}"));
            }
            Route::Trickle { bytes_per_sec } => {
                assert!(*bytes_per_sec > 0, "Trickle needs bytes_per_sec > 0");
            }
            Route::Delay { then, .. } => then.validate(),
            Route::GzipBomb | Route::Endless => {}
        }
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The path without the query, e.g. `/a.xml`.
    pub path: String,
    /// The raw query string without `?`, if any.
    pub query: Option<String>,
    /// All request headers in order; names are lower-case.
    pub headers: Vec<(String, String)>,
    /// When the request arrived.
    pub at: Instant,
}

impl RecordedRequest {
    /// The first header with that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Entry {
    route: Route,
    /// `Last-Modified` of a `Feed`: when `serve` was called, whole seconds.
    set_at: SystemTime,
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Entry>>,
    log: Mutex<Vec<RecordedRequest>>,
    logged: Condvar,
}

/// A real HTTP/1.1 server on `127.0.0.1` (see the module docs).
/// Unknown paths answer `404`. Dropping it stops the server, drops open
/// connections (including `Endless`/`Trickle` bodies) and frees the port.
pub struct FeedServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FeedServer {
    /// Starts a server on a random free port of 127.0.0.1. The port accepts
    /// connections as soon as this returns.
    pub fn start() -> FeedServer {
        FeedServer::start_on(0)
    }

    /// Starts a server on a given port of 127.0.0.1 (e.g. one obtained
    /// earlier with [`super::reserve_port`], to bring a "down" server up
    /// later). `0` means any free port. Panics if the port cannot be bound.
    pub fn start_on(port: u16) -> FeedServer {
        let listener = StdTcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("FeedServer: cannot bind 127.0.0.1:{port}: {e}"));
        listener
            .set_nonblocking(true)
            .expect("FeedServer: set_nonblocking");
        let addr = listener.local_addr().expect("FeedServer: local_addr");
        let shared = Arc::new(Shared::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("feed-server-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name(format!("feed-server-{}", addr.port()))
                    .enable_all()
                    .build()
                    .expect("FeedServer: tokio runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("FeedServer: tokio listener");
                    let app = Router::new().fallback(handle).with_state(state);
                    tokio::select! {
                        res = axum::serve(listener, app).into_future() => {
                            if let Err(e) = res {
                                eprintln!("FeedServer on {addr}: serve failed: {e}");
                            }
                        }
                        _ = rx => {}
                    }
                });
                // Dropping the runtime cancels the per-connection tasks,
                // which closes their sockets.
                drop(rt);
            })
            .expect("FeedServer: spawn thread");
        FeedServer {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` + `path` (`path` should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sets or replaces what `path` (without query) answers. Thread-safe;
    /// takes effect for the next request. Panics on an invalid route (bad
    /// status code or header).
    pub fn serve(&self, path: &str, route: Route) {
        route.validate();
        let set_at = whole_seconds(SystemTime::now());
        self.shared
            .routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), Entry { route, set_at });
    }

    /// Makes `path` answer `404` again (the default for unknown paths).
    pub fn remove(&self, path: &str) {
        self.shared.routes.lock().unwrap().remove(path);
    }

    /// All requests for `path` (query ignored), oldest first.
    pub fn requests(&self, path: &str) -> Vec<RecordedRequest> {
        self.shared
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// All requests for any path, oldest first.
    pub fn all_requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Number of requests for `path` so far.
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// Forgets all recorded requests.
    pub fn clear_requests(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// Blocks until `path` has been requested at least `n` times and returns
    /// its requests; panics with the request log if that takes longer than
    /// `timeout`. Blocks the calling thread: in a `#[tokio::test]` that runs
    /// the daemon in-process use [`FeedServer::wait_for_hits_async`].
    pub fn wait_for_hits(&self, path: &str, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let deadline = Instant::now() + timeout;
        let mut log = self.shared.log.lock().unwrap();
        loop {
            let hits: Vec<_> = log.iter().filter(|r| r.path == path).cloned().collect();
            if hits.len() >= n {
                return hits;
            }
            let now = Instant::now();
            if now >= deadline {
                let seen: Vec<String> = log
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect();
                panic!(
                    "FeedServer: expected >= {n} requests for {path} within {timeout:?}, got {}; all requests: {seen:?}",
                    hits.len()
                );
            }
            log = self
                .shared
                .logged
                .wait_timeout(log, deadline - now)
                .unwrap()
                .0;
        }
    }
}

impl FeedServer {
    /// Async [`FeedServer::wait_for_hits`]: polls every 20 ms, yielding to
    /// the runtime in between.
    pub async fn wait_for_hits_async(
        &self,
        path: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<RecordedRequest> {
        super::wait_until_async(timeout, || self.hits(path) >= n).await;
        self.wait_for_hits(path, n, Duration::ZERO)
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Formats an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(t: SystemTime) -> String {
    DateTime::<Utc>::from(t)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn parse_http_date(s: &str) -> Option<SystemTime> {
    DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|d| SystemTime::from(d.with_timezone(&Utc)))
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let recorded = RecordedRequest {
        method: req.method().as_str().to_owned(),
        path: path.clone(),
        query: req.uri().query().map(str::to_owned),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        at: Instant::now(),
    };
    shared.log.lock().unwrap().push(recorded);
    shared.logged.notify_all();

    let entry = shared
        .routes
        .lock()
        .unwrap()
        .get(&path)
        .map(|e| (e.route.clone(), e.set_at));
    let Some((mut route, set_at)) = entry else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    while let Route::Delay { delay, then } = route {
        tokio::time::sleep(delay).await;
        route = *then;
    }
    render(route, set_at, req.headers())
}

fn plain(code: StatusCode, body: &'static str) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = code;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

fn render(route: Route, set_at: SystemTime, req_headers: &HeaderMap) -> Response {
    match route {
        Route::Feed { body, content_type } => render_feed(body, &content_type, set_at, req_headers),
        Route::Status {
            code,
            headers,
            body,
        } => {
            let mut res = Response::new(Body::from(body));
            *res.status_mut() = StatusCode::from_u16(code).expect("validated");
            for (k, v) in headers {
                res.headers_mut().append(
                    HeaderName::from_bytes(k.as_bytes()).expect("validated"),
                    HeaderValue::from_str(&v).expect("validated"),
                );
            }
            res
        }
        Route::Redirect { to, code } => {
            let mut res = Response::new(Body::empty());
            *res.status_mut() = StatusCode::from_u16(code).expect("validated");
            res.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&to).expect("validated"),
            );
            res
        }
        Route::GzipBomb => {
            let mut res = Response::new(Body::from(Bytes::from_static(gzip_bomb())));
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, rss_content_type());
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            res
        }
        Route::Endless => {
            let head = Bytes::from_static(ENDLESS_HEAD.as_bytes());
            let chunk = Bytes::from(ENDLESS_ITEM.repeat(16 * 1024 / ENDLESS_ITEM.len()));
            let body = stream::once(async move { Ok::<_, Infallible>(head) }).chain(
                stream::repeat_with(move || Ok::<_, Infallible>(chunk.clone())),
            );
            streaming(Body::from_stream(body))
        }
        Route::Trickle { bytes_per_sec } => {
            let (interval, per_tick) = if bytes_per_sec <= 100 {
                (Duration::from_secs(1) / bytes_per_sec, 1usize)
            } else {
                (Duration::from_millis(10), (bytes_per_sec / 100) as usize)
            };
            let pattern = TRICKLE_PATTERN.as_bytes();
            let body = stream::unfold(
                (0usize, None::<tokio::time::Interval>),
                move |(pos, ticker)| async move {
                    let mut ticker = match ticker {
                        Some(t) => t,
                        None => tokio::time::interval(interval), // first tick is immediate
                    };
                    ticker.tick().await;
                    let chunk: Vec<u8> = (0..per_tick)
                        .map(|i| pattern[(pos + i) % pattern.len()])
                        .collect();
                    Some((
                        Ok::<_, Infallible>(Bytes::from(chunk)),
                        (pos + per_tick, Some(ticker)),
                    ))
                },
            );
            streaming(Body::from_stream(body))
        }
        Route::Delay { .. } => unreachable!("unwrapped by the caller"),
    }
}

fn rss_content_type() -> HeaderValue {
    HeaderValue::from_static("application/rss+xml; charset=utf-8")
}

fn streaming(body: Body) -> Response {
    let mut res = Response::new(body);
    res.headers_mut()
        .insert(header::CONTENT_TYPE, rss_content_type());
    res
}

const ENDLESS_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Endless</title><link>http://example.invalid/</link><description>never ends</description>\n";
const ENDLESS_ITEM: &str = "<item><title>Endless item</title><link>http://example.invalid/endless</link><description>This feed never ends.</description></item>\n";
const TRICKLE_PATTERN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Trickle</title><item><title>slow</title></item>\n";

fn render_feed(
    body: Vec<u8>,
    content_type: &str,
    last_modified: SystemTime,
    req: &HeaderMap,
) -> Response {
    let etag = etag_of(&body);
    let not_modified = if let Some(inm) = req.get(header::IF_NONE_MATCH) {
        let inm = String::from_utf8_lossy(inm.as_bytes());
        inm.split(',')
            .map(str::trim)
            .any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag.as_str()))
    } else if let Some(ims) = req.get(header::IF_MODIFIED_SINCE) {
        parse_http_date(&String::from_utf8_lossy(ims.as_bytes()))
            .is_some_and(|ims| last_modified <= ims)
    } else {
        false
    };
    let mut res = if not_modified {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        let mut res = Response::new(Body::from(body));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("validated"),
        );
        res
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
    h.insert(
        header::LAST_MODIFIED,
        HeaderValue::from_str(&http_date(last_modified)).expect("date"),
    );
    res
}

/// The strong ETag a `Route::Feed` with this body gets (quotes included).
pub fn etag_of(body: &[u8]) -> String {
    let mut h = std::hash::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:016x}-{:x}\"", h.finish(), body.len())
}

// ---------------------------------------------------------------------------
// Gzip bomb, hand-encoded (no compression crate is a direct dependency).
//
// gzip member = 10-byte header, DEFLATE stream, CRC-32, ISIZE.
// DEFLATE stream:
//   1. a stored block (BFINAL=0) holding BOMB_PREFIX (an RSS prefix ending
//      in one space);
//   2. a dynamic-Huffman block (BFINAL=1) whose literal/length alphabet has
//      only symbols 256 (end of block) and 285 (length 258), 1 bit each, and
//      whose distance alphabet has codes 0 and 1, 1 bit each. Each
//      "copy 258 bytes from distance 1" costs 2 bits, so every compressed
//      byte inflates to 1032 spaces (the maximum DEFLATE ratio).
// CRC-32 of the ~1 GiB output is computed with zlib's crc32_combine
// (GF(2) matrix method), not by hashing a gibibyte.
// Checked with Python: `gzip.GzipFile(fileobj=...)` inflates it fully and
// verifies CRC and length.
// ---------------------------------------------------------------------------

const BOMB_PREFIX: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Gzip bomb</title><description> ";
const BOMB_MIN_LEN: u64 = 1 << 30;
const BOMB_COPIES: u64 = (BOMB_MIN_LEN - BOMB_PREFIX.len() as u64).div_ceil(258);

/// Exact number of bytes [`gzip_bomb`] inflates to (a little over 1 GiB).
pub fn gzip_bomb_inflated_len() -> u64 {
    BOMB_PREFIX.len() as u64 + 258 * BOMB_COPIES
}

/// The bytes served by [`Route::GzipBomb`]: a valid gzip file of about
/// 1 MiB that inflates to [`gzip_bomb_inflated_len`] bytes (an RSS prefix
/// followed by spaces, so a streaming XML parser keeps reading).
pub fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(build_gzip_bomb)
}

struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    /// Writes `n` bits of `value`, least significant bit first.
    fn put(&mut self, value: u64, n: u32) {
        self.acc |= value << self.nbits;
        self.nbits += n;
        while self.nbits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.nbits -= 8;
        }
    }

    fn align(&mut self) {
        if self.nbits > 0 {
            self.out.push(self.acc as u8);
            self.acc = 0;
            self.nbits = 0;
        }
    }
}

fn build_gzip_bomb() -> Vec<u8> {
    let prefix = BOMB_PREFIX.as_bytes();
    let mut w = BitWriter {
        out: Vec::with_capacity(1_100_000),
        acc: 0,
        nbits: 0,
    };
    // gzip header: magic, CM=8 (deflate), FLG=0, MTIME=0, XFL=0, OS=255.
    w.out
        .extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

    // Block 1: stored, not final.
    w.put(0, 1); // BFINAL
    w.put(0b00, 2); // BTYPE = stored
    w.align();
    let len = prefix.len() as u16;
    w.out.extend_from_slice(&len.to_le_bytes());
    w.out.extend_from_slice(&(!len).to_le_bytes());
    w.out.extend_from_slice(prefix);

    // Block 2: dynamic Huffman, final.
    w.put(1, 1); // BFINAL
    w.put(0b10, 2); // BTYPE = dynamic
    w.put(286 - 257, 5); // HLIT: lit/len codes 0..=285
    w.put(2 - 1, 5); // HDIST: distance codes 0..=1
    w.put(18 - 4, 4); // HCLEN: 18 code-length code lengths
    // Code-length alphabet order; we use symbol 18 (zero run) and symbol 1
    // (length 1), both with 1-bit codes: symbol 1 -> `0`, symbol 18 -> `1`.
    const ORDER: [u8; 18] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1];
    for sym in ORDER {
        w.put(u64::from(sym == 18 || sym == 1), 3);
    }
    let zero_run = |w: &mut BitWriter, n: u64| {
        w.put(1, 1); // symbol 18
        w.put(n - 11, 7);
    };
    let length_one = |w: &mut BitWriter| w.put(0, 1); // symbol 1
    zero_run(&mut w, 138); // lit/len 0..=137
    zero_run(&mut w, 118); // lit/len 138..=255
    length_one(&mut w); // 256 (end of block)
    zero_run(&mut w, 28); // 257..=284
    length_one(&mut w); // 285 (length 258)
    length_one(&mut w); // distance code 0 (distance 1)
    length_one(&mut w); // distance code 1 (unused, completes the code)
    // Canonical codes: lit/len 256 -> `0`, 285 -> `1`; distance 0 -> `0`.
    // One copy = bits 1,0. Emit 8 copies bit by bit; after that the byte
    // pattern is periodic, so the bulk is pushed as whole bytes.
    let copy = |w: &mut BitWriter| w.put(0b01, 2);
    let mut left = BOMB_COPIES;
    for _ in 0..8 {
        copy(&mut w);
        left -= 1;
    }
    let pattern = *w.out.last().expect("bytes written");
    let whole = left / 4;
    w.out.resize(w.out.len() + whole as usize, pattern);
    left -= whole * 4;
    for _ in 0..left {
        copy(&mut w);
    }
    w.put(0, 1); // end of block
    w.align();

    let crc = crc32_combine(
        crc32(prefix),
        crc32_of_repeated(b' ', 258 * BOMB_COPIES),
        258 * BOMB_COPIES,
    );
    w.out.extend_from_slice(&crc.to_le_bytes());
    w.out
        .extend_from_slice(&(gzip_bomb_inflated_len() as u32).to_le_bytes());
    w.out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn gf2_times(mat: &[u32; 32], mut vec: u32) -> u32 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn gf2_square(mat: &[u32; 32]) -> [u32; 32] {
    std::array::from_fn(|n| gf2_times(mat, mat[n]))
}

/// zlib's `crc32_combine`: CRC of A||B from CRC(A), CRC(B) and len(B).
fn crc32_combine(mut crc1: u32, crc2: u32, mut len2: u64) -> u32 {
    if len2 == 0 {
        return crc1;
    }
    let mut odd = [0u32; 32];
    odd[0] = 0xedb8_8320;
    for (n, row) in odd.iter_mut().enumerate().skip(1) {
        *row = 1 << (n - 1);
    }
    let mut even = gf2_square(&odd); // 2 zero bits
    odd = gf2_square(&even); // 4 zero bits
    loop {
        even = gf2_square(&odd);
        if len2 & 1 != 0 {
            crc1 = gf2_times(&even, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
        odd = gf2_square(&even);
        if len2 & 1 != 0 {
            crc1 = gf2_times(&odd, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
    }
    crc1 ^ crc2
}

/// CRC-32 of `byte` repeated `n` times, by square-and-multiply.
fn crc32_of_repeated(byte: u8, mut n: u64) -> u32 {
    let mut acc = 0u32; // CRC of the empty string
    let (mut pow, mut pow_len) = (crc32(&[byte]), 1u64);
    while n > 0 {
        if n & 1 != 0 {
            acc = crc32_combine(acc, pow, pow_len);
        }
        n >>= 1;
        if n > 0 {
            pow = crc32_combine(pow, pow, pow_len);
            pow_len *= 2;
        }
    }
    acc
}
