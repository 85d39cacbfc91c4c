-- The people around the accounts: dashboard users, who owns which account,
-- the prompts that ask a person to act, the notifications that carry them,
-- and reconnect links for people without a dashboard user.

-- Dashboard users. The email is stored lowercased and is the sign-in name.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    name           TEXT NOT NULL,
    -- argon2id, as a PHC string (algorithm, parameters and salt included), so
    -- parameters can be raised later without a migration.
    password_hash  TEXT NOT NULL,
    -- 'admin' | 'manager', mapped to an enum in db::users.
    role           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_role_check CHECK (role IN ('admin', 'manager'))
);

-- An account's owner is the person who connected it (an admin can reassign);
-- the backup owner is asked too. Both must be able to sign in to the X account.
-- ON DELETE SET NULL: removing a user leaves the account to the admins.
ALTER TABLE accounts ADD COLUMN owner_id TEXT REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE accounts ADD COLUMN backup_owner_id TEXT REFERENCES users (id) ON DELETE SET NULL;

-- Failed sign-ins, for throttling per email and per client address. Rows
-- older than the throttle window are deleted as new ones arrive.
CREATE TABLE sign_in_failures (
    id     INTEGER PRIMARY KEY,
    email  TEXT NOT NULL,
    ip     TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_email_idx ON sign_in_failures (email, at);
CREATE INDEX sign_in_failures_ip_idx ON sign_in_failures (ip, at);

-- One prompt per incident: "this needs a person". `subject` is what needs
-- them — `account:<id>` for one account, `app:credentials` or `app:clock` for
-- the X app — and at most one prompt per subject is open at a time (the
-- partial unique index), so two sweeps can never raise the same prompt twice.
CREATE TABLE prompts (
    id             INTEGER PRIMARY KEY,
    subject        TEXT NOT NULL,
    account_id     TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    -- The cause (domain::health::Cause) when it was raised.
    cause          TEXT NOT NULL,
    opened_at      BIGINT NOT NULL,
    -- Set when nobody acted in time and the admins were told.
    escalated_at   BIGINT,
    -- Set when the subject recovered (or the account was removed).
    closed_at      BIGINT
);
CREATE UNIQUE INDEX prompts_one_open_per_subject ON prompts (subject) WHERE closed_at IS NULL;
CREATE INDEX prompts_account_idx ON prompts (account_id);

-- The outbox: every message a prompt sends, one row per channel and
-- recipient. Delivery is retried with backoff by a background task; the
-- engine only ever inserts rows, so a slow receiver never blocks a refresh.
-- The unique key makes "exactly one notification" hold across sweeps.
CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY,
    prompt_id        INTEGER NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    -- 'opened' | 'escalated' | 'recovered'
    kind             TEXT NOT NULL,
    -- 'email' | 'slack' | 'webhook'
    channel          TEXT NOT NULL,
    -- An email address for 'email'; empty for the team-wide webhooks.
    recipient        TEXT NOT NULL,
    -- The message, rendered when it was raised (JSON: subject, text, fields).
    payload          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    delivered_at     BIGINT,
    -- Set after the last retry failed; the row stays as the record.
    gave_up_at       BIGINT,
    last_error       TEXT,
    CONSTRAINT notifications_once UNIQUE (prompt_id, kind, channel, recipient)
);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;

-- Single-use reconnect links, for whoever holds the X login (a client, an
-- agency) even without a dashboard user. Only a SHA-256 of the link's random
-- part is stored: the database alone cannot be used to reconnect.
CREATE TABLE reconnect_links (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL,
    created_by   TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    -- Claimed while a reconnect through it is in flight, kept when it succeeds.
    used_at      BIGINT,
    CONSTRAINT reconnect_links_token_key UNIQUE (token_hash)
);
CREATE INDEX reconnect_links_account_idx ON reconnect_links (account_id);
