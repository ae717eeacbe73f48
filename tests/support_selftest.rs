//! Proves the shared test support (tests/support/) works with real clients:
//! reqwest against `FeedServer`, lettre against `SmtpServer`.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use support::*;

fn client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent("newswatch-selftest/1")
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn feed_conditional_get() {
    let server = FeedServer::start();
    let xml = rss(&[
        Item::new("1", "Hello & <welcome>").description("a <b>bold</b> claim"),
        Item::new("2", "Second").published_ago(Duration::from_secs(3600)),
    ]);
    server.serve("/a.xml", Route::rss(xml.clone()));
    let http = client();

    let res = http.get(server.url("/a.xml")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let last_modified = res.headers()["last-modified"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(last_modified.ends_with(" GMT"), "{last_modified}");
    assert_eq!(
        res.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    let body = res.text().await.unwrap();
    assert_eq!(body, xml);
    assert!(body.contains("Hello &amp; &lt;welcome&gt;"));
    assert!(body.contains("<pubDate>"));

    // If-None-Match -> 304 with the same validators, no body.
    let res = http
        .get(server.url("/a.xml"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"], etag.as_str());
    assert!(res.bytes().await.unwrap().is_empty());

    // If-Modified-Since alone -> 304.
    let res = http
        .get(server.url("/a.xml?x=1"))
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);

    // A changed feed gets a new ETag; the old one no longer matches.
    server.serve("/a.xml", Route::atom(atom(&[Item::new("3", "Third")])));
    let res = http
        .get(server.url("/a.xml"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_ne!(res.headers()["etag"], etag.as_str());
    assert!(res.text().await.unwrap().contains("<entry>"));

    // The request log has method, path, query and headers.
    let reqs = server.requests("/a.xml");
    assert_eq!(server.hits("/a.xml"), 4);
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].header("user-agent"), Some("newswatch-selftest/1"));
    assert_eq!(reqs[0].header("If-None-Match"), None);
    assert_eq!(reqs[1].header("if-none-match"), Some(etag.as_str()));
    assert_eq!(reqs[2].query.as_deref(), Some("x=1"));
    assert_eq!(server.hits("/other"), 0);
}

#[tokio::test]
async fn redirects_statuses_and_delay() {
    let server = FeedServer::start();
    let http = client();
    server.serve("/new.xml", Route::rss(rss(&[])));
    server.serve("/old.xml", Route::redirect("/new.xml", 301));
    server.serve("/abs.xml", Route::redirect(server.url("/new.xml"), 308));
    server.serve("/loop-a", Route::redirect("/loop-b", 302));
    server.serve("/loop-b", Route::redirect("/loop-a", 307));
    server.serve(
        "/limited",
        Route::status_with(429, &[("Retry-After", "120")], "slow down"),
    );
    server.serve("/broken", Route::status(500));
    server.serve(
        "/slow.xml",
        Route::rss(rss(&[])).delayed(Duration::from_millis(300)),
    );

    let res = http.get(server.url("/old.xml")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.url().path(), "/new.xml");
    let res = http.get(server.url("/abs.xml")).send().await.unwrap();
    assert_eq!(res.url().path(), "/new.xml");
    assert_eq!(server.hits("/new.xml"), 2);

    let err = http.get(server.url("/loop-a")).send().await.unwrap_err();
    assert!(err.is_redirect(), "{err:?}");
    assert!(server.hits("/loop-a") >= 2 && server.hits("/loop-b") >= 2);

    let res = http.get(server.url("/limited")).send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "120");
    assert_eq!(res.text().await.unwrap(), "slow down");

    let res = http.get(server.url("/broken")).send().await.unwrap();
    assert_eq!(res.status(), 500);
    let res = http.get(server.url("/nothing-here")).send().await.unwrap();
    assert_eq!(res.status(), 404);

    let t = Instant::now();
    let res = http.get(server.url("/slow.xml")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    server.remove("/broken");
    let res = http.get(server.url("/broken")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn hostile_bodies() {
    let server = FeedServer::start();
    server.serve("/bomb.xml", Route::GzipBomb);
    server.serve("/endless.xml", Route::Endless);
    server.serve("/trickle.xml", Route::Trickle { bytes_per_sec: 10 });

    // The bomb on the wire: small, gzip-encoded, trailer says >= 1 GiB.
    let raw = {
        install_crypto_provider();
        reqwest::Client::builder().no_gzip().build().unwrap()
    };
    let res = raw.get(server.url("/bomb.xml")).send().await.unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let wire = res.bytes().await.unwrap();
    assert!(
        wire.len() < 2 << 20,
        "compressed bomb is {} bytes",
        wire.len()
    );
    assert_eq!(&wire[..2], &[0x1f, 0x8b]);
    let isize = u32::from_le_bytes(wire[wire.len() - 4..].try_into().unwrap());
    assert_eq!(
        u64::from(isize),
        support::http::gzip_bomb_inflated_len() % (1 << 32)
    );
    assert!(support::http::gzip_bomb_inflated_len() >= 1 << 30);

    // Through reqwest's gzip decoder: XML prefix, then it keeps inflating.
    let http = client();
    let mut res = http.get(server.url("/bomb.xml")).send().await.unwrap();
    let mut inflated = Vec::new();
    while inflated.len() < 8 << 20 {
        inflated.extend_from_slice(&res.chunk().await.unwrap().expect("bomb ended early"));
    }
    drop(res);
    assert!(inflated.starts_with(b"<?xml"));
    assert!(inflated[200..8 << 20].iter().all(|&b| b == b' '));

    // Endless: keeps coming. An unread endless response does not stall
    // other requests.
    let mut res = http.get(server.url("/endless.xml")).send().await.unwrap();
    server.serve("/ok.xml", Route::rss(rss(&[])));
    let ok = http.get(server.url("/ok.xml")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(
        server
            .wait_for_hits_async("/ok.xml", 1, Duration::from_secs(1))
            .await
            .len()
            == 1
    );
    assert_eq!(
        res.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    assert!(res.content_length().is_none());
    let mut got = Vec::new();
    while got.len() < 4 << 20 {
        got.extend_from_slice(&res.chunk().await.unwrap().expect("endless ended"));
    }
    drop(res);
    assert!(got.starts_with(b"<?xml"));

    // Trickle: headers and a first byte at once, then ~10 bytes/s.
    let t = Instant::now();
    let mut res = http.get(server.url("/trickle.xml")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let first = res.chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b"<");
    assert!(t.elapsed() < Duration::from_millis(500));
    let mut n = first.len();
    let window = Instant::now();
    while window.elapsed() < Duration::from_millis(450) {
        n += res.chunk().await.unwrap().unwrap().len();
    }
    assert!((2..=10).contains(&n), "trickled {n} bytes in ~0.5 s");

    // The server is still responsive and drop shuts everything down.
    assert_eq!(server.hits("/trickle.xml"), 1);
    let addr = server.addr();
    drop(server);
    assert!(TcpStream::connect(addr).is_err());
}

/// Plain `#[test]` (no runtime): raw HTTP over std TcpStream.
#[test]
fn sync_usage_and_wait_until() {
    let server = FeedServer::start();
    server.serve("/s.xml", Route::rss(rss(&[Item::new("a", "A")])));
    let get = |path: &str| {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: raw\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let out = get("/s.xml");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("<title>A</title>"));
    let t = std::thread::spawn({
        let addr = server.addr();
        move || {
            std::thread::sleep(Duration::from_millis(100));
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /later HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
        }
    });
    assert!(wait_until(Duration::from_secs(3), || server.hits("/later") == 1));
    let reqs = server.wait_for_hits("/later", 1, Duration::from_secs(1));
    assert_eq!(reqs[0].method, "GET");
    t.join().unwrap();
    assert!(!wait_until(Duration::from_millis(60), || false));
}

fn lettre_tls(smtp: &SmtpServer) -> TlsParameters {
    let ca = std::fs::read(smtp.ca_pem_path()).unwrap();
    TlsParameters::builder("localhost".to_owned())
        .add_root_certificate(Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap()
}

fn mailer(smtp: &SmtpServer, password: &str) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(smtp.port())
        .hello_name(ClientId::Domain("localhost".to_owned()))
        .tls(Tls::Required(lettre_tls(smtp)))
        .credentials(Credentials::new("alerts".to_owned(), password.to_owned()))
        .authentication(vec![Mechanism::Plain])
        .timeout(Some(Duration::from_secs(5)))
        .build()
}

fn message(subject: &str) -> Message {
    Message::builder()
        .from(
            "newswatch <alerts@newswatch.test>"
                .parse::<Mailbox>()
                .unwrap(),
        )
        .to("me@example.test".parse::<Mailbox>().unwrap())
        .subject(subject)
        .multipart(MultiPart::alternative_plain_html(
            "Новость: «Привет, мир» — https://news.example/1\n".to_owned(),
            "<p>Новость</p>".to_owned(),
        ))
        .unwrap()
}

#[tokio::test]
async fn smtp_starttls_auth_with_lettre() {
    let smtp = SmtpServer::builder()
        .starttls(true)
        .auth("alerts", "s3cret")
        .start();
    assert!(
        std::fs::read_to_string(smtp.ca_pem_path())
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    mailer(&smtp, "s3cret")
        .send(message("[newswatch] Новости: 1 совпадение"))
        .await
        .unwrap();
    let mails = smtp.wait_for(1, Duration::from_secs(5));
    let m = &mails[0];
    assert_eq!(m.from, "alerts@newswatch.test");
    assert_eq!(m.to, vec!["me@example.test".to_owned()]);
    assert_eq!(
        m.subject().as_deref(),
        Some("[newswatch] Новости: 1 совпадение")
    );
    assert!(m.header("Subject").unwrap().contains("=?utf-8?"));
    assert!(m.header("date").is_some());
    assert_eq!(
        m.body_text().as_deref(),
        Some("Новость: «Привет, мир» — https://news.example/1\n")
    );
    assert_eq!(m.body_html().as_deref(), Some("<p>Новость</p>"));
    assert!(
        smtp.events().iter().any(|e| e == "AUTH PLAIN alerts: ok"),
        "{:?}",
        smtp.events()
    );

    // Wrong password: 535, permanent.
    let err = mailer(&smtp, "wrong")
        .send(message("nope"))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert_eq!(err.status().map(u16::from), Some(535));

    // Injected transient failure, then cleared.
    smtp.set_failure(Some((451, "try again later".to_owned())));
    let err = mailer(&smtp, "s3cret")
        .send(message("later"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    smtp.set_failure(None);
    smtp.fail_next(1, SmtpStage::DataEnd, 554, "rejected once");
    let err = mailer(&smtp, "s3cret")
        .send(message("rejected"))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    mailer(&smtp, "s3cret")
        .send(message("second"))
        .await
        .unwrap();
    let mails = smtp.wait_for(2, Duration::from_secs(5));
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].subject().as_deref(), Some("second"));

    // Stop: the port refuses connections; resume: same port works again.
    smtp.stop();
    assert!(!smtp.is_running());
    assert!(TcpStream::connect(smtp.addr()).is_err());
    let err = mailer(&smtp, "s3cret")
        .send(message("while down"))
        .await
        .unwrap_err();
    assert!(!err.is_permanent(), "{err:?}");
    smtp.resume();
    mailer(&smtp, "s3cret")
        .send(message("third"))
        .await
        .unwrap();
    assert_eq!(smtp.wait_for(3, Duration::from_secs(5)).len(), 3);
}

#[tokio::test]
async fn smtp_down_then_up_on_reserved_port() {
    let port = reserve_port();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    let smtp = SmtpServer::builder()
        .port(port)
        .delay_per_message(Duration::from_millis(200))
        .start();
    assert_eq!(smtp.port(), port);
    let plain = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .hello_name(ClientId::Domain("localhost".to_owned()))
        .timeout(Some(Duration::from_secs(5)))
        .build();
    let t = Instant::now();
    plain.send(message("plain")).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(200));
    let mails = smtp.wait_for_async(1, Duration::from_secs(5)).await;
    assert_eq!(mails[0].subject().as_deref(), Some("plain"));
    assert_eq!(smtp.connections(), 1);
}

#[test]
fn feed_builders_and_mime_helpers() {
    let at = chrono::DateTime::parse_from_rfc3339("2025-03-04T05:06:07Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let item = Item::new("x", "T'it\"le")
        .guid("g-1")
        .link("https://e.test/?a=1&b=2")
        .published(at)
        .description("<p>hi</p>");
    let r = rss(std::slice::from_ref(&item));
    assert!(
        r.contains("<pubDate>Tue, 4 Mar 2025 05:06:07 +0000</pubDate>"),
        "{r}"
    );
    assert!(r.contains("<link>https://e.test/?a=1&amp;b=2</link>"));
    assert!(r.contains("<description>&lt;p&gt;hi&lt;/p&gt;</description>"));
    assert!(r.contains("<title>T&apos;it&quot;le</title>"));
    let a = atom(&[item]);
    assert!(a.contains("<updated>2025-03-04T05:06:07Z</updated>"), "{a}");
    assert!(a.contains("<id>g-1</id>"));

    assert_eq!(
        support::smtp::decode_rfc2047("=?utf-8?b?0J/RgNC40LI=?= =?UTF-8?Q?_=D0=BC=D0=B8=D1=80?= !"),
        "Прив мир !"
    );
    let raw = b"From: a@b\r\nSubject: folded\r\n line\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak =3D ok\r\n";
    let m = ReceivedMail {
        from: "a@b".into(),
        to: vec![],
        data: raw.to_vec(),
    };
    assert_eq!(m.header("subject").as_deref(), Some("folded line"));
    assert_eq!(m.body_text().as_deref(), Some("softbreak = ok\n"));
}

/// Plain `#[test]`: the stall modes and per-recipient refusals, seen by a raw TCP client.
#[test]
fn smtp_stalls_and_refuses_single_recipients() {
    let smtp = SmtpServer::start();
    let read_line = |stream: &mut TcpStream| {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while stream.read(&mut byte).unwrap_or(0) == 1 {
            line.push(byte[0]);
            if byte[0] == b'\n' {
                break;
            }
        }
        String::from_utf8_lossy(&line).into_owned()
    };

    smtp.set_stall(Some(Stall::Silent));
    let mut silent = TcpStream::connect(smtp.addr()).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 16];
    let quiet = silent.read(&mut buf);
    assert!(
        matches!(&quiet, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "a silent server sends no greeting: {quiet:?}"
    );

    smtp.set_stall(Some(Stall::Trickle(Duration::from_millis(100))));
    let mut slow = TcpStream::connect(smtp.addr()).unwrap();
    let started = Instant::now();
    let greeting = read_line(&mut slow);
    assert!(greeting.starts_with("220"), "{greeting:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(100) * (greeting.len() as u32 - 1),
        "one byte per 100 ms: {greeting:?} in {:?}",
        started.elapsed()
    );

    smtp.set_stall(None);
    smtp.refuse_recipient("stale@example.org", 550, "no such user", None);
    let mut good = TcpStream::connect(smtp.addr()).unwrap();
    assert!(read_line(&mut good).starts_with("220"));
    for (command, expect) in [
        ("EHLO client.test\r\n", "250"),
        ("MAIL FROM:<a@example.org>\r\n", "250"),
        ("RCPT TO:<stale@example.org>\r\n", "550"),
        ("RCPT TO:<fine@example.org>\r\n", "250"),
    ] {
        good.write_all(command.as_bytes()).unwrap();
        let mut reply = read_line(&mut good);
        while reply.as_bytes().get(3) == Some(&b'-') {
            reply = read_line(&mut good);
        }
        assert!(reply.starts_with(expect), "{command:?} → {reply:?}");
    }
}
