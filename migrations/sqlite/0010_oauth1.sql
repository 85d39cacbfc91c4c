-- Accounts connected with OAuth 1.0a (X's "older auth flow") beside OAuth 2.0.
--
-- Which flow a token set came from. A 1.0a token set's access_token_ct seals
-- the token and its token secret together, as one value: the pair is one
-- credential (neither signs a request alone), so it is never half replaced,
-- and resealing, copying and the keyring check handle it as any other row.
-- It has no refresh token (so no sweep ever claims it), and since 1.0a tokens
-- never expire its expires_at holds 9999-12-31T23:59:59Z.
ALTER TABLE token_sets ADD COLUMN flow TEXT NOT NULL DEFAULT 'oauth2';

-- Set when X refuses the app's OAuth 1.0a consumer key (code 32 "Could not
-- authenticate you."); cleared by the next 1.0a call X answers. The app's
-- incident: every 1.0a account is affected and none needs reconnecting.
ALTER TABLE x_apps ADD COLUMN consumer_key_rejected_since BIGINT;
ALTER TABLE x_apps ADD COLUMN consumer_key_error TEXT;
-- A fingerprint of the configured consumer key and secret (never the
-- secret): a start with other ones clears the incident above, as a new
-- client secret clears the OAuth 2.0 one.
ALTER TABLE x_apps ADD COLUMN consumer_key_fingerprint TEXT;

-- The app's facts ask for its 1.0a accounts on every read (whether all of
-- them died together): an index keeps that a lookup of the few, not a scan
-- of every token set.
CREATE INDEX token_sets_flow_idx ON token_sets (flow);
