//! The database a test's daemon uses, by the backend matrix: a SQLite file in the test's
//! directory by default, or, with `NEWSWATCH_TEST_BACKEND=postgres`, a fresh schema of the
//! PostgreSQL database named by `NEWSWATCH_TEST_POSTGRES` (`.ci/run` makes a throw-away one
//! and runs the integration suites once per backend). One test body, both backends.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether this run of the suite is on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("NEWSWATCH_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// For tests of what only SQLite has (its file, its lock file): `true` means run; on
/// PostgreSQL it says why the test does nothing.
pub fn sqlite_only(what: &str) -> bool {
    if on_postgres() {
        eprintln!("SQLite only ({what}): nothing to test on PostgreSQL");
        return false;
    }
    true
}

/// The `[database] url` for a test whose files live in `dir`.
pub fn url(dir: &Path) -> String {
    if !on_postgres() {
        return format!("sqlite://{}/newswatch.db", dir.display());
    }
    let base = std::env::var("NEWSWATCH_TEST_POSTGRES")
        .expect("NEWSWATCH_TEST_BACKEND=postgres needs NEWSWATCH_TEST_POSTGRES=postgres://…");
    fresh_schema(&base)
}

/// A new, empty schema in the database at `base`, as a URL whose connections use it.
pub fn fresh_schema(base: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let schema = format!(
        "it_{}_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let statement = format!("CREATE SCHEMA {schema}");
    let base_owned = base.to_string();
    // A runtime of its own on a thread of its own: callers may be inside a runtime already.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let pool = sqlx::PgPool::connect(&base_owned)
                .await
                .expect("connect to NEWSWATCH_TEST_POSTGRES");
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&pool)
                .await
                .expect("create a test schema");
            pool.close().await;
        });
    })
    .join()
    .expect("create the schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}
