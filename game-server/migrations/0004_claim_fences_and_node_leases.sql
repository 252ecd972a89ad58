-- Fencing for a cluster's account claims (issue 24's review): every claim of an account
-- raises its generation, and a node's save writes a character only under the generation of
-- the claim it holds, so a save queued under an older claim of the same node (the account
-- went to another node and came back) cannot land over a newer state. characters.claim_gen
-- is the claim a row was written under (0 outside a cluster).
ALTER TABLE account_claims ADD COLUMN gen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE characters ADD COLUMN claim_gen BIGINT NOT NULL DEFAULT 0;

-- Each cluster node's lease, renewed every second by the process that runs it, in the
-- database's own clock (`until_ms`). Another node takes an account over without the holder's
-- consent (it does not answer on the bus) only once the holder's lease has run out, and a
-- node whose lease runs out stops its logged-in players first: so a node cut off from the
-- other nodes but not from the database keeps its players, and two nodes never play one
-- account. `instance` tells two processes started with the same node id apart: the second
-- gets no lease while the first holds it.
CREATE TABLE node_leases (
    node     INTEGER PRIMARY KEY,
    instance BIGINT NOT NULL,
    until_ms BIGINT NOT NULL
);
