//! What the matching benchmark and its companion examples share: the shipped `config.toml`
//! (its `[lists]` and its default watch), the generated corpus and watches, and the
//! per-article statistics (candidates proposed by the index vs watches that really match).
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use newswatch::config::Config;
use newswatch::rules::{ArticleView, ListDefinitions, WatchSet, WatchSource};

use crate::corpus::{self, BenchArticle, WatchGen};

/// The corpus, the lists and the watch generator.
pub struct Fixture {
    pub articles: Vec<BenchArticle>,
    /// `config.toml`'s lists plus the generated ones.
    pub lists: ListDefinitions,
    /// The watches of `config.toml` (the shipped default watch).
    pub shipped: Vec<WatchSource>,
    pub watches: WatchGen,
}

impl Fixture {
    /// `articles` generated articles; `hot_share` as in [`corpus::HOT_SHARE`].
    pub fn load(articles: usize, hot_share: f64) -> Fixture {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut lists = config.list_definitions();
        lists.extend(corpus::generated_lists());
        let shipped = config
            .watches()
            .map(|w| WatchSource {
                name: w.name().to_string(),
                query: w.query.get_ref().clone(),
            })
            .collect();
        let watches = WatchGen::new(lists.keys().cloned().collect(), hot_share);
        Fixture {
            articles: corpus::articles(corpus::ARTICLE_SEED, articles),
            lists,
            shipped,
            watches,
        }
    }

    /// `count` watches: the shipped ones first, then generated ones.
    pub fn sources(&self, count: usize) -> Vec<WatchSource> {
        let mut sources: Vec<WatchSource> = self.shipped.iter().take(count).cloned().collect();
        let mut index = 0;
        while sources.len() < count {
            sources.push(WatchSource {
                name: format!("watch {index}"),
                query: self.watches.query(index),
            });
            index += 1;
        }
        sources
    }

    /// Compiles `count` watches; returns the set and how long compiling took.
    pub fn compile(&self, count: usize) -> (WatchSet, Duration) {
        let sources = self.sources(count);
        let start = Instant::now();
        let set = WatchSet::compile(&sources, &self.lists).unwrap_or_else(|errors| {
            panic!(
                "generated watches do not compile: {:?}",
                &errors[..errors.len().min(5)]
            )
        });
        (set, start.elapsed())
    }

    pub fn views(&self) -> Vec<ArticleView<'_>> {
        self.articles.iter().map(view).collect()
    }
}

/// The article as a feed would deliver it: declared language, feed name and tags, link.
pub fn view(article: &BenchArticle) -> ArticleView<'_> {
    ArticleView {
        title: &article.title,
        summary: &article.summary,
        content: "",
        authors: &[],
        categories: &article.categories,
        link: Some(&article.link),
        feeds: &article.feed_labels,
        lang: Some(article.lang.code()),
    }
}

/// Averages over a corpus.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub candidates_per_article: f64,
    pub matches_per_article: f64,
    /// Share of articles matching at least one watch.
    pub matched_share: f64,
    pub words_per_article: f64,
}

pub fn stats(set: &WatchSet, views: &[ArticleView]) -> Stats {
    let (mut candidates, mut matches, mut matched, mut words) = (0usize, 0usize, 0usize, 0usize);
    for view in views {
        let document = set.analyze(view);
        let outcome = set.matches(&document);
        candidates += outcome.candidates;
        matches += outcome.matches.len();
        matched += usize::from(!outcome.matches.is_empty());
        words += document.word_count();
    }
    let n = views.len().max(1) as f64;
    Stats {
        candidates_per_article: candidates as f64 / n,
        matches_per_article: matches as f64 / n,
        matched_share: matched as f64 / n,
        words_per_article: words as f64 / n,
    }
}
