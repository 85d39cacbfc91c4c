-- The daily check runs once a day whichever replica's clock reaches its time
-- first: each replica's scheduler claims the UTC day's run by inserting its
-- row, and only the one whose insert lands runs it. (A direct call, such as
-- a test's or an operator's, runs the check regardless.)
CREATE TABLE daily_check_runs (
    day         BIGINT PRIMARY KEY,
    claimed_by  TEXT NOT NULL,
    claimed_at  BIGINT NOT NULL
);
