//! A cluster's account claims and node leases, in the PostgreSQL the nodes share.
//!
//! - **Claims.** `account_claims` names the node that holds each account's character and the
//!   claim's generation. A claim reads the row, asks the holder to let the character go
//!   *with no transaction open* (the answer may take seconds; no pooled connection or row
//!   lock is held meanwhile), then writes itself in with a compare-and-set on the
//!   generation: of two claims that read the same row, one wins and the other is refused.
//! - **Leases.** `node_leases` holds each node's lease, renewed by its process in the
//!   database's clock. A holder that does not answer (not on the bus, or silent) is passed
//!   over only once its lease has run out; the holder's own copy runs out first, and its
//!   players stop when it does (`lease.rs`). So two nodes cut off from each other but not
//!   from the database never both play one account: the one that holds it keeps it.
//! - **Fences.** Each save carries the generation of the claim it was made under, and
//!   writes only while the row still names this node at that generation (`Store::held_by`,
//!   `save_characters`).
//!
//! PostgreSQL only: a cluster's nodes share one (SQLite with `--nats` is refused at start).

use std::time::Duration;

use sqlx::Row;

use super::store::{Backend, Store, StoreError};
use crate::game::accounts::AccountName;

/// A claim's generation: which claim of an account a session plays, and a save was made
/// under. 0 outside a cluster.
pub type ClaimGen = i64;

/// The database's clock, in ms since the Unix epoch: the one clock every node's lease is
/// read against.
const DB_NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// What the node that held an account said when asked to let it go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// It let the character go (or did not have it).
    Given,
    /// No answer (no process of it on the bus, or none in time), or the answer that it
    /// holds no lease: the claim goes on only if that node's lease has run out.
    Silent,
    /// It refused: nothing is written.
    Refused,
}

/// What [`Store::claim_account`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// The row names this node now, at generation `gen`; `from` held it before (another
    /// node, which let it go or whose lease had run out).
    Yes {
        /// The claim's generation: the fence of this node's saves of the character.
        gen: ClaimGen,
        /// The node that held it before, if another.
        from: Option<u16>,
    },
    /// The holder refused, or is silent while its lease runs, or another claim came first:
    /// nothing changed here.
    Refused,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

fn postgres_only(store: &Store) -> Result<(), StoreError> {
    if store.backend == Backend::Postgres {
        Ok(())
    } else {
        Err(StoreError::BadRow(
            "account claims need PostgreSQL (a cluster's shared database)".into(),
        ))
    }
}

impl Store {
    /// Claims account `name`'s character for cluster node `node`. If another node holds
    /// it, `ask(holder, gen)` asks that node to let it go (`gen`: the generation read, so a
    /// holder that claimed it again since can tell the question is stale); see the module
    /// comment for what each [`Consent`] leads to.
    pub async fn claim_account<F, Fut>(
        &self,
        name: &AccountName,
        node: u16,
        now_ms: i64,
        ask: F,
    ) -> Result<Claimed, StoreError>
    where
        F: FnOnce(u16, ClaimGen) -> Fut,
        Fut: std::future::Future<Output = Consent>,
    {
        postgres_only(self)?;
        sqlx::query(
            "INSERT INTO account_claims (account_key, node, claimed_ms, gen) \
             VALUES ($1, $2, $3, 0) ON CONFLICT (account_key) DO NOTHING",
        )
        .bind(name.key())
        .bind(-1i32)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT node, gen FROM account_claims WHERE account_key = $1")
            .bind(name.key())
            .fetch_one(&self.pool)
            .await?;
        let (held, gen): (i32, i64) = (row.try_get(0)?, row.try_get(1)?);
        let holder = u16::try_from(held).ok().filter(|&held| held != node);
        let consent = match holder {
            Some(other) => ask(other, gen).await,
            None => Consent::Given, // nobody, or this node: nothing to ask
        };
        if consent == Consent::Refused {
            return Ok(Claimed::Refused);
        }
        let sql = format!(
            "UPDATE account_claims SET node = $1, gen = gen + 1, claimed_ms = $2 \
             WHERE account_key = $3 AND gen = $4 AND ($5 = 1 OR NOT EXISTS \
             (SELECT 1 FROM node_leases l WHERE l.node = account_claims.node \
              AND l.until_ms >= {DB_NOW_MS})) \
             RETURNING gen"
        );
        let won = sqlx::query(&sql)
            .bind(i32::from(node))
            .bind(now_ms)
            .bind(name.key())
            .bind(gen)
            .bind(i32::from(consent == Consent::Given))
            .fetch_optional(&self.pool)
            .await?;
        Ok(match won {
            Some(row) => Claimed::Yes {
                gen: row.try_get(0)?,
                from: holder,
            },
            None => Claimed::Refused,
        })
    }

    /// Takes node `node`'s lease for this process (`instance`), for `length` from now in
    /// the database's clock, if no other process holds it (no row, one that has run out,
    /// or this process's own: a take whose answer was lost, or an extension refused while
    /// the row was still there; either way this process's players have stopped since).
    /// False if another process of the same node id holds a lease that has not run out.
    pub async fn take_lease(
        &self,
        node: u16,
        instance: u64,
        length: Duration,
    ) -> Result<bool, StoreError> {
        postgres_only(self)?;
        let sql = format!(
            "INSERT INTO node_leases (node, instance, until_ms) VALUES ($1, $2, {DB_NOW_MS} + $3) \
             ON CONFLICT (node) DO UPDATE SET instance = excluded.instance, \
             until_ms = excluded.until_ms \
             WHERE node_leases.until_ms < {DB_NOW_MS} OR node_leases.instance = excluded.instance \
             RETURNING until_ms"
        );
        self.lease_statement(&sql, node, instance, length).await
    }

    /// Extends this process's lease of node `node` to `length` from now, only if it still
    /// holds it and it had not run out in the database when the statement checked. False
    /// otherwise (the caller's copy must run out now). Safety does not rest on this check
    /// alone: the caller's copy runs out before the database's lease, and a late extension
    /// revives it only after the node's sessions have closed (`lease.rs`).
    pub async fn extend_lease(
        &self,
        node: u16,
        instance: u64,
        length: Duration,
    ) -> Result<bool, StoreError> {
        postgres_only(self)?;
        let sql = format!(
            "UPDATE node_leases SET until_ms = {DB_NOW_MS} + $3 \
             WHERE node = $1 AND instance = $2 AND until_ms >= {DB_NOW_MS} RETURNING until_ms"
        );
        self.lease_statement(&sql, node, instance, length).await
    }

    /// Runs a lease statement of parameters (node, instance, length in ms) that returns a
    /// row when it wrote one.
    async fn lease_statement(
        &self,
        sql: &str,
        node: u16,
        instance: u64,
        length: Duration,
    ) -> Result<bool, StoreError> {
        let written = sqlx::query(sql)
            .bind(i32::from(node))
            // The instance's bits, as PostgreSQL has no unsigned type.
            .bind(instance as i64)
            .bind(millis(length))
            .fetch_optional(&self.pool)
            .await?;
        Ok(written.is_some())
    }

    /// Ends this process's lease of node `node` (at shutdown, after the last saves): the
    /// other nodes may take its accounts over at once, without waiting for it to run out.
    pub async fn end_lease(&self, node: u16, instance: u64) -> Result<(), StoreError> {
        postgres_only(self)?;
        sqlx::query("DELETE FROM node_leases WHERE node = $1 AND instance = $2")
            .bind(i32::from(node))
            .bind(instance as i64)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
