//! Server functions for the pipeline API's keys (admins only): list, create
//! (the key is shown once), revoke.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A key as the settings page lists it: never the key, never its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    /// "all accounts", or the handles it may act for.
    pub scope: String,
    pub created_at: i64,
    pub created_by: String,
    pub revoked: bool,
}

/// A key just created. The one answer that carries a key to the browser:
/// the admin who created it must copy it now, since only its hash is kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub id: String,
    pub key: String,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey").field("id", &self.id).field("key", &"[redacted]").finish()
    }
}

/// Every API key, newest first (admins).
#[server]
pub async fn load_api_keys() -> Result<Vec<ApiKeyView>, super::ApiError> {
    use super::ssr;
    use crate::domain::access::Permission;
    use crate::server::db::{accounts, api_keys};
    ssr::require(Permission::Administer, "Only admins manage API keys.").await?;
    let state = ssr::state()?;
    let keys = api_keys::list(&state.pool).await?;
    let handles: std::collections::HashMap<String, String> =
        accounts::summaries(&state.pool).await?.into_iter().map(|s| (s.id, s.handle)).collect();
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let scope = if k.all_accounts {
            "all accounts".to_owned()
        } else {
            let ids = api_keys::accounts_of(&state.pool, &k.id).await?;
            ids.iter()
                .map(|id| handles.get(id).map_or_else(|| id.clone(), |h| format!("@{h}")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(ApiKeyView {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scope,
            created_at: k.created_at,
            created_by: k.created_by,
            revoked: k.revoked_at.is_some(),
        });
    }
    Ok(out)
}

/// Creates a key (admins). `accounts`: account ids separated by spaces or
/// commas; empty for every account.
#[server]
pub async fn create_api_key(name: String, accounts: String) -> Result<NewApiKey, super::ApiError> {
    use super::ssr;
    use crate::domain::access::Permission;
    use crate::server::db::api_keys::CreateError;
    use crate::server::pipeline::auth;
    let admin = ssr::require(Permission::Administer, "Only admins manage API keys.").await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(super::ApiError::refused("Name the key (up to 100 characters): what will use it?"));
    }
    let ids: Vec<String> =
        accounts.split([',', ' ', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let state = ssr::state()?;
    let scope = (!ids.is_empty()).then_some(ids.as_slice());
    match auth::create_key(&state.pool, name, scope, &admin.email).await {
        Ok(created) => Ok(NewApiKey { id: created.id, key: created.key.expose().to_owned() }),
        Err(CreateError::UnknownAccount(id)) => Err(super::ApiError::refused(format!("There is no account {id}."))),
        Err(CreateError::Database(e)) => Err(e.into()),
    }
}

/// Revokes a key (admins): this process refuses it at once, others within
/// `AUTHWATCH_API_CACHE_MS`. The posts it queued that are still held are
/// cancelled, each on its account's timeline.
#[server]
pub async fn revoke_api_key(id: String) -> Result<String, super::ApiError> {
    use super::ssr;
    use crate::domain::access::Permission;
    let admin = ssr::require(Permission::Administer, "Only admins manage API keys.").await?;
    let state = ssr::state()?;
    let revoked = crate::server::pipeline::auth::revoke_key(&state.pool, &id, &admin.email).await?;
    state.pipeline.forget_keys();
    let Some(revoked) = revoked else {
        return Err(super::ApiError::refused("No such key, or it was already revoked."));
    };
    Ok(match revoked.cancelled.len() {
        0 => format!("Revoked {id}: calls with it are refused."),
        n => format!("Revoked {id}: calls with it are refused, and the {n} held post(s) it queued were cancelled."),
    })
}
