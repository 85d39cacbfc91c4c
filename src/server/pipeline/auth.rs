//! API keys: made here (32 random bytes, shown once), stored as their
//! SHA-256, checked on every call by the middleware, which also logs every
//! call by key id — never the key.

use super::problem::ApiError;
use crate::domain::health::AttemptResult;
use crate::server::db::api_keys::{self, KeyRecord, NewKey};
use crate::server::db::events::{self, EventKind, NewEvent, Outcome};
use crate::server::db::posts::{self, CancelledPost};
use crate::server::db::{self, Pool};
use crate::server::secret::Secret;
use crate::server::x::now_ms;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Instant;

/// Every key starts with this, so a leaked key is recognisable (secret scanners).
const KEY_PREFIX: &str = "awk_";

/// The key that authenticated a call, for the handlers.
#[derive(Clone, Debug)]
pub struct Caller(pub Arc<KeyRecord>);

impl Caller {
    /// Who the event log says acted.
    pub fn actor(&self) -> String {
        format!("api key {}", self.0.id)
    }

    /// How the timeline names the key when it shows what the key said.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Refuses accounts outside the key's scope.
    pub fn check(&self, account_id: &str) -> Result<(), ApiError> {
        if self.0.allows(account_id) {
            Ok(())
        } else {
            Err(ApiError::NotAllowed(account_id.to_owned()))
        }
    }
}

/// The SHA-256 of a key, hex: what is stored and looked up.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A key just created: `key` is shown once and then exists nowhere.
pub struct Created {
    pub id: String,
    pub key: Secret,
}

/// Why a key could not be created.
pub use api_keys::CreateError;

/// Creates a key named `name` for `accounts` (`None`: every account).
pub async fn create_key(
    pool: &Pool,
    name: &str,
    accounts: Option<&[String]>,
    created_by: &str,
) -> Result<Created, CreateError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let id = format!("key_{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 12).to_lowercase());
    let new =
        NewKey { id: &id, name, key_hash: &hash(&key), prefix: &key[..KEY_PREFIX.len() + 6], accounts, created_by };
    api_keys::create(pool, &new, now_ms()).await?;
    tracing::info!(key_id = %id, name, "API key created");
    Ok(Created { id, key: Secret::new(key) })
}

/// A key just revoked.
#[derive(Debug)]
pub struct Revoked {
    /// The posts it queued that were still held: cancelled, never published.
    pub cancelled: Vec<CancelledPost>,
}

/// Revokes key `id` (`by`: who, for the timelines) and, in the same
/// transaction, cancels the posts it queued that are still held, each on its
/// account's timeline: a held post never outlives the key that queued it.
/// The settings page and the command line both revoke through here.
/// `None`: there is no live key with this id.
///
/// This process's copy of the key must be dropped too
/// ([`super::Pipeline::forget_keys`]); another process refuses it within
/// the key cache's TTL, and never releases its held posts (a release claims
/// a post only while its key is live).
pub async fn revoke_key(pool: &Pool, id: &str, by: &str) -> Result<Option<Revoked>, sqlx::Error> {
    let now = now_ms();
    let mut tx = db::begin_write(pool, db::WriteScope::All).await?;
    if !api_keys::revoke(&mut *tx, id, now).await? {
        return Ok(None);
    }
    let name = api_keys::name(&mut *tx, id).await?.unwrap_or_default();
    let cancelled = posts::cancel_held_of_key(&mut tx, id, now).await?;
    for post in &cancelled {
        let event = NewEvent {
            kind: EventKind::Discard,
            outcome: Outcome::Ok,
            actor: by.to_owned(),
            detail: Some(format!(
                "held post {} cancelled, never published: the API key that queued it, \"{name}\" ({id}), was revoked",
                post.id
            )),
            ..NewEvent::default()
        };
        events::record(&mut tx, &post.account_id, now, &event, AttemptResult::Inconclusive).await?;
    }
    tx.commit().await?;
    tracing::info!(key_id = %id, by, cancelled = cancelled.len(), "API key revoked");
    Ok(Some(Revoked { cancelled }))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim()).filter(|k| !k.is_empty())
}

/// Authenticates the call by its bearer API key (never a cookie), hands the
/// key to the handler, and logs the call with the key's id.
pub async fn authenticate(State(state): State<super::Shared>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // Paths carry account ids, never secrets (keys travel in a header).
    let path = request.uri().path().to_owned();
    let key = match bearer(request.headers()) {
        None => Err(ApiError::MissingKey),
        Some(key) => match state.pipeline.key(&state.pool, &hash(key)).await {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err(ApiError::InvalidKey),
            Err(e) => Err(ApiError::internal("reading API keys failed", e)),
        },
    };
    let (key_id, response) = match key {
        Ok(record) => {
            let id = record.id.clone();
            request.extensions_mut().insert(Caller(record));
            (id, next.run(request).await)
        }
        Err(refusal) => ("-".to_owned(), refusal.into_response()),
    };
    tracing::info!(
        target: "authwatch::api",
        key_id = %key_id,
        %method,
        path = %path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "api call"
    );
    response
}
