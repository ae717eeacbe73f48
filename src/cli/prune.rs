//! `newswatch prune [--dry-run]`: applies `[retention]` once, now, and prints what went (or,
//! dry, what would go), for an operator who wants the space back before the daemon's daily
//! pass, for a setup without the daemon (`once` from cron), and for the one-time rewrite that
//! lets a database made by an older newswatch shrink.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use newswatch::store::{FileSpace, MIN_ARTICLE_KEEP, PruneReport, RetentionPolicy};

use super::{EXIT_FAILURE, load_config, open_existing_store};

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Print what would be removed, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(config_path: &Path, args: &PruneArgs) -> ExitCode {
    run_checked(config_path, args)
        .await
        .unwrap_or_else(|code| code)
}

async fn run_checked(config_path: &Path, args: &PruneArgs) -> Result<ExitCode, ExitCode> {
    let config = load_config(config_path)?;
    let policy = config.retention.policy();
    let store = open_existing_store(&config).await?;
    let now = chrono::Utc::now().timestamp();
    let pruned = store.prune(&policy, now, args.dry_run, &|| false).await;
    let rewritten = match &pruned {
        Ok(report) if !args.dry_run && report.file.is_some_and(|f| !f.shrinks) => {
            Some(store.make_file_shrinkable().await)
        }
        _ => None,
    };
    store.close().await;
    let failed = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_FAILURE)
    };
    let report = pruned.map_err(|e| failed(&e))?;
    say!("retention: {}", describe_policy(&policy));
    if args.dry_run {
        say!(
            "would remove {} (dry run: nothing changed)",
            counts(&report)
        );
        if let Some(file) = report.file {
            say!("database: {} bytes", file.bytes_before);
            if !file.shrinks {
                say!(
                    "the database file was made before newswatch gave space back; `newswatch prune` \
                     rewrites it once (VACUUM: it needs free disk space the size of the database, \
                     and holds up the daemon's writes while it runs)"
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    say!("removed {}", counts(&report));
    let file = match rewritten {
        Some(Ok(Some(after))) => {
            say!(
                "rewrote the database file once (VACUUM) so that it shrinks from now on, \
                 as retention removes rows"
            );
            report.file.map(|pass| FileSpace {
                bytes_after: after.bytes_after,
                ..pass
            })
        }
        Some(Ok(None)) | None => report.file,
        Some(Err(e)) => {
            return Err(failed(&format!(
                "the rows are removed, but rewriting the database file failed: {e}"
            )));
        }
    };
    if let Some(file) = file {
        say!(
            "database: {} → {} bytes ({} bytes reclaimed)",
            file.bytes_before,
            file.bytes_after,
            file.reclaimed()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `1200 articles, 3 sent alerts, 0 failed alerts`.
fn counts(report: &PruneReport) -> String {
    let count = |n: u64, one: &str, many: &str| {
        newswatch::wording::plural(usize::try_from(n).unwrap_or(usize::MAX), one, many)
    };
    format!(
        "{}, {}, {}",
        count(report.articles, "article", "articles"),
        count(report.alerts_sent, "sent alert", "sent alerts"),
        count(report.alerts_failed, "failed alert", "failed alerts")
    )
}

/// `articles 90d, sent alerts 180d, failed alerts kept for ever`.
fn describe_policy(policy: &RetentionPolicy) -> String {
    format!(
        "articles {}, sent alerts {}, failed alerts {}",
        describe(policy.articles.map(|keep| keep.max(MIN_ARTICLE_KEEP))),
        describe(policy.alerts_sent),
        describe(policy.alerts_failed)
    )
}

fn describe(keep: Option<Duration>) -> String {
    let Some(keep) = keep else {
        return "kept for ever".to_string();
    };
    let seconds = keep.as_secs();
    match seconds {
        s if s > 0 && s % 86400 == 0 => format!("{}d", s / 86400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        _ => humantime::format_duration(keep).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_written_as_the_configuration_writes_them() {
        assert_eq!(describe(None), "kept for ever");
        assert_eq!(describe(Some(Duration::from_secs(90 * 86400))), "90d");
        assert_eq!(describe(Some(Duration::from_secs(36 * 3600))), "36h");
        assert_eq!(describe(Some(Duration::from_secs(90))), "1m 30s");
    }
}
