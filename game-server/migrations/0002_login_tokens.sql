-- Login tokens (C_LoginToken): each account holds at most one live token, stored as the
-- SHA-256 of its bytes (64 hex digits), with when it expires (ms since the Unix epoch). NULL
-- when none was issued or the last one was used.
ALTER TABLE accounts ADD COLUMN token_hash TEXT;
ALTER TABLE accounts ADD COLUMN token_expires_ms BIGINT;
