-- The publishing pipeline's API: the keys programs call it with, the posts
-- published through it (held when a person must act first), and the 401/403
-- reports programs send back.

-- API keys. Only the SHA-256 of a key is stored: the key itself is shown once,
-- when it is created. Keys are 32 random bytes, so a plain hash is enough (no
-- password stretching needed), and lookups go by hash, never by comparing keys.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    -- Hex SHA-256 of the whole key.
    key_hash      TEXT NOT NULL,
    -- The key's first characters, to tell keys apart in lists and logs.
    prefix        TEXT NOT NULL,
    -- TRUE: every account, including ones connected later. FALSE: only the
    -- accounts listed in api_key_accounts.
    all_accounts  BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    -- A revoked key stays for the record (the call log names it).
    revoked_at    BIGINT,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);

CREATE TABLE api_key_accounts (
    key_id      TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (key_id, account_id)
);

-- Posts published through authwatch. A row is claimed before X is called, so
-- a retried request with the same idempotency key finds it and never posts
-- twice. Held posts wait here, in id order, for a reconnect.
CREATE TABLE posts (
    -- Ordering key: held posts are published in this order.
    id               INTEGER PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    api_key_id       TEXT NOT NULL REFERENCES api_keys (id),
    idempotency_key  TEXT NOT NULL,
    -- SHA-256 of the account and text: the same key with another request is refused.
    request_hash     TEXT NOT NULL,
    text             TEXT NOT NULL,
    -- publishing | published | held | rejected | unknown | retryable (see PostStatus)
    status           TEXT NOT NULL,
    x_post_id        TEXT,
    -- Why it is held or failed (see Cause), X's status and body.
    cause            TEXT,
    http_status      INTEGER,
    x_error          TEXT,
    -- Calls to POST /2/tweets made for this post, over all its attempts.
    x_calls          INTEGER NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    published_at     BIGINT,
    CONSTRAINT posts_idempotency_key UNIQUE (api_key_id, idempotency_key)
);

CREATE INDEX posts_held_idx ON posts (account_id, id) WHERE status = 'held';

-- 401/403 reports per token generation: the first may be retried once with a
-- fresh token, every later one for the same generation is told to stop. One
-- row per generation, counted with an upsert, so concurrent reports each get
-- their own number.
CREATE TABLE auth_failure_reports (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    generation  BIGINT NOT NULL,
    reports     INTEGER NOT NULL,
    -- The answer to the first report: retry_once | stop.
    first_verdict TEXT NOT NULL,
    PRIMARY KEY (account_id, generation)
);
