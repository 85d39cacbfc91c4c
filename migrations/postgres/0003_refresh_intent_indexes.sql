-- PostgreSQL counterpart of migrations/sqlite/0003_refresh_intent_indexes.sql: the same tables, columns
-- and constraints. Differences: integers are BIGINT throughout, and ids the
-- database gives are identity columns.

-- Every sweep looks for refreshes that were started and never answered
-- (Engine::recover). Events are append-only and a busy instance writes
-- ~120,000 refresh events a day, so without these the lookup scans them all.
-- Partial indexes: both SQLite and Postgres have them.

-- The latest refresh event of an account.
CREATE INDEX events_refresh_idx ON events (account_id, id) WHERE kind = 'refresh';

-- The candidates: refreshes whose intent was written.
CREATE INDEX events_refresh_started_idx ON events (id) WHERE kind = 'refresh' AND outcome = 'started';
