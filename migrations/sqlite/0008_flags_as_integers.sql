-- The flags were declared BOOLEAN. SQLite stores them as integers either
-- way, but reports the declaration to sqlx, whose Any driver (one pool type
-- for SQLite and PostgreSQL) refuses a SQLite BOOLEAN column. Same values,
-- declared INTEGER; PostgreSQL keeps real BOOLEAN columns (its 0008 differs).

ALTER TABLE accounts ADD COLUMN last_refresh_ok_int INTEGER;
UPDATE accounts SET last_refresh_ok_int = last_refresh_ok;
ALTER TABLE accounts DROP COLUMN last_refresh_ok;
ALTER TABLE accounts RENAME COLUMN last_refresh_ok_int TO last_refresh_ok;

ALTER TABLE accounts ADD COLUMN last_check_ok_int INTEGER;
UPDATE accounts SET last_check_ok_int = last_check_ok;
ALTER TABLE accounts DROP COLUMN last_check_ok;
ALTER TABLE accounts RENAME COLUMN last_check_ok_int TO last_check_ok;

ALTER TABLE api_keys ADD COLUMN all_accounts_int INTEGER NOT NULL DEFAULT 0;
UPDATE api_keys SET all_accounts_int = all_accounts;
ALTER TABLE api_keys DROP COLUMN all_accounts;
ALTER TABLE api_keys RENAME COLUMN all_accounts_int TO all_accounts;

ALTER TABLE events ADD COLUMN kept_refresh_token_int INTEGER NOT NULL DEFAULT 0;
UPDATE events SET kept_refresh_token_int = kept_refresh_token;
ALTER TABLE events DROP COLUMN kept_refresh_token;
ALTER TABLE events RENAME COLUMN kept_refresh_token_int TO kept_refresh_token;
