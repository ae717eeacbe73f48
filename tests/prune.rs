//! Retention through the real `newswatch` binary (issue 11, acceptance 5): on a SQLite
//! database with old and new rows, `prune --dry-run` says what would go and changes nothing;
//! `prune` removes the old articles, keeps the article of a queued alert, and the file on disk
//! gets smaller; and the feed, which still carries every deleted entry, alerts none of them
//! again. A database file is what this is about: these tests use SQLite whatever the backend
//! matrix says (the store tests run retention on PostgreSQL).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{FeedServer, Item, Route, reserve_port, rss};
use tempfile::TempDir;

/// Old entries in the feed, each with a couple of kilobytes of text.
const OLD_ENTRIES: usize = 1500;

struct Env {
    dir: TempDir,
    feed_url: String,
}

impl Env {
    fn new(feed_url: String) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("newswatch-prune-")
            .tempdir()
            .expect("create temp dir");
        Env { dir, feed_url }
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("newswatch.db")
    }

    fn alerts_dir(&self) -> PathBuf {
        self.dir.path().join("alerts")
    }

    /// The configuration, delivering to `alerts/` (`None`) or to an SMTP port where nothing
    /// listens, so that alerts stay queued.
    fn configure(&self, refused_smtp_port: Option<u16>) {
        let transport = match refused_smtp_port {
            None => "transport = \"file\"\ndir = \"alerts\"\n".to_string(),
            Some(port) => format!(
                "transport = \"smtp\"\n\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {port}\n\
                 security = \"none\"\ntimeout = \"5s\"\n"
            ),
        };
        let text = format!(
            "[database]\nurl = \"sqlite://newswatch.db\"\n\n\
             [email]\nfrom = \"Newswatch <alerts@newswatch.test>\"\n{transport}\n\
             [[feeds]]\nname = \"News\"\nurl = \"{}\"\n\n\
             [[watch]]\nname = \"Walrus\"\nquery = \"walrus\"\nto = [\"analyst@example.org\"]\n",
            self.feed_url
        );
        std::fs::write(self.dir.path().join("config.toml"), text).expect("write config");
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .args(args)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn")
            .env_remove("NEWSWATCH_CONFIG")
            .stdin(Stdio::null())
            .output()
            .expect("run newswatch")
    }

    /// Runs a command and checks its exit code.
    fn expect(&self, args: &[&str], code: i32) -> String {
        let output = self.run(args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(
            output.status.code(),
            Some(code),
            "newswatch {args:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    fn file_size(&self) -> u64 {
        std::fs::metadata(self.database())
            .expect("the database file")
            .len()
    }

    /// Runs SQL on the database (no newswatch process has it open).
    fn sql<T: Send + 'static>(
        &self,
        work: impl AsyncFnOnce(&sqlx::SqlitePool) -> T + Send + 'static,
    ) -> T {
        let url = format!("sqlite://{}", self.database().display());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let pool = sqlx::SqlitePool::connect(&url).await.expect("open");
                let result = work(&pool).await;
                pool.close().await;
                result
            })
        })
        .join()
        .expect("the SQL thread")
    }

    fn count(&self, query: &'static str) -> i64 {
        self.sql(async move |pool| {
            sqlx::query_scalar::<_, i64>(query)
                .fetch_one(pool)
                .await
                .expect(query)
        })
    }

    fn mails(&self) -> usize {
        std::fs::read_dir(self.alerts_dir()).map_or(0, |entries| entries.count())
    }
}

/// The feed: many ordinary entries of the last hour, one walrus story of the last hour, and
/// (`with_undated`) one undated walrus story. Served without validators, so that every poll
/// reads and ingests it all.
fn serve_feed(server: &FeedServer, with_undated: bool) {
    let hour_ago = Duration::from_secs(3600);
    let text = "Councillors met to discuss the budget, the roads and the harbour. ".repeat(30);
    let mut items: Vec<Item> = (0..OLD_ENTRIES)
        .map(|n| {
            Item::new(&format!("story-{n}"), &format!("Council meeting {n}"))
                .published_ago(hour_ago)
                .description(&text)
        })
        .collect();
    items.push(Item::new("walrus-dated", "Walrus spotted in the harbour").published_ago(hour_ago));
    if with_undated {
        items.push(Item::new("walrus-undated", "Walrus returns to the harbour"));
    }
    server.serve(
        "/feed.xml",
        Route::status_with(
            200,
            &[("Content-Type", "application/rss+xml; charset=utf-8")],
            rss(&items),
        ),
    );
}

#[test]
fn prune_removes_old_articles_keeps_the_queued_alerts_one_and_the_file_shrinks() {
    let server = FeedServer::start();
    let env = Env::new(server.url("/feed.xml"));

    // The first poll: every entry stored, the dated walrus story alerted and delivered.
    serve_feed(&server, false);
    env.configure(None);
    env.expect(&["once"], 0);
    assert_eq!(env.mails(), 1, "the walrus alert was delivered");
    // The next poll brings the undated walrus story; its alert stays queued (the mail server
    // cannot be reached).
    serve_feed(&server, true);
    env.configure(Some(reserve_port()));
    env.expect(&["once"], 1);
    let all = OLD_ENTRIES as i64 + 2;
    assert_eq!(env.count("SELECT COUNT(*) FROM articles"), all);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM alerts WHERE status = 'queued'"),
        1
    );
    // A hundred days pass for every article.
    env.sql(async |pool| {
        sqlx::query("UPDATE articles SET fetched_at = fetched_at - 100 * 86400")
            .execute(pool)
            .await
            .expect("age the articles");
    });

    let size_before = env.file_size();
    let dry = env.expect(&["prune", "--dry-run"], 0);
    let removable = OLD_ENTRIES + 1;
    assert!(
        dry.contains("retention: articles 90d, sent alerts 180d, failed alerts 365d")
            && dry.contains(&format!(
                "would remove {removable} articles, 0 sent alerts, 0 failed alerts \
                 (dry run: nothing changed)"
            )),
        "{dry}"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM articles"), all, "{dry}");
    assert_eq!(env.file_size(), size_before, "a dry run writes nothing");

    let pruned = env.expect(&["prune"], 0);
    assert!(
        pruned.contains(&format!(
            "removed {removable} articles, 0 sent alerts, 0 failed alerts"
        )) && pruned.contains("bytes reclaimed"),
        "{pruned}"
    );
    let size_after = env.file_size();
    assert!(
        size_after < size_before / 2,
        "the file shrank from {size_before} to {size_after} bytes\n{pruned}"
    );
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM articles a JOIN alerts q ON q.article_id = a.id
             WHERE q.status = 'queued' AND a.title = 'Walrus returns to the harbour'"
        ),
        1,
        "the article of the queued alert is kept\n{pruned}"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM articles"), 1, "{pruned}");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM alerts WHERE status = 'sent'"),
        1,
        "the sent alert is younger than alerts_sent: kept"
    );

    // The feed still carries every deleted entry, the dated walrus story among them (an hour
    // old, so it would alert if it were new): the next poll stores nothing, alerts nothing
    // again, and delivers the queued alert (due now, not after its retry backoff).
    env.configure(None);
    let queued = env.count("SELECT id FROM alerts WHERE status = 'queued'");
    env.expect(&["alerts", "retry", &queued.to_string()], 0);
    env.expect(&["once"], 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM articles"), 1);
    assert_eq!(
        env.mails(),
        2,
        "the queued alert was delivered, and no deleted article alerted again"
    );
    // Its alert sent, the last old article is needed no more.
    let again = env.expect(&["prune"], 0);
    assert!(
        again.contains("removed 1 article, 0 sent alerts, 0 failed alerts"),
        "{again}"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM articles"), 0);
}

/// A database made before newswatch set `auto_vacuum` (here: the schema made without it, as
/// an older newswatch made it): `prune` rewrites it once, and it shrinks.
#[test]
fn prune_rewrites_an_older_database_once_so_that_it_shrinks() {
    let server = FeedServer::start();
    let env = Env::new(server.url("/feed.xml"));
    let url = format!("sqlite://{}", env.database().display());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("the URL");
            let pool = sqlx::SqlitePool::connect_with(
                options
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
            )
            .await
            .expect("create the database");
            sqlx::migrate!("migrations/sqlite")
                .run(&pool)
                .await
                .expect("the schema");
            pool.close().await;
        });
    })
    .join()
    .expect("the SQL thread");
    serve_feed(&server, false);
    env.configure(None);
    env.expect(&["once"], 0);
    env.sql(async |pool| {
        sqlx::query("UPDATE articles SET fetched_at = fetched_at - 100 * 86400")
            .execute(pool)
            .await
            .expect("age the articles");
    });
    assert_eq!(env.count("PRAGMA auto_vacuum"), 0, "made without it");

    let size_before = env.file_size();
    let dry = env.expect(&["prune", "--dry-run"], 0);
    assert!(dry.contains("rewrites it once"), "{dry}");
    assert_eq!(env.file_size(), size_before);
    let pruned = env.expect(&["prune"], 0);
    assert!(
        pruned.contains(&format!("removed {} articles", OLD_ENTRIES + 1))
            && pruned.contains("rewrote the database file once"),
        "{pruned}"
    );
    let size_after = env.file_size();
    assert!(
        size_after < size_before / 2,
        "the file shrank from {size_before} to {size_after} bytes\n{pruned}"
    );
    assert_eq!(
        env.count("PRAGMA auto_vacuum"),
        2,
        "incremental from now on"
    );
    let again = env.expect(&["prune"], 0);
    assert!(!again.contains("rewrote"), "once is enough\n{again}");
}

#[test]
fn prune_never_creates_a_database() {
    let env = Env::new(format!("http://127.0.0.1:{}/feed.xml", reserve_port()));
    env.configure(None);
    for args in [&["prune"][..], &["prune", "--dry-run"]] {
        let output = env.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("no database exists yet"),
            "{args:?}: {stderr}"
        );
        assert!(!Path::new(&env.database()).exists(), "{args:?}");
    }
}
