//! Story grouping: forty outlets telling one story should make one alert, not forty.
//!
//! Each article gets a [`Signature`] at ingest: the stems of its title and lead, its numbers
//! (normalised, so `1,000`, `1K` and `1 тыс.` agree) and the consonant skeletons of its names
//! (so `Лавров` and `Lavrov` agree across scripts), each as a stable 64-bit hash. A new match of
//! a watch is compared with the watch's recent matches, weighting each term by how rare it is in
//! the recent archive ([`TermStats`]), and [`decide`] says whether it is a copy of a story
//! already alerted, an update of one, or a new story.
//!
//! Pure: no I/O, no clock. The store keeps signatures and story links; `ingest`, `test-rule`
//! and `backtest` feed this module the candidates.

mod decide;
mod numbers;
mod replay;
mod signature;
mod stats;

pub use decide::{Decision, GroupMode, Role, StoryBook, decide};
pub use replay::{Replay, signature_of};
pub use signature::{Signature, SignatureBuilder};
pub use stats::TermStats;
