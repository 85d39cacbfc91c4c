//! The `sign_in_failures` table: recent sign-in attempts that did not
//! succeed, for throttling per email and per client address.
//!
//! An attempt is written *before* its password is checked ([`reserve`]) and
//! counts as a failure from then on; a right password deletes the email's
//! rows ([`clear_email`]), and an attempt that was never checked gives its
//! row back ([`release`]). Counting after the check instead would let a
//! burst of concurrent guesses all pass the count before any was recorded.

use super::Pool;

/// What [`reserve`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt is recorded; its password may be checked.
    Reserved(AttemptId),
    /// Over budget: nothing recorded; try again in this many milliseconds.
    Refused { wait_ms: i64 },
}

/// A reserved attempt (its row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptId(i64);

/// Records an attempt for `email` from `ip` at `at`, unless `refuse` —
/// shown the times (ascending) of the attempts since `since` for the email
/// and for the address — says how long to wait instead. Rows older than
/// `since` are forgotten on the way.
///
/// One write transaction, taken at its start (`BEGIN IMMEDIATE`): concurrent
/// sign-ins, in this process or another on the same file, count one after
/// the other, and each sees every attempt reserved before it.
pub async fn reserve(
    pool: &Pool,
    email: &str,
    ip: &str,
    at: i64,
    since: i64,
    refuse: impl FnOnce(&[i64], &[i64]) -> Option<i64>,
) -> Result<Reservation, sqlx::Error> {
    let mut tx = super::begin_write(pool, super::WriteScope::SignIn).await?;
    sqlx::query("DELETE FROM sign_in_failures WHERE at < $1").bind(since).execute(&mut *tx).await?;
    let by_email: Vec<i64> = sqlx::query_scalar("SELECT at FROM sign_in_failures WHERE email = $1 ORDER BY at")
        .bind(email)
        .fetch_all(&mut *tx)
        .await?;
    let by_ip: Vec<i64> = sqlx::query_scalar("SELECT at FROM sign_in_failures WHERE ip = $1 ORDER BY at")
        .bind(ip)
        .fetch_all(&mut *tx)
        .await?;
    if let Some(wait_ms) = refuse(&by_email, &by_ip) {
        tx.rollback().await?;
        return Ok(Reservation::Refused { wait_ms });
    }
    let id = sqlx::query_scalar("INSERT INTO sign_in_failures (email, ip, at) VALUES ($1, $2, $3) RETURNING id")
        .bind(email)
        .bind(ip)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Reservation::Reserved(AttemptId(id)))
}

/// Gives back an attempt whose password was never checked (argon2 was busy,
/// or the database failed on the way): it must not count as a failure.
pub async fn release(pool: &Pool, attempt: AttemptId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sign_in_failures WHERE id = $1").bind(attempt.0).execute(pool).await.map(|_| ())
}

/// A successful sign-in clears the email's failures, its own reservation
/// among them (not the address's: one right password must not reset a
/// guesser's budget for other emails).
pub async fn clear_email(pool: &Pool, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sign_in_failures WHERE email = $1").bind(email).execute(pool).await.map(|_| ())
}
