//! `newswatch backtest`: the watches run over the stored archive: how often each would have
//! fired, day by day, with sample titles, before it is let loose on an analyst's inbox.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;

use newswatch::alert::batch::emails_for;
use newswatch::config::{Config, parse_duration};
use newswatch::log_text::untrusted;
use newswatch::rules::ArticleView;
use newswatch::store::ArchivedArticle;
use newswatch::story::{GroupMode, Replay, Role, Signature, SignatureBuilder};
use newswatch::wording::plural;

use super::{
    EXIT_CONFIG, EXIT_FAILURE, compile_watches, load_config, open_existing_store, select_watches,
};

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// How far back to look, e.g. "30d" or "12h".
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// Only these watches (repeatable).
    #[arg(long = "watch", value_name = "NAME")]
    pub watches: Vec<String>,
    /// Sample titles shown per watch.
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
    /// One JSON object per watch and line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Default, Serialize)]
struct WatchReport {
    watch: String,
    articles_scanned: usize,
    matches: usize,
    /// The emails these matches would have sent, from when each article was fetched, with the
    /// watch's mode (immediate or digest), `max_per_hour` and `group`, leaving out articles
    /// already older than `max_age` when fetched.
    alert_emails: usize,
    /// Of those matches, the ones story grouping (`group`) would have left out as copies of a
    /// story already alerted, and sent as updates threaded on it.
    copies_suppressed: usize,
    updates_threaded: usize,
    /// Matches per day (UTC), by publication date, else the date it was fetched.
    per_day: BTreeMap<String, usize>,
    busiest_day: usize,
    /// Newest first.
    samples: Vec<Sample>,
}

#[derive(Serialize, Clone)]
struct Sample {
    day: String,
    title: String,
    link: Option<String>,
    terms: Vec<String>,
}

fn labels_of(config: &Config, article: &ArchivedArticle) -> Vec<String> {
    let Some(name) = &article.feed_name else {
        return Vec::new();
    };
    let mut labels = vec![name.clone()];
    if let Some(feed) = config.feeds().find(|f| f.name() == name) {
        labels.extend(feed.tags.iter().cloned());
    }
    labels
}

fn day_of(article: &ArchivedArticle) -> String {
    let timestamp = article.published_at.unwrap_or(article.fetched_at);
    DateTime::<Utc>::from_timestamp(timestamp, 0).map_or_else(
        || "unknown".to_string(),
        |d| d.format("%Y-%m-%d").to_string(),
    )
}

pub async fn run(config_path: &Path, args: &BacktestArgs) -> ExitCode {
    run_checked(config_path, args)
        .await
        .unwrap_or_else(|code| code)
}

async fn run_checked(config_path: &Path, args: &BacktestArgs) -> Result<ExitCode, ExitCode> {
    let since = match parse_duration(&args.since) {
        Ok(since) => since,
        Err(e) => {
            eprintln!("error: --since: {e}");
            return Err(ExitCode::from(EXIT_CONFIG));
        }
    };
    let config = load_config(config_path)?;
    let watches = compile_watches(&config)?;
    let selected = select_watches(&watches, &args.watches)?;
    let store = open_existing_store(&config).await?;
    let start =
        Utc::now() - chrono::Duration::from_std(since).unwrap_or(chrono::Duration::days(30));
    let articles = match store.articles_since(start.timestamp()).await {
        Ok(articles) => articles,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(EXIT_FAILURE));
        }
    };
    store.close().await;

    let mut reports: Vec<WatchReport> = selected
        .iter()
        .map(|&w| WatchReport {
            watch: watches.name(w).to_string(),
            articles_scanned: articles.len(),
            ..Default::default()
        })
        .collect();
    let max_age = i64::try_from(config.polling.max_age.0.as_secs()).unwrap_or(i64::MAX);
    let mut fetched: Vec<Vec<i64>> = vec![Vec::new(); selected.len()];
    // In order of publication, as the daemon would have met them, for story grouping.
    let mut articles = articles;
    articles.sort_by_key(|a| a.published_at.unwrap_or(a.fetched_at));
    let builder = SignatureBuilder::new();
    let signatures: Vec<Signature> = articles
        .iter()
        .map(|a| builder.signature(&a.title, &a.summary, &a.content))
        .collect();
    let configured = |index: usize| config.watches().find(|w| w.name() == watches.name(index));
    let grouping = (0..watches.len()).map(|index| {
        configured(index).map_or((GroupMode::Off, Duration::ZERO), |w| {
            (w.group, w.group_window())
        })
    });
    let mut stories = Replay::new(grouping.collect::<Vec<_>>(), &signatures);
    for (article, signature) in articles.iter().zip(&signatures) {
        let authors: Vec<String> = serde_json::from_str(&article.authors).unwrap_or_default();
        let categories: Vec<String> = serde_json::from_str(&article.categories).unwrap_or_default();
        let labels = labels_of(&config, article);
        let view = ArticleView {
            title: &article.title,
            summary: &article.summary,
            content: &article.content,
            authors: &authors,
            categories: &categories,
            link: article.link.as_deref(),
            feeds: &labels,
            lang: article.lang.as_deref(),
        };
        let too_old_to_alert = article
            .published_at
            .is_some_and(|published| published < article.fetched_at - max_age);
        let document = watches.analyze(&view);
        for found in watches.matches(&document).matches {
            let Some(slot) = selected.iter().position(|&w| w == found.watch) else {
                continue;
            };
            let report = &mut reports[slot];
            let day = day_of(article);
            report.matches += 1;
            if !too_old_to_alert {
                let vocabulary = builder.vocabulary(found.hits.iter().map(|h| h.text.as_str()));
                let role = stories
                    .place(
                        found.watch,
                        article.published_at.unwrap_or(article.fetched_at),
                        signature.clone(),
                        &vocabulary,
                        article.identity.clone(),
                    )
                    .map(|decision| decision.role);
                let digest = configured(found.watch).is_some_and(|w| w.digest_schedule().is_some());
                match role {
                    // A copy is listed under its story in a digest, and not alerted otherwise.
                    Some(Role::Copy) => {
                        report.copies_suppressed += 1;
                        if digest {
                            fetched[slot].push(article.fetched_at);
                        }
                    }
                    Some(Role::Update) => {
                        report.updates_threaded += 1;
                        fetched[slot].push(article.fetched_at);
                    }
                    _ => fetched[slot].push(article.fetched_at),
                }
            }
            *report.per_day.entry(day.clone()).or_default() += 1;
            let mut terms: Vec<String> = Vec::new();
            for hit in &found.hits {
                if !terms.contains(&hit.text) {
                    terms.push(hit.text.clone());
                }
            }
            report.samples.push(Sample {
                day,
                title: article.title.clone(),
                link: article.link.clone(),
                terms,
            });
        }
    }
    for (report, fetched) in reports.iter_mut().zip(&fetched) {
        if let Some(watch) = config
            .watch
            .iter()
            .find(|w| w.get_ref().name() == report.watch)
        {
            let watch = watch.get_ref();
            report.alert_emails = emails_for(
                watch.digest_schedule().as_ref(),
                watch.max_per_hour,
                fetched,
            );
        }
        report.busiest_day = report.per_day.values().copied().max().unwrap_or(0);
        report.samples.reverse();
        report.samples.truncate(args.samples);
    }
    print(&reports, args);
    Ok(ExitCode::SUCCESS)
}

fn print(reports: &[WatchReport], args: &BacktestArgs) {
    let since = &args.since;
    if args.json {
        for report in reports {
            if let Ok(line) = serde_json::to_string(report) {
                say!("{line}");
            }
        }
        return;
    }
    for report in reports {
        let days = report.per_day.len().max(1);
        say!("{}", report.watch);
        say!(
            "  {} in {} stored articles over the last {since}: {} with this watch's delivery settings",
            plural(report.matches, "match", "matches"),
            report.articles_scanned,
            plural(report.alert_emails, "alert email", "alert emails")
        );
        if report.copies_suppressed + report.updates_threaded > 0 {
            say!(
                "  story grouping: {} left out as copies of a story already alerted, {} sent as threaded updates",
                plural(report.copies_suppressed, "match", "matches"),
                report.updates_threaded
            );
        }
        say!(
            "  {:.1} per day with matches, {} on the busiest day",
            report.matches as f64 / days as f64,
            report.busiest_day
        );
        for (day, count) in &report.per_day {
            say!("    {day}  {count:>5}  {}", "#".repeat((*count).min(60)));
        }
        if !report.samples.is_empty() {
            say!("  latest:");
            for sample in &report.samples {
                say!(
                    "    {}  {}  [{}]",
                    sample.day,
                    untrusted(&sample.title),
                    untrusted(sample.terms.join(", "))
                );
            }
        }
        say!();
    }
}
