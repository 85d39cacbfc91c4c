//! An in-memory copy of every account's summary, for the dashboard and the
//! metrics: reading and decoding 10,000 rows per page costs ~80 ms, diagnosing
//! them ~1 ms. The copy is reloaded only when the data changed.
//!
//! Every change to an account's summary or tokens is written together with an
//! event (connect, reconnect, refresh, check), so the newest event id and the
//! number of accounts form a cheap change token — one that also sees writes by
//! other processes sharing the database.

use crate::domain::health::AccountFacts;
use crate::server::db::accounts::{self, AccountSummary};
use crate::server::db::Pool;
use std::sync::Arc;
use tokio::sync::Mutex;

/// One account as the dashboard needs it: its row and its parsed facts.
pub type Entry = (AccountSummary, AccountFacts);

#[derive(Default)]
pub struct AccountsSnapshot {
    // An async mutex: concurrent requests that find the copy stale wait for
    // one reload instead of each reading every row.
    cached: Mutex<Option<(accounts::ChangeToken, Arc<Vec<Entry>>)>>,
}

impl AccountsSnapshot {
    /// Every account, as of now.
    pub async fn get(&self, pool: &Pool) -> Result<Arc<Vec<Entry>>, sqlx::Error> {
        let token = accounts::change_token(pool).await?;
        let mut cached = self.cached.lock().await;
        if let Some((seen, entries)) = cached.as_ref() {
            if *seen == token {
                return Ok(entries.clone());
            }
        }
        let entries: Arc<Vec<Entry>> = Arc::new(
            accounts::summaries(pool)
                .await?
                .into_iter()
                .map(|s| {
                    let facts = s.facts();
                    (s, facts)
                })
                .collect(),
        );
        *cached = Some((token, entries.clone()));
        Ok(entries)
    }
}
