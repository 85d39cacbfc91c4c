-- PostgreSQL counterpart of migrations/sqlite/0002_refresh_state.sql: the same tables, columns
-- and constraints. Differences: integers are BIGINT throughout, and ids the
-- database gives are identity columns.

-- The refresh engine's per-account bookkeeping, apart from the token set so
-- that replacing tokens never races with taking a lease.
--
-- One refresh per account at a time, across processes sharing the database:
-- a worker takes the lease with one conditional upsert (it succeeds only when
-- no live lease exists, or the worker already holds it) and releases it only
-- as its owner. The lease outlives the HTTP timeout, so a worker that still
-- waits for X never loses it to another. The same statements work on
-- Postgres, where the upsert's row lock gives the same guarantee.
CREATE TABLE refresh_state (
    account_id        TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    lease_owner       TEXT,
    lease_until       BIGINT,
    -- Backoff after X's passing trouble (5xx, timeouts, 429): no automatic
    -- refresh before this time.
    next_attempt_at   BIGINT,
    -- Consecutive transient failures, for the exponential backoff.
    transient_failures BIGINT NOT NULL DEFAULT 0
);
