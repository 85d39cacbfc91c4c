-- A saved refresh whose answer carried no refresh token (X omits it without
-- `offline.access`) keeps the previous one. The account page says so when it
-- answers "did the refresh token survive the last exchange?". Until now that
-- fact lived only in the event's prose (`detail`), and the page searched the
-- prose for it: a fact a program reads is a column, the prose is for people.
ALTER TABLE events ADD COLUMN kept_refresh_token BOOLEAN NOT NULL DEFAULT FALSE;

-- The rows written before this column keep meaning what they meant: the
-- refreshes whose detail says so, in the exact words the refresh wrote
-- ("X sent no new refresh token (offline.access missing?): the previous one
-- was kept") and the page looked for (case-sensitive, hence instr and not LIKE).
UPDATE events SET kept_refresh_token = TRUE
WHERE kind = 'refresh' AND outcome = 'ok' AND instr(detail, 'previous one was kept') > 0;
