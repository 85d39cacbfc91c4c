#!/usr/bin/env bash
# Walks X's OAuth 2.0 flow against a running emulator, with curl only:
#   consent page -> consent form -> code -> token exchange -> users/me ->
#   refresh -> the rotated token works -> the old refresh token is refused
#   with X's exact error.
# Start the emulator first:   authwatch emulator --addr 127.0.0.1:4000
# Then:                        scripts/emulator-demo.sh [http://127.0.0.1:4000]
# Uses the sample app that `authwatch emulator` registers. Exits non-zero on
# any unexpected answer.
set -euo pipefail

BASE="${1:-${EMULATOR_URL:-http://127.0.0.1:4000}}"
BASE="${BASE%/}"
CLIENT_ID="${CLIENT_ID:-authwatch-local}"
CLIENT_SECRET="${CLIENT_SECRET:-authwatch-local-secret-not-for-production}"
REDIRECT_URI="${REDIRECT_URI:-http://127.0.0.1:3000/auth/x/callback}"
SCOPE="tweet.read tweet.write users.read offline.access"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
# The string value of a top-level JSON field (X's token values never need escaping).
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$2"; }
# Calls curl; leaves the body in $BODY and the status in $STATUS.
call() {
  STATUS="$(curl -sS -o "$WORK/body" -w '%{http_code}' "$@")" || fail "curl $* failed"
  BODY="$(cat "$WORK/body")"
}
expect_status() { [[ "$STATUS" == "$1" ]] || fail "expected HTTP $1, got $STATUS: $BODY"; }

# PKCE: a random verifier and its S256 challenge.
VERIFIER="$(openssl rand -base64 48 | tr '+/' '-_' | tr -d '=\n')"
CHALLENGE="$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')"
STATE="demo-$RANDOM$RANDOM"

step "1. GET the consent page ($BASE/i/oauth2/authorize)"
call -G "$BASE/i/oauth2/authorize" -c "$WORK/cookies" \
  --data-urlencode response_type=code --data-urlencode "client_id=$CLIENT_ID" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "scope=$SCOPE" \
  --data-urlencode "state=$STATE" --data-urlencode "code_challenge=$CHALLENGE" \
  --data-urlencode code_challenge_method=S256
expect_status 200
grep -q 'Authorize app' <<<"$BODY" || fail "no consent page: $BODY"
USER_ID="$(sed -n 's/.*<option value="\([0-9]*\)".*/\1/p' <<<"$BODY" | head -n1)"
USERNAME="$(sed -n 's/.*<option value="[0-9]*"[^>]*>@\([^ ]*\) .*/\1/p' <<<"$BODY" | head -n1)"
[[ -n "$USER_ID" ]] || fail "the consent page lists no account"
echo "consent page OK; signing in as @$USERNAME (id $USER_ID)"

step "2. POST the consent form (Authorize app)"
HEADERS="$WORK/headers"
STATUS="$(curl -sS -o /dev/null -D "$HEADERS" -w '%{http_code}' -b "$WORK/cookies" -c "$WORK/cookies" \
  "$BASE/i/oauth2/authorize" \
  --data-urlencode response_type=code --data-urlencode "client_id=$CLIENT_ID" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "scope=$SCOPE" \
  --data-urlencode "state=$STATE" --data-urlencode "code_challenge=$CHALLENGE" \
  --data-urlencode code_challenge_method=S256 --data-urlencode "user_id=$USER_ID" \
  --data-urlencode action=authorize)" || fail "consent POST failed"
[[ "$STATUS" == 302 ]] || fail "expected a 302 redirect, got $STATUS"
LOCATION="$(sed -n 's/^[Ll]ocation: *//p' "$HEADERS" | tr -d '\r')"
echo "redirected to $LOCATION"
[[ "$LOCATION" == "$REDIRECT_URI?state=$STATE&code="* ]] || fail "unexpected redirect: $LOCATION"
CODE="${LOCATION##*&code=}"

step "3. Exchange the code for tokens"
call -u "$CLIENT_ID:$CLIENT_SECRET" "$BASE/2/oauth2/token" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER"
expect_status 200
echo "$BODY"
ACCESS="$(field access_token "$BODY")"
REFRESH="$(field refresh_token "$BODY")"
[[ "$(field token_type "$BODY")" == bearer && -n "$ACCESS" && -n "$REFRESH" ]] || fail "unexpected token answer"
[[ "$(field scope "$BODY")" == "$SCOPE" ]] || fail "granted scope differs from the requested one"

step "4. GET /2/users/me"
call "$BASE/2/users/me" -H "Authorization: Bearer $ACCESS"
expect_status 200
echo "$BODY"
[[ "$(field username "$BODY")" == "$USERNAME" ]] || fail "users/me answered another account"

step "5. Refresh (the refresh token rotates)"
call -u "$CLIENT_ID:$CLIENT_SECRET" "$BASE/2/oauth2/token" \
  --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$REFRESH"
expect_status 200
echo "$BODY"
NEW_ACCESS="$(field access_token "$BODY")"
NEW_REFRESH="$(field refresh_token "$BODY")"
[[ -n "$NEW_ACCESS" && -n "$NEW_REFRESH" && "$NEW_REFRESH" != "$REFRESH" ]] || fail "the refresh token did not rotate"

step "6. The rotated access token works"
call "$BASE/2/users/me" -H "Authorization: Bearer $NEW_ACCESS"
expect_status 200
echo "$BODY"

step "7. The old refresh token is refused, with X's exact error"
call -u "$CLIENT_ID:$CLIENT_SECRET" "$BASE/2/oauth2/token" \
  --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$REFRESH"
expect_status 400
echo "$BODY"
EXPECTED='{"error":"invalid_request","error_description":"Value passed for the token was invalid."}'
[[ "$BODY" == "$EXPECTED" ]] || fail "expected $EXPECTED"

printf '\nAll steps behaved like X.\n'
