//! The question a node asks on `world.ids` as it joins, and every node's answer.
//!
//! Player ids carry their gateway node (`crate::game::player_ids`) and are never reused: a
//! region remembers the ids of players who left (tombstones) so no late message brings a
//! ghost back. A process restarted with the same `--node-id` would number its players from
//! 1 again, and the survivors would ignore its players as long gone. So a joining node asks
//! every live node for the highest id of its range they still know, and numbers its
//! players above it. The same question finds a second process started with a running
//! node's id: that node answers for itself, and the newcomer refuses to start.

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;

/// How long a node's regions have to answer a question (one job each).
pub const ANSWER_WITHIN: Duration = Duration::from_millis(300);

/// Questions a node answers at once; more are dropped (see the bridge's `answer_ids`).
pub const MAX_ANSWERING: usize = 8;

/// How long a joining node gathers answers: two heartbeats, and at least four times what
/// the answering regions are given, so a node that answers at all answers in time.
pub fn wait(heartbeat: Duration) -> Duration {
    (heartbeat * 2).max(ANSWER_WITHIN * 4)
}

/// A request: `[node u16][instance u64]`, little-endian.
const REQUEST_LEN: usize = 10;
/// An answer: `[node u16][instance u64][highest i32]`, little-endian.
const ANSWER_LEN: usize = 14;

/// Who asks: the joining node and its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    /// The node id it runs with.
    pub node: u16,
    /// Its process's instance number.
    pub instance: u64,
}

/// One node's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The answering node.
    pub node: u16,
    /// Its process.
    pub instance: u64,
    /// The highest id of the asker's range it knows; 0 for none.
    pub highest: i32,
}

impl Question {
    /// As bytes.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(REQUEST_LEN);
        b.put_u16_le(self.node);
        b.put_u64_le(self.instance);
        b.freeze()
    }

    /// From bytes; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Question> {
        let bytes: &[u8; REQUEST_LEN] = bytes.try_into().ok()?;
        Some(Question {
            node: u16::from_le_bytes([bytes[0], bytes[1]]),
            instance: u64::from_le_bytes(bytes[2..10].try_into().ok()?),
        })
    }
}

impl Answer {
    /// As bytes.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(ANSWER_LEN);
        b.put_u16_le(self.node);
        b.put_u64_le(self.instance);
        b.put_i32_le(self.highest);
        b.freeze()
    }

    /// From bytes; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Answer> {
        let bytes: &[u8; ANSWER_LEN] = bytes.try_into().ok()?;
        Some(Answer {
            node: u16::from_le_bytes([bytes[0], bytes[1]]),
            instance: u64::from_le_bytes(bytes[2..10].try_into().ok()?),
            highest: i32::from_le_bytes(bytes[10..14].try_into().ok()?),
        })
    }
}

/// What the answers to a question add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Another process runs the asker's node id.
    pub duplicate: bool,
    /// The highest id of the asker's range any node knows; 0 for none.
    pub highest: i32,
    /// Nodes that answered.
    pub answers: usize,
}

impl Verdict {
    /// Adds one answer to `question`.
    pub fn add(&mut self, question: &Question, answer: &Answer) {
        if answer.node == question.node && answer.instance == question.instance {
            return; // our own echo
        }
        self.answers += 1;
        if answer.node == question.node {
            self.duplicate = true;
        }
        self.highest = self.highest.max(answer.highest);
    }
}

/// Asks on `world.ids` and gathers the answers that come within `wait` (every live node
/// answers at once; a node that does not is taken as not alive). The NATS user needs to
/// publish on `world.ids` and subscribe to its own `_INBOX.>`, or no answer can come.
pub async fn ask(
    client: &async_nats::Client,
    question: Question,
    wait: Duration,
) -> Result<Verdict, String> {
    let inbox = client.new_inbox();
    let mut replies = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| e.to_string())?;
    client
        .publish_with_reply(
            crate::adapters::cluster::subjects::IDS,
            inbox,
            question.encode(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut verdict = Verdict::default();
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, replies.next()).await {
            Ok(Some(msg)) => {
                if let Some(answer) = Answer::decode(&msg.payload) {
                    verdict.add(&question, &answer);
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let _ = replies.unsubscribe().await;
    Ok(verdict)
}

/// The first id a node numbers its players from: one above the highest the cluster knows
/// of its range (`first ..= last`), or `first`.
pub fn first_free(first: i32, last: i32, highest: i32) -> i32 {
    if (first..last).contains(&highest) {
        highest + 1
    } else {
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_and_answers_round_trip_and_anything_else_is_refused() {
        let q = Question {
            node: 7,
            instance: u64::MAX - 3,
        };
        assert_eq!(Question::decode(&q.encode()), Some(q));
        let a = Answer {
            node: 2,
            instance: 9,
            highest: (7 << 24) | 41,
        };
        assert_eq!(Answer::decode(&a.encode()), Some(a));
        assert_eq!(Question::decode(&[1, 2, 3]), None);
        assert_eq!(Answer::decode(&q.encode()), None);
    }

    #[test]
    fn a_verdict_takes_the_highest_id_and_spots_a_twin_but_not_its_own_echo() {
        let q = Question {
            node: 1,
            instance: 5,
        };
        let mut v = Verdict::default();
        v.add(
            &q,
            &Answer {
                node: 1,
                instance: 5,
                highest: 0,
            },
        );
        assert_eq!(v, Verdict::default(), "our own echo counts for nothing");
        v.add(
            &q,
            &Answer {
                node: 0,
                instance: 8,
                highest: (1 << 24) | 12,
            },
        );
        v.add(
            &q,
            &Answer {
                node: 2,
                instance: 3,
                highest: (1 << 24) | 40,
            },
        );
        assert_eq!(
            (v.duplicate, v.highest, v.answers),
            (false, (1 << 24) | 40, 2)
        );
        v.add(
            &q,
            &Answer {
                node: 1,
                instance: 6,
                highest: 0,
            },
        );
        assert!(v.duplicate, "another process answers for node 1");
    }

    #[test]
    fn the_first_free_id_is_above_the_highest_known_within_the_range() {
        let (first, last) = crate::game::player_ids::range(1);
        assert_eq!(first_free(first, last, 0), first);
        assert_eq!(first_free(first, last, first + 99), first + 100);
        assert_eq!(
            first_free(first, last, last),
            first,
            "a full range starts over"
        );
        assert_eq!(
            first_free(first, last, 5),
            first,
            "an id of another range is not ours"
        );
    }
}
