//! A health check: ask X whose token this is (`GET /2/users/me`). A refusal
//! of a token that is valid by our clock is confirmed with a refresh before
//! anything is decided (`domain::verdict`).

use super::{observe_billing, observe_clock, AccountError};
use crate::domain::checks::must_ask;
use crate::domain::classify::{forbidden_given, XCall};
use crate::domain::flow::Flow;
use crate::domain::health::{AttemptResult, Cause};
use crate::domain::verdict::{
    after_access_refused, after_oauth1_refusal, refused_access, Confirmation, Confirmed, Refusal, RefusedAccess,
    SecondCall,
};
use crate::server::db::accounts;
use crate::server::db::accounts::StoredTokens;
use crate::server::db::apps;
use crate::server::db::events::{self, EventKind, NewEvent, Outcome};
use crate::server::db::reads;
use crate::server::lifecycle::refresh::Refreshed;
use crate::server::x::oauth1::UserToken;
use crate::server::x::{now_ms, Me, XError};
use crate::server::AppState;

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Alive,
    Failed { cause: Cause },
}

/// What counts as a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    /// Ask X (`GET /2/users/me`), whatever else is known.
    AskX,
    /// A proof of life — a connect, a refresh, a publish or a check that X
    /// answered — this UTC day or within this many ms is proof enough: X
    /// bills a user read per user and day, and such a proof costs nothing.
    ProvedToday(i64),
}

/// Checks `account_id` against X now (or, with [`Proof::ProvedToday`],
/// takes today's proof of life as the answer).
pub async fn check(state: &AppState, account_id: &str, actor: &str, proof: Proof) -> Result<Checked, AccountError> {
    // Decide first whether X needs asking at all: a recent proof of life
    // needs no token, so none is opened for it.
    let summary = accounts::summary(&state.pool, account_id)
        .await?
        .ok_or_else(|| AccountError::UnknownAccount(account_id.to_owned()))?;
    if let (Proof::ProvedToday(window), Some(at)) = (proof, summary.last_verified_at) {
        let now = now_ms();
        if !must_ask(Some(at), now, window) {
            let ok = NewEvent {
                kind: EventKind::Check,
                generation_before: Some(summary.generation),
                generation_after: Some(summary.generation),
                actor: actor.to_owned(),
                detail: Some(format!(
                    "proof of life: X proved the grant alive at {}; X was not asked",
                    crate::domain::format::utc(at)
                )),
                ..NewEvent::default()
            };
            events::append(&state.pool, account_id, now, &ok, AttemptResult::Verified).await?;
            return Ok(Checked::Alive);
        }
    }
    let tokens = accounts::tokens(&state.pool, &state.keyring, account_id)
        .await?
        .ok_or_else(|| AccountError::UnknownAccount(account_id.to_owned()))?;
    let base = NewEvent {
        kind: EventKind::Check,
        generation_before: Some(tokens.generation),
        generation_after: Some(tokens.generation),
        actor: actor.to_owned(),
        ..NewEvent::default()
    };
    if tokens.flow == Flow::OAuth1 {
        return check_oauth1(state, account_id, &tokens, base).await;
    }
    match super::users_me(state, &tokens.access).await {
        Ok(me) => alive(state, account_id, &me, base).await,
        Err(error) => {
            let now = now_ms();
            observe_clock(state, error.clock_offset_ms(), now).await;
            observe_billing(state, &error, now).await;
            let mut cause = forbidden_given(XCall::UsersMe, error.cause(), &tokens.scopes);
            // A 401 for a token we believe valid: first, is "valid" right?
            if cause == Cause::UserRevoked {
                let offset = apps::facts(&state.pool, &state.x.app().client_id).await?.clock_offset_ms;
                match refused_access(now, tokens.expires_at, offset, state.policy.clock_drift_threshold_ms) {
                    Refusal::Expired => cause = Cause::AccessTokenExpired,
                    Refusal::ClockDrift => cause = Cause::ClockDrift,
                    Refusal::Confirm => {
                        let refused =
                            RefusedAccess { at: now, generation: tokens.generation, valid_until: tokens.expires_at };
                        return confirm(state, account_id, actor, &refused, &error, base).await;
                    }
                }
            }
            let failed = NewEvent {
                outcome: Outcome::Failed,
                cause: Some(cause),
                http_status: error.status(),
                x_error: Some(error.body()),
                ..base
            };
            let result = if cause == Cause::AccessTokenExpired {
                AttemptResult::Inconclusive
            } else {
                AttemptResult::Failed(cause)
            };
            events::append(&state.pool, account_id, now, &failed, result).await?;
            Ok(Checked::Failed { cause })
        }
    }
}

/// X answered `users/me`: the token works.
async fn alive(state: &AppState, account_id: &str, me: &Me, base: NewEvent) -> Result<Checked, AccountError> {
    let now = now_ms();
    observe_clock(state, me.clock_offset_ms, now).await;
    if let Err(e) = reads::record(&state.pool, account_id, now).await {
        tracing::warn!(account_id, error = %e, "could not count the billed user read");
    }
    let ok = NewEvent { detail: Some(format!("X says this token is @{}", me.user.username)), ..base };
    events::append(&state.pool, account_id, now, &ok, AttemptResult::Verified).await?;
    if let Err(e) = crate::server::notify::settle_account(state, account_id, now).await {
        tracing::warn!(account_id, error = %e, "could not close the recovered account's prompt");
    }
    Ok(Checked::Alive)
}

/// Checks an OAuth 1.0a account: a signed `users/me`. There is no refresh
/// to confirm a refusal with, so X's generic v2 401 is confirmed with a
/// second signed call whose refusal carries X's code (89, 32, 135) before
/// anything is decided; the other accounts of the app weigh in through
/// the app's facts (`domain::incidents::consumer_key_regenerated`).
async fn check_oauth1(
    state: &AppState,
    account_id: &str,
    tokens: &StoredTokens,
    base: NewEvent,
) -> Result<Checked, AccountError> {
    let client_id = state.x.app().client_id.clone();
    let Some(secret) = tokens.token_secret.as_ref() else {
        // `accounts::tokens` opens a 1.0a set as its pair or not at all.
        return Err(AccountError::Store(crate::server::db::accounts::TokenStoreError::Crypto(
            crate::server::crypto::CryptoError::Undecryptable,
        )));
    };
    let user = UserToken { token: &tokens.access, secret };
    let error = match state.x.users_me_oauth1(user).await {
        Ok(me) => {
            consumer_key_works(state, &client_id).await;
            return alive(state, account_id, &me, base).await;
        }
        Err(error) => error,
    };
    let now = now_ms();
    observe_clock(state, error.clock_offset_ms(), now).await;
    observe_billing(state, &error, now).await;
    let (cause, evidence, why) = if error.cause() == Cause::Oauth1TokenInvalid {
        // X's generic 401: note it, deciding nothing, and ask again.
        let noted = NewEvent {
            outcome: Outcome::Failed,
            http_status: error.status(),
            x_error: Some(error.body()),
            detail: Some(
                "X's v2 API refused the OAuth 1.0a token with its generic 401: confirming with a second signed call before deciding anything".into(),
            ),
            ..base.clone()
        };
        events::append(&state.pool, account_id, now, &noted, AttemptResult::Inconclusive).await?;
        let (second, refusal) = second_call(state, user).await;
        let evidence = refusal.unwrap_or(error);
        let verdict = after_oauth1_refusal(now, second);
        (verdict.cause, evidence, Some(verdict.why))
    } else {
        (error.cause(), error, None)
    };
    match cause {
        Cause::ConsumerKeyRejected => consumer_key_refused(state, &evidence, now).await,
        // X authenticated the consumer key, whatever it said of the token.
        Cause::Oauth1TokenInvalid | Cause::ClockDrift | Cause::XRefusesValidTokens => {
            consumer_key_works(state, &client_id).await
        }
        _ => {}
    }
    let failed = NewEvent {
        outcome: Outcome::Failed,
        cause: Some(cause),
        http_status: evidence.status(),
        x_error: Some(evidence.body()),
        detail: why,
        ..base
    };
    events::append(&state.pool, account_id, now_ms(), &failed, AttemptResult::Failed(cause)).await?;
    tracing::warn!(account_id, cause = cause.as_str(), "X refused an OAuth 1.0a token");
    Ok(Checked::Failed { cause })
}

/// The second signed call that says why X's v2 API refused an OAuth 1.0a
/// token: `verify_credentials`, whose refusals carry X's code. Its refusal
/// is returned too, as the evidence to record.
pub async fn second_call(state: &AppState, user: UserToken<'_>) -> (SecondCall, Option<XError>) {
    let result = state.x.verify_credentials(user).await;
    let at = now_ms();
    match result {
        Ok(me) => {
            observe_clock(state, me.clock_offset_ms, at).await;
            (SecondCall::Works, None)
        }
        Err(e) => {
            observe_clock(state, e.clock_offset_ms(), at).await;
            let code = match &e {
                XError::Rejected { code, .. } => code.as_deref().and_then(|c| c.parse().ok()),
                _ => None,
            };
            (SecondCall::refused(e.cause(), code), Some(e))
        }
    }
}

/// X refused the app's consumer key (code 32): the app's incident, kept
/// with X's words.
pub async fn consumer_key_refused(state: &AppState, evidence: &XError, at: i64) {
    let client_id = &state.x.app().client_id;
    if let Err(e) = apps::consumer_key_rejected(&state.pool, client_id, &evidence.body(), at).await {
        tracing::warn!(error = %e, "could not record the consumer key incident");
    }
}

async fn consumer_key_works(state: &AppState, client_id: &str) {
    if let Err(e) = apps::consumer_key_accepted(&state.pool, client_id).await {
        tracing::warn!(error = %e, "could not clear the consumer key incident");
    }
}

/// X refused an access token that is valid by our clock. Not yet a verdict:
/// refresh through the engine's single flight and try the new token, then
/// let the domain decide.
async fn confirm(
    state: &AppState,
    account_id: &str,
    actor: &str,
    refused: &RefusedAccess,
    error: &XError,
    base: NewEvent,
) -> Result<Checked, AccountError> {
    // The refusal goes on the timeline as X sent it, deciding nothing.
    let noted = NewEvent {
        outcome: Outcome::Failed,
        http_status: error.status(),
        x_error: Some(error.body()),
        detail: Some(format!(
            "X refused the access token of generation {} although it is valid until {}: confirming with a refresh before deciding anything",
            refused.generation,
            crate::domain::format::utc(refused.valid_until)
        )),
        ..base.clone()
    };
    events::append(&state.pool, account_id, refused.at, &noted, AttemptResult::Inconclusive).await?;

    // Another caller may have confirmed it already (concurrent checks, the
    // pipeline): then its fresh token is the one to try, not a second refresh.
    let current = accounts::summary(&state.pool, account_id).await?.map_or(refused.generation, |s| s.generation);
    let refreshed = if current != refused.generation {
        Refreshed::LostRace { generation: current }
    } else {
        state.engine.refresh(state, account_id, actor, None).await.map_err(AccountError::shared)?
    };
    let mut fresh_error = None;
    let mut fresh_user = None;
    let mut fresh_generation = refused.generation;
    let confirmation = match refreshed {
        Refreshed::Failed { cause, .. } => Confirmation::RefreshFailed(cause),
        Refreshed::Saved { generation } | Refreshed::LostRace { generation } | Refreshed::NotDue { generation }
            if generation != refused.generation =>
        {
            let fresh = accounts::tokens(&state.pool, &state.keyring, account_id)
                .await?
                .ok_or_else(|| AccountError::UnknownAccount(account_id.to_owned()))?;
            fresh_generation = fresh.generation;
            let result = state.x.users_me(&fresh.access).await;
            let at = now_ms();
            match result {
                Ok(me) => {
                    observe_clock(state, me.clock_offset_ms, at).await;
                    fresh_user = Some(me.user.username);
                    Confirmation::FreshWorks { generation: fresh.generation, at }
                }
                Err(e) => {
                    observe_clock(state, e.clock_offset_ms(), at).await;
                    let confirmation = match forbidden_given(XCall::UsersMe, e.cause(), &fresh.scopes) {
                        Cause::UserRevoked => Confirmation::FreshRefused { generation: fresh.generation, at },
                        other => Confirmation::FreshUntried(other),
                    };
                    fresh_error = Some(e);
                    confirmation
                }
            }
        }
        Refreshed::Saved { .. } | Refreshed::LostRace { .. } | Refreshed::NotDue { .. } => Confirmation::NothingFresh,
    };

    let now = now_ms();
    let base = NewEvent { generation_after: Some(fresh_generation), ..base };
    match after_access_refused(refused, &confirmation) {
        Confirmed::Fixed { note } => {
            let who = fresh_user.map(|u| format!(" X says this token is @{u}.")).unwrap_or_default();
            let ok = NewEvent { detail: Some(format!("{note}{who}")), ..base };
            events::append(&state.pool, account_id, now, &ok, AttemptResult::Verified).await?;
            tracing::info!(
                account_id,
                generation = fresh_generation,
                "X refused a valid access token; a refresh fixed it"
            );
            Ok(Checked::Alive)
        }
        // The refresh recorded its own verdict, with X's answer: nothing to add.
        Confirmed::Failed(verdict) if matches!(confirmation, Confirmation::RefreshFailed(_)) => {
            Ok(Checked::Failed { cause: verdict.cause })
        }
        Confirmed::Failed(verdict) => {
            let failed = NewEvent {
                outcome: Outcome::Failed,
                cause: Some(verdict.cause),
                http_status: fresh_error.as_ref().and_then(XError::status),
                x_error: fresh_error.as_ref().map(XError::body),
                detail: Some(verdict.why),
                ..base
            };
            events::append(&state.pool, account_id, now, &failed, AttemptResult::Failed(verdict.cause)).await?;
            tracing::warn!(
                account_id,
                cause = verdict.cause.as_str(),
                "X refused a valid access token and the refresh did not clear it"
            );
            Ok(Checked::Failed { cause: verdict.cause })
        }
    }
}
