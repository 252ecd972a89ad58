-- Which node of a cluster holds each account's character (`--nats` with PostgreSQL): a login
-- on another node asks that node to let the character go (save it and close its session)
-- before it loads it. One row per account that ever logged in on a cluster; a row naming a
-- node that is gone or no longer holds the character costs one question, nothing more.
CREATE TABLE account_claims (
    account_key TEXT PRIMARY KEY REFERENCES accounts (name_key),
    node        INTEGER NOT NULL,
    claimed_ms  BIGINT NOT NULL
);
