//! The `user_reads` table: the accounts X answered `GET /2/users/me` for,
//! per UTC day — what X bills for checks.

use super::Pool;
use crate::domain::checks::utc_day;

/// X answered a user read for `account_id` at `at`.
pub async fn record(pool: &Pool, account_id: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_reads (day, account_id, calls) VALUES ($1, $2, 1)
         ON CONFLICT (day, account_id) DO UPDATE SET calls = user_reads.calls + 1",
    )
    .bind(utc_day(at))
    .bind(account_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// How many accounts X answered a user read for on UTC day `day`.
pub async fn accounts_on(pool: &Pool, day: i64) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_reads WHERE day = $1").bind(day).fetch_one(pool).await?;
    Ok(n.max(0) as u64)
}

/// Whether X answered a user read for `account_id` on the UTC day of `at`.
pub async fn read_on(pool: &Pool, account_id: &str, at: i64) -> Result<bool, sqlx::Error> {
    let n: Option<i64> = sqlx::query_scalar("SELECT calls FROM user_reads WHERE day = $1 AND account_id = $2")
        .bind(utc_day(at))
        .bind(account_id)
        .fetch_optional(pool)
        .await?;
    Ok(n.is_some())
}

/// Today's and yesterday's billed user reads (UTC) at `now`, for the settings page.
pub async fn today_and_yesterday(pool: &Pool, now: i64) -> Result<(u64, u64), sqlx::Error> {
    let today = utc_day(now);
    Ok((accounts_on(pool, today).await?, accounts_on(pool, today - 1).await?))
}

/// Claims the daily check of UTC day `day` for `owner`: whether this caller
/// runs it (no one else claimed that day first).
pub async fn claim_daily_run(pool: &Pool, day: i64, owner: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO daily_check_runs (day, claimed_by, claimed_at) VALUES ($1, $2, $3) ON CONFLICT (day) DO NOTHING",
    )
    .bind(day)
    .bind(owner)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
