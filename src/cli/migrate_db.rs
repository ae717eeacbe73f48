//! `newswatch migrate-db --to postgres://…`: moves the configured SQLite database into an
//! empty PostgreSQL database and prints the row counts on both sides.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use newswatch::store::{Backend, Store, redacted_url};

use super::{EXIT_CONFIG, EXIT_FAILURE, load_config, open_store};

#[derive(Debug, Args)]
pub struct MigrateDbArgs {
    /// The PostgreSQL database to fill (it must be empty), e.g. postgres://newswatch@db/newswatch.
    #[arg(long)]
    pub to: String,
}

pub async fn run(config_path: &Path, args: &MigrateDbArgs) -> ExitCode {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if Backend::of_url(&config.database.url) != Some(Backend::Sqlite) {
        eprintln!(
            "error: migrate-db copies the configured SQLite database; [database] url is {}",
            redacted_url(&config.database.url)
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    if Backend::of_url(&args.to) != Some(Backend::Postgres) {
        eprintln!("error: --to must be a postgres:// or postgresql:// URL");
        return ExitCode::from(EXIT_CONFIG);
    }
    let source = match open_store(&config).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let target = match Store::open(&args.to, None).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let copied = source.copy_into(&target).await;
    source.close().await;
    target.close().await;
    match copied {
        Ok(tables) => {
            say!("{:<18} {:>10} {:>10}", "TABLE", "SQLITE", "POSTGRES");
            for table in &tables {
                say!(
                    "{:<18} {:>10} {:>10}",
                    table.table,
                    table.source_rows,
                    table.target_rows
                );
            }
            say!(
                "copied into {}; point [database] url at it and start the daemons",
                redacted_url(&args.to)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
