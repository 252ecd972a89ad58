//! [`RegionMsg`] on the wire: the messages regions exchange, as frames of the project's own
//! codec, so that a region in another process (over NATS, next) gets exactly what a region on
//! the next thread gets today.
//!
//! The schema is `game-server/regions.json`, compiled by packet-gen like `packets.json`
//! (little-endian fields in schema order, UTF-8 strings, `[size u16][id u16][body]` frames;
//! docs/PACKETS.md). A chat input travels as `R_ForwardChat`, a move as `R_ForwardMove`. A
//! frame is at most 65,535 bytes: a hand-off lists its watchers, 4 bytes each, so one can
//! carry about 16,000 of them; more is an [`EncodeError`], never a truncated list. Decoding
//! checks every length, like the game's packets, so a peer process cannot panic this one.
//!
//! `R_GatewayMove`/`R_GatewayChat`/`R_GatewayLeave` and `R_ForwardMove`/`R_ForwardChat`/
//! `R_ForwardLeave` carry the same fields but for `from`, on purpose: a gateway job comes from
//! the node holding the player's session and is checked against the player id's node; a
//! forward comes from the region that handed the player on and is checked against that
//! region. One shape with an optional `from` would let either pass for the other.

use bytes::Bytes;
use server_core::{EncodeError, Packet, ProtocolError};

use crate::game::world::message::{PlayerInput, RegionJob, RegionMsg};

#[allow(missing_docs, dead_code, clippy::all)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/regions.rs"));
}

use generated::{
    Incoming, PacketManager, REnter, RForwardChat, RForwardLeave, RForwardMove, RForwardRejoin,
    RForwardSkip, RGatewayChat, RGatewayLeave, RGatewayMove, RGatewayRejoin, RGatewaySkip,
    RGhostRemove, RGhostUpdate, RHandoff, RPlayerGone, RRejoin, Watcher,
};

/// Anything a region can be sent from another process: a message from another region, or
/// a player's enter, input or leave from the gateway that holds its session (a process of
/// the cluster, `crate::adapters::cluster`). Gateway jobs carry the sequence numbers the player's
/// seat gave its inputs, so the owner orders them as it orders local ones.
#[derive(Debug, Clone, PartialEq)]
pub enum WireMsg {
    /// From another region.
    Region(RegionMsg),
    /// A player enters at its spawn point.
    Enter {
        /// The player.
        player_id: i32,
        /// Spawn point (x, y, z).
        pos: [f32; 3],
    },
    /// A player's numbered input.
    Input {
        /// The player.
        player_id: i32,
        /// Its seat's sequence number.
        seq: u64,
        /// The input.
        input: PlayerInput,
    },
    /// A player leaves.
    Leave {
        /// The player.
        player_id: i32,
    },
}

impl WireMsg {
    /// The job this message is for the region that receives it. The gateway jobs repeat
    /// three of [`RegionJob`]'s variants on purpose: `WireMsg` is the part of a region's
    /// jobs that may cross a process (plain data, `Clone` and `PartialEq` for the codec's
    /// tests), while `RegionJob` also carries a reply channel and node-local control.
    pub fn into_job(self) -> RegionJob {
        match self {
            WireMsg::Region(msg) => RegionJob::Peer(msg),
            WireMsg::Enter { player_id, pos } => RegionJob::Enter { player_id, pos },
            WireMsg::Input {
                player_id,
                seq,
                input,
            } => RegionJob::Input {
                player_id,
                seq,
                input,
            },
            WireMsg::Leave { player_id } => RegionJob::Leave { player_id },
        }
    }
}

/// One wire message as a frame.
pub fn encode_any(msg: &WireMsg) -> Result<Bytes, EncodeError> {
    match msg {
        WireMsg::Region(m) => encode(m),
        WireMsg::Enter { player_id, pos } => REnter {
            player_id: *player_id,
            pos_x: pos[0],
            pos_y: pos[1],
            pos_z: pos[2],
        }
        .encode(),
        WireMsg::Input {
            player_id,
            seq,
            input: PlayerInput::Move { pos },
        } => RGatewayMove {
            player_id: *player_id,
            seq: *seq,
            pos_x: pos[0],
            pos_y: pos[1],
            pos_z: pos[2],
        }
        .encode(),
        WireMsg::Input {
            player_id,
            seq,
            input: PlayerInput::Chat { message },
        } => RGatewayChat {
            player_id: *player_id,
            seq: *seq,
            message: message.clone(),
        }
        .encode(),
        WireMsg::Input {
            player_id,
            seq,
            input: PlayerInput::Skipped,
        } => RGatewaySkip {
            player_id: *player_id,
            seq: *seq,
        }
        .encode(),
        WireMsg::Input {
            player_id,
            seq,
            input: PlayerInput::Rejoin,
        } => RGatewayRejoin {
            player_id: *player_id,
            seq: *seq,
        }
        .encode(),
        WireMsg::Leave { player_id } => RGatewayLeave {
            player_id: *player_id,
        }
        .encode(),
    }
}

/// A region message in one whole frame; a gateway job is an error here (see
/// [`decode_any`]).
pub fn decode(frame: &[u8]) -> Result<RegionMsg, ProtocolError> {
    match decode_any(frame)? {
        WireMsg::Region(m) => Ok(m),
        other => Err(ProtocolError::Invalid(format!(
            "expected a region message, got {other:?}"
        ))),
    }
}

/// One region message as a frame.
pub fn encode(msg: &RegionMsg) -> Result<Bytes, EncodeError> {
    match msg {
        RegionMsg::GhostUpdate {
            from,
            player_id,
            seq,
            pos,
        } => RGhostUpdate {
            from: *from,
            player_id: *player_id,
            seq: *seq,
            pos_x: pos[0],
            pos_y: pos[1],
            pos_z: pos[2],
        }
        .encode(),
        RegionMsg::GhostRemove {
            from,
            player_id,
            seq,
        } => RGhostRemove {
            from: *from,
            player_id: *player_id,
            seq: *seq,
        }
        .encode(),
        RegionMsg::Handoff {
            from,
            player_id,
            pos,
            next_seq,
            watchers,
            ghosted_to,
        } => RHandoff {
            from: *from,
            player_id: *player_id,
            pos_x: pos[0],
            pos_y: pos[1],
            pos_z: pos[2],
            next_seq: *next_seq,
            watchers: watchers
                .iter()
                .map(|&player_id| Watcher { player_id })
                .collect(),
            ghosted_to: *ghosted_to,
        }
        .encode(),
        RegionMsg::ForwardInput {
            from,
            player_id,
            seq,
            input: PlayerInput::Move { pos },
        } => RForwardMove {
            from: *from,
            player_id: *player_id,
            seq: *seq,
            pos_x: pos[0],
            pos_y: pos[1],
            pos_z: pos[2],
        }
        .encode(),
        RegionMsg::ForwardInput {
            from,
            player_id,
            seq,
            input: PlayerInput::Chat { message },
        } => RForwardChat {
            from: *from,
            player_id: *player_id,
            seq: *seq,
            message: message.clone(),
        }
        .encode(),
        RegionMsg::ForwardInput {
            from,
            player_id,
            seq,
            input: PlayerInput::Skipped,
        } => RForwardSkip {
            from: *from,
            player_id: *player_id,
            seq: *seq,
        }
        .encode(),
        RegionMsg::ForwardLeave { from, player_id } => RForwardLeave {
            from: *from,
            player_id: *player_id,
        }
        .encode(),
        RegionMsg::PlayerGone { from, player_id } => RPlayerGone {
            from: *from,
            player_id: *player_id,
        }
        .encode(),
        RegionMsg::ForwardInput {
            from,
            player_id,
            seq,
            input: PlayerInput::Rejoin,
        } => RForwardRejoin {
            from: *from,
            player_id: *player_id,
            seq: *seq,
        }
        .encode(),
        RegionMsg::Rejoin { from, player_id } => RRejoin {
            from: *from,
            player_id: *player_id,
        }
        .encode(),
    }
}

/// The wire message in one whole frame (header included); any malformed byte is a
/// [`ProtocolError`], as for a game packet.
pub fn decode_any(frame: &[u8]) -> Result<WireMsg, ProtocolError> {
    let header = server_core::frame::parse_header(frame, usize::from(u16::MAX))?
        .filter(|h| h.size == frame.len())
        .ok_or_else(|| {
            ProtocolError::Invalid(format!(
                "a region message must be one whole frame; got {} bytes",
                frame.len()
            ))
        })?;
    let body = frame
        .get(server_core::frame::HEADER_SIZE..)
        .ok_or_else(|| ProtocolError::Invalid("a frame shorter than its header".into()))?;
    Ok(WireMsg::Region(
        match PacketManager::decode(header.id, body)? {
            Incoming::RGhostUpdate(m) => RegionMsg::GhostUpdate {
                from: m.from,
                player_id: m.player_id,
                seq: m.seq,
                pos: [m.pos_x, m.pos_y, m.pos_z],
            },
            Incoming::RGhostRemove(m) => RegionMsg::GhostRemove {
                from: m.from,
                player_id: m.player_id,
                seq: m.seq,
            },
            Incoming::RHandoff(m) => RegionMsg::Handoff {
                from: m.from,
                player_id: m.player_id,
                pos: [m.pos_x, m.pos_y, m.pos_z],
                next_seq: m.next_seq,
                watchers: m.watchers.into_iter().map(|w| w.player_id).collect(),
                ghosted_to: m.ghosted_to,
            },
            Incoming::RForwardMove(m) => RegionMsg::ForwardInput {
                from: m.from,
                player_id: m.player_id,
                seq: m.seq,
                input: PlayerInput::Move {
                    pos: [m.pos_x, m.pos_y, m.pos_z],
                },
            },
            Incoming::RForwardChat(m) => RegionMsg::ForwardInput {
                from: m.from,
                player_id: m.player_id,
                seq: m.seq,
                input: PlayerInput::Chat { message: m.message },
            },
            Incoming::RForwardSkip(m) => RegionMsg::ForwardInput {
                from: m.from,
                player_id: m.player_id,
                seq: m.seq,
                input: PlayerInput::Skipped,
            },
            Incoming::RForwardLeave(m) => RegionMsg::ForwardLeave {
                from: m.from,
                player_id: m.player_id,
            },
            Incoming::RPlayerGone(m) => RegionMsg::PlayerGone {
                from: m.from,
                player_id: m.player_id,
            },
            Incoming::RForwardRejoin(m) => RegionMsg::ForwardInput {
                from: m.from,
                player_id: m.player_id,
                seq: m.seq,
                input: PlayerInput::Rejoin,
            },
            Incoming::RRejoin(m) => RegionMsg::Rejoin {
                from: m.from,
                player_id: m.player_id,
            },
            Incoming::RGatewayRejoin(m) => {
                return Ok(WireMsg::Input {
                    player_id: m.player_id,
                    seq: m.seq,
                    input: PlayerInput::Rejoin,
                })
            }
            Incoming::REnter(m) => {
                return Ok(WireMsg::Enter {
                    player_id: m.player_id,
                    pos: [m.pos_x, m.pos_y, m.pos_z],
                })
            }
            Incoming::RGatewayMove(m) => {
                return Ok(WireMsg::Input {
                    player_id: m.player_id,
                    seq: m.seq,
                    input: PlayerInput::Move {
                        pos: [m.pos_x, m.pos_y, m.pos_z],
                    },
                })
            }
            Incoming::RGatewayChat(m) => {
                return Ok(WireMsg::Input {
                    player_id: m.player_id,
                    seq: m.seq,
                    input: PlayerInput::Chat { message: m.message },
                })
            }
            Incoming::RGatewaySkip(m) => {
                return Ok(WireMsg::Input {
                    player_id: m.player_id,
                    seq: m.seq,
                    input: PlayerInput::Skipped,
                })
            }
            Incoming::RGatewayLeave(m) => {
                return Ok(WireMsg::Leave {
                    player_id: m.player_id,
                })
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pos() -> impl Strategy<Value = [f32; 3]> {
        // Any bits, NaN included: the codec must carry them exactly (the region refuses
        // non-finite positions before they get here, but the wire has no opinion).
        prop::array::uniform3(any::<u32>().prop_map(f32::from_bits))
    }

    fn msg() -> impl Strategy<Value = RegionMsg> {
        prop_oneof![
            (any::<u16>(), any::<i32>(), any::<u64>(), pos()).prop_map(
                |(from, player_id, seq, pos)| RegionMsg::GhostUpdate {
                    from,
                    player_id,
                    seq,
                    pos
                }
            ),
            (any::<u16>(), any::<i32>(), any::<u64>()).prop_map(|(from, player_id, seq)| {
                RegionMsg::GhostRemove {
                    from,
                    player_id,
                    seq,
                }
            }),
            (
                any::<u16>(),
                any::<i32>(),
                pos(),
                any::<u64>(),
                prop::collection::vec(any::<i32>(), 0..300),
                any::<u64>()
            )
                .prop_map(|(from, player_id, pos, next_seq, watchers, ghosted_to)| {
                    RegionMsg::Handoff {
                        from,
                        player_id,
                        pos,
                        next_seq,
                        watchers,
                        ghosted_to,
                    }
                }),
            (any::<u16>(), any::<i32>(), any::<u64>(), pos()).prop_map(
                |(from, player_id, seq, pos)| RegionMsg::ForwardInput {
                    from,
                    player_id,
                    seq,
                    input: PlayerInput::Move { pos },
                }
            ),
            (any::<u16>(), any::<i32>(), any::<u64>(), ".{0,200}").prop_map(
                |(from, player_id, seq, message)| RegionMsg::ForwardInput {
                    from,
                    player_id,
                    seq,
                    input: PlayerInput::Chat { message },
                }
            ),
            (any::<u16>(), any::<i32>(), any::<u64>()).prop_map(|(from, player_id, seq)| {
                RegionMsg::ForwardInput {
                    from,
                    player_id,
                    seq,
                    input: PlayerInput::Skipped,
                }
            }),
            (any::<u16>(), any::<i32>())
                .prop_map(|(from, player_id)| RegionMsg::ForwardLeave { from, player_id }),
            (any::<u16>(), any::<i32>())
                .prop_map(|(from, player_id)| RegionMsg::PlayerGone { from, player_id }),
            (any::<u16>(), any::<i32>(), any::<u64>()).prop_map(|(from, player_id, seq)| {
                RegionMsg::ForwardInput {
                    from,
                    player_id,
                    seq,
                    input: PlayerInput::Rejoin,
                }
            }),
            (any::<u16>(), any::<i32>())
                .prop_map(|(from, player_id)| RegionMsg::Rejoin { from, player_id }),
        ]
    }

    /// Equality that compares positions by their bits (NaN != NaN as floats).
    fn same(a: &RegionMsg, b: &RegionMsg) -> bool {
        format!("{a:?}") == format!("{b:?}")
            && encode(a).map(|f| f.to_vec()).ok() == encode(b).map(|f| f.to_vec()).ok()
    }

    fn job() -> impl Strategy<Value = WireMsg> {
        prop_oneof![
            msg().prop_map(WireMsg::Region),
            (any::<i32>(), pos()).prop_map(|(player_id, pos)| WireMsg::Enter { player_id, pos }),
            (any::<i32>(), any::<u64>(), pos()).prop_map(|(player_id, seq, pos)| {
                WireMsg::Input {
                    player_id,
                    seq,
                    input: PlayerInput::Move { pos },
                }
            }),
            (any::<i32>(), any::<u64>(), ".{0,200}").prop_map(|(player_id, seq, message)| {
                WireMsg::Input {
                    player_id,
                    seq,
                    input: PlayerInput::Chat { message },
                }
            }),
            (any::<i32>(), any::<u64>()).prop_map(|(player_id, seq)| WireMsg::Input {
                player_id,
                seq,
                input: PlayerInput::Skipped,
            }),
            (any::<i32>(), any::<u64>()).prop_map(|(player_id, seq)| WireMsg::Input {
                player_id,
                seq,
                input: PlayerInput::Rejoin,
            }),
            any::<i32>().prop_map(|player_id| WireMsg::Leave { player_id }),
        ]
    }

    proptest! {
        #[test]
        fn every_gateway_job_comes_back_as_it_went(m in job()) {
            let frame = encode_any(&m).expect("these fit a frame");
            let back = decode_any(&frame).expect("a frame we made decodes");
            prop_assert_eq!(format!("{m:?}"), format!("{back:?}"));
            let region_only = decode(&frame);
            prop_assert_eq!(region_only.is_ok(), matches!(m, WireMsg::Region(_)));
        }

        #[test]
        fn any_bytes_are_a_job_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_any(&bytes);
        }

        #[test]
        fn every_message_comes_back_as_it_went(m in msg()) {
            let frame = encode(&m).expect("these messages fit a frame");
            let back = decode(&frame).expect("a frame we made decodes");
            prop_assert!(same(&m, &back), "{m:?} came back as {back:?}");
        }

        #[test]
        fn any_bytes_are_an_error_or_a_message_never_a_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let _ = decode(&bytes);
        }

        #[test]
        fn a_cut_frame_is_refused(m in msg(), cut in 1usize..8) {
            let frame = encode(&m).expect("fits");
            let short = &frame[..frame.len().saturating_sub(cut)];
            prop_assert!(decode(short).is_err());
        }
    }

    #[test]
    fn a_ghost_update_has_the_bytes_the_schema_says() {
        let frame = encode(&RegionMsg::GhostUpdate {
            from: 1,
            player_id: 7,
            seq: 2,
            pos: [1.0, 0.0, -2.0],
        })
        .expect("fits");
        let mut want = vec![4 + 2 + 4 + 8 + 12, 0, 1, 0]; // size 30, id 1
        want.extend(1u16.to_le_bytes());
        want.extend(7i32.to_le_bytes());
        want.extend(2u64.to_le_bytes());
        for c in [1.0f32, 0.0, -2.0] {
            want.extend(c.to_le_bytes());
        }
        assert_eq!(frame.to_vec(), want);
    }

    #[test]
    fn a_hand_off_too_big_for_a_frame_is_an_error_not_a_truncation() {
        let huge = RegionMsg::Handoff {
            from: 0,
            player_id: 1,
            pos: [0.0; 3],
            next_seq: 1,
            watchers: (0..20_000).collect(),
            ghosted_to: 0,
        };
        assert!(encode(&huge).is_err());
    }
}
