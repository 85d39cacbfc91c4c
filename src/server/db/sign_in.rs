//! The `sign_in_failures` table: recent failed sign-ins, for throttling.

use super::Pool;

/// Failed sign-ins since `since` for this email, and for this client address.
pub async fn recent_failures(pool: &Pool, email: &str, ip: &str, since: i64) -> Result<(Vec<i64>, Vec<i64>), sqlx::Error> {
    let by_email = sqlx::query_scalar("SELECT at FROM sign_in_failures WHERE email = ? AND at >= ? ORDER BY at")
        .bind(email)
        .bind(since)
        .fetch_all(pool)
        .await?;
    let by_ip = sqlx::query_scalar("SELECT at FROM sign_in_failures WHERE ip = ? AND at >= ? ORDER BY at")
        .bind(ip)
        .bind(since)
        .fetch_all(pool)
        .await?;
    Ok((by_email, by_ip))
}

/// Records a failure, and forgets those older than `forget_before`.
pub async fn record_failure(pool: &Pool, email: &str, ip: &str, at: i64, forget_before: i64) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM sign_in_failures WHERE at < ?").bind(forget_before).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO sign_in_failures (email, ip, at) VALUES (?, ?, ?)")
        .bind(email)
        .bind(ip)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// A successful sign-in clears the email's failures (not the address's:
/// one right password must not reset a guesser's budget for other emails).
pub async fn clear_email(pool: &Pool, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sign_in_failures WHERE email = ?").bind(email).execute(pool).await.map(|_| ())
}
