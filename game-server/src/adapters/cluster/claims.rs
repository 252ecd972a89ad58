//! One session per account across nodes, on NATS (`runtime/claims.rs` says why and
//! in which order): asking another node to let a character go, and answering that question.
//!
//! `world.release.{k}` is node k's: a request whose payload is the account's key (its name
//! without case, UTF-8), a newline, and the claim generation the asker read (decimal),
//! answered `ok`, or `no:` and the reason, or `lapsed` by a process that holds no lease for
//! its node (the asker then decides by the database's lease, as for silence). Each question is answered on
//! its own task, at most [`MAX_RELEASING`] at once (past that it is answered `no: busy`: a
//! login flood of one node's accounts from another must not queue without bound).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use crate::adapters::cluster::node::ClusterNode;
use crate::adapters::cluster::subjects;
use crate::game::accounts::AccountName;
use crate::runtime::claims::{Answering, NodeClaims, ReleaseError, ReleaseHere};

/// How long a login waits for another node to let its character go: the other node waits up
/// to 2 s for a login of the account in progress there and 5 s for the save (its database
/// timeout), plus the bus.
pub const RELEASE_WAIT: Duration = Duration::from_secs(9);
/// Releases a node answers at once.
pub const MAX_RELEASING: usize = 64;

/// The cluster's side of a login: this node's id, who is alive, and the question.
pub struct ClusterClaims {
    client: async_nats::Client,
    node: Arc<ClusterNode>,
}

impl ClusterClaims {
    /// Claims through `client`, for `node`.
    pub fn new(client: async_nats::Client, node: Arc<ClusterNode>) -> Self {
        ClusterClaims { client, node }
    }
}

impl NodeClaims for ClusterClaims {
    fn node(&self) -> u16 {
        self.node.id()
    }

    fn instance(&self) -> u64 {
        self.node.instance()
    }

    fn on_bus(&self) -> bool {
        self.node.on_bus()
    }

    fn release(
        &self,
        node: u16,
        key: String,
        gen: i64,
    ) -> BoxFuture<'static, Result<(), ReleaseError>> {
        let client = self.client.clone();
        Box::pin(async move {
            let ask = client.request(subjects::release(node), question(&key, gen));
            let reply = tokio::time::timeout(RELEASE_WAIT, ask)
                .await
                .map_err(|_| ReleaseError::Timeout(node))?
                .map_err(|e| match e.kind() {
                    async_nats::RequestErrorKind::NoResponders => ReleaseError::NotRunning(node),
                    async_nats::RequestErrorKind::TimedOut => ReleaseError::Timeout(node),
                    _ => ReleaseError::Bus(e.to_string()),
                })?;
            if reply.payload.as_ref() == LAPSED {
                return Err(ReleaseError::NoLease(node));
            }
            match answer(&reply.payload) {
                Ok(()) => Ok(()),
                Err(reason) => Err(ReleaseError::Refused { node, reason }),
            }
        })
    }
}

/// The answer of a process whose lease for its node ran out (see `Answering::NoLease`).
const LAPSED: &[u8] = b"lapsed";

/// A question's bytes: the key, a newline, the generation.
fn question(key: &str, gen: i64) -> Bytes {
    Bytes::from(format!("{key}\n{gen}"))
}

/// The account key and generation of a question; `None` for anything else (a key must be
/// what a name's `key()` gives: anything else names no account here).
fn read_question(payload: &[u8]) -> Option<(String, i64)> {
    let (key, gen) = std::str::from_utf8(payload).ok()?.split_once('\n')?;
    let gen = gen.parse::<i64>().ok().filter(|g| *g >= 0)?;
    let name = AccountName::parse(key)
        .ok()
        .filter(|name| name.key() == key)?;
    Some((name.key().to_owned(), gen))
}

/// An answer's bytes: `ok`, or `no:` and why.
fn answer(payload: &[u8]) -> Result<(), String> {
    match payload {
        b"ok" => Ok(()),
        other => Err(
            String::from_utf8_lossy(other.strip_prefix(b"no:").unwrap_or(other))
                .chars()
                .take(200)
                .collect(),
        ),
    }
}

/// Answers this node's `world.release.{k}` with `here`, until the subscription ends.
pub async fn serve(
    client: async_nats::Client,
    node: Arc<ClusterNode>,
    here: Arc<dyn ReleaseHere>,
) -> Result<JoinHandle<()>, String> {
    let mut questions = client
        .subscribe(subjects::release(node.id()))
        .await
        .map_err(|e| e.to_string())?;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_RELEASING));
    Ok(tokio::spawn(async move {
        while let Some(msg) = questions.next().await {
            let Some(reply) = msg.reply else {
                continue;
            };
            match here.answering() {
                Answering::Yes => {}
                Answering::NoLease => {
                    // The asker decides by the database's lease.
                    let _ = client.publish(reply, Bytes::from_static(LAPSED)).await;
                    continue;
                }
                Answering::Silent => continue,
            }
            let (client, here) = (client.clone(), Arc::clone(&here));
            let asked = read_question(&msg.payload);
            let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
                let _ = client.publish(reply, Bytes::from_static(b"no:busy")).await;
                continue;
            };
            tokio::spawn(async move {
                let _permit = permit;
                let said = match asked {
                    Some((key, gen)) => here.release_here(key, gen).await,
                    None => Err("not an account key and a generation".to_owned()),
                };
                let payload = match said {
                    Ok(()) => Bytes::from_static(b"ok"),
                    Err(why) => Bytes::from(format!("no:{why}")),
                };
                if let Err(e) = client.publish(reply, payload).await {
                    tracing::debug!(error = %e, "release answer not sent");
                }
            });
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_as_ok_or_the_reason() {
        assert_eq!(answer(b"ok"), Ok(()));
        assert_eq!(answer(b"no:busy"), Err("busy".to_owned()));
        assert_eq!(answer(b"\xff"), Err("\u{fffd}".to_owned()));
        assert_eq!(answer(&[b'x'; 500]).unwrap_err().len(), 200);
    }

    #[test]
    fn questions_carry_a_key_and_a_generation_and_nothing_else_passes() {
        assert_eq!(
            read_question(&question("rookie", 7)),
            Some(("rookie".to_owned(), 7))
        );
        for bad in [
            &b"rookie"[..],
            b"Rookie\n7",
            b"rookie\n-1",
            b"rookie\nseven",
            b"rookie\n7\n8",
            b"\xff\n1",
            b"a b\n1",
        ] {
            assert_eq!(
                read_question(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
