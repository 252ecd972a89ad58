//! The payload of one NATS message to a node (`world.node.{k}`): a header naming the sender
//! and its bus epoch, then records in the order they must be applied. Sans-IO.
//!
//! ```text
//! [from node u16][epoch u32]  then any number of records:
//! [kind u8][len u32][body: len bytes]
//!   kind 1, to a region:   [region u16][one frame of world/wire.rs (regions.json)]
//!   kind 2, to a player:   [player id i32][frames of the game's protocol, as its session gets them]
//!   kind 3, route:         [player id i32][region u16][from u16][seq u64]   (the player's
//!                          inputs go to `region` now; handed on by `from` at input `seq`)
//!   kind 4, moved:         [player id i32][x f32][y f32][z f32]   (where the player's owner
//!                          put it: the gateway keeps it for the save task; logins on only)
//! ```
//!
//! All little-endian, like the game's frames. Decoding checks every length against the
//! bytes left; a malformed message is refused whole (the bridge logs and counts it), never
//! a panic. The wire frames inside kind 1 are decoded by `world::wire`, with its own checks.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use crate::game::world::RegionId;

/// Bytes of the header.
pub const HEADER: usize = 2 + 4;
const RECORD_HEAD: usize = 1 + 4;

const KIND_REGION: u8 = 1;
const KIND_PLAYER: u8 = 2;
const KIND_ROUTE: u8 = 3;
const KIND_MOVED: u8 = 4;
/// A moved record's body: player id, position.
const MOVED_LEN: usize = 4 + 3 * 4;
/// A route record's body: player id, new owner, old owner, sequence number.
const ROUTE_LEN: usize = 4 + 2 + 2 + 8;

/// One record of a node message.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A wire frame for a region of the receiving node.
    ToRegion {
        /// The region.
        region: RegionId,
        /// One frame of `world::wire` (not yet decoded).
        frame: Bytes,
    },
    /// Frames for a player whose session the receiving node holds.
    ToPlayer {
        /// The player.
        player_id: i32,
        /// Whole frames of the game's protocol.
        frames: Bytes,
    },
    /// The player's owner is now `region`: its session sends its inputs there.
    Route {
        /// The player.
        player_id: i32,
        /// Its new owner.
        region: RegionId,
        /// The old owner, which handed it on (the sending node must run it).
        from: RegionId,
        /// The hand-off's input sequence number: the gateway keeps the highest.
        seq: u64,
    },
    /// The player's owner put it at `pos` (an enter, or a move after the map's rules): the
    /// gateway's save task keeps it (sent only when logins are on).
    Moved {
        /// The player.
        player_id: i32,
        /// Where (x, y, z).
        pos: [f32; 3],
    },
}

/// A node message that does not add up.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeError {
    /// Shorter than the header.
    #[error("{0} bytes is shorter than the header")]
    Short(usize),
    /// A record's length runs past the end.
    #[error("record at byte {at} claims {len} bytes, {left} left")]
    Truncated {
        /// Where the record starts.
        at: usize,
        /// What it claims.
        len: usize,
        /// What is there.
        left: usize,
    },
    /// A kind this version does not know.
    #[error("record at byte {at} has unknown kind {kind}")]
    Kind {
        /// Where the record starts.
        at: usize,
        /// The kind.
        kind: u8,
    },
    /// A record body too short for its kind.
    #[error("record at byte {at}: a kind {kind} body needs more than {len} bytes")]
    Body {
        /// Where the record starts.
        at: usize,
        /// The kind.
        kind: u8,
        /// Its length.
        len: usize,
    },
}

/// Builds one node message.
#[derive(Debug)]
pub struct EnvelopeWriter {
    buf: BytesMut,
}

impl EnvelopeWriter {
    /// An empty message from `from` in bus epoch `epoch`.
    pub fn new(from: u16, epoch: u32) -> Self {
        let mut buf = BytesMut::with_capacity(256);
        buf.put_u16_le(from);
        buf.put_u32_le(epoch);
        EnvelopeWriter { buf }
    }

    /// True when no record was added.
    pub fn is_empty(&self) -> bool {
        self.buf.len() <= HEADER
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Adds a record.
    pub fn push(&mut self, record: &Record) {
        match record {
            Record::ToRegion { region, frame } => {
                self.head(KIND_REGION, 2 + frame.len());
                self.buf.put_u16_le(*region);
                self.buf.put_slice(frame);
            }
            Record::ToPlayer { player_id, frames } => {
                self.head(KIND_PLAYER, 4 + frames.len());
                self.buf.put_i32_le(*player_id);
                self.buf.put_slice(frames);
            }
            Record::Route {
                player_id,
                region,
                from,
                seq,
            } => {
                self.head(KIND_ROUTE, ROUTE_LEN);
                self.buf.put_i32_le(*player_id);
                self.buf.put_u16_le(*region);
                self.buf.put_u16_le(*from);
                self.buf.put_u64_le(*seq);
            }
            Record::Moved { player_id, pos } => {
                self.head(KIND_MOVED, MOVED_LEN);
                self.buf.put_i32_le(*player_id);
                for c in pos {
                    self.buf.put_f32_le(*c);
                }
            }
        }
    }

    fn head(&mut self, kind: u8, len: usize) {
        self.buf.put_u8(kind);
        // Bodies are bounded by what a region queues in one tick (max_pending_bytes).
        self.buf.put_u32_le(u32::try_from(len).unwrap_or(u32::MAX));
    }

    /// The message.
    pub fn finish(self) -> Bytes {
        self.buf.freeze()
    }
}

/// The bus epoch an envelope was written in, read from its header alone.
pub fn epoch_of(payload: &[u8]) -> Option<u32> {
    let e = payload.get(2..6)?;
    Some(u32::from_le_bytes([e[0], e[1], e[2], e[3]]))
}

/// A decoded node message: who sent it, in which epoch, and its records.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The sending node.
    pub from: u16,
    /// Its bus epoch when it sent this.
    pub epoch: u32,
    /// The records, in order.
    pub records: Vec<Record>,
}

/// Decodes a whole node message, or refuses it whole.
pub fn decode(payload: &Bytes) -> Result<Envelope, EnvelopeError> {
    let (Some(from), Some(epoch)) = (payload.get(0..2), payload.get(2..6)) else {
        return Err(EnvelopeError::Short(payload.len()));
    };
    let from = u16::from_le_bytes([from[0], from[1]]);
    let epoch = u32::from_le_bytes([epoch[0], epoch[1], epoch[2], epoch[3]]);
    let mut records = Vec::new();
    let mut at = HEADER;
    while at < payload.len() {
        let left = payload.len() - at;
        if left < RECORD_HEAD {
            return Err(EnvelopeError::Truncated {
                at,
                len: RECORD_HEAD,
                left,
            });
        }
        let kind = payload[at];
        let len = u32::from_le_bytes([
            payload[at + 1],
            payload[at + 2],
            payload[at + 3],
            payload[at + 4],
        ]) as usize;
        if len > left - RECORD_HEAD {
            return Err(EnvelopeError::Truncated {
                at,
                len,
                left: left - RECORD_HEAD,
            });
        }
        let body = payload.slice(at + RECORD_HEAD..at + RECORD_HEAD + len);
        let short = || EnvelopeError::Body { at, kind, len };
        records.push(match kind {
            KIND_REGION => {
                if len < 2 {
                    return Err(short());
                }
                Record::ToRegion {
                    region: u16::from_le_bytes([body[0], body[1]]),
                    frame: body.slice(2..),
                }
            }
            KIND_PLAYER => {
                if len < 4 {
                    return Err(short());
                }
                Record::ToPlayer {
                    player_id: i32::from_le_bytes([body[0], body[1], body[2], body[3]]),
                    frames: body.slice(4..),
                }
            }
            KIND_ROUTE => {
                if len != ROUTE_LEN {
                    return Err(short());
                }
                let mut seq = [0u8; 8];
                seq.copy_from_slice(&body[8..16]);
                Record::Route {
                    player_id: i32::from_le_bytes([body[0], body[1], body[2], body[3]]),
                    region: u16::from_le_bytes([body[4], body[5]]),
                    from: u16::from_le_bytes([body[6], body[7]]),
                    seq: u64::from_le_bytes(seq),
                }
            }
            KIND_MOVED => {
                if len != MOVED_LEN {
                    return Err(short());
                }
                let f =
                    |i: usize| f32::from_le_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
                Record::Moved {
                    player_id: i32::from_le_bytes([body[0], body[1], body[2], body[3]]),
                    pos: [f(4), f(8), f(12)],
                }
            }
            kind => return Err(EnvelopeError::Kind { at, kind }),
        });
        at += RECORD_HEAD + len;
    }
    Ok(Envelope {
        from,
        epoch,
        records,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn record() -> impl Strategy<Value = Record> {
        prop_oneof![
            (any::<u16>(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(region, f)| {
                Record::ToRegion {
                    region,
                    frame: Bytes::from(f),
                }
            }),
            (any::<i32>(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(player_id, f)| {
                Record::ToPlayer {
                    player_id,
                    frames: Bytes::from(f),
                }
            }),
            (any::<i32>(), any::<u16>(), any::<u16>(), any::<u64>()).prop_map(
                |(player_id, region, from, seq)| Record::Route {
                    player_id,
                    region,
                    from,
                    seq,
                }
            ),
            // Finite positions: NaN != NaN would fail the comparison, not the codec.
            (any::<i32>(), prop::array::uniform3(-1e6f32..1e6))
                .prop_map(|(player_id, pos)| Record::Moved { player_id, pos }),
        ]
    }

    proptest! {
        #[test]
        fn every_envelope_comes_back_in_order(
            from in any::<u16>(),
            epoch in any::<u32>(),
            records in prop::collection::vec(record(), 0..20),
        ) {
            let mut w = EnvelopeWriter::new(from, epoch);
            for r in &records {
                w.push(r);
            }
            let back = decode(&w.finish()).expect("what we wrote decodes");
            prop_assert_eq!(back, Envelope { from, epoch, records });
        }

        #[test]
        fn any_bytes_are_an_envelope_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&Bytes::from(bytes));
        }

        #[test]
        fn a_cut_envelope_is_refused(records in prop::collection::vec(record(), 1..5), cut in 1usize..5) {
            let mut w = EnvelopeWriter::new(1, 1);
            for r in &records {
                w.push(r);
            }
            let whole = w.finish();
            let short = whole.slice(..whole.len() - cut.min(whole.len() - HEADER));
            if short.len() < whole.len() {
                prop_assert!(decode(&short).is_err());
            }
        }
    }

    #[test]
    fn a_route_has_the_documented_bytes() {
        let mut w = EnvelopeWriter::new(3, 7);
        w.push(&Record::Route {
            player_id: 0x0100_0002,
            region: 1,
            from: 0,
            seq: 9,
        });
        let mut want = vec![3, 0, 7, 0, 0, 0, KIND_ROUTE, 16, 0, 0, 0];
        want.extend(0x0100_0002i32.to_le_bytes());
        want.extend(1u16.to_le_bytes());
        want.extend(0u16.to_le_bytes());
        want.extend(9u64.to_le_bytes());
        assert_eq!(w.finish().to_vec(), want);
        assert_eq!(
            decode(&Bytes::from_static(&[1, 0, 0])),
            Err(EnvelopeError::Short(3))
        );
    }
}
