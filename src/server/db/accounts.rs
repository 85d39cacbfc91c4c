//! The `accounts` and `token_sets` tables: who is connected, and their
//! current tokens (sealed at rest).

use super::events::{self, EventKind, NewEvent, Outcome};
use super::Pool;
use super::Tx;
use crate::domain::flow::Flow;
use crate::domain::health::{AccountFacts, AttemptResult, Cause, OpenIncident, TokenFacts};
use crate::domain::scopes::Scopes;
use crate::server::crypto::{CryptoError, Keyring, Sealed};
use crate::server::secret::Secret;
use rand::distributions::{Alphanumeric, DistString};

/// Why tokens could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Refused before touching the database: a blank token never replaces a good one.
    #[error("refusing to store a blank {0} token")]
    Blank(&'static str),
}

/// An X account to record.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub x_user_id: String,
    pub handle: String,
    pub display_name: String,
    pub client_id: String,
}

/// A token set as X granted it. Construct with [`TokenGrant::new`] (OAuth
/// 2.0) or [`TokenGrant::oauth1`], which refuse blank tokens.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    flow: Flow,
    access: Secret,
    refresh: Option<Secret>,
    token_secret: Option<Secret>,
    pub scopes: Scopes,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// What an OAuth 1.0a token set's `expires_at` holds: 9999-12-31T23:59:59Z.
/// The tokens never expire, and whatever reads the column as a time sees
/// one that is valid for good.
pub const OAUTH1_NEVER_EXPIRES_AT: i64 = 253_402_300_799_000;

/// How an OAuth 1.0a token and its secret are sealed: as one value, since
/// neither signs a request alone (see migration 0010).
#[derive(serde::Serialize, serde::Deserialize)]
struct Oauth1Pair {
    token: String,
    secret: String,
}

impl TokenGrant {
    pub fn new(
        access: Secret,
        refresh: Option<Secret>,
        scopes: Scopes,
        issued_at: i64,
        expires_at: i64,
    ) -> Result<Self, TokenStoreError> {
        if access.expose().trim().is_empty() {
            return Err(TokenStoreError::Blank("access"));
        }
        if refresh.as_ref().is_some_and(|r| r.expose().trim().is_empty()) {
            return Err(TokenStoreError::Blank("refresh"));
        }
        Ok(Self { flow: Flow::OAuth2, access, refresh, token_secret: None, scopes, issued_at, expires_at })
    }

    /// An OAuth 1.0a token and its secret, which never expire.
    pub fn oauth1(token: Secret, secret: Secret, scopes: Scopes, issued_at: i64) -> Result<Self, TokenStoreError> {
        if token.expose().trim().is_empty() {
            return Err(TokenStoreError::Blank("OAuth 1.0a"));
        }
        if secret.expose().trim().is_empty() {
            return Err(TokenStoreError::Blank("OAuth 1.0a secret"));
        }
        Ok(Self {
            flow: Flow::OAuth1,
            access: token,
            refresh: None,
            token_secret: Some(secret),
            scopes,
            issued_at,
            expires_at: OAUTH1_NEVER_EXPIRES_AT,
        })
    }

    /// What the grant must have of the app's `required` scopes (a 1.0a
    /// token needs no `offline.access`: nothing refreshes it).
    pub fn required(&self, required: &Scopes) -> Scopes {
        match self.flow {
            Flow::OAuth2 => required.clone(),
            Flow::OAuth1 => required.for_oauth1(),
        }
    }

    /// What `access_token_ct` seals: the access token, or the 1.0a pair.
    fn sealed_access(&self) -> Secret {
        match &self.token_secret {
            None => self.access.clone(),
            Some(secret) => Secret::new(
                serde_json::to_string(&Oauth1Pair {
                    token: self.access.expose().to_owned(),
                    secret: secret.expose().to_owned(),
                })
                .expect("two strings serialize"),
            ),
        }
    }
}

/// The current tokens of an account, opened.
#[derive(Debug)]
pub struct StoredTokens {
    pub flow: Flow,
    pub generation: i64,
    /// The OAuth 2.0 access token, or the OAuth 1.0a token.
    pub access: Secret,
    /// The OAuth 1.0a token secret (never sent anywhere: it signs).
    pub token_secret: Option<Secret>,
    pub refresh: Option<Secret>,
    pub scopes: Scopes,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// What [`connect`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub account_id: String,
    pub generation: i64,
    /// The X user was already connected: this replaced its tokens.
    pub reconnected: bool,
}

/// One account as the dashboard and account page need it: no tokens, no ciphertexts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountSummary {
    pub id: String,
    pub x_user_id: String,
    pub handle: String,
    pub display_name: String,
    pub client_id: String,
    pub connected_at: i64,
    pub last_refresh_at: Option<i64>,
    #[sqlx(try_from = "super::FlagOrNull")]
    pub last_refresh_ok: Option<bool>,
    pub last_check_at: Option<i64>,
    #[sqlx(try_from = "super::FlagOrNull")]
    pub last_check_ok: Option<bool>,
    pub last_verified_at: Option<i64>,
    #[sqlx(try_from = "super::SpelledOrNull<Cause>")]
    pub incident_cause: Option<Cause>,
    pub incident_since: Option<i64>,
    pub incident_status: Option<i64>,
    pub incident_x_error: Option<String>,
    pub incident_at: Option<i64>,
    #[sqlx(try_from = "super::Spelled<Flow>")]
    pub flow: Flow,
    pub generation: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub scopes: String,
    #[sqlx(try_from = "super::Flag")]
    pub has_refresh_token: bool,
    pub access_fingerprint: String,
    pub refresh_fingerprint: Option<String>,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub backup_owner_id: Option<String>,
    pub backup_owner_name: Option<String>,
}

impl AccountSummary {
    /// Whether `user_id` owns this account (as owner or backup owner).
    pub fn is_owned_by(&self, user_id: &str) -> bool {
        self.owner_id.as_deref() == Some(user_id) || self.backup_owner_id.as_deref() == Some(user_id)
    }

    /// The open incident, if any.
    pub fn incident(&self) -> Option<OpenIncident> {
        Some(OpenIncident { cause: self.incident_cause?, since: self.incident_since.unwrap_or(self.connected_at) })
    }

    /// The facts [`crate::domain::health::diagnose`] decides from.
    pub fn facts(&self) -> AccountFacts {
        AccountFacts {
            token: TokenFacts {
                flow: self.flow,
                generation: self.generation,
                issued_at: self.issued_at,
                expires_at: self.expires_at,
                scopes: Scopes::parse(&self.scopes),
                has_refresh_token: self.has_refresh_token,
            },
            incident: self.incident(),
            last_verified_at: self.last_verified_at,
        }
    }
}

const SUMMARY_SELECT: &str = "SELECT a.id, a.x_user_id, a.handle, a.display_name, a.client_id, a.connected_at,
        a.last_refresh_at, a.last_refresh_ok, a.last_check_at, a.last_check_ok, a.last_verified_at,
        a.incident_cause, a.incident_since, a.incident_status, a.incident_x_error, a.incident_at,
        t.flow, t.generation, t.issued_at, t.expires_at, t.scopes,
        (t.refresh_token_ct IS NOT NULL) AS has_refresh_token,
        t.access_fingerprint, t.refresh_fingerprint,
        a.owner_id, o.name AS owner_name, a.backup_owner_id, b.name AS backup_owner_name
    FROM accounts a JOIN token_sets t ON t.account_id = a.id
    LEFT JOIN users o ON o.id = a.owner_id
    LEFT JOIN users b ON b.id = a.backup_owner_id";

/// Changes whenever an account, its tokens or its summary change: the newest
/// event id (every such write records an event in its transaction) and the
/// number of accounts.
pub type ChangeToken = (i64, i64);

pub async fn change_token(pool: &Pool) -> Result<ChangeToken, sqlx::Error> {
    sqlx::query_as("SELECT (SELECT COALESCE(MAX(id), 0) FROM events), (SELECT COUNT(*) FROM accounts)")
        .fetch_one(pool)
        .await
}

/// Every account, for the dashboard.
pub async fn summaries(pool: &Pool) -> Result<Vec<AccountSummary>, sqlx::Error> {
    sqlx::query_as(SUMMARY_SELECT).fetch_all(pool).await
}

/// One account, or `None` if there is no such id.
pub async fn summary(pool: &Pool, id: &str) -> Result<Option<AccountSummary>, sqlx::Error> {
    sqlx::query_as(&format!("{SUMMARY_SELECT} WHERE a.id = $1")).bind(id).fetch_optional(pool).await
}

/// The account connected as X user `x_user_id`, if any.
pub async fn id_by_x_user(pool: &Pool, x_user_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM accounts WHERE x_user_id = $1").bind(x_user_id).fetch_optional(pool).await
}

/// Records a connect: a new account with generation 1, or — when this X user
/// is already connected — a reconnect that replaces its tokens with the next
/// generation. Either way, in one transaction with its event, which clears
/// any open incident. `owner` (the dashboard user who connected it) owns a
/// new account, and an existing one that had no owner.
pub async fn save_grant(
    pool: &Pool,
    keyring: &Keyring,
    account: &NewAccount,
    grant: &TokenGrant,
    actor: &str,
    owner: Option<&str>,
    now: i64,
) -> Result<Connected, TokenStoreError> {
    // IMMEDIATE: this transaction reads, then writes. A deferred one would
    // fail at once with "database is locked" if another connection wrote in
    // between; taking the write lock up front makes it wait its turn instead.
    let mut tx = super::begin_write(pool, super::WriteScope::All).await?;
    let existing: Option<(String, i64)> = sqlx::query_as(
        "SELECT a.id, t.generation FROM accounts a JOIN token_sets t ON t.account_id = a.id WHERE a.x_user_id = $1",
    )
    .bind(&account.x_user_id)
    .fetch_optional(&mut *tx)
    .await?;

    let connected = match existing {
        Some((account_id, generation)) => {
            sqlx::query(
                "UPDATE accounts SET handle = $1, display_name = $2, client_id = $3, owner_id = COALESCE(owner_id, $4) WHERE id = $5",
            )
                .bind(&account.handle)
                .bind(&account.display_name)
                .bind(&account.client_id)
                .bind(owner)
                .bind(&account_id)
                .execute(&mut *tx)
                .await?;
            let next = write_tokens(&mut tx, keyring, &account_id, Some(generation), grant).await?;
            // Inside this transaction nobody else can have moved the generation.
            let next = next.ok_or(sqlx::Error::RowNotFound)?;
            Connected { account_id, generation: next, reconnected: true }
        }
        None => {
            let account_id = format!("acc_{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 12).to_lowercase());
            sqlx::query(
                "INSERT INTO accounts (id, x_user_id, handle, display_name, client_id, connected_at, owner_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&account_id)
            .bind(&account.x_user_id)
            .bind(&account.handle)
            .bind(&account.display_name)
            .bind(&account.client_id)
            .bind(now)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
            write_tokens(&mut tx, keyring, &account_id, None, grant).await?;
            Connected { account_id, generation: 1, reconnected: false }
        }
    };
    let event = NewEvent {
        kind: if connected.reconnected { EventKind::Reconnect } else { EventKind::Connect },
        outcome: Outcome::Ok,
        generation_before: connected.reconnected.then_some(connected.generation - 1),
        generation_after: Some(connected.generation),
        actor: actor.to_owned(),
        detail: Some(format!("granted scopes: {}", grant.scopes)),
        ..NewEvent::default()
    };
    events::record(&mut tx, &connected.account_id, now, &event, AttemptResult::Renewed).await?;
    tx.commit().await?;
    Ok(connected)
}

/// Who owns an account: the owner and the backup owner (user ids).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owners {
    pub owner: Option<String>,
    pub backup: Option<String>,
}

/// Changes an account's owners, with an event on its timeline naming who
/// did it (the event also makes the dashboard's snapshot reload).
pub async fn set_owners(
    pool: &Pool,
    account_id: &str,
    owners: &Owners,
    detail: &str,
    actor: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = super::begin_write(pool, super::WriteScope::Account(account_id)).await?;
    let changed = sqlx::query("UPDATE accounts SET owner_id = $1, backup_owner_id = $2 WHERE id = $3")
        .bind(&owners.owner)
        .bind(&owners.backup)
        .bind(account_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        return Ok(false);
    }
    let event = NewEvent {
        kind: EventKind::Owner,
        outcome: Outcome::Ok,
        actor: actor.to_owned(),
        detail: Some(detail.to_owned()),
        ..NewEvent::default()
    };
    events::record(&mut tx, account_id, now, &event, AttemptResult::Inconclusive).await?;
    tx.commit().await?;
    Ok(true)
}

/// Replaces an account's tokens if its generation is still `expected`
/// (compare-and-swap): returns the new generation, or `None` if another
/// writer got there first — then nothing was written.
pub async fn replace_tokens(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    account_id: &str,
    expected: i64,
    grant: &TokenGrant,
) -> Result<Option<i64>, TokenStoreError> {
    write_tokens(tx, keyring, account_id, Some(expected), grant).await
}

async fn write_tokens(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    account_id: &str,
    expected: Option<i64>,
    grant: &TokenGrant,
) -> Result<Option<i64>, TokenStoreError> {
    let access = keyring.seal(&grant.sealed_access(), &context(account_id, "access"));
    let refresh = grant.refresh.as_ref().map(|r| keyring.seal(r, &context(account_id, "refresh")));
    let access_fp = grant.access.fingerprint();
    let refresh_fp = grant.refresh.as_ref().map(Secret::fingerprint);
    let scopes = grant.scopes.to_string();
    match expected {
        None => {
            sqlx::query(
                "INSERT INTO token_sets (account_id, generation, access_token_ct, refresh_token_ct, key_id,
                     access_fingerprint, refresh_fingerprint, scopes, issued_at, expires_at, flow)
                 VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(account_id)
            .bind(&access.ciphertext)
            .bind(refresh.as_ref().map(|r| &r.ciphertext))
            .bind(&access.key_id)
            .bind(&access_fp)
            .bind(&refresh_fp)
            .bind(&scopes)
            .bind(grant.issued_at)
            .bind(grant.expires_at)
            .bind(grant.flow.as_str())
            .execute(&mut **tx)
            .await?;
            Ok(Some(1))
        }
        Some(generation) => {
            let done = sqlx::query(
                "UPDATE token_sets SET generation = generation + 1, access_token_ct = $1, refresh_token_ct = $2,
                     key_id = $3, access_fingerprint = $4, refresh_fingerprint = $5, scopes = $6, issued_at = $7, expires_at = $8,
                     flow = $11
                 WHERE account_id = $9 AND generation = $10",
            )
            .bind(&access.ciphertext)
            .bind(refresh.as_ref().map(|r| &r.ciphertext))
            .bind(&access.key_id)
            .bind(&access_fp)
            .bind(&refresh_fp)
            .bind(&scopes)
            .bind(grant.issued_at)
            .bind(grant.expires_at)
            .bind(account_id)
            .bind(generation)
            .bind(grant.flow.as_str())
            .execute(&mut **tx)
            .await?;
            Ok((done.rows_affected() == 1).then_some(generation + 1))
        }
    }
}

/// A `token_sets` row as stored: the tokens still sealed.
#[derive(sqlx::FromRow)]
struct SealedTokens {
    #[sqlx(try_from = "super::Spelled<Flow>")]
    flow: Flow,
    generation: i64,
    access_token_ct: String,
    refresh_token_ct: Option<String>,
    key_id: String,
    scopes: String,
    issued_at: i64,
    expires_at: i64,
}

/// The account's current tokens, opened, or `None` if there is no such account.
pub async fn tokens(pool: &Pool, keyring: &Keyring, account_id: &str) -> Result<Option<StoredTokens>, TokenStoreError> {
    let row: Option<SealedTokens> = sqlx::query_as(
        "SELECT flow, generation, access_token_ct, refresh_token_ct, key_id, scopes, issued_at, expires_at
         FROM token_sets WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    let Some(SealedTokens {
        flow,
        generation,
        access_token_ct: access_ct,
        refresh_token_ct: refresh_ct,
        key_id,
        scopes,
        issued_at,
        expires_at,
    }) = row
    else {
        return Ok(None);
    };
    let open = |ciphertext: String, field: &str| {
        keyring.open(&Sealed { key_id: key_id.clone(), ciphertext }, &context(account_id, field))
    };
    let sealed = open(access_ct, "access")?;
    let (access, token_secret) = match flow {
        Flow::OAuth2 => (sealed, None),
        Flow::OAuth1 => {
            let pair: Oauth1Pair = serde_json::from_str(sealed.expose()).map_err(|_| CryptoError::Undecryptable)?;
            (Secret::new(pair.token), Some(Secret::new(pair.secret)))
        }
    };
    Ok(Some(StoredTokens {
        flow,
        generation,
        access,
        token_secret,
        refresh: refresh_ct.map(|ct| open(ct, "refresh")).transpose()?,
        scopes: Scopes::parse(&scopes),
        issued_at,
        expires_at,
    }))
}

/// What a sealed token is bound to: its row and field.
fn context(account_id: &str, field: &str) -> String {
    format!("{account_id}/{field}")
}

/// Token sets per key id, before and after [`reseal_all`].
pub type KeyCounts = std::collections::BTreeMap<String, u64>;

/// What [`reseal_all`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resealed {
    pub before: KeyCounts,
    pub after: KeyCounts,
    /// Token sets sealed again with the current key.
    pub resealed: u64,
}

/// Why [`reseal_all`] refused. It refuses before writing anything.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(
        "{rows} token set(s) are sealed with key {key_id}, which is not configured: add that key to AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS and run again. Nothing was changed."
    )]
    MissingKey { key_id: String, rows: u64 },
    #[error(
        "the tokens of account {account_id} (key {key_id}) do not decrypt: the row was altered, or copied from another account. Nothing was changed; reconnect that account, then run again."
    )]
    Undecryptable { account_id: String, key_id: String },
    /// A row changed under a key this keyring lacks while the run was going:
    /// the batches already committed stay resealed (each is whole).
    #[error("stopped after resealing {resealed} token set(s), which stay resealed; running again continues from there: {cause}")]
    Stopped { resealed: u64, cause: Box<ResealError> },
}

/// Token sets sealed again per transaction: small enough that the write lock
/// is held for a moment only (a running server's refreshes wait for it), large
/// enough that 10,000 accounts take a few dozen transactions.
const RESEAL_BATCH: i64 = 500;

type SealedRow = (String, i64, String, Option<String>, String);

/// Seals every stored token again with the keyring's current key, so that a
/// previous key can be dropped. First every row sealed with another key is
/// opened — any that cannot be refuses the whole run before anything is
/// written; then the rows are sealed again in batches, each one transaction
/// whose UPDATE is guarded by the generation and key it read, so a token
/// replaced meanwhile is never overwritten and no row is ever left blank.
/// Safe to run again at any point: rows already under the current key are
/// left alone.
pub async fn reseal_all(pool: &Pool, keyring: &Keyring) -> Result<Resealed, ResealError> {
    let before = key_counts(pool).await?;
    if let Some((key_id, rows)) = before.iter().find(|(id, _)| !keyring.has_key(id)) {
        return Err(ResealError::MissingKey { key_id: key_id.clone(), rows: *rows });
    }
    let current = keyring.current_key_id();
    let mut after_id = String::new();
    loop {
        let rows: Vec<SealedRow> = sqlx::query_as(
            "SELECT account_id, generation, access_token_ct, refresh_token_ct, key_id FROM token_sets
             WHERE key_id <> $1 AND account_id > $2 ORDER BY account_id LIMIT $3",
        )
        .bind(current)
        .bind(&after_id)
        .bind(RESEAL_BATCH)
        .fetch_all(pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after_id = last.0.clone();
        for row in &rows {
            resealed_row(keyring, row)?;
        }
    }

    let mut resealed = 0;
    loop {
        match reseal_batch(pool, keyring).await {
            Ok(0) => break,
            Ok(n) => resealed += n,
            Err(cause) if resealed > 0 => return Err(ResealError::Stopped { resealed, cause: Box::new(cause) }),
            Err(cause) => return Err(cause),
        }
    }
    Ok(Resealed { before, after: key_counts(pool).await?, resealed })
}

/// Seals up to [`RESEAL_BATCH`] token sets again in one transaction; returns
/// how many (0: none is left under another key).
async fn reseal_batch(pool: &Pool, keyring: &Keyring) -> Result<u64, ResealError> {
    let current = keyring.current_key_id();
    let mut tx = super::begin_write(pool, super::WriteScope::All).await?;
    let rows: Vec<SealedRow> = sqlx::query_as(
        "SELECT account_id, generation, access_token_ct, refresh_token_ct, key_id FROM token_sets
         WHERE key_id <> $1 ORDER BY account_id LIMIT $2",
    )
    .bind(current)
    .bind(RESEAL_BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let mut resealed = 0;
    for row in &rows {
        let (access, refresh) = resealed_row(keyring, row)?;
        let (account_id, generation, _, _, key_id) = row;
        resealed += sqlx::query(
            "UPDATE token_sets SET access_token_ct = $1, refresh_token_ct = $2, key_id = $3
             WHERE account_id = $4 AND generation = $5 AND key_id = $6",
        )
        .bind(&access.ciphertext)
        .bind(refresh.as_ref().map(|r| &r.ciphertext))
        .bind(current)
        .bind(account_id)
        .bind(generation)
        .bind(key_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(resealed)
}

/// The row's tokens sealed again with the current key.
fn resealed_row(keyring: &Keyring, row: &SealedRow) -> Result<(Sealed, Option<Sealed>), ResealError> {
    let (account_id, _, access_ct, refresh_ct, key_id) = row;
    let refused = |e: CryptoError| match e {
        CryptoError::UnknownKey(key_id) => ResealError::MissingKey { key_id, rows: 1 },
        _ => ResealError::Undecryptable { account_id: account_id.clone(), key_id: key_id.clone() },
    };
    let reseal = |ciphertext: &String, field: &str| {
        keyring
            .reseal(&Sealed { key_id: key_id.clone(), ciphertext: ciphertext.clone() }, &context(account_id, field))
            .map_err(refused)
    };
    Ok((reseal(access_ct, "access")?, refresh_ct.as_ref().map(|ct| reseal(ct, "refresh")).transpose()?))
}

/// How many token sets each key sealed.
pub async fn key_counts(pool: &Pool) -> Result<KeyCounts, sqlx::Error> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT key_id, COUNT(*) FROM token_sets GROUP BY key_id").fetch_all(pool).await?;
    Ok(rows.into_iter().map(|(id, n)| (id, u64::try_from(n).unwrap_or(0))).collect())
}

/// Why this process's keyring cannot serve the tokens already stored.
#[derive(Debug, thiserror::Error)]
pub enum KeyringMismatch {
    #[error(
        "{rows} stored token set(s) are sealed with key {key_id}, which this replica does not have: \
         give every replica the same AUTHWATCH_ENCRYPTION_KEY (and AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS) \
         — a replica that cannot read the others' tokens must not write its own"
    )]
    MissingKey { key_id: String, rows: u64 },
    #[error(
        "the token set of account {account_id} does not open with key {key_id}, although the id matches: \
         the key was changed or the row damaged; start with the key it was sealed with"
    )]
    WontOpen { account_id: String, key_id: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Checks, before a process serves, that its keyring opens the tokens
/// already stored: every key id in use is one it has, and one token set per
/// key id opens. (Checking each row would read every token at each start;
/// one per key proves the key, and the id proves the rest were sealed by it.)
pub async fn check_keyring(pool: &Pool, keyring: &Keyring) -> Result<(), KeyringMismatch> {
    for (key_id, rows) in key_counts(pool).await? {
        if !keyring.has_key(&key_id) {
            return Err(KeyringMismatch::MissingKey { key_id, rows });
        }
        let (account_id, ciphertext): (String, String) =
            sqlx::query_as("SELECT account_id, access_token_ct FROM token_sets WHERE key_id = $1 LIMIT 1")
                .bind(&key_id)
                .fetch_one(pool)
                .await?;
        let sealed = Sealed { key_id: key_id.clone(), ciphertext };
        if keyring.open(&sealed, &context(&account_id, "access")).is_err() {
            return Err(KeyringMismatch::WontOpen { account_id, key_id });
        }
    }
    Ok(())
}
