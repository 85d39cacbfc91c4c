-- Failures that are not the accounts': X's billing, X's own incidents, and
-- what the health checks cost.

-- X answered 402 "credits depleted": the app's pay-per-use balance is empty.
-- One app-level incident for the admins — never an account's — cleared when a
-- probe finds credits again. X's body is kept for the warning, in X's words.
ALTER TABLE x_apps ADD COLUMN credits_depleted_since BIGINT;
ALTER TABLE x_apps ADD COLUMN credits_x_error TEXT;
-- The last time X was asked whether the credits are back (at most every probe
-- interval: X's auto-recharge runs at most once per 5 minutes).
ALTER TABLE x_apps ADD COLUMN credits_probed_at BIGINT;
-- The X incident (many accounts failing the same way at once; its prompt's
-- subject is `app:x-incident`): the last time X was asked whether it answers
-- normally again, and when it last did. From then on each account the
-- incident holds is verified by one refresh.
ALTER TABLE x_apps ADD COLUMN x_incident_probed_at BIGINT;
ALTER TABLE x_apps ADD COLUMN x_recovered_at BIGINT;

-- The accounts X answered `GET /2/users/me` for, per UTC day. X bills one
-- user read per user per day however often it is asked, so one row is one
-- billed read: the settings page's spend estimate counts them.
CREATE TABLE user_reads (
    -- Days since the epoch, UTC.
    day         BIGINT NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    calls       INTEGER NOT NULL,
    PRIMARY KEY (day, account_id)
);
