//! The change feed: one signal per process that what the pages show may have
//! changed, which `/live` ([`super::live`]) passes on to the browsers. What
//! changed is not said: a page that hears of a change fetches itself again.
//!
//! Announcements come from feeds: [`watch_database`] reads the database's
//! change token ([`accounts::change_token`]) every [`WATCH_EVERY`] and
//! announces when it moves, which sees the writes of every process sharing a
//! SQLite file; a database that notifies by itself can call
//! [`Changes::announce`] from its listener instead. Code in this process
//! may announce too.
//!
//! A refresh sweep writes thousands of events: announcements are coalesced
//! to one per [`ANNOUNCE_EVERY`] at most, and the last one of a burst always
//! goes out.

use crate::server::db::accounts::{self, ChangeToken};
use crate::server::db::Pool;
use crate::server::x::now_ms;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify};

/// How often [`watch_database`] reads the change token.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);
/// The least time between two announcements: at most four a second.
pub const ANNOUNCE_EVERY: Duration = Duration::from_millis(250);
/// Announcements a slow subscriber may be behind before it lags (and is
/// told once that something changed).
const CAPACITY: usize = 16;

/// One announcement: something may have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Counts this process's announcements, from 1.
    pub seq: u64,
    /// When it was announced (ms since the epoch, this server's clock).
    pub at: i64,
}

/// This process's change feed; see the module's documentation.
pub struct Changes {
    sender: broadcast::Sender<Change>,
    /// An announcement waits here until [`Changes::publish`] sends it.
    pending: Notify,
    seq: AtomicU64,
    /// When the last announcement went out (0: none yet).
    last_at: AtomicI64,
    /// Whether the server is shutting down: streams end, so that it can.
    closing: watch::Sender<bool>,
}

impl Default for Changes {
    fn default() -> Self {
        Self::new()
    }
}

impl Changes {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        Self {
            sender,
            pending: Notify::new(),
            seq: AtomicU64::new(0),
            last_at: AtomicI64::new(0),
            closing: watch::Sender::new(false),
        }
    }

    /// Says that something may have changed. Cheap, and never waits: any
    /// number of calls within [`ANNOUNCE_EVERY`] are one announcement.
    pub fn announce(&self) {
        // One stored permit however many calls: the coalescing itself.
        self.pending.notify_one();
    }

    /// The announcements from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    /// The last announcement, if there was one.
    pub fn last(&self) -> Option<Change> {
        let seq = self.seq.load(Ordering::Acquire);
        (seq > 0).then(|| Change { seq, at: self.last_at.load(Ordering::Acquire) })
    }

    /// Tells every subscriber waiting on [`Changes::closed`] that the
    /// server is shutting down.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Completes once [`Changes::close`] was called.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            // An error is a feed dropped: closed too.
            let _ = closing.wait_for(|closing| *closing).await;
        }
    }

    /// Sends the announcements, one per [`ANNOUNCE_EVERY`] at most, for as
    /// long as the task runs: the first of a burst at once, the rest of it
    /// as one more after the pause. Start it with the server.
    pub async fn publish(self: Arc<Self>) {
        loop {
            self.pending.notified().await;
            self.send();
            tokio::time::sleep(ANNOUNCE_EVERY).await;
        }
    }

    /// One announcement, now: [`Changes::publish`]'s step, uncoalesced.
    pub(super) fn send(&self) -> Change {
        let at = now_ms();
        self.last_at.store(at, Ordering::Release);
        let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
        let change = Change { seq, at };
        // No subscriber is no error: nobody is looking.
        let _ = self.sender.send(change);
        change
    }
}

/// The SQLite feed: reads the change token every [`WATCH_EVERY`] and
/// announces when it moved, for as long as the task runs. Every write the
/// pages show records an event, so this sees them all, other processes'
/// on the same file included. A database that notifies by itself does not
/// need it.
pub async fn watch_database(pool: Pool, changes: Arc<Changes>) {
    let mut ticks = tokio::time::interval(WATCH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen: Option<ChangeToken> = None;
    let mut failing = false;
    loop {
        ticks.tick().await;
        match accounts::change_token(&pool).await {
            Ok(token) => {
                if failing {
                    tracing::info!("the change feed reads the database again");
                    failing = false;
                }
                if seen.is_some_and(|seen| seen != token) {
                    changes.announce();
                }
                seen = Some(token);
            }
            // Logged once per outage, not four times a second; the pages
            // fall back to polling meanwhile only if their stream ends, so
            // the next reading that works announces (the token moved).
            Err(e) if !failing => {
                tracing::warn!(error = %e, "the change feed cannot read the database; live updates wait for it");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::broadcast::error::TryRecvError;
    use tokio::time::Instant;

    /// Drains what `rx` holds now.
    fn drain(rx: &mut broadcast::Receiver<Change>) -> Vec<Change> {
        let mut got = Vec::new();
        loop {
            match rx.try_recv() {
                Ok(change) => got.push(change),
                Err(TryRecvError::Empty) => return got,
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[tokio::test]
    async fn a_burst_is_at_most_four_announcements_a_second_and_its_end_is_announced() {
        let changes = Arc::new(Changes::new());
        let mut rx = changes.subscribe();
        tokio::spawn(changes.clone().publish());
        // 10,000 announcements over two seconds, as a sweep's writes would be.
        let started = Instant::now();
        let mut received = Vec::new();
        while started.elapsed() < Duration::from_secs(2) {
            for _ in 0..10 {
                changes.announce();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            received.extend(drain(&mut rx));
        }
        let burst = started.elapsed();
        let during = received.len();
        tokio::time::sleep(ANNOUNCE_EVERY * 3).await;
        received.extend(drain(&mut rx));
        let bound = (burst.as_millis() / ANNOUNCE_EVERY.as_millis()) as usize + 1;
        assert!(bound <= 9, "two seconds: at most 9");
        assert!(during <= bound, "{during} announcements during a burst of {burst:?}; at most {bound}");
        assert!(during >= 2, "the burst was announced while it lasted ({during})");
        assert_eq!(received.len(), during + 1, "one announcement after the burst, for its end");
        assert_eq!(changes.last(), received.last().copied());
        let seqs: Vec<u64> = received.iter().map(|c| c.seq).collect();
        assert_eq!(seqs, (1..=received.len() as u64).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_lone_change_is_announced_at_once() {
        let changes = Arc::new(Changes::new());
        let mut rx = changes.subscribe();
        tokio::spawn(changes.clone().publish());
        assert_eq!(changes.last(), None);
        tokio::time::sleep(ANNOUNCE_EVERY).await;
        changes.announce();
        // Well under the pause between two announcements.
        let got = tokio::time::timeout(ANNOUNCE_EVERY / 5, rx.recv()).await.expect("at once").unwrap();
        assert_eq!(got.seq, 1);
        assert_eq!(changes.last(), Some(got));
    }
}
