//! The emulator's knobs: every behaviour of X nobody has verified (marked
//! "assumed" in authwatch's docs/x-behaviour.md), plus lifetimes and rate
//! limits, each defaulting to what X documents or was seen doing.

use serde::{Deserialize, Serialize};

/// How the emulator behaves where X's behaviour is unverified or tunable.
///
/// `Default` gives X's behaviour as documented, or as seen. The control API
/// (`PATCH /_control/settings`) accepts any subset of these fields as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorSettings {
    /// Cancel on the consent page redirects with `error=access_denied`
    /// (UNV; default on). Off: the redirect carries only `state`.
    pub cancel_adds_error: bool,
    /// A new grant for the same user and app kills the previous grant's
    /// tokens (stated by X's `xurl`; UNV; default on).
    pub new_grant_invalidates_previous: bool,
    /// Replaying a spent refresh token also kills the newer tokens of its
    /// chain (UNV; default off).
    pub replay_kills_family: bool,
    /// Seconds during which a just-rotated refresh token is still accepted
    /// (UNV; default 0: it dies at once, as observed).
    pub refresh_grace_seconds: u64,
    /// Each refresh restarts the refresh token's lifetime (UNV; default off:
    /// the lifetime counts from the user's consent).
    pub refresh_token_sliding: bool,
    /// Access token lifetime (DOC: 2 hours).
    pub access_token_ttl_secs: u64,
    /// Refresh token lifetime (X staff: about 6 months).
    pub refresh_token_ttl_secs: u64,
    /// Authorization code lifetime (DOC: 30 seconds).
    pub code_ttl_secs: u64,
    /// `GET /2/users/me` calls per user and app per rate window (DOC: 75).
    pub users_me_limit: u32,
    /// `POST /2/tweets` calls per user and app per rate window (DOC: 100).
    pub tweets_limit_per_user: u32,
    /// `POST /2/tweets` calls per user and app per 24 hours, reported in the
    /// `x-user-limit-24hour-*` headers (not in X's current docs; X's long-standing
    /// daily cap of 2,400 posts per account).
    pub tweets_limit_per_user_24h: u32,
    /// `POST /2/tweets` calls per app per 24 hours (DOC: 10,000).
    pub tweets_limit_per_app_24h: u32,
    /// Length of the per-user rate window in seconds (DOC: 15 minutes).
    pub rate_window_secs: u64,
    /// A post whose text its author already posted is refused with X's 403
    /// "You are not allowed to create a Tweet with duplicate content."
    /// (OBS; default on). Off: every post goes through.
    pub reject_duplicate_posts: bool,
    /// After a refresh, the grant's earlier access tokens keep working until
    /// they expire — also when someone else (a copy of the tokens) made the
    /// refresh (UNV; default on). Off: a refresh kills them.
    pub refresh_keeps_previous_access_token: bool,
    /// How far `oauth_timestamp` may be from X's clock, either way, before
    /// X answers 401 code 135 "Timestamp out of bounds." (UNV; default 300
    /// seconds).
    pub oauth1_timestamp_window_secs: u64,
    /// Request tokens of `POST /oauth/request_token` live this long unused
    /// (UNV; default 15 minutes).
    pub oauth1_request_token_ttl_secs: u64,
    /// Connecting a user who already has a live 1.0a token for the app gives
    /// back that same token (UNV; default on). Off: a fresh token, and the
    /// previous one dies (one token per app and user).
    pub oauth1_reissue_same_token: bool,
    /// `request_token` with a callback that is not registered answers 403
    /// with the older JSON body `{"errors":[{"code":415,…}]}` (OBS, older
    /// answers; default off: X's XML body).
    pub oauth1_callback_error_as_json: bool,
    /// Mount the control API under `/_control`. Read when
    /// [`Emulator::router`](super::Emulator::router) builds the router.
    pub control_enabled: bool,
}

impl Default for EmulatorSettings {
    fn default() -> Self {
        Self {
            cancel_adds_error: true,
            new_grant_invalidates_previous: true,
            replay_kills_family: false,
            refresh_grace_seconds: 0,
            refresh_token_sliding: false,
            access_token_ttl_secs: 2 * 60 * 60,
            refresh_token_ttl_secs: 180 * 24 * 60 * 60,
            code_ttl_secs: 30,
            users_me_limit: 75,
            tweets_limit_per_user: 100,
            tweets_limit_per_user_24h: 2_400,
            tweets_limit_per_app_24h: 10_000,
            rate_window_secs: 15 * 60,
            reject_duplicate_posts: true,
            refresh_keeps_previous_access_token: true,
            oauth1_timestamp_window_secs: 300,
            oauth1_request_token_ttl_secs: 15 * 60,
            oauth1_reissue_same_token: true,
            oauth1_callback_error_as_json: false,
            control_enabled: true,
        }
    }
}
