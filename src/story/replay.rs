//! Story grouping without a database, for `test-rule` and `backtest`: the articles of a feed
//! set or of the archive are the recent archive, and matches are placed in order of
//! publication, as the daemon would have met them.

use std::time::Duration;

use super::{Decision, GroupMode, Signature, SignatureBuilder, StoryBook, TermStats};

/// Per-watch story books over one archive.
#[derive(Debug)]
pub struct Replay {
    stats: TermStats,
    books: Vec<StoryBook<String>>,
}

impl Replay {
    /// `watches`: each watch's grouping and window, index-aligned with the watch set;
    /// `archive`: the signatures of every article the replay covers.
    pub fn new<'a>(
        watches: impl IntoIterator<Item = (GroupMode, Duration)>,
        archive: impl IntoIterator<Item = &'a Signature>,
    ) -> Self {
        let archive: Vec<&Signature> = archive.into_iter().collect();
        let mut stats = TermStats::new(archive.len());
        for signature in archive {
            stats.add(signature);
        }
        Self {
            stats,
            books: watches
                .into_iter()
                .map(|(mode, window)| StoryBook::new(mode, window))
                .collect(),
        }
    }

    /// Places a match of watch `watch` published at `at` (see [`super::decide`] for
    /// `vocabulary`); `key` names the story it would start (the article's link).
    pub fn place(
        &mut self,
        watch: usize,
        at: i64,
        signature: Signature,
        vocabulary: &[u64],
        key: String,
    ) -> Option<Decision<String>> {
        let book = self.books.get_mut(watch)?;
        Some(book.place(at, signature, vocabulary, key, &self.stats))
    }
}

/// The signature of an article for a replay.
pub fn signature_of(builder: &SignatureBuilder, article: &crate::article::Article) -> Signature {
    builder.signature(&article.title, &article.summary, &article.content)
}
