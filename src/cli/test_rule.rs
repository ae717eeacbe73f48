//! `newswatch test-rule`: run the watches over feed files or URLs, web pages, text files or
//! standard input, and show, per article, what matched and why (grouped as in an alert, or
//! every occurrence with `--hits`). No database, no mail: a config with only `[lists]` and
//! `[[watch]]` works.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use newswatch::article::Article;
use newswatch::article::standalone::{self, Kind};
use newswatch::config::Config;
use newswatch::feed::{self, FetchRequest, FetchSettings, Fetcher, PolledContent};
use newswatch::log_text::untrusted;
use newswatch::rules::{Hit, WatchSet, why};
use newswatch::story::{
    Decision, GroupMode, Replay, Role, Signature, SignatureBuilder, signature_of,
};
use newswatch::wording::plural;

use super::{EXIT_FAILURE, compile_watches, load_config, select_watches};

#[derive(Debug, Args)]
pub struct TestRuleArgs {
    /// Only these watches (repeatable).
    #[arg(long = "watch", value_name = "NAME")]
    pub watches: Vec<String>,
    /// One JSON object per article and line, matching or not.
    #[arg(long)]
    pub json: bool,
    /// Also list articles that match no watch (human output).
    #[arg(long)]
    pub all: bool,
    /// List every occurrence that made a watch match (clause, words, field, offset) instead
    /// of the grouped explanation (human output).
    #[arg(long)]
    pub hits: bool,
    /// Feed files, web pages (.html), text files (first line the title), `-` for standard
    /// input, or http(s) URLs of feeds.
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<String>,
}

#[derive(Serialize)]
struct JsonStory {
    /// The link of the story's first article.
    id: String,
    role: Role,
}

#[derive(Serialize)]
struct JsonMatch<'a> {
    watch: &'a str,
    /// Where the match stands in the watch's stories (absent for `group = "off"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    story: Option<JsonStory>,
    /// The article's words that matched, as written, once each.
    terms: Vec<&'a str>,
    /// Every piece of evidence: clause, field, words, offsets.
    hits: &'a [Hit],
    /// The explanation as the human output and alerts show it: a line per list or term,
    /// then the conditions that held.
    why: Vec<String>,
}

#[derive(Serialize)]
struct JsonArticle<'a> {
    source: &'a str,
    link: Option<&'a str>,
    title: &'a str,
    published: Option<String>,
    matches: Vec<JsonMatch<'a>>,
}

pub async fn run(config_path: &Path, args: &TestRuleArgs) -> ExitCode {
    run_checked(config_path, args)
        .await
        .unwrap_or_else(|code| code)
}

async fn run_checked(config_path: &Path, args: &TestRuleArgs) -> Result<ExitCode, ExitCode> {
    let config = load_config(config_path)?;
    // Only the warnings about what the queries mean: a test config needs no feeds.
    for warning in config.query_warnings() {
        eprintln!("{warning}\n");
    }
    let watches = compile_watches(&config)?;
    let selected = select_watches(&watches, &args.watches)?;
    let fetcher = match Fetcher::new(FetchSettings {
        timeout: config.polling.timeout.0,
        max_body: config.polling.max_body.0,
        user_agent: config.polling.user_agent.clone(),
    }) {
        Ok(fetcher) => fetcher,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(EXIT_FAILURE));
        }
    };
    let mut failed = false;
    let mut loaded = Vec::new();
    for source in &args.sources {
        match load_source(&config, &fetcher, source).await {
            Ok((parsed, labels)) => loaded.push((source.as_str(), parsed, labels)),
            Err(e) => {
                failed = true;
                eprintln!("error: {source}: {}", untrusted(&e));
            }
        }
    }
    // In order of publication, as the daemon would have met them (undated ones last), so that
    // each story's first article comes first.
    let mut articles: Vec<(&str, &Article, &[String])> = loaded
        .iter()
        .flat_map(|(source, parsed, labels)| {
            parsed
                .articles
                .iter()
                .map(move |article| (*source, article, labels.as_slice()))
        })
        .collect();
    articles.sort_by_key(|(_, article, _)| (article.published.is_none(), article.published));
    let builder = SignatureBuilder::new();
    let signatures: Vec<Signature> = articles
        .iter()
        .map(|(_, article, _)| signature_of(&builder, article))
        .collect();
    let grouping = (0..watches.len()).map(|index| {
        config
            .watches()
            .find(|w| w.name() == watches.name(index))
            .map_or((GroupMode::Off, Duration::ZERO), |w| {
                (w.group, w.group_window())
            })
    });
    let grouping: Vec<(GroupMode, Duration)> = grouping.collect();
    let groupings: Vec<GroupMode> = grouping.iter().map(|(mode, _)| *mode).collect();
    let mut stories = Replay::new(grouping, &signatures);
    let mut totals = Totals::default();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut latest = 0;
    for ((source, article, labels), signature) in articles.into_iter().zip(signatures) {
        latest = article
            .published
            .map_or(latest, |p| p.timestamp().max(latest));
        let shown = Shown {
            watches: &watches,
            groupings: &groupings,
            selected: &selected,
            args,
            source,
        };
        shown.article(
            &mut out,
            article,
            labels,
            &mut totals,
            &mut |watch, hits| {
                let vocabulary = builder.vocabulary(hits.iter().map(|h| h.text.as_str()));
                let key = article
                    .link
                    .clone()
                    .unwrap_or_else(|| article.identity.clone());
                stories.place(watch, latest, signature.clone(), &vocabulary, key)
            },
        );
    }
    if !args.json {
        let _ = writeln!(
            out,
            "{}, {} matched ({})",
            plural(totals.articles, "article", "articles"),
            totals.matched,
            plural(totals.matches, "watch match", "watch matches")
        );
    }
    let _ = out.flush();
    Ok(if failed {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Default)]
struct Totals {
    articles: usize,
    matched: usize,
    matches: usize,
}

/// Reads a source and the labels (`feed:`) its articles carry: the configured feed's name and
/// tags when the source is a configured URL, else the feed's title and the source itself.
async fn load_source(
    config: &Config,
    fetcher: &Fetcher,
    source: &str,
) -> Result<(feed::ParsedFeed, Vec<String>), String> {
    let configured = config.feeds().find(|f| f.url() == source);
    let is_url = source.starts_with("http://") || source.starts_with("https://");
    let parsed = if !is_url {
        let bytes = read_local(config, source)?;
        match standalone::sniff(&bytes, source) {
            Kind::Feed => parse_local(&bytes, source)?,
            kind => {
                let article = if kind == Kind::Html {
                    standalone::from_html(&bytes)
                } else {
                    standalone::from_text(&bytes)
                };
                feed::ParsedFeed {
                    title: None,
                    language: None,
                    ttl_minutes: None,
                    articles: vec![article],
                }
            }
        }
    } else {
        let request = FetchRequest {
            url: source.to_string(),
            ..Default::default()
        };
        let lang = configured.and_then(|f| f.lang());
        let polled = feed::poll(fetcher, &request, lang)
            .await
            .map_err(|e| e.to_string())?;
        match polled.content {
            PolledContent::Feed { feed, .. } => feed,
            PolledContent::NotModified => return Err("the server answered 304 Not Modified".into()),
        }
    };
    let labels = match configured {
        Some(feed) => {
            let mut labels = vec![feed.name().to_string()];
            labels.extend(feed.tags.iter().cloned());
            labels
        }
        None => parsed
            .title
            .iter()
            .cloned()
            .chain([source.to_string()])
            .collect(),
    };
    Ok((parsed, labels))
}

/// A file's bytes, or standard input's for `-`, at most `[polling] max_body`.
fn read_local(config: &Config, source: &str) -> Result<Vec<u8>, String> {
    let limit = config.polling.max_body.0;
    let mut bytes = Vec::new();
    let read = if source == "-" {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(source).and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("larger than [polling] max_body ({limit} bytes)"));
    }
    Ok(bytes)
}

fn parse_local(bytes: &[u8], source: &str) -> Result<feed::ParsedFeed, String> {
    let base = if source == "-" {
        None
    } else {
        std::path::absolute(source)
            .ok()
            .and_then(|p| url::Url::from_file_path(p).ok())
    }
    .map_or_else(|| "file:///".to_string(), |u| u.to_string());
    feed::parse_bytes(bytes, None, &base, None).map_err(|e| e.to_string())
}

/// Places a match of a watch (index, hits) in the watch's stories.
type PlaceInStory<'a> = dyn FnMut(usize, &[Hit]) -> Option<Decision<String>> + 'a;

struct Shown<'a> {
    watches: &'a WatchSet,
    /// Each watch's grouping, index-aligned with `watches`.
    groupings: &'a [GroupMode],
    selected: &'a [usize],
    args: &'a TestRuleArgs,
    source: &'a str,
}

impl Shown<'_> {
    /// Whether watch `index` groups its matches into stories.
    fn groups(&self, index: usize) -> bool {
        self.groupings
            .get(index)
            .is_some_and(|mode| *mode != GroupMode::Off)
    }

    fn article(
        &self,
        out: &mut impl Write,
        article: &Article,
        labels: &[String],
        totals: &mut Totals,
        place: &mut PlaceInStory<'_>,
    ) {
        let document = self.watches.analyze(&article.view(labels));
        let outcome = self.watches.matches(&document);
        let matches: Vec<_> = outcome
            .matches
            .iter()
            .filter(|m| self.selected.contains(&m.watch))
            .collect();
        let stories: Vec<Option<Decision<String>>> = matches
            .iter()
            .map(|m| place(m.watch, &m.hits).filter(|_| self.groups(m.watch)))
            .collect();
        totals.articles += 1;
        totals.matches += matches.len();
        totals.matched += usize::from(!matches.is_empty());
        let published = article.published.map(|p| p.to_rfc3339());
        if self.args.json {
            let json = JsonArticle {
                source: self.source,
                link: article.link.as_deref(),
                title: &article.title,
                published,
                matches: matches
                    .iter()
                    .zip(&stories)
                    .map(|(m, story)| JsonMatch {
                        watch: self.watches.name(m.watch),
                        story: story.as_ref().map(|d| JsonStory {
                            id: d.story.clone().unwrap_or_default(),
                            role: d.role,
                        }),
                        terms: distinct_words(&m.hits),
                        hits: &m.hits,
                        why: why::group(&m.hits).lines(),
                    })
                    .collect(),
            };
            if let Ok(line) = serde_json::to_string(&json) {
                let _ = writeln!(out, "{line}");
            }
            return;
        }
        if matches.is_empty() && !self.args.all {
            return;
        }
        let _ = writeln!(out, "{}", untrusted(&article.title));
        let _ = writeln!(
            out,
            "  {} | {}",
            untrusted(article.link.as_deref().unwrap_or("(no link)")),
            published.as_deref().unwrap_or("undated")
        );
        if matches.is_empty() {
            let _ = writeln!(out, "  no watch matches");
        }
        for (m, story) in matches.iter().zip(&stories) {
            let _ = writeln!(out, "  matches {:?}:", self.watches.name(m.watch));
            if let Some(Decision {
                role: role @ (Role::Copy | Role::Update),
                story: Some(first),
                ..
            }) = story
            {
                let _ = writeln!(
                    out,
                    "    story: {} of {}",
                    if *role == Role::Copy {
                        "a copy"
                    } else {
                        "an update"
                    },
                    untrusted(first)
                );
            }
            if self.args.hits {
                for hit in &m.hits {
                    let field = hit.field.map_or("source", |f| f.name());
                    let _ = writeln!(
                        out,
                        "    {:<40} {:?} in {field} at {}",
                        hit.clause, hit.text, hit.start
                    );
                }
            } else {
                for line in why::group(&m.hits).lines() {
                    let _ = writeln!(out, "    {}", untrusted(&line));
                }
            }
        }
        let _ = writeln!(out);
    }
}

fn distinct_words(hits: &[Hit]) -> Vec<&str> {
    let mut words: Vec<&str> = Vec::new();
    for hit in hits {
        if !words.contains(&hit.text.as_str()) {
            words.push(&hit.text);
        }
    }
    words
}
