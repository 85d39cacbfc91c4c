//! Server functions for the posts the pipeline API holds while an account
//! needs a person: the list on the account page, releasing them by hand
//! (`AUTHWATCH_HELD_POSTS=wait`, or after X's passing trouble), and
//! discarding one so it is never published.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A post waiting for the account to be fixed. No token, no key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldPost {
    pub id: i64,
    pub text: String,
    /// Why it is held, in words.
    pub reason: String,
    /// When it was sent to authwatch (ms since the epoch).
    pub held_since: i64,
}

/// The account's held posts, in the order they will be published.
#[server]
pub async fn load_held_posts(account_id: String) -> Result<Vec<HeldPost>, super::ApiError> {
    use super::ssr;
    use crate::domain::access::Permission;
    use crate::domain::health::Cause;
    ssr::require(Permission::ViewAccounts, "").await?;
    let state = ssr::state()?;
    let held = crate::server::db::posts::held(&state.pool, &account_id).await?;
    Ok(held
        .into_iter()
        .map(|p| HeldPost {
            id: p.id,
            reason: p.cause().map(Cause::describe).unwrap_or("A person must act on the account.").to_owned(),
            text: p.text,
            held_since: p.created_at,
        })
        .collect())
}

/// Publishes the account's held posts now, oldest first. Answers what happened, in words.
#[server]
pub async fn release_held_posts(account_id: String) -> Result<String, super::ApiError> {
    use super::ssr;
    let state = ssr::state()?;
    // Publishing in the account's name: its owners and admins, like a refresh.
    let permit = ssr::permit::<ssr::ActOn>(&state, &account_id).await?;
    let released = crate::server::pipeline::posts::release_held(
        &state,
        permit.account_id(),
        "held-post release from the account page",
    )
    .await
    .map_err(|e| crate::api::error::internal("Releasing the held posts failed", &e))?;
    let cancelled = match released.cancelled {
        0 => String::new(),
        n => format!(" {n} cancelled: the API key that queued them is revoked."),
    };
    Ok(match (released.published, released.still_held) {
        (0, 0) if released.cancelled == 0 => "No held posts.".to_owned(),
        (n, 0) => format!("Published {n} held post(s).{cancelled}"),
        (n, m) => {
            format!("Published {n}; {m} still held: the account still cannot publish (see its health).{cancelled}")
        }
    })
}

/// Discards one held post: it is never published, and the account's
/// timeline says who discarded it. The same people as releasing may.
#[server]
pub async fn discard_held_post(account_id: String, post_id: i64) -> Result<String, super::ApiError> {
    use super::ssr;
    let state = ssr::state()?;
    // Whoever may publish the held posts in the account's name may also drop one.
    let permit = ssr::permit::<ssr::ActOn>(&state, &account_id).await?;
    let discarded =
        crate::server::pipeline::posts::discard_held(&state, permit.account_id(), post_id, &permit.user().email)
            .await?;
    if !discarded {
        return Err(super::ApiError::Conflict(
            "That post is no longer held here: it was published, discarded, or is being published now.".into(),
        ));
    }
    Ok("Discarded: it will never be published.".to_owned())
}
