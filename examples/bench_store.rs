//! The store's cost per feed poll, without HTTP: `claim_feed` then `record_poll` of an
//! all-304 poll (what `newswatch` writes for a feed that answered `304 Not Modified`), over many
//! feeds, on SQLite or PostgreSQL, by one or several concurrent claimers (issue 10,
//! "Benchmarks").
//!
//! ```text
//! cargo run --release --example bench_store -- --backend postgres --feeds 100000 --claimers 3
//! cargo run --release --example bench_store -- --backend sqlite --feeds 100000 --claimers 1
//! ```
//!
//! Options (all optional):
//!
//! - `--backend sqlite|postgres` (default `postgres`).
//! - `--feeds N` (100000): feeds added with `Store::sync_feeds`; their ids are then read once
//!   with `Store::due_feeds`.
//! - `--claimers K` (1): concurrent tokio tasks over one `Store`, each with its own
//!   `Claimant` (owner `c1`..`cK`), each walking the whole id list, so they compete for every
//!   feed.
//! - `--order same|staggered` (`same`): every claimer walks the list from its start (they race
//!   for the same feed at the same moment), or claimer i starts at i × feeds / K and wraps
//!   around (they work side by side, then walk over the feeds the others took).
//! - `--inflight N` (1): polls each claimer keeps in flight (`for_each_concurrent`; the daemon
//!   polls `[polling] concurrency` feeds at once). 1 is the plain loop: claim, record, next.
//! - `--pool N`: the pool's size (default: 8 on PostgreSQL, at least claimers × inflight; the
//!   store's default 4 on SQLite).
//! - `--admin-url URL` (`postgres://postgres@127.0.0.1:5432/postgres`, or
//!   `BENCH_PG_ADMIN_URL`): where the throw-away database `bench_store_<pid>` is created and,
//!   at the end, dropped. SQLite uses a file in a temporary directory.
//! - `--pg-set NAME=VALUE` (repeatable): `ALTER DATABASE … SET` on the throw-away database
//!   before opening it, to see what bounds the rate (e.g. `synchronous_commit=off`).
//!
//! Per feed, a claimer calls `claim_feed(id, claimant, false)`; when it gets the lease it
//! calls `record_poll(lease, PollRecord::Success { not_modified: true, next_poll_at_ms: far
//! future, .. }, now)`. A feed claimed and recorded is not due again, so every feed is claimed
//! exactly once overall: the claims per claimer must add up to the number of feeds, and no id
//! may be claimed by two claimers. Afterwards the database is checked directly: every feed has
//! `lease_token = 1` (claimed once), no lease left, and `next_poll_at_ms` in the far future.
//!
//! Printed: the time to add the feeds, then polls/s = feeds / wall time of the claiming phase,
//! the claims per claimer, and the mean latency of a `claim_feed` and of a `record_poll` call
//! (claims that found the feed taken are counted apart: they are a round trip too).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use newswatch::store::{Backend, Claimant, FeedSpec, PollRecord, Store};
use sqlx::Connection;

const FAR_FUTURE: i64 = 4_000_000_000_000;

struct Options {
    backend: Backend,
    feeds: usize,
    claimers: usize,
    inflight: usize,
    staggered: bool,
    pool: Option<u32>,
    admin_url: String,
    pg_set: Vec<(String, String)>,
}

fn parse_options() -> Options {
    let mut options = Options {
        backend: Backend::Postgres,
        feeds: 100_000,
        claimers: 1,
        inflight: 1,
        staggered: false,
        pool: None,
        admin_url: std::env::var("BENCH_PG_ADMIN_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        pg_set: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--backend" => {
                options.backend = match value.as_str() {
                    "sqlite" => Backend::Sqlite,
                    "postgres" | "postgresql" => Backend::Postgres,
                    other => panic!("--backend: sqlite or postgres, not {other:?}"),
                }
            }
            "--feeds" => options.feeds = value.parse().expect("--feeds: a number"),
            "--claimers" => options.claimers = value.parse().expect("--claimers: a number"),
            "--inflight" => options.inflight = value.parse().expect("--inflight: a number"),
            "--order" => {
                options.staggered = match value.as_str() {
                    "same" => false,
                    "staggered" => true,
                    other => panic!("--order: same or staggered, not {other:?}"),
                }
            }
            "--pool" => options.pool = Some(value.parse().expect("--pool: a number")),
            "--admin-url" => options.admin_url = value,
            "--pg-set" => {
                let (name, setting) = value
                    .split_once('=')
                    .expect("--pg-set: NAME=VALUE, e.g. synchronous_commit=off");
                assert!(
                    name.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'),
                    "--pg-set: a setting name, not {name:?}"
                );
                options.pg_set.push((name.to_string(), setting.to_string()));
            }
            other => panic!("unknown option {other} (see the comment at the top of the file)"),
        }
    }
    assert!(options.claimers >= 1 && options.inflight >= 1 && options.feeds >= 1);
    options
}

/// A statement on the admin connection: database names are `bench_store_<pid>`, setting names
/// are checked to be identifiers and values are quoted, so nothing else reaches the SQL.
fn admin_sql(sql: String) -> sqlx::RawSql {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
}

/// Where the benchmark's database lives, and how to remove it afterwards.
enum Place {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl Place {
    async fn create(options: &Options) -> Place {
        match options.backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}/bench.db", dir.path().display());
                Place::Sqlite { _dir: dir, url }
            }
            Backend::Postgres => {
                let name = format!("bench_store_{}", std::process::id());
                let mut admin = sqlx::PgConnection::connect(&options.admin_url)
                    .await
                    .expect("connect to the admin database (--admin-url)");
                admin_sql(format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("drop an old benchmark database");
                admin_sql(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create the benchmark database");
                for (setting, value) in &options.pg_set {
                    let value = value.replace('\'', "''");
                    admin_sql(format!("ALTER DATABASE {name} SET {setting} = '{value}'"))
                        .execute(&mut admin)
                        .await
                        .expect("--pg-set");
                }
                admin.close().await.ok();
                let mut url = url::Url::parse(&options.admin_url).expect("--admin-url: a URL");
                url.set_path(&name);
                Place::Postgres {
                    admin_url: options.admin_url.clone(),
                    name,
                    url: url.to_string(),
                }
            }
        }
    }

    fn url(&self) -> &str {
        match self {
            Place::Sqlite { url, .. } | Place::Postgres { url, .. } => url,
        }
    }

    async fn remove(self) {
        if let Place::Postgres {
            admin_url, name, ..
        } = self
        {
            let mut admin = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("connect to the admin database");
            admin_sql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .expect("drop the benchmark database");
        }
    }
}

/// What one claimer did.
#[derive(Default)]
struct Tally {
    claimed: Vec<i64>,
    missed: u64,
    claim_ns: AtomicU64,
    missed_ns: AtomicU64,
    record_ns: AtomicU64,
}

async fn run_claimer(
    store: Store,
    owner: String,
    ids: Arc<Vec<i64>>,
    start: usize,
    inflight: usize,
) -> (String, Tally) {
    let claimant = Claimant {
        owner: owner.clone(),
        lease: Duration::from_secs(120),
    };
    let claimed = std::sync::Mutex::new(Vec::new());
    let missed = AtomicU64::new(0);
    let tally = Tally::default();
    let now = chrono::Utc::now().timestamp();
    let walk = ids[start..].iter().chain(&ids[..start]).copied();
    futures_util::stream::iter(walk)
        .for_each_concurrent(inflight, |id| {
            let (store, claimant, claimed, missed, tally) =
                (&store, &claimant, &claimed, &missed, &tally);
            async move {
                let started = Instant::now();
                let lease = store
                    .claim_feed(id, claimant, false)
                    .await
                    .expect("claim_feed");
                let claim_ns = started.elapsed().as_nanos() as u64;
                let Some((lease, _state)) = lease else {
                    missed.fetch_add(1, Ordering::Relaxed);
                    tally.missed_ns.fetch_add(claim_ns, Ordering::Relaxed);
                    return;
                };
                tally.claim_ns.fetch_add(claim_ns, Ordering::Relaxed);
                let record = PollRecord::Success {
                    moved_to: None,
                    etag: None,
                    last_modified: None,
                    not_modified: true,
                    new_articles: 0,
                    next_poll_at_ms: FAR_FUTURE,
                };
                let started = Instant::now();
                store
                    .record_poll(lease, &record, now)
                    .await
                    .expect("record_poll (a lease lost?)");
                tally
                    .record_ns
                    .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                claimed.lock().unwrap().push(id);
            }
        })
        .await;
    let tally = Tally {
        claimed: claimed.into_inner().unwrap(),
        missed: missed.into_inner(),
        ..tally
    };
    (owner, tally)
}

/// Checks the feeds table directly: each feed claimed once, no lease left, all recorded.
async fn check_table(url: &str) -> (i64, i64, i64) {
    const CHECK: &str = "SELECT
            COUNT(*),
            COALESCE(SUM(CASE WHEN lease_token = 1 THEN 1 ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN lease_owner IS NULL AND lease_until_ms IS NULL
                               AND next_poll_at_ms = 4000000000000
                               AND last_status = 'not_modified' THEN 1 ELSE 0 END), 0)
         FROM feeds";
    match Backend::of_url(url) {
        Some(Backend::Sqlite) => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.expect("sqlite");
            sqlx::query_as(CHECK)
                .fetch_one(&mut conn)
                .await
                .expect("check")
        }
        _ => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("postgres");
            sqlx::query_as(CHECK)
                .fetch_one(&mut conn)
                .await
                .expect("check")
        }
    }
}

fn mean_us(total_ns: &AtomicU64, count: u64) -> f64 {
    if count == 0 {
        return 0.0;
    }
    total_ns.load(Ordering::Relaxed) as f64 / count as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let options = parse_options();
    let place = Place::create(&options).await;
    let pool = options.pool.or(match options.backend {
        Backend::Postgres => Some((options.claimers * options.inflight).max(8) as u32),
        Backend::Sqlite => None,
    });
    let store = Store::open(place.url(), pool)
        .await
        .expect("open the store");
    println!(
        "backend {:?}, {} feeds, {} claimer(s) x {} in flight, order {}, pool {}",
        options.backend,
        options.feeds,
        options.claimers,
        options.inflight,
        if options.staggered {
            "staggered"
        } else {
            "same"
        },
        pool.map_or("default (4)".to_string(), |p| p.to_string()),
    );
    if !options.pg_set.is_empty() {
        println!("database settings: {:?}", options.pg_set);
    }

    let specs: Vec<FeedSpec> = (1..=options.feeds)
        .map(|i| FeedSpec {
            name: format!("f{i:06}"),
            url: format!("http://127.0.0.1:9/f{i:06}.xml"),
        })
        .collect();
    let started = Instant::now();
    store.sync_feeds(&specs).await.expect("sync_feeds");
    println!("sync_feeds: {:.2} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp();
    let ids: Vec<i64> = store
        .due_feeds(now)
        .await
        .expect("due_feeds")
        .into_iter()
        .map(|f| f.id)
        .collect();
    println!(
        "due_feeds: {} ids in {:.2} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(ids.len(), options.feeds, "every feed is due");
    let ids = Arc::new(ids);

    let started = Instant::now();
    let tasks: Vec<_> = (1..=options.claimers)
        .map(|c| {
            let start = if options.staggered {
                (c - 1) * ids.len() / options.claimers
            } else {
                0
            };
            tokio::spawn(run_claimer(
                store.clone(),
                format!("c{c}"),
                Arc::clone(&ids),
                start,
                options.inflight,
            ))
        })
        .collect();
    let mut tallies = Vec::new();
    for task in tasks {
        tallies.push(task.await.expect("claimer task"));
    }
    let wall = started.elapsed().as_secs_f64();

    let total: usize = tallies.iter().map(|(_, t)| t.claimed.len()).sum();
    let mut seen = std::collections::HashSet::with_capacity(total);
    let mut twice = 0usize;
    for (_, tally) in &tallies {
        for id in &tally.claimed {
            if !seen.insert(*id) {
                twice += 1;
            }
        }
    }
    println!(
        "claim + record: {} feeds in {:.2} s = {:.0} polls/s",
        options.feeds,
        wall,
        options.feeds as f64 / wall
    );
    for (owner, tally) in &tallies {
        let claims = tally.claimed.len() as u64;
        println!(
            "  {owner}: {claims} claimed, {} found taken; mean claim {:.0} us, taken {:.0} us, record {:.0} us",
            tally.missed,
            mean_us(&tally.claim_ns, claims),
            mean_us(&tally.missed_ns, tally.missed),
            mean_us(&tally.record_ns, claims),
        );
    }
    let (rows, once, recorded) = check_table(place.url()).await;
    println!(
        "claims: sum {total} (feeds {}), claimed by two claimers: {twice}; table: {rows} feeds, {once} with lease_token = 1, {recorded} recorded with no lease left",
        options.feeds
    );
    store.close().await;
    place.remove().await;
    assert_eq!(twice, 0, "a feed was claimed by two claimers");
    assert_eq!(total, options.feeds, "every feed claimed exactly once");
    assert_eq!(seen.len(), options.feeds);
    assert_eq!(once as usize, options.feeds, "every feed's token is 1");
    assert_eq!(recorded as usize, options.feeds, "every poll recorded");
    println!("ok: claims disjoint, each feed claimed once");
}
