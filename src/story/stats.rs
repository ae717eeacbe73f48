//! How common each term is in the recent archive, so that rare words tell stories apart and
//! the words every article of a watch shares (its own vocabulary: Putin, Kim, missile) count
//! for little: an inverse document frequency over the last [`TermStats::capacity`] articles.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::Signature;

/// Document frequencies over a rolling window of recent articles.
#[derive(Debug, Clone)]
pub struct TermStats {
    capacity: usize,
    documents: VecDeque<Box<[u64]>>,
    frequency: FxHashMap<u64, u32>,
}

impl TermStats {
    /// Statistics over at most `capacity` articles (the oldest forgotten first).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            documents: VecDeque::new(),
            frequency: FxHashMap::default(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Articles counted.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    /// Counts one more article.
    pub fn add(&mut self, signature: &Signature) {
        if self.documents.len() == self.capacity
            && let Some(oldest) = self.documents.pop_front()
        {
            for term in oldest.iter() {
                if let Some(count) = self.frequency.get_mut(term) {
                    *count -= 1;
                    if *count == 0 {
                        self.frequency.remove(term);
                    }
                }
            }
        }
        let mut terms: Vec<u64> = signature.terms().collect();
        terms.sort_unstable();
        terms.dedup();
        for term in &terms {
            *self.frequency.entry(*term).or_default() += 1;
        }
        self.documents.push_back(terms.into_boxed_slice());
    }

    /// A term's weight: high for rare terms, near zero for one in nearly every article.
    pub fn weight(&self, term: u64) -> f64 {
        let documents = self.documents.len() as f64;
        let frequency = f64::from(self.frequency.get(&term).copied().unwrap_or(0));
        ((documents + 1.0) / (frequency + 0.5)).ln().max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::story::SignatureBuilder;

    #[test]
    fn common_terms_weigh_less_than_rare_ones_and_old_articles_are_forgotten() {
        let builder = SignatureBuilder::new();
        let mut stats = TermStats::new(3);
        let putin = builder.signature("Putin", "", "");
        let rare = builder.signature("Putin Vostochny", "", "");
        stats.add(&putin);
        stats.add(&putin);
        stats.add(&rare);
        let [putin_term] = putin.words[..] else {
            panic!("one term: {putin:?}")
        };
        let vostochny = rare.terms().find(|t| !putin.words.contains(t)).unwrap();
        assert!(stats.weight(vostochny) > 2.0 * stats.weight(putin_term));
        for _ in 0..3 {
            stats.add(&putin);
        }
        assert_eq!(stats.len(), 3);
        assert!(stats.weight(vostochny) > stats.weight(putin_term));
        assert_eq!(stats.frequency.get(&vostochny), None);
    }
}
