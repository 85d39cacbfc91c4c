//! Reconnect links: a single-use URL an owner or admin hands to whoever holds
//! the X login. The URL carries 256 random bits; the database keeps only
//! their SHA-256, so neither a database copy nor a log can reconnect.

use crate::domain::health::AttemptResult;
use crate::server::auth::{ActOn, Permit};
use crate::server::db::events::{self, EventKind, NewEvent, Outcome};
use crate::server::db::links::{self, Link, NewLink};
use crate::server::x::now_ms;
use crate::server::AppState;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A link just made: the only time its URL exists.
pub struct CreatedLink {
    pub id: String,
    pub url: String,
    pub expires_at: i64,
}

/// The stored form of a link's secret.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Makes a link for the permit's account, noted on its timeline.
pub async fn create(state: &AppState, permit: &Permit<ActOn>) -> Result<CreatedLink, sqlx::Error> {
    let (account_id, created_by) = (permit.account_id(), permit.user());
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let mut id_bytes = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut id_bytes);
    let id = format!("lnk_{}", hex::encode(id_bytes));
    let now = now_ms();
    let expires_at = now + state.config.people.link_ttl.as_millis() as i64;
    let token_hash = hash(&secret);
    links::insert(
        &state.pool,
        &NewLink {
            id: &id,
            account_id,
            token_hash: &token_hash,
            created_by: &created_by.id,
            created_at: now,
            expires_at,
        },
    )
    .await?;
    let event = NewEvent {
        kind: EventKind::Link,
        outcome: Outcome::Ok,
        actor: created_by.email.clone(),
        detail: Some(format!("reconnect link {id} created, valid until {}", crate::domain::format::utc(expires_at))),
        ..NewEvent::default()
    };
    events::append(&state.pool, account_id, now, &event, AttemptResult::Inconclusive).await?;
    let url = crate::server::config::join(&state.config.public_url, &format!("r/{secret}")).to_string();
    Ok(CreatedLink { id, url, expires_at })
}

/// Ends an unused link of the permit's account now, noted on its timeline.
/// `false` if it was used or had expired already.
pub async fn revoke(state: &AppState, permit: &Permit<ActOn>, link_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let (account_id, by) = (permit.account_id(), permit.user());
    if !links::revoke(&state.pool, link_id, now).await? {
        return Ok(false);
    }
    let event = NewEvent {
        kind: EventKind::Link,
        outcome: Outcome::Ok,
        actor: by.email.clone(),
        detail: Some(format!("reconnect link {link_id} revoked")),
        ..NewEvent::default()
    };
    events::append(&state.pool, account_id, now, &event, AttemptResult::Inconclusive).await?;
    Ok(true)
}

/// Why a link cannot be used, in words for the person holding it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkProblem {
    #[error("This link is not valid: check that it was copied whole, or ask for a new one.")]
    Unknown,
    #[error("This link was already used, on {0}, to reconnect the account. Links work once; ask for a new one if it needs reconnecting again.")]
    Used(String),
    #[error("This link expired on {0}. Ask for a new one.")]
    Expired(String),
    #[error("The link could not be checked just now; nothing changed. Try again in a minute.")]
    Unavailable,
}

/// The link behind `secret`, whatever its state.
pub async fn find(state: &AppState, secret: &str) -> Result<Option<Link>, sqlx::Error> {
    if secret.is_empty() || secret.len() > 100 {
        return Ok(None);
    }
    links::by_hash(&state.pool, &hash(secret)).await
}

/// The link behind `secret`, if it can start a reconnect now.
pub async fn find_usable(state: &AppState, secret: &str) -> Result<Link, LinkProblem> {
    let link = find(state, secret).await.map_err(|e| {
        tracing::error!(error = %e, "looking up a reconnect link");
        LinkProblem::Unavailable
    })?;
    let link = link.ok_or(LinkProblem::Unknown)?;
    usable(&link, now_ms())?;
    Ok(link)
}

/// Whether `link` can still be used at `now`.
pub fn usable(link: &Link, now: i64) -> Result<(), LinkProblem> {
    if let Some(at) = link.used_at {
        return Err(LinkProblem::Used(crate::domain::format::utc(at)));
    }
    if now >= link.expires_at {
        return Err(LinkProblem::Expired(crate::domain::format::utc(link.expires_at)));
    }
    Ok(())
}
