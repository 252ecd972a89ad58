-- Accounts and their characters (issue 24). One file for SQLite and PostgreSQL: only types
-- and statements both read the same way (TEXT, BIGINT, DOUBLE PRECISION; no generated ids).
-- Times are milliseconds since the Unix epoch.

CREATE TABLE accounts (
    -- The name without case (AccountName::key): what makes an account unique.
    name_key      TEXT PRIMARY KEY,
    -- The name as the player typed it.
    name          TEXT NOT NULL,
    -- argon2id, PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    last_login_ms BIGINT
);

-- One character per account for now; a (account, slot) key can come with a migration.
-- Stats (HP, level, experience) and an inventory table come with the combat issue.
CREATE TABLE characters (
    account_key  TEXT PRIMARY KEY REFERENCES accounts (name_key),
    -- Where it was: 'room' (the course's one room) or 'world' (--world grid), the region
    -- that owned it, and its position.
    place        TEXT NOT NULL,
    region       BIGINT NOT NULL,
    pos_x        DOUBLE PRECISION NOT NULL,
    pos_y        DOUBLE PRECISION NOT NULL,
    pos_z        DOUBLE PRECISION NOT NULL,
    created_ms   BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
