//! End-to-end acceptance tests of the pipeline: the real `newswatch` binary, run as a child
//! process against a real HTTP feed server and a real SMTP server on loopback, with a real
//! SQLite file and alerts directory in a temporary directory of its own per test.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::Value;
use support::seed::{SEED_BODY, SEED_TITLE};
use support::{FeedServer, Item, ReceivedMail, Route, SmtpServer, atom, rss, rss_titled};
use tempfile::TempDir;

const WATCH: &str = "Russia–DPRK military";
const QUERY: &str = "@russia AND @dprk AND @military";
const RECIPIENT: &str = "analyst@example.org";
const FROM_DOMAIN: &str = "newswatch.test";

/// The term lists as an analyst writes them: dictionary forms, English and Russian.
const LISTS: &str = r#"
[lists]
dprk = [
  "North Korea", "North Korean*", "DPRK", "Pyongyang", "Kim Jong Un",
  "КНДР", "Северная Корея", "северокорейск*", "Пхеньян", "Ким Чен Ын",
]
russia = [
  "Russia", "Moscow", "Kremlin", "Putin", "Lavrov",
  "Россия", "российск*", "Москва", "Кремль", "Путин", "Лавров",
]
military = [
  "military", "munition*", "ammunition", "weapon*", "arms", "missile*", "troop*",
  "военн*", "оружие", "боеприпас*", "ракет*", "войска",
]
"#;

/// Longest any single command may take before the test gives up on it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

fn subject_of(title: &str) -> String {
    format!("[{WATCH}] {title}")
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

fn days(d: u64) -> Duration {
    hours(24 * d)
}

// ------------------------------------------------------------------------------------------
// Configuration and running the binary.
// ------------------------------------------------------------------------------------------

/// How alerts leave: SMTP to a port on loopback, or `.eml` files in the test's alerts dir.
enum Delivery {
    Smtp(u16),
    File,
}

/// One test's world: a temporary directory holding the configuration, the SQLite database
/// and the alerts directory.
struct Env {
    dir: TempDir,
    config: PathBuf,
    /// `[database] url`: SQLite in `dir`, or a PostgreSQL schema (see `support::database`).
    database: String,
    delivery: Delivery,
    polling: String,
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

    fn assert_success(&self, what: &str) -> &Self {
        assert!(
            self.status.success(),
            "{what} should succeed\n{}",
            self.describe()
        );
        self
    }
}

impl Env {
    fn new(delivery: Delivery) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("newswatch-pipeline-")
            .tempdir()
            .expect("create temp dir");
        let config = dir.path().join("config.toml");
        Env {
            database: support::database::url(dir.path()),
            dir,
            config,
            delivery,
            polling: String::from("timeout = \"5s\"\n"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn alerts_dir(&self) -> PathBuf {
        self.path().join("alerts")
    }

    /// Extra `[polling]` keys (`timeout = "5s"` is always there).
    fn polling(mut self, extra: &str) -> Env {
        self.polling.push_str(extra);
        self.polling.push('\n');
        self
    }

    /// The configuration text for these feeds (name, URL) and the watch's query.
    fn config_text(&self, feeds: &[(&str, String)], query: &str) -> String {
        let mut text = format!(
            "[database]\nurl = \"{}\"\n\n[polling]\n{}\n",
            self.database, self.polling
        );
        text.push_str(&format!(
            "[email]\nfrom = \"Newswatch <alerts@{FROM_DOMAIN}>\"\n"
        ));
        match self.delivery {
            Delivery::Smtp(port) => text.push_str(&format!(
                "transport = \"smtp\"\n\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {port}\n\
                 security = \"none\"\ntimeout = \"5s\"\n"
            )),
            Delivery::File => text.push_str(&format!(
                "transport = \"file\"\ndir = '{}'\n",
                self.alerts_dir().display()
            )),
        }
        text.push_str(LISTS);
        for (name, url) in feeds {
            text.push_str(&format!(
                "\n[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\n"
            ));
        }
        // One alert per matching article: these tests count articles and their alerts, and
        // their reports of one arms deal would rightly be grouped as one story (tests/stories.rs).
        text.push_str(&format!(
            "\n[[watch]]\nname = \"{WATCH}\"\nquery = \"{query}\"\nto = [\"{RECIPIENT}\"]\ngroup = \"off\"\n"
        ));
        text
    }

    /// Writes `config.toml` for these feeds.
    fn feeds(self, feeds: &[(&str, String)]) -> Env {
        let text = self.config_text(feeds, QUERY);
        std::fs::write(&self.config, text).expect("write config");
        self
    }

    /// Writes another config file (same feeds and delivery, another query) and returns its
    /// path and text.
    fn variant(&self, file: &str, feeds: &[(&str, String)], query: &str) -> (PathBuf, String) {
        let path = self.path().join(file);
        let text = self.config_text(feeds, query);
        std::fs::write(&path, &text).expect("write config variant");
        (path, text)
    }

    fn command(&self, config: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_newswatch"));
        command
            .arg("--config")
            .arg(config)
            .args(args)
            .current_dir(self.path())
            .env("RUST_LOG", "info")
            .env_remove("NEWSWATCH_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `newswatch --config <config.toml> ARGS` to completion (bounded in time).
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(&self.config, args)
    }

    fn run_with(&self, config: &Path, args: &[&str]) -> Run {
        let child = self.command(config, args).spawn().expect("spawn newswatch");
        let mut child = Running::new(child);
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

    /// `newswatch feeds --json`, one object per feed, keyed by name.
    fn feeds_json(&self) -> Vec<Value> {
        let run = self.run(&["feeds", "--json"]);
        run.assert_success("newswatch feeds --json");
        run.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!(
                        "feeds --json printed a line that is not JSON ({e}): {l}\n{}",
                        run.describe()
                    )
                })
            })
            .collect()
    }

    /// The `.eml` files in the alerts directory, sorted by name.
    fn eml_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.alerts_dir()) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.expect("read alerts dir").path())
            .collect();
        files.sort();
        files
    }
}

/// A child process whose output is collected by reader threads, killed if dropped while still
/// running (a failing test leaves no daemon behind).
struct Running {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Running {
    fn new(mut child: Child) -> Running {
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

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the exit; `None` if it has not exited within `timeout`.
    fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.status = Some(status);
                // The pipes close at exit: let the readers catch the last bytes.
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
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

// ------------------------------------------------------------------------------------------
// Looking at what arrived.
// ------------------------------------------------------------------------------------------

fn subjects(mails: &[ReceivedMail]) -> Vec<String> {
    let mut subjects: Vec<String> = mails
        .iter()
        .map(|m| m.subject().unwrap_or_default())
        .collect();
    subjects.sort();
    subjects
}

fn mail_with_subject<'a>(mails: &'a [ReceivedMail], subject: &str) -> &'a ReceivedMail {
    mails
        .iter()
        .find(|m| m.subject().as_deref() == Some(subject))
        .unwrap_or_else(|| {
            panic!(
                "no mail with subject {subject:?}; subjects: {:#?}",
                subjects(mails)
            )
        })
}

fn feed_named<'a>(feeds: &'a [Value], name: &str) -> &'a Value {
    feeds
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("feed {name:?} missing from feeds --json: {feeds:#?}"))
}

/// A Message-ID of the form `<local@domain>`.
fn assert_message_id_shape(id: &str, domain: &str) {
    let inner = id
        .trim()
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or_else(|| panic!("Message-ID {id:?} is not in angle brackets"));
    let (local, host) = inner
        .split_once('@')
        .unwrap_or_else(|| panic!("Message-ID {id:?} has no '@'"));
    assert!(
        !local.is_empty(),
        "Message-ID {id:?} has an empty local part"
    );
    assert_eq!(host, domain, "Message-ID {id:?} domain");
}

/// Checks the shape every alert mail must have: recipients, subject, multipart/alternative
/// with a text and an HTML part, and a Message-ID. Returns the plain text.
fn assert_alert_mail(mail: &ReceivedMail, title: &str, context: &str) -> String {
    let subject = subject_of(title);
    assert_eq!(
        mail.subject().as_deref(),
        Some(subject.as_str()),
        "{context}"
    );
    assert_eq!(
        mail.to,
        vec![RECIPIENT.to_string()],
        "envelope recipients; {context}"
    );
    let to = mail.header_decoded("To").unwrap_or_default();
    assert!(to.contains(RECIPIENT), "To header {to:?}; {context}");
    assert_eq!(
        mail.from,
        format!("alerts@{FROM_DOMAIN}"),
        "envelope sender; {context}"
    );
    let content_type = mail.header("Content-Type").unwrap_or_default();
    assert!(
        content_type
            .to_ascii_lowercase()
            .starts_with("multipart/alternative"),
        "Content-Type {content_type:?}; {context}"
    );
    let text = mail
        .body_text()
        .unwrap_or_else(|| panic!("no text/plain part; {context}\n{}", mail.text()));
    let html = mail
        .body_html()
        .unwrap_or_else(|| panic!("no text/html part; {context}\n{}", mail.text()));
    assert!(
        text.contains(title),
        "the text part names the article\n{text}"
    );
    assert!(html.to_ascii_lowercase().contains("<html"), "{html}");
    let id = mail
        .header("Message-ID")
        .unwrap_or_else(|| panic!("no Message-ID; {context}\n{}", mail.text()));
    assert_message_id_shape(&id, FROM_DOMAIN);
    text
}

/// The plain text lists each of these words as matched (quoted, as the article wrote them).
fn assert_names_matched_words(text: &str, words: &[&str]) {
    for word in words {
        assert!(
            text.contains(&format!("\"{word}\"")),
            "the plain text should name the matched word {word:?}:\n{text}"
        );
    }
}

/// 1-based line number of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in\n{text}"))
}

// ------------------------------------------------------------------------------------------
// The scenario's feeds.
// ------------------------------------------------------------------------------------------

const EN_MUNITIONS_TITLE: &str =
    "North Korean munitions shipped to Russia by rail, satellite images show";

fn seed_item() -> Item {
    Item::new("world/lavrov-pyongyang", SEED_TITLE)
        .guid("ria-2023-10-19-lavrov")
        .link("https://ru.example/world/lavrov-pyongyang")
        .published_ago(hours(1))
        .description(SEED_BODY)
}

fn russian_items() -> Vec<Item> {
    vec![
        seed_item(),
        Item::new(
            "economy/key-rate",
            "Центробанк сохранил ключевую ставку на уровне 16 процентов",
        )
        .guid("ria-key-rate")
        .published_ago(Duration::from_secs(30 * 60))
        .description("Совет директоров Банка России принял решение сохранить ключевую ставку."),
        Item::new(
            "world/south-korea-drills",
            "Южная Корея и США начали масштабные военные учения",
        )
        .guid("ria-south-korea-drills")
        .published_ago(hours(2))
        .description(
            "Сеул и Вашингтон проводят военные учения с участием авиации и флота. \
             Россия выразила обеспокоенность: в Москве заявили, что войска союзников \
             отрабатывают ракетные удары у дальневосточных границ.",
        ),
        Item::new(
            "culture/bolshoi",
            "Большой театр открыл новый сезон премьерой оперы",
        )
        .guid("ria-bolshoi")
        .published_ago(hours(3))
        .description("Зрители в Москве увидели новую постановку «Евгения Онегина»."),
    ]
}

fn english_items() -> Vec<Item> {
    vec![
        Item::new("en/munitions", EN_MUNITIONS_TITLE)
            .guid("urn:en-news:munitions-1")
            .link("https://en.example/world/north-korea-munitions-russia")
            .published_ago(Duration::from_secs(20 * 60))
            .description(
                "Pyongyang has shipped more than a million artillery munitions to Russia since \
                 August, officials said, deepening military cooperation between Moscow and \
                 North Korea.",
            ),
        Item::new("en/trade", "Russia and China expand trade settled in yuan")
            .guid("urn:en-news:trade-1")
            .link("https://en.example/business/russia-china-trade")
            .published_ago(Duration::from_secs(40 * 60))
            .description(
                "Trade between Russia and China rose again this quarter as Moscow and Beijing \
                 settle more contracts in yuan.",
            ),
        Item::new(
            "en/2023",
            "North Korea sends artillery shells and missiles to Russia",
        )
        .guid("urn:en-news:2023-shells")
        .link("https://en.example/world/2023/north-korea-shells")
        .published(Utc.with_ymd_and_hms(2023, 9, 13, 10, 0, 0).unwrap())
        .description(
            "Kim Jong Un met Putin at Vostochny; US officials say weapons deliveries to \
                 Russia have begun.",
        ),
    ]
}

/// Not a feed: the XML is ill-formed (an element closed by the wrong tag).
const BROKEN_FEED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Broken</title>\n<item><title>Russia and North Korea sign a military pact</item>\n</channel>";

// ------------------------------------------------------------------------------------------
// The acceptance scenario.
// ------------------------------------------------------------------------------------------

#[test]
fn acceptance_two_feeds_one_broken_feed_one_watch() {
    let server = FeedServer::start();
    server.serve(
        "/ru/rss.xml",
        Route::rss(rss_titled("РИА Новости", &russian_items())),
    );
    server.serve("/en/atom.xml", Route::atom(atom(&english_items())));
    server.serve(
        "/broken.xml",
        Route::feed(BROKEN_FEED, "application/rss+xml; charset=utf-8"),
    );
    let smtp = SmtpServer::start();
    let feeds = [
        ("Russian news", server.url("/ru/rss.xml")),
        ("English news", server.url("/en/atom.xml")),
        ("Broken feed", server.url("/broken.xml")),
    ];
    let env = Env::new(Delivery::Smtp(smtp.port())).feeds(&feeds);

    // 1. check accepts the config, rejects an unbalanced query and an unknown @list.
    let run = env.run(&["check"]);
    run.assert_success("check of the scenario config");
    assert!(run.stdout.contains("OK"), "{}", run.describe());

    let (unbalanced, text) = env.variant(
        "unbalanced.toml",
        &feeds,
        "(@russia AND @dprk AND @military",
    );
    let run = env.run_with(&unbalanced, &["check"]);
    assert!(
        !run.status.success(),
        "an unbalanced query must be rejected\n{}",
        run.describe()
    );
    let at = format!("{}:{}:", unbalanced.display(), line_of(&text, "query ="));
    assert!(
        run.stderr.contains(&at) && run.stderr.contains(WATCH) && run.stderr.contains("'('"),
        "the error should point at the query ({at}), name the watch and the unclosed '('\n{}",
        run.describe()
    );

    let (unknown, text) = env.variant(
        "unknown-list.toml",
        &feeds,
        "@russia AND @nkorea AND @military",
    );
    let run = env.run_with(&unknown, &["check"]);
    assert!(
        !run.status.success(),
        "an unknown list must be rejected\n{}",
        run.describe()
    );
    let at = format!("{}:{}:", unknown.display(), line_of(&text, "query ="));
    assert!(
        run.stderr.contains("@nkorea") && run.stderr.contains(&at),
        "the error should name @nkorea and point at the query ({at})\n{}",
        run.describe()
    );
    assert!(smtp.messages().is_empty(), "check sends nothing");

    // 2. once: exactly the seed article and the English munitions article.
    let run = env.once();
    let mails = smtp.messages();
    assert_eq!(
        subjects(&mails),
        {
            let mut expected = vec![subject_of(SEED_TITLE), subject_of(EN_MUNITIONS_TITLE)];
            expected.sort();
            expected
        },
        "exactly two alerts after the first once\n{}",
        run.describe()
    );
    let seed = mail_with_subject(&mails, &subject_of(SEED_TITLE));
    let text = assert_alert_mail(seed, SEED_TITLE, "seed article");
    assert_names_matched_words(&text, &["России", "Северную Корею", "военных"]);
    let english = mail_with_subject(&mails, &subject_of(EN_MUNITIONS_TITLE));
    let text = assert_alert_mail(english, EN_MUNITIONS_TITLE, "English munitions article");
    assert_names_matched_words(&text, &["North Korean", "munitions", "Russia"]);
    assert_ne!(
        seed.header("Message-ID"),
        english.header("Message-ID"),
        "two alerts, two Message-IDs"
    );

    // The broken feed is an error; the good ones are ok.
    let status = env.feeds_json();
    assert_eq!(status.len(), 3, "{status:#?}");
    let broken = feed_named(&status, "Broken feed");
    assert!(
        broken["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("error"),
        "{broken:#}"
    );
    assert!(
        broken["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{broken:#}"
    );
    assert_eq!(broken["consecutive_errors"], 1, "{broken:#}");
    assert_eq!(broken["articles"], 0, "{broken:#}");
    for (name, articles) in [("Russian news", 4), ("English news", 3)] {
        let feed = feed_named(&status, name);
        assert_eq!(feed["status"], "ok", "{feed:#}");
        assert_eq!(feed["last_error"], Value::Null, "{feed:#}");
        assert_eq!(feed["consecutive_errors"], 0, "{feed:#}");
        assert_eq!(feed["articles"], articles, "{feed:#}");
    }

    // 3. A second once sends nothing.
    let run = env.once();
    assert_eq!(
        smtp.messages().len(),
        2,
        "the second once must send nothing\n{}",
        run.describe()
    );

    // A new matching item in the Russian feed: exactly one more email.
    let fresh_title = "Пхеньян передаст Москве новую партию ракет и боеприпасов";
    let mut items = russian_items();
    items.insert(
        0,
        Item::new("world/pyongyang-missiles", fresh_title)
            .guid("ria-pyongyang-missiles")
            .published_ago(Duration::from_secs(60))
            .description(
                "Северная Корея готовит для России новые поставки оружия, сообщили источники.",
            ),
    );
    server.serve("/ru/rss.xml", Route::rss(rss_titled("РИА Новости", &items)));
    let run = env.once();
    let mails = smtp.messages();
    assert_eq!(
        mails.len(),
        3,
        "exactly one more alert for the new item: {:#?}\n{}",
        subjects(&mails),
        run.describe()
    );
    let fresh = mail_with_subject(&mails, &subject_of(fresh_title));
    assert_alert_mail(fresh, fresh_title, "new Russian item");
    let ids: Vec<_> = mails.iter().map(|m| m.header("Message-ID")).collect();
    assert!(ids[2] != ids[0] && ids[2] != ids[1], "{ids:?}");
}

// ------------------------------------------------------------------------------------------
// More user-visible behaviours.
// ------------------------------------------------------------------------------------------

/// RSS for these items, without a `<guid>` for items whose guid is empty.
fn rss_without_empty_guids(title: &str, items: &[Item]) -> String {
    rss_titled(title, items).replace("  <guid isPermaLink=\"false\"></guid>\n", "")
}

/// The same articles reached through a redirect to the same file and through a copy with the
/// same GUIDs and links carrying utm_ parameters are one article each: one email each. Covers
/// a GUID that is a URL, an opaque GUID and no GUID at all.
#[test]
fn the_same_article_through_several_feeds_is_one_email() {
    let url_guid_title = "North Korean troops and missiles seen near Russia's border";
    let opaque_guid_title = "Kremlin denies buying North Korean ammunition";
    let no_guid_title = "Putin and Kim Jong Un inspect a missile plant";
    let original = vec![
        Item::new("world/troops", url_guid_title)
            .link("https://news.example/world/troops")
            .guid("https://news.example/world/troops")
            .published_ago(Duration::from_secs(600))
            .description("Moscow said nothing about the North Korean troops."),
        Item::new("world/ammo", opaque_guid_title)
            .link("https://news.example/world/ammo")
            .guid("story-4711")
            .published_ago(Duration::from_secs(900))
            .description("The Kremlin said Russia has enough ammunition of its own."),
        Item::new("world/plant", no_guid_title)
            .link("https://news.example/world/plant")
            .guid("")
            .published_ago(Duration::from_secs(1200)),
        Item::new("sport/hockey", "Hockey final goes to overtime")
            .guid("story-4712")
            .published_ago(Duration::from_secs(900)),
    ];
    let tracked = "?utm_source=rss&utm_medium=feed&utm_campaign=world";
    let copy: Vec<Item> = original
        .iter()
        .map(|item| {
            let link = format!("{}{tracked}", item.link);
            let guid = if item.guid.starts_with("https://") {
                link.clone()
            } else if item.guid.is_empty() {
                String::new()
            } else {
                item.guid.clone()
            };
            item.clone().link(&link).guid(&guid)
        })
        .collect();

    let server = FeedServer::start();
    let world = rss_without_empty_guids("World", &original);
    assert_eq!(world.matches("<guid").count(), 3, "{world}");
    server.serve("/world.xml", Route::rss(world));
    server.serve("/world-alias.xml", Route::redirect("/world.xml", 302));
    server.serve(
        "/syndicated.xml",
        Route::rss(rss_without_empty_guids("Syndicated", &copy)),
    );
    let smtp = SmtpServer::start();
    let env = Env::new(Delivery::Smtp(smtp.port())).feeds(&[
        ("World", server.url("/world.xml")),
        ("World alias", server.url("/world-alias.xml")),
        ("Syndicated", server.url("/syndicated.xml")),
    ]);

    let run = env.once();
    let mails = smtp.messages();
    let mut expected = vec![
        subject_of(url_guid_title),
        subject_of(opaque_guid_title),
        subject_of(no_guid_title),
    ];
    expected.sort();
    assert_eq!(
        subjects(&mails),
        expected,
        "one email per article, whatever the feed\n{}",
        run.describe()
    );
    assert!(
        server.hits("/world-alias.xml") >= 1,
        "the alias feed was polled"
    );
    let status = env.feeds_json();
    for name in ["World", "World alias", "Syndicated"] {
        let feed = feed_named(&status, name);
        assert_eq!(feed["status"], "ok", "{feed:#}");
        assert_eq!(
            feed["articles"], 4,
            "every feed carries the four articles: {feed:#}"
        );
    }

    let run = env.once();
    assert_eq!(
        smtp.messages().len(),
        3,
        "nothing more on a second poll\n{}",
        run.describe()
    );
}

/// A numbered GUID is its feed's own: two blogs on one host that both number their posts from
/// 1 keep both posts. A URN is one story wherever it appears, whatever its links.
#[test]
fn numbered_guids_belong_to_their_feed_and_urns_are_global() {
    let blog_a = "Pyongyang ships munitions to Russia, blog A reports";
    let blog_b = "Russia receives North Korean missiles, blog B reports";
    let wire = "Kim Jong Un promises Moscow more munitions";
    let fresh = Duration::from_secs(600);
    let server = FeedServer::start();
    for (path, link, title) in [
        ("/a/rss.xml", "https://blogs.example/a/first", blog_a),
        ("/b/rss.xml", "https://blogs.example/b/first", blog_b),
    ] {
        let item = Item::new("first", title)
            .link(link)
            .guid("1")
            .published_ago(fresh);
        server.serve(path, Route::rss(rss(&[item])));
    }
    for (path, link) in [
        ("/wire-a.xml", "https://wire-a.example/77"),
        ("/wire-b.xml", "https://wire-b.example/story/77"),
    ] {
        let item = Item::new("wire", wire)
            .link(link)
            .guid("urn:newsml:wire.example:2023:77")
            .published_ago(fresh);
        server.serve(path, Route::rss(rss(&[item])));
    }
    let smtp = SmtpServer::start();
    let env = Env::new(Delivery::Smtp(smtp.port())).feeds(&[
        ("Blog A", server.url("/a/rss.xml")),
        ("Blog B", server.url("/b/rss.xml")),
        ("Wire A", server.url("/wire-a.xml")),
        ("Wire B", server.url("/wire-b.xml")),
    ]);
    let run = env.once();
    let mut expected = vec![subject_of(blog_a), subject_of(blog_b), subject_of(wire)];
    expected.sort();
    assert_eq!(subjects(&smtp.messages()), expected, "{}", run.describe());
}

/// First poll: only entries newer than first_poll_window alert (undated ones do not). Later
/// polls: every new entry alerts, undated ones too, unless older than max_age.
#[test]
fn a_story_under_another_feeds_guid_is_one_email_but_front_page_links_are_not_stories() {
    let story = "Russia takes delivery of North Korean ammunition";
    let front_page_one = "Pyongyang ships missiles to Russia, Seoul says";
    let front_page_two = "Kremlin thanks North Korea for ammunition";
    let publisher = vec![
        Item::new("p/1", story)
            .link("https://news.example/2024/shells")
            .guid("publisher-guid-1")
            .published_ago(Duration::from_secs(600)),
        Item::new("p/2", front_page_one)
            .link("https://agency.example/")
            .guid("agency-1")
            .published_ago(Duration::from_secs(600)),
    ];
    let aggregator = vec![
        Item::new("a/1", story)
            .link("https://news.example/2024/shells?utm_source=aggregator")
            .guid("aggregator-guid-9")
            .published_ago(Duration::from_secs(600)),
        Item::new("a/2", front_page_two)
            .link("https://agency.example/")
            .guid("agency-2")
            .published_ago(Duration::from_secs(600)),
    ];
    let server = FeedServer::start();
    server.serve(
        "/publisher.xml",
        Route::rss(rss_titled("Publisher", &publisher)),
    );
    server.serve(
        "/aggregator.xml",
        Route::rss(rss_titled("Aggregator", &aggregator)),
    );
    let smtp = SmtpServer::start();
    let env = Env::new(Delivery::Smtp(smtp.port())).feeds(&[
        ("Publisher", server.url("/publisher.xml")),
        ("Aggregator", server.url("/aggregator.xml")),
    ]);
    let run = env.once();
    let mut expected = vec![
        subject_of(story),
        subject_of(front_page_one),
        subject_of(front_page_two),
    ];
    expected.sort();
    assert_eq!(
        subjects(&smtp.messages()),
        expected,
        "the same story link through two feeds is one article; a shared front-page link is not\n{}",
        run.describe()
    );
}

#[test]
fn first_poll_window_and_max_age() {
    let two_days_old = "Russia receives North Korean missiles, two days ago";
    let undated_old = "Putin thanks Pyongyang for weapons (undated)";
    let mut items = vec![
        Item::new("a", two_days_old)
            .published_ago(days(2))
            .description("Moscow got missiles from North Korea."),
        Item::new("b", undated_old).description("Kim Jong Un sent weapons to Russia."),
    ];
    let server = FeedServer::start();
    server.serve("/feed.xml", Route::rss(rss(&items)));
    let smtp = SmtpServer::start();
    let env = Env::new(Delivery::Smtp(smtp.port()))
        .polling("first_poll_window = \"24h\"\nmax_age = \"3d\"")
        .feeds(&[("Feed", server.url("/feed.xml"))]);

    let run = env.once();
    assert_eq!(
        subjects(&smtp.messages()),
        Vec::<String>::new(),
        "the first poll alerts neither a 2-day-old nor an undated entry\n{}",
        run.describe()
    );
    let status = env.feeds_json();
    assert_eq!(
        feed_named(&status, "Feed")["articles"],
        2,
        "both were stored: {status:#?}"
    );

    let undated_new = "Kremlin confirms North Korean troops (undated, new)";
    let ten_days_old = "Lavrov discussed missiles in Pyongyang ten days ago";
    items.push(Item::new("c", undated_new).description("Russia says North Korean troops arrived."));
    items.push(
        Item::new("d", ten_days_old)
            .published_ago(days(10))
            .description("Russia and North Korea discussed missiles."),
    );
    server.serve("/feed.xml", Route::rss(rss(&items)));
    let run = env.once();
    assert_eq!(
        subjects(&smtp.messages()),
        vec![subject_of(undated_new)],
        "a later poll alerts the new undated entry, not one older than max_age\n{}",
        run.describe()
    );
}

/// The file transport writes one readable RFC 5322 file per alert, never twice; the
/// Message-ID of an alert is the same whoever computes it.
/// The database's chatter is not in the log at the default level: PostgreSQL answers the
/// schema check made at every start with a NOTICE ("relation already exists"), which an operator
/// would read as a problem. (SQLite sends none; the test means something on PostgreSQL.)
#[test]
fn a_second_start_logs_no_database_notices() {
    let server = FeedServer::start();
    server.serve(
        "/feed.xml",
        Route::rss(rss(&[Item::new("n1", "Weather: snow in Moscow")])),
    );
    let feeds = [("Feed", server.url("/feed.xml"))];
    let env = Env::new(Delivery::File).feeds(&feeds);
    env.once();
    // At the default level: the environment the tests set otherwise says `RUST_LOG=info`.
    let second = env
        .command(&env.config, &["once"])
        .env_remove("RUST_LOG")
        .output()
        .expect("run newswatch once");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert!(stderr.contains("cycle done"), "{stderr}");
    assert!(!stderr.contains("already exists"), "{stderr}");
}

#[test]
fn file_transport_writes_one_eml_per_alert() {
    let titles = [
        "Russia test-fires missiles supplied by North Korea",
        "North Korean weapons reach Russian front, Kremlin silent on Russia deal",
    ];
    let items = vec![
        Item::new("m1", titles[0])
            .published_ago(Duration::from_secs(300))
            .description("Moscow used missiles made in North Korea."),
        Item::new("m2", titles[1]).published_ago(Duration::from_secs(600)),
        Item::new("x", "Weather: snow in Moscow").published_ago(Duration::from_secs(600)),
    ];
    let server = FeedServer::start();
    server.serve("/feed.xml", Route::rss(rss(&items)));
    let feeds = [("Feed", server.url("/feed.xml"))];
    let mut env = Env::new(Delivery::File).feeds(&feeds);

    let run = env.once();
    let files = env.eml_files();
    assert_eq!(files.len(), 2, "{files:?}\n{}", run.describe());
    let mut read: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut seen_subjects = Vec::new();
    let mut ids = Vec::new();
    for file in &files {
        assert_eq!(
            file.extension().and_then(|e| e.to_str()),
            Some("eml"),
            "{file:?}"
        );
        let data = std::fs::read(file).expect("read .eml");
        let raw = String::from_utf8(data.clone()).expect(".eml is ASCII/UTF-8");
        let (head, _) = raw
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no blank line after the headers in {file:?}:\n{raw}"));
        assert!(
            !raw.replace("\r\n", "").contains('\n'),
            "bare LF in {file:?}"
        );
        assert!(
            raw.lines().all(|l| l.len() <= 998),
            "line too long in {file:?}"
        );
        for header in [
            "From:",
            "To:",
            "Date:",
            "Subject:",
            "Message-ID:",
            "MIME-Version:",
        ] {
            assert!(
                head.lines().any(|l| l
                    .to_ascii_lowercase()
                    .starts_with(&header.to_ascii_lowercase())),
                "{header} missing in {file:?}:\n{head}"
            );
        }
        let mail = ReceivedMail {
            from: String::new(),
            to: vec![RECIPIENT.to_string()],
            data: data.clone(),
        };
        let subject = mail.subject().unwrap_or_default();
        let title = titles
            .iter()
            .find(|t| subject == subject_of(t))
            .unwrap_or_else(|| panic!("unexpected subject {subject:?} in {file:?}"));
        assert!(mail.body_text().is_some_and(|t| t.contains(title)), "{raw}");
        assert!(mail.body_html().is_some(), "{raw}");
        seen_subjects.push(subject);
        ids.push(mail.header("Message-ID").expect("Message-ID"));
        read.push((file.clone(), data));
    }
    seen_subjects.sort();
    let mut expected: Vec<String> = titles.iter().map(|t| subject_of(t)).collect();
    expected.sort();
    assert_eq!(seen_subjects, expected);
    assert_ne!(ids[0], ids[1]);
    let leftovers: Vec<_> = std::fs::read_dir(env.alerts_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");

    let run = env.once();
    let again: Vec<(PathBuf, Vec<u8>)> = env
        .eml_files()
        .into_iter()
        .map(|f| {
            let data = std::fs::read(&f).unwrap();
            (f, data)
        })
        .collect();
    assert_eq!(
        again,
        read,
        "a second once adds or changes no file\n{}",
        run.describe()
    );

    // Another installation (own database) alerting on the same articles uses the same
    // Message-IDs: they are derived from watch and article, not from a counter or clock.
    let other = Env::new(Delivery::File).feeds(&[("Feed", server.url("/feed.xml"))]);
    other.once();
    let mut other_ids: Vec<String> = other
        .eml_files()
        .iter()
        .map(|f| {
            ReceivedMail {
                from: String::new(),
                to: vec![],
                data: std::fs::read(f).unwrap(),
            }
            .header("Message-ID")
            .expect("Message-ID")
        })
        .collect();
    other_ids.sort();
    ids.sort();
    assert_eq!(other_ids, ids, "Message-IDs are deterministic");

    // A new database writing into the same directory numbers its alerts from 1 again: the
    // earlier mails stay.
    if support::database::on_postgres() {
        env.database = support::database::url(env.path());
        env = env.feeds(&feeds);
    } else {
        std::fs::remove_file(env.path().join("newswatch.db")).expect("remove the database");
        for leftover in ["newswatch.db-wal", "newswatch.db-shm"] {
            let _ = std::fs::remove_file(env.path().join(leftover));
        }
    }
    let later = "Kremlin confirms North Korean missiles for Russia";
    server.serve(
        "/feed.xml",
        Route::rss(rss(&[
            Item::new("m3", later).published_ago(Duration::from_secs(60))
        ])),
    );
    let run = env.once();
    let files = env.eml_files();
    assert_eq!(files.len(), 3, "{files:?}\n{}", run.describe());
    for (file, data) in &read {
        assert_eq!(
            &std::fs::read(file).expect("earlier mail kept"),
            data,
            "{file:?}"
        );
    }
}

/// HTML in descriptions is read as text: tags, attributes and scripts are not words, entities
/// are decoded, text inside tags counts.
#[test]
fn html_in_descriptions_is_matched_as_text() {
    let attribute_only = "Russia tests new missiles";
    let inside_tags = "Russia receives shells";
    let items = vec![
        Item::new("attr", attribute_only)
            .published_ago(Duration::from_secs(300))
            .description(
                "<p>Moscow tested missiles on Tuesday. \
                 <a href=\"https://x.example/north-korea\" title=\"Pyongyang\">Read more</a></p>\
                 <script>var topic = \"North Korea\";</script>\
                 <img src=\"https://x.example/dprk.jpg\" alt=\"\">",
            ),
        Item::new("tags", inside_tags)
            .published_ago(Duration::from_secs(300))
            .description(
                "<p>Moscow receives <b>North&nbsp;Korean</b> artillery shells &amp; \
                 <i>missiles</i> &lt;officials&gt;</p>",
            ),
    ];
    let server = FeedServer::start();
    server.serve("/feed.xml", Route::rss(rss(&items)));
    let smtp = SmtpServer::start();
    let env = Env::new(Delivery::Smtp(smtp.port())).feeds(&[("Feed", server.url("/feed.xml"))]);

    let run = env.once();
    let mails = smtp.messages();
    assert_eq!(
        subjects(&mails),
        vec![subject_of(inside_tags)],
        "a term in an attribute or a script does not match; text inside tags does\n{}",
        run.describe()
    );
    let text = assert_alert_mail(&mails[0], inside_tags, "HTML description");
    assert_names_matched_words(&text, &["North Korean", "missiles"]);
    assert!(
        text.contains("shells & missiles <officials>"),
        "entities are decoded and tags removed in the text part:\n{text}"
    );
    assert!(!text.contains("<b>") && !text.contains("&amp;"), "{text}");
}

/// A windows-1251 feed, declared in its XML declaration, gives a correct Cyrillic subject.
#[test]
fn windows_1251_feed_gives_correct_cyrillic() {
    let title = "Пхеньян передал Москве партию боеприпасов — «военное сотрудничество» растёт";
    let items = vec![
        Item::new("cp1251", title)
            .published_ago(Duration::from_secs(120))
            .description("Северная Корея отправила в Россию эшелон со снарядами."),
    ];
    let xml = rss(&items).replacen("encoding=\"UTF-8\"", "encoding=\"windows-1251\"", 1);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"windows-1251\"?>"));
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&xml);
    assert!(
        !unmappable,
        "the test text must be representable in windows-1251"
    );
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the body really is not UTF-8"
    );
    let server = FeedServer::start();
    server.serve(
        "/cp1251.xml",
        Route::feed(bytes.into_owned(), "application/rss+xml"),
    );
    let smtp = SmtpServer::start();
    let env =
        Env::new(Delivery::Smtp(smtp.port())).feeds(&[("Cyrillic", server.url("/cp1251.xml"))]);

    let run = env.once();
    let mails = smtp.messages();
    assert_eq!(
        subjects(&mails),
        vec![subject_of(title)],
        "{}",
        run.describe()
    );
    let text = assert_alert_mail(&mails[0], title, "windows-1251 feed");
    assert!(text.contains("Северная Корея отправила в Россию"), "{text}");
}

/// An unreachable feed does not fail `once`; it is recorded as an error.
#[test]
fn once_succeeds_when_a_feed_is_unreachable() {
    let title = "Russia and North Korea hold joint military exercise";
    let server = FeedServer::start();
    server.serve(
        "/feed.xml",
        Route::rss(rss(&[
            Item::new("ok", title).published_ago(Duration::from_secs(60))
        ])),
    );
    let dead_port = support::reserve_port();
    let smtp = SmtpServer::start();
    let env = Env::new(Delivery::Smtp(smtp.port())).feeds(&[
        ("Alive", server.url("/feed.xml")),
        ("Dead", format!("http://127.0.0.1:{dead_port}/feed.xml")),
    ]);

    let run = env.run(&["once"]);
    assert!(
        run.status.success(),
        "once must exit 0 with a feed down\n{}",
        run.describe()
    );
    assert_eq!(
        subjects(&smtp.messages()),
        vec![subject_of(title)],
        "{}",
        run.describe()
    );
    let status = env.feeds_json();
    let dead = feed_named(&status, "Dead");
    assert!(
        dead["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("error"),
        "{dead:#}"
    );
    assert!(
        dead["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{dead:#}"
    );
    assert_eq!(dead["consecutive_errors"], 1, "{dead:#}");
    assert_eq!(feed_named(&status, "Alive")["status"], "ok", "{status:#?}");
}

/// An invalid configuration stops `once` with a non-zero exit and a message that points at
/// the problem.
#[test]
fn once_fails_clearly_on_an_invalid_config() {
    let server = FeedServer::start();
    server.serve(
        "/feed.xml",
        Route::rss(rss(&[Item::new("a", "Russia, North Korea and missiles")
            .published_ago(Duration::from_secs(60))])),
    );
    let smtp = SmtpServer::start();
    let feeds = [("Feed", server.url("/feed.xml"))];
    let env = Env::new(Delivery::Smtp(smtp.port()))
        .polling("interval = \"fortnight\"")
        .feeds(&feeds);
    let text = std::fs::read_to_string(&env.config).unwrap();

    let run = env.run(&["once"]);
    assert!(
        !run.status.success(),
        "once must fail on a bad duration\n{}",
        run.describe()
    );
    let at = format!("{}:{}:", env.config.display(), line_of(&text, "fortnight"));
    assert!(
        run.stderr.contains(&at) && run.stderr.contains("fortnight"),
        "the message should point at {at} and quote the bad value\n{}",
        run.describe()
    );

    let good = Env::new(Delivery::Smtp(smtp.port()));
    let (bad_query, text) = good.variant("bad-query.toml", &feeds, "@russia AND (@dprk OR");
    let run = good.run_with(&bad_query, &["once"]);
    assert!(
        !run.status.success(),
        "once must fail on a bad query\n{}",
        run.describe()
    );
    let at = format!("{}:{}:", bad_query.display(), line_of(&text, "query ="));
    assert!(
        run.stderr.contains(&at),
        "the message should point at {at}\n{}",
        run.describe()
    );
    assert_eq!(
        server.hits("/feed.xml"),
        0,
        "nothing is fetched with a bad config"
    );
    assert!(
        smtp.messages().is_empty(),
        "nothing is sent with a bad config"
    );
}

/// The daemon polls on its interval, alerts as items appear, and stops cleanly on SIGTERM.
#[test]
fn run_alerts_as_items_appear_and_stops_on_sigterm() {
    let first = "Russia and North Korea agree on missile deliveries";
    let second = "Kremlin confirms North Korean troops in Kursk";
    let mut items = vec![Item::new("r1", first).published_ago(Duration::from_secs(30))];
    let server = FeedServer::start();
    server.serve("/feed.xml", Route::rss(rss(&items)));
    let smtp = SmtpServer::start();
    let env = Env::new(Delivery::Smtp(smtp.port()))
        .polling("interval = \"1s\"")
        .feeds(&[("Feed", server.url("/feed.xml"))]);

    let child = env
        .command(&env.config, &["run"])
        .spawn()
        .expect("spawn newswatch run");
    let mut daemon = Running::new(child);

    assert!(
        support::wait_until(Duration::from_secs(15), || !smtp.messages().is_empty()),
        "no first alert from the daemon\n--- stderr ---\n{}",
        daemon.stderr()
    );
    items.push(Item::new("r2", second).published_ago(Duration::from_secs(1)));
    server.serve("/feed.xml", Route::rss(rss(&items)));
    assert!(
        support::wait_until(Duration::from_secs(15), || smtp.messages().len() >= 2),
        "no second alert after a new item\n--- stderr ---\n{}",
        daemon.stderr()
    );
    let mails = smtp.messages();
    let mut expected = vec![subject_of(first), subject_of(second)];
    expected.sort();
    assert_eq!(subjects(&mails), expected, "{}", daemon.stderr());

    // The running daemon's database can be inspected meanwhile.
    let status = env.feeds_json();
    let feed = feed_named(&status, "Feed");
    assert_eq!(feed["status"], "ok", "{feed:#}\n{}", daemon.stderr());
    assert_eq!(feed["articles"], 2, "{feed:#}\n{}", daemon.stderr());

    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.pid().to_string())
        .status()
        .expect("run kill");
    assert!(kill.success(), "kill -TERM failed");
    let status = daemon
        .wait_timeout(Duration::from_secs(10))
        .unwrap_or_else(|| {
            panic!(
                "the daemon did not stop within 10 s of SIGTERM\n--- stderr ---\n{}",
                daemon.stderr()
            )
        });
    assert!(
        status.success(),
        "the daemon should exit 0 on SIGTERM, got {status}\n--- stderr ---\n{}",
        daemon.stderr()
    );
    assert_eq!(smtp.messages().len(), 2, "{}", daemon.stderr());
}
