//! The `users` table: who can sign in to the dashboard, and their role.

use super::events::{self, EventKind, NewEvent, Outcome};
use super::Pool;
pub use crate::domain::access::Role;
use crate::domain::health::AttemptResult;
use rand::distributions::{Alphanumeric, DistString};

/// A user as stored, without the password hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    email: String,
    name: String,
    role: String,
    created_at: i64,
}

impl Row {
    fn into_user(self) -> Result<User, sqlx::Error> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown role `{}`", self.role).into()))?;
        Ok(User { id: self.id, email: self.email, name: self.name, role, created_at: self.created_at })
    }
}

const SELECT: &str = "SELECT id, email, name, role, created_at FROM users";

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    #[error("a user with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The canonical form of an email address: trimmed and lowercased, so
/// `Dana@Example.com` and `dana@example.com` are one user.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Adds a user; `password_hash` is an argon2id PHC string.
pub async fn add(
    pool: &Pool,
    email: &str,
    name: &str,
    password_hash: &str,
    role: Role,
    now: i64,
) -> Result<User, AddUserError> {
    let id = format!("usr_{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 12).to_lowercase());
    let email = normalize_email(email);
    let result = sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&email)
    .bind(name.trim())
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .execute(pool)
    .await;
    match result {
        Ok(_) => Ok(User { id, email, name: name.trim().to_owned(), role, created_at: now }),
        // SQLite names no constraint in its error; the email is the only
        // unique column a caller controls (the id is 72 random bits).
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(AddUserError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

/// Adds the first admin, only if there is no user at all (one statement, so
/// two racing set-ups cannot both succeed). `None` when someone was first.
pub async fn add_first_admin(
    pool: &Pool,
    email: &str,
    name: &str,
    password_hash: &str,
    now: i64,
) -> Result<Option<User>, sqlx::Error> {
    let id = format!("usr_{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 12).to_lowercase());
    let email = normalize_email(email);
    let added = sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, role, created_at)
         SELECT $1, $2, $3, $4, 'admin', $5 WHERE NOT EXISTS (SELECT 1 FROM users)",
    )
    .bind(&id)
    .bind(&email)
    .bind(name.trim())
    .bind(password_hash)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected();
    Ok((added == 1).then(|| User { id, email, name: name.trim().to_owned(), role: Role::Admin, created_at: now }))
}

/// Whether anyone can sign in yet (the one-time setup page is open until then).
pub async fn any(pool: &Pool) -> Result<bool, sqlx::Error> {
    let any: super::Flag = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)").fetch_one(pool).await?;
    Ok(any.into())
}

pub async fn by_id(pool: &Pool, id: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(Row::into_user)
        .transpose()
}

/// The user and their password hash, for signing in.
pub async fn credentials(pool: &Pool, email: &str) -> Result<Option<(User, String)>, sqlx::Error> {
    let row: Option<(String, String, String, String, i64, String)> =
        sqlx::query_as("SELECT id, email, name, role, created_at, password_hash FROM users WHERE email = $1")
            .bind(normalize_email(email))
            .fetch_optional(pool)
            .await?;
    row.map(|(id, email, name, role, created_at, hash)| {
        Ok((Row { id, email, name, role, created_at }.into_user()?, hash))
    })
    .transpose()
}

/// Every user, admins first, then by name.
pub async fn list(pool: &Pool) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query_as::<_, Row>(&format!("{SELECT} ORDER BY role = 'admin' DESC, name"))
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(Row::into_user)
        .collect()
}

/// Every admin: who app-level prompts and escalations go to.
pub async fn admins(pool: &Pool) -> Result<Vec<User>, sqlx::Error> {
    Ok(list(pool).await?.into_iter().filter(|u| u.role == Role::Admin).collect())
}

/// Removes a user, unless they are the last admin (someone must be able to
/// manage the app). Their accounts lose that owner (the admins are asked
/// instead) and their sessions end at their next request. `false`: no such
/// user, or the last admin.
///
/// Each account they owned records an `owner` event by `actor`, in the same
/// transaction: its timeline says where its owner went, and the dashboard's
/// snapshot — which reloads when an event is written, in this process or
/// another (the command line) — stops showing them.
pub async fn remove(pool: &Pool, id: &str, actor: &str, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = super::begin_write(pool, super::WriteScope::All).await?;
    let Some((name, email)): Option<(String, String)> =
        sqlx::query_as("SELECT name, email FROM users WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?
    else {
        return Ok(false);
    };
    let owned: Vec<String> =
        sqlx::query_scalar("SELECT id FROM accounts WHERE owner_id = $1 OR backup_owner_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    let removed = sqlx::query(
        "DELETE FROM users WHERE id = $1
           AND NOT (role = 'admin' AND (SELECT COUNT(*) FROM users WHERE role = 'admin') = 1)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if removed != 1 {
        return Ok(false);
    }
    let event = NewEvent {
        kind: EventKind::Owner,
        outcome: Outcome::Ok,
        actor: actor.to_owned(),
        detail: Some(format!("{name} <{email}> was removed as a user, and with that as an owner of this account")),
        ..NewEvent::default()
    };
    for account_id in &owned {
        events::record(&mut tx, account_id, now, &event, AttemptResult::Inconclusive).await?;
    }
    tx.commit().await?;
    Ok(true)
}
