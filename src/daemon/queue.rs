//! The order in which waiting feeds get to poll, kept as data.
//!
//! The limits are `per_host` fetches to one host and `concurrency` polls (fetch and ingest)
//! overall. A feed takes its host's turn first (first come, first served per host), then
//! waits, holding that turn, for one of the global slots (in the order the turns were
//! taken); the turn ends with the fetch, the slot with the ingest. So a feed waiting for a
//! busy host never holds a slot that another host's feed could use.
//!
//! These rules were once kept by spawning a task per due feed that waited on two semaphores:
//! with 100,000 feeds due at start-up that was 100,000 parked poll futures of about 5.5 KiB
//! each (a start-up peak of 720 MiB, against 223 MiB for `check`). Here a waiting feed costs
//! its id and a shared host name, and a poll task exists only for the feeds holding a global
//! slot.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// A host as the per-host limit sees it (shared by the host's entry and its feeds).
pub type Host = Arc<str>;

/// The host part of a feed URL, for the per-host limit ("" when the URL has none).
pub fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

#[derive(Debug, Default)]
struct HostState {
    /// Turns taken: this host's feeds waiting for a global slot or fetching.
    turns: usize,
    /// Feeds waiting for a turn, in the order they were queued.
    waiting: VecDeque<i64>,
}

/// A feed that may start polling now: it holds a turn of `host` and a global slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub feed: i64,
    pub host: Host,
}

/// Feeds waiting to poll and the turns and slots in use.
#[derive(Debug)]
pub struct PollQueue {
    concurrency: usize,
    per_host: usize,
    /// Global slots in use: started polls that have not ended.
    running: usize,
    /// Hosts with a turn taken or a feed waiting; idle hosts are dropped.
    hosts: HashMap<Host, HostState>,
    /// Feeds holding their host's turn, waiting for a global slot, in the order they got it.
    ready: VecDeque<Start>,
}

impl PollQueue {
    /// An empty queue; limits below 1 count as 1.
    pub fn new(concurrency: usize, per_host: usize) -> PollQueue {
        PollQueue {
            concurrency: concurrency.max(1),
            per_host: per_host.max(1),
            running: 0,
            hosts: HashMap::new(),
            ready: VecDeque::new(),
        }
    }

    /// Queues a feed behind those queued before it: it takes a turn of its host at once if
    /// one is free, else waits for one.
    pub fn push(&mut self, feed: i64, host: &str) {
        let host = self.host_key(host);
        let state = self.hosts.entry(Arc::clone(&host)).or_default();
        if state.turns < self.per_host {
            state.turns += 1;
            self.ready.push_back(Start { feed, host });
        } else {
            state.waiting.push_back(feed);
        }
    }

    /// The shared name of a known host, or a new one.
    fn host_key(&self, host: &str) -> Host {
        self.hosts
            .get_key_value(host)
            .map_or_else(|| Arc::from(host), |(key, _)| Arc::clone(key))
    }

    /// The next feed to start, if a global slot is free; the caller starts it and reports
    /// [`PollQueue::fetch_done`] and [`PollQueue::poll_done`] for it.
    pub fn next_start(&mut self) -> Option<Start> {
        if self.running >= self.concurrency {
            return None;
        }
        let start = self.ready.pop_front()?;
        self.running += 1;
        Some(start)
    }

    /// A started feed's fetch ended (or it stopped before fetching): its host's turn passes
    /// to the host's next waiting feed.
    pub fn fetch_done(&mut self, host: &str) {
        let key = self.host_key(host);
        let Some(state) = self.hosts.get_mut(host) else {
            return;
        };
        state.turns = state.turns.saturating_sub(1);
        if let Some(feed) = state.waiting.pop_front() {
            state.turns += 1;
            self.ready.push_back(Start { feed, host: key });
        } else if state.turns == 0 {
            self.hosts.remove(host);
        }
    }

    /// A started feed's poll ended: its global slot is free.
    pub fn poll_done(&mut self) {
        self.running = self.running.saturating_sub(1);
    }

    /// Feeds queued and not started yet.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.ready.len() + self.hosts.values().map(|h| h.waiting.len()).sum::<usize>()
    }

    /// Polls started and not ended.
    pub fn running(&self) -> usize {
        self.running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_all(queue: &mut PollQueue) -> Vec<i64> {
        std::iter::from_fn(|| queue.next_start().map(|s| s.feed)).collect()
    }

    #[test]
    fn feeds_start_in_queue_order_within_the_global_limit() {
        let mut queue = PollQueue::new(3, 10);
        for feed in 1..=10 {
            queue.push(feed, &format!("host{}", feed % 4));
        }
        assert_eq!(start_all(&mut queue), vec![1, 2, 3], "three slots");
        assert_eq!((queue.running(), queue.waiting()), (3, 7));
        // Polls end in any order; each frees one slot for the next feed in line.
        queue.fetch_done("host2");
        queue.poll_done();
        assert_eq!(start_all(&mut queue), vec![4]);
        for _ in 0..2 {
            queue.poll_done();
        }
        assert_eq!(start_all(&mut queue), vec![5, 6]);
        let mut started = vec![1, 2, 3, 4, 5, 6];
        while queue.running() > 0 {
            queue.poll_done();
            started.extend(start_all(&mut queue));
        }
        assert_eq!(
            started,
            (1..=10).collect::<Vec<_>>(),
            "every feed, in order"
        );
        assert_eq!(queue.waiting(), 0);
    }

    #[test]
    fn a_busy_host_waits_for_its_turn_without_holding_up_other_hosts() {
        let mut queue = PollQueue::new(4, 2);
        for feed in 1..=5 {
            queue.push(feed, "busy.example");
        }
        queue.push(6, "other.example");
        // Two turns of the busy host, then the other host's feed: feeds 3-5 wait for a turn
        // and hold no slot, though two slots are free.
        assert_eq!(start_all(&mut queue), vec![1, 2, 6]);
        assert_eq!(queue.waiting(), 3);
        // A slot freed by the other host does not let the busy host's third feed start…
        queue.fetch_done("other.example");
        queue.poll_done();
        assert_eq!(start_all(&mut queue), Vec::<i64>::new());
        // …the end of a busy fetch does, while that feed still ingests in its slot.
        queue.fetch_done("busy.example");
        assert_eq!(start_all(&mut queue), vec![3]);
        assert_eq!(queue.running(), 3);
        queue.fetch_done("busy.example");
        queue.fetch_done("busy.example");
        assert_eq!(start_all(&mut queue), vec![4], "the fourth slot");
        queue.poll_done();
        assert_eq!(start_all(&mut queue), vec![5]);
    }

    #[test]
    fn turns_pass_on_in_the_order_feeds_were_queued() {
        let mut queue = PollQueue::new(1, 1);
        queue.push(1, "a");
        queue.push(2, "a");
        queue.push(3, "b");
        queue.push(4, "a");
        assert_eq!(start_all(&mut queue), vec![1]);
        // Feed 3 took host b's turn when queued, so it is ahead of feed 2, which gets host
        // a's turn only when feed 1's fetch ends: the order the semaphores gave.
        queue.fetch_done("a");
        queue.poll_done();
        assert_eq!(start_all(&mut queue), vec![3]);
        queue.fetch_done("b");
        queue.poll_done();
        assert_eq!(start_all(&mut queue), vec![2]);
        queue.fetch_done("a");
        queue.poll_done();
        assert_eq!(start_all(&mut queue), vec![4]);
    }

    #[test]
    fn idle_hosts_are_forgotten() {
        let mut queue = PollQueue::new(2, 1);
        queue.push(1, "a");
        queue.push(2, "a");
        assert_eq!(start_all(&mut queue), vec![1]);
        queue.fetch_done("a");
        assert_eq!(queue.hosts.len(), 1, "feed 2 holds the turn now");
        assert_eq!(start_all(&mut queue), vec![2]);
        queue.fetch_done("a");
        assert!(queue.hosts.is_empty());
        // A report for a host no longer known changes nothing.
        queue.fetch_done("a");
        assert!(queue.hosts.is_empty());
    }

    #[test]
    fn hosts_come_from_the_url() {
        assert_eq!(host_of("https://News.Example:8443/rss?x=1"), "news.example");
        assert_eq!(host_of("http://127.0.0.1:9/feed.xml"), "127.0.0.1");
        assert_eq!(host_of("not a url"), "");
    }
}
