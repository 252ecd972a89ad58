-- A character's stats (issue 25): its level and experience toward the next, and its hit
-- points (NULL: full, as a character saved before this migration, or one never hurt, starts).
-- The rules that change them are game/combat/; the tables that bound them are data/players.json.
ALTER TABLE characters ADD COLUMN level BIGINT NOT NULL DEFAULT 1;
ALTER TABLE characters ADD COLUMN exp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE characters ADD COLUMN hp BIGINT;
