//! `Store`: accounts and characters in SQLite (a file, the default) or PostgreSQL (by URL),
//! through one code path: sqlx's `Any` driver, the runtime `query` API, and SQL both
//! databases read the same way (`$1` placeholders, `INSERT ... ON CONFLICT DO UPDATE`).
//! Migrations live in `game-server/migrations/` and run at open.
//!
//! Opening refuses, with one line that says what is wrong and without writing anything:
//! a file that is not a database, a database that has a migration this server does not
//! know (written by a newer server), and a URL that cannot be reached within five seconds.

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::MigrateError;
use sqlx::{AnyPool, Row};

use crate::game::accounts::{AccountName, StoredToken};
use crate::game::saves::{CharacterRecord, CharacterStats, Place};

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A file.
    Sqlite,
    /// A server.
    Postgres,
}

/// Why the store could not open or answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Neither a path nor a `sqlite:` or `postgres:` URL.
    #[error("{0}: not a database: give a file path, sqlite://PATH or postgres://...")]
    BadSpec(String),
    /// The data directory could not be made.
    #[error("{path}: cannot create the data directory: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Could not connect.
    #[error("{target}: cannot open the database: {source}")]
    Unreachable {
        /// The file or URL (without a password).
        target: String,
        /// Why.
        source: sqlx::Error,
    },
    /// The file is not a database.
    #[error("{target}: not a database this server can read (left untouched): {source}")]
    Corrupt {
        /// The file.
        target: String,
        /// What SQLite said.
        source: sqlx::Error,
    },
    /// The database was migrated by a newer server.
    #[error(
        "{target}: the database has migration {version}, which this server does not know: it \
         was written by a newer server (left untouched)"
    )]
    Newer {
        /// The file or URL.
        target: String,
        /// The unknown migration.
        version: i64,
    },
    /// A migration failed.
    #[error("{target}: migrating: {source}")]
    Migrate {
        /// The file or URL.
        target: String,
        /// Why.
        source: MigrateError,
    },
    /// A query failed.
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored row holds what this server cannot read.
    #[error("database: {0}")]
    BadRow(String),
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// The name as typed.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Created, ms since the Unix epoch.
    pub created_ms: i64,
    /// Its live login token, if it holds one.
    pub token: Option<StoredToken>,
}

/// A pool of connections to one database.
#[derive(Debug, Clone)]
pub struct Store {
    pub(super) pool: AnyPool,
    pub(super) backend: Backend,
    target: String,
    /// In a cluster: this node's id. A save then updates a character only while the
    /// account's claim row names this node, so a node whose accounts were taken over while
    /// it was cut off cannot write its older states over the new holder's; and only under
    /// the claim's generation each record carries (see `claims.rs`).
    held_by: Option<u16>,
}

impl Store {
    /// Opens `spec` (a file path, `sqlite://PATH`, or `postgres://...`), creating a SQLite
    /// file and its directory if missing, and migrates it.
    pub async fn open(spec: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend, target) =
            if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
                (spec.to_owned(), Backend::Postgres, redact(spec))
            } else {
                let path = spec.strip_prefix("sqlite://").unwrap_or(spec);
                if path.is_empty() || path.contains("://") {
                    return Err(StoreError::BadSpec(spec.to_owned()));
                }
                if let Some(dir) = Path::new(path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                (
                    format!("sqlite://{path}?mode=rwc"),
                    Backend::Sqlite,
                    path.to_owned(),
                )
            };
        let sqlite = backend == Backend::Sqlite;
        let pool = AnyPoolOptions::new()
            // SQLite takes one writer at a time anyway; one connection keeps it simple.
            .max_connections(if sqlite { 1 } else { 8 })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // SQLite checks a character's account only when asked, per
                        // connection; PostgreSQL always does.
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|source| StoreError::Unreachable {
                target: target.clone(),
                source,
            })?;
        if backend == Backend::Sqlite {
            // The first statement reads the file's header: a file that is not a database
            // fails here, before anything is written to it.
            sqlx::query("SELECT count(*) FROM sqlite_master")
                .fetch_one(&pool)
                .await
                .map_err(|source| StoreError::Corrupt {
                    target: target.clone(),
                    source,
                })?;
        }
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| match source {
                MigrateError::VersionMissing(version) => StoreError::Newer {
                    target: target.clone(),
                    version,
                },
                source => StoreError::Migrate {
                    target: target.clone(),
                    source,
                },
            })?;
        Ok(Store {
            pool,
            backend,
            target,
            held_by: None,
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The file or URL (without a password), for logs.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Creates an account; false if the name (without case) is taken.
    pub async fn create_account(
        &self,
        name: &AccountName,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO accounts (name_key, name, password_hash, created_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(name.key())
        .bind(name.shown())
        .bind(password_hash)
        .bind(now_ms)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The account of `name` (without case), if any. Names reach the database only as an
    /// [`AccountName`], so nothing it refuses (a NUL, a quote, a space) is ever sent.
    pub async fn account(&self, name: &AccountName) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query(
            "SELECT name, password_hash, created_ms, token_hash, token_expires_ms \
             FROM accounts WHERE name_key = $1",
        )
        .bind(name.key())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let hash: Option<String> = row.try_get(3)?;
            let expires_ms: Option<i64> = row.try_get(4)?;
            Ok(AccountRow {
                name: row.try_get(0)?,
                password_hash: row.try_get(1)?,
                created_ms: row.try_get(2)?,
                token: hash
                    .zip(expires_ms)
                    .map(|(hash, expires_ms)| StoredToken { hash, expires_ms }),
            })
        })
        .transpose()
    }

    /// Uses up the account's token `hash`: true if it was still the live one. One statement,
    /// so of two logins presenting the same token (on two nodes, say) exactly one wins.
    pub async fn use_token(&self, name: &AccountName, hash: &str) -> Result<bool, StoreError> {
        let used = sqlx::query(
            "UPDATE accounts SET token_hash = NULL, token_expires_ms = NULL \
             WHERE name_key = $1 AND token_hash = $2",
        )
        .bind(name.key())
        .bind(hash)
        .execute(&self.pool)
        .await?;
        Ok(used.rows_affected() == 1)
    }

    /// Gives account `name` back the token `token` that a login used up and then could not
    /// finish with; only if no newer login has given it another since.
    pub async fn restore_token(
        &self,
        name: &AccountName,
        token: &StoredToken,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET token_hash = $1, token_expires_ms = $2 \
             WHERE name_key = $3 AND token_hash IS NULL",
        )
        .bind(&token.hash)
        .bind(token.expires_ms)
        .bind(name.key())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Notes a login, and gives the account `token` (replacing the one it held).
    pub async fn touch_login(
        &self,
        name: &AccountName,
        now_ms: i64,
        token: &StoredToken,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET last_login_ms = $1, token_hash = $2, token_expires_ms = $3 \
             WHERE name_key = $4",
        )
        .bind(now_ms)
        .bind(&token.hash)
        .bind(token.expires_ms)
        .bind(name.key())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The character of account `name`, if it was ever saved.
    pub async fn character(
        &self,
        name: &AccountName,
    ) -> Result<Option<CharacterRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT place, region, pos_x, pos_y, pos_z, created_ms, last_seen_ms, \
             level, exp, hp FROM characters WHERE account_key = $1",
        )
        .bind(name.key())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| character_of(&row)).transpose()
    }

    /// This store for cluster node `node`: its saves update only the characters whose claim
    /// row names `node` (see the field).
    pub fn held_by(&self, node: u16) -> Store {
        Store {
            held_by: Some(node),
            ..self.clone()
        }
    }

    /// Saves `rows` in one transaction: all of them or none. One statement per
    /// [`ROWS_PER_STATEMENT`] rows, not one per row: a checkpoint of ten thousand characters
    /// is twenty statements, not ten thousand round trips. In a cluster (`held_by`), a row
    /// is written only while its account's claim names this node at the row's generation;
    /// the accounts of the rows that were not are returned (fenced out: another claim holds
    /// them now). Empty outside a cluster.
    pub async fn save_characters(&self, rows: &[SaveRow]) -> Result<Vec<String>, StoreError> {
        let mut fenced = Vec::new();
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = upsert_sql(chunk.len(), self.held_by.is_some());
            let mut query = sqlx::query(&sql);
            for row in chunk {
                let r = &row.record;
                query = query
                    .bind(row.name.key())
                    .bind(r.place.as_str())
                    .bind(i64::from(r.region))
                    .bind(f64::from(r.pos[0]))
                    .bind(f64::from(r.pos[1]))
                    .bind(f64::from(r.pos[2]))
                    .bind(r.created_ms)
                    .bind(r.last_seen_ms)
                    .bind(row.claim)
                    .bind(i64::from(r.stats.level))
                    .bind(i64::from(r.stats.exp))
                    .bind(r.stats.hp.map(i64::from));
            }
            match self.held_by {
                Some(node) => {
                    let written = query.bind(i32::from(node)).fetch_all(&mut *tx).await?;
                    let written: std::collections::HashSet<String> = written
                        .iter()
                        .map(|w| w.try_get::<String, _>(0))
                        .collect::<Result<_, _>>()?;
                    fenced.extend(
                        chunk
                            .iter()
                            .map(|row| row.name.key())
                            .filter(|key| !written.contains(*key))
                            .map(str::to_owned),
                    );
                }
                None => {
                    query.execute(&mut *tx).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(fenced)
    }

    /// Closes every connection (at shutdown, after the last save).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// One character to save: the account, the state, and (in a cluster) the generation of
/// the claim it was played under.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveRow {
    /// Whose.
    pub name: AccountName,
    /// What.
    pub record: CharacterRecord,
    /// Under which claim (0 outside a cluster).
    pub claim: i64,
}

/// Parameters per row of the upsert.
const PARAMS_PER_ROW: usize = 12;

/// Rows per `INSERT`: 12 parameters each, well under SQLite's 32,766 and PostgreSQL's
/// 65,535 per statement.
const ROWS_PER_STATEMENT: usize = 500;

/// The upsert of `rows` characters, with numbered parameters (`$1`..), which both SQLite and
/// PostgreSQL take. `held`: a cluster node's, fenced by its claims (one more parameter, the
/// node), returning the accounts it wrote.
fn upsert_sql(rows: usize, held: bool) -> String {
    let mut sql = String::from(
        "INSERT INTO characters \
         (account_key, place, region, pos_x, pos_y, pos_z, created_ms, last_seen_ms, claim_gen, \
         level, exp, hp) \
         VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        let first = row * PARAMS_PER_ROW + 1;
        let params: Vec<String> = (first..first + PARAMS_PER_ROW)
            .map(|p| format!("${p}"))
            .collect();
        sql.push_str(&format!("({})", params.join(", ")));
    }
    sql.push_str(
        " ON CONFLICT (account_key) DO UPDATE SET \
         place = excluded.place, region = excluded.region, pos_x = excluded.pos_x, \
         pos_y = excluded.pos_y, pos_z = excluded.pos_z, last_seen_ms = excluded.last_seen_ms, \
         claim_gen = excluded.claim_gen, level = excluded.level, exp = excluded.exp, \
         hp = excluded.hp",
    );
    if held {
        sql.push_str(&format!(
            " WHERE characters.claim_gen <= excluded.claim_gen \
             AND EXISTS (SELECT 1 FROM account_claims c \
             WHERE c.account_key = characters.account_key AND c.node = ${} \
             AND c.gen = excluded.claim_gen) RETURNING account_key",
            rows * PARAMS_PER_ROW + 1
        ));
    }
    sql
}

fn character_of(row: &AnyRow) -> Result<CharacterRecord, StoreError> {
    let place: String = row.try_get(0)?;
    let region: i64 = row.try_get(1)?;
    let coord = |i: usize| -> Result<f32, StoreError> { Ok(row.try_get::<f64, _>(i)? as f32) };
    Ok(CharacterRecord {
        place: Place::parse(&place)
            .ok_or_else(|| StoreError::BadRow(format!("unknown place {place:?}")))?,
        region: u16::try_from(region)
            .map_err(|_| StoreError::BadRow(format!("region {region} out of range")))?,
        pos: [coord(2)?, coord(3)?, coord(4)?],
        created_ms: row.try_get(5)?,
        last_seen_ms: row.try_get(6)?,
        stats: stats_of(row)?,
    })
}

/// Columns 7, 8, 9: level, exp, hp (within `u32`, or the row is refused).
fn stats_of(row: &AnyRow) -> Result<CharacterStats, StoreError> {
    let count = |i: usize, what: &str| -> Result<u32, StoreError> {
        let v: i64 = row.try_get(i)?;
        u32::try_from(v).map_err(|_| StoreError::BadRow(format!("{what} {v} out of range")))
    };
    let hp: Option<i64> = row.try_get(9)?;
    Ok(CharacterStats {
        level: count(7, "level")?.max(1),
        exp: count(8, "exp")?,
        hp: hp
            .map(|v| {
                u32::try_from(v).map_err(|_| StoreError::BadRow(format!("hp {v} out of range")))
            })
            .transpose()?,
    })
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upsert_numbers_twelve_parameters_a_row() {
        let sql = upsert_sql(2, false);
        let first: Vec<String> = (1..=12).map(|p| format!("${p}")).collect();
        let second: Vec<String> = (13..=24).map(|p| format!("${p}")).collect();
        let rows = format!(
            "({}), ({}) ON CONFLICT",
            first.join(", "),
            second.join(", ")
        );
        assert!(sql.contains(&rows), "{sql}");
        assert!(!sql.contains("$25") && !sql.contains("RETURNING"));
        let held = upsert_sql(2, true);
        assert!(
            held.contains("c.node = $25 AND c.gen = excluded.claim_gen"),
            "{held}"
        );
        // Checked against the row as locked, not the statement's snapshot of the claims: a
        // save that began before a newer claim's save committed cannot land over it.
        assert!(
            held.contains("WHERE characters.claim_gen <= excluded.claim_gen"),
            "{held}"
        );
        assert!(held.ends_with("RETURNING account_key"), "{held}");
    }

    #[test]
    fn a_url_loses_its_password_in_messages() {
        assert_eq!(
            redact("postgres://game:secret@db:5432/mmo"),
            "postgres://game:***@db:5432/mmo"
        );
        assert_eq!(redact("postgres://db/mmo"), "postgres://db/mmo");
    }
}
