//! What a record from another node must be to be applied: every kind checked against the
//! regions and players the sending node is entitled to speak for. Sans-IO: the sender's
//! regions (from its heartbeats) and the record in, a verdict out.
//!
//! - A region message (`R_Ghost*`, `R_Handoff`, `R_Forward*`, `R_PlayerGone`) names the
//!   region that sent it (`from`): that region must be one the sending node runs.
//! - A gateway job (enter, input, leave) must be about a player of the sending node's id
//!   range: only the node holding a player's session speaks for it.
//! - Frames for a player must be for a player of this node, and each must be a whole frame
//!   of a packet the world sends a client (`S_BroadcastEnterGame`, `S_BroadcastMove`,
//!   `S_BroadcastLeaveGame`, `S_PlayerList`, `S_Chat`) that decodes: clients close their
//!   session on a bad frame, so a relayed bad frame would be a kick.
//! - A route change must be for a player of this node, between regions of the world, and
//!   name as its old owner a region the sending node runs; the link keeps the route with
//!   the highest hand-off sequence number, so late ones cannot undo newer ones.
//! - Positions must be finite, and a chat line must fit an `S_Chat` frame.

use server_core::frame::{parse_header, HEADER_SIZE};
use server_core::Packet;

use crate::game::packets::{
    PacketId, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove, SChat, SMonsterDespawn,
    SMonsterMove, SMonsterSpawn, SPlayerList,
};
use crate::game::player_ids::gateway_of;
use crate::game::world::message::{PlayerInput, RegionMsg};
use crate::game::world::wire::WireMsg;
use crate::game::world::{has_region, RegionId};

/// Why a record from another node was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A region message from a region the sending node does not run.
    #[error("a region message from region {region}, which node {node} does not run")]
    NotItsRegion {
        /// The sending node.
        node: u16,
        /// The region the message claims to come from.
        region: RegionId,
    },
    /// A gateway job for a player of another node's range.
    #[error("node {node} sent a job for player {player_id}, whose session it does not hold")]
    NotItsPlayer {
        /// The sending node.
        node: u16,
        /// The player.
        player_id: i32,
    },
    /// Frames or a route change for a player this node does not hold.
    #[error("frames or a route for player {0}, who is not this node's")]
    NotOurPlayer(i32),
    /// A region message naming an id that no player has (0 or below).
    #[error("player id {0} is not one a player has")]
    NotAPlayerId(i32),
    /// A route change handed on by a region the sending node does not run.
    #[error(
        "node {node} moved player {player_id}'s route from region {route}, which it does not run"
    )]
    NotItsRoute {
        /// The sending node.
        node: u16,
        /// The player.
        player_id: i32,
        /// The region the route claims handed the player on.
        route: RegionId,
    },
    /// A route whose hand-off is numbered beyond the inputs the player has sent.
    #[error("a route numbered {0}, beyond the inputs the player has sent")]
    RouteAhead(u64),
    /// A route to a region outside the world.
    #[error("a route to region {0}, outside the world")]
    NoSuchRegion(RegionId),
    /// A NaN or infinite position.
    #[error("a non-finite position")]
    NonFinite,
    /// A chat line that could not be relayed as one `S_Chat`.
    #[error("a chat line that does not fit an S_Chat frame")]
    ChatTooLong,
    /// Frames that a client would refuse.
    #[error("bad frames for a player: {0}")]
    BadFrames(String),
    /// A rejoin: a cluster takes no dropped player back (its nodes run without the reconnect
    /// grace), so no node has a rejoin to send.
    #[error("a rejoin, which a cluster never sends")]
    Rejoin,
    /// A position off the map.
    #[error("a position off the map")]
    OffMap,
}

/// Checks a region's job from node `node`, which runs `regions` (bit per region).
pub fn job(node: u16, regions: u64, msg: &WireMsg) -> Result<(), Refusal> {
    match msg {
        WireMsg::Region(m) => region_msg(node, regions, m),
        WireMsg::Enter { player_id, pos } => {
            its_player(node, *player_id)?;
            finite(pos)
        }
        WireMsg::Input {
            player_id, input, ..
        } => {
            its_player(node, *player_id)?;
            player_input(*player_id, input)
        }
        WireMsg::Leave { player_id } => its_player(node, *player_id),
    }
}

fn region_msg(node: u16, regions: u64, msg: &RegionMsg) -> Result<(), Refusal> {
    let from = match msg {
        RegionMsg::GhostUpdate { from, .. }
        | RegionMsg::GhostRemove { from, .. }
        | RegionMsg::Handoff { from, .. }
        | RegionMsg::ForwardInput { from, .. }
        | RegionMsg::ForwardLeave { from, .. }
        | RegionMsg::PlayerGone { from, .. }
        | RegionMsg::Rejoin { from, .. } => *from,
    };
    if !has_region(regions, from) {
        return Err(Refusal::NotItsRegion { node, region: from });
    }
    // Player ids are positive: a region keys its monsters below zero (`region/monsters.rs`),
    // so a message about id 0 or below would reach a monster, never a player.
    let (player_id, watchers): (i32, &[i32]) = match msg {
        RegionMsg::Handoff {
            player_id,
            watchers,
            ..
        } => (*player_id, watchers),
        RegionMsg::GhostUpdate { player_id, .. }
        | RegionMsg::GhostRemove { player_id, .. }
        | RegionMsg::ForwardInput { player_id, .. }
        | RegionMsg::ForwardLeave { player_id, .. }
        | RegionMsg::PlayerGone { player_id, .. }
        | RegionMsg::Rejoin { player_id, .. } => (*player_id, &[]),
    };
    if let Some(&bad) = std::iter::once(&player_id)
        .chain(watchers)
        .find(|&&id| id <= 0)
    {
        return Err(Refusal::NotAPlayerId(bad));
    }
    match msg {
        RegionMsg::GhostUpdate { pos, .. } | RegionMsg::Handoff { pos, .. } => finite(pos),
        RegionMsg::ForwardInput {
            player_id, input, ..
        } => player_input(*player_id, input),
        RegionMsg::GhostRemove { .. }
        | RegionMsg::ForwardLeave { .. }
        | RegionMsg::PlayerGone { .. } => Ok(()),
        RegionMsg::Rejoin { .. } => Err(Refusal::Rejoin),
    }
}

fn its_player(node: u16, player_id: i32) -> Result<(), Refusal> {
    if gateway_of(player_id) == node {
        Ok(())
    } else {
        Err(Refusal::NotItsPlayer { node, player_id })
    }
}

fn player_input(player_id: i32, input: &PlayerInput) -> Result<(), Refusal> {
    match input {
        PlayerInput::Move { pos } => finite(pos),
        PlayerInput::Chat { message } => {
            let relayed = SChat {
                player_id,
                message: message.clone(),
            };
            relayed
                .frame_len()
                .map(|_| ())
                .map_err(|_| Refusal::ChatTooLong)
        }
        PlayerInput::Skipped => Ok(()),
        PlayerInput::Rejoin => Err(Refusal::Rejoin),
    }
}

fn finite(pos: &[f32; 3]) -> Result<(), Refusal> {
    if pos.iter().all(|c| c.is_finite()) {
        Ok(())
    } else {
        Err(Refusal::NonFinite)
    }
}

/// Checks frames from another node for `player_id`, a player of node `me`.
pub fn frames(me: u16, player_id: i32, frames: &[u8]) -> Result<(), Refusal> {
    if gateway_of(player_id) != me {
        return Err(Refusal::NotOurPlayer(player_id));
    }
    client_frames(frames)
}

/// The monsters frames already checked by [`frames`] show (`true`: `S_MonsterSpawn`) and
/// hide (`false`: `S_MonsterDespawn`), in order: what the gateway notes per player, so that
/// it can hide a lost node's monsters itself.
pub fn monsters_in(mut bytes: &[u8]) -> Vec<(i32, bool)> {
    let mut out = Vec::new();
    while let Ok(Some(header)) = parse_header(bytes, usize::from(u16::MAX)) {
        let Some((frame, rest)) = bytes.split_at_checked(header.size) else {
            break;
        };
        let body = &frame[HEADER_SIZE..];
        match PacketId::from_u16(header.id) {
            Some(PacketId::SMonsterSpawn) => {
                if let Ok(p) = SMonsterSpawn::decode(body) {
                    out.push((p.monster_id, true));
                }
            }
            Some(PacketId::SMonsterDespawn) => {
                if let Ok(p) = SMonsterDespawn::decode(body) {
                    out.push((p.monster_id, false));
                }
            }
            _ => {}
        }
        bytes = rest;
    }
    out
}

/// Whether `bytes` are whole frames of packets the world sends a client, each decoding.
pub fn client_frames(mut bytes: &[u8]) -> Result<(), Refusal> {
    let bad = |why: String| Err(Refusal::BadFrames(why));
    if bytes.is_empty() {
        return bad("no frame".into());
    }
    while !bytes.is_empty() {
        let header = match parse_header(bytes, usize::from(u16::MAX)) {
            Ok(Some(h)) => h,
            Ok(None) => return bad("a cut frame".into()),
            Err(e) => return bad(e.to_string()),
        };
        let Some((frame, rest)) = bytes.split_at_checked(header.size) else {
            return bad("a cut frame".into());
        };
        let body = &frame[HEADER_SIZE..];
        let decoded = match PacketId::from_u16(header.id) {
            Some(PacketId::SBroadcastEnterGame) => SBroadcastEnterGame::decode(body).map(|_| ()),
            Some(PacketId::SBroadcastLeaveGame) => SBroadcastLeaveGame::decode(body).map(|_| ()),
            Some(PacketId::SBroadcastMove) => SBroadcastMove::decode(body).map(|_| ()),
            Some(PacketId::SPlayerList) => SPlayerList::decode(body).map(|_| ()),
            Some(PacketId::SChat) => SChat::decode(body).map(|_| ()),
            Some(PacketId::SMonsterSpawn) => SMonsterSpawn::decode(body).map(|_| ()),
            Some(PacketId::SMonsterMove) => SMonsterMove::decode(body).map(|_| ()),
            Some(PacketId::SMonsterDespawn) => SMonsterDespawn::decode(body).map(|_| ()),
            _ => {
                return bad(format!(
                    "packet id {} is not one the world relays",
                    header.id
                ))
            }
        };
        if let Err(e) = decoded {
            return bad(e.to_string());
        }
        bytes = rest;
    }
    Ok(())
}

/// Whether node `node` (running `regions`) may say where it put player `player_id`: the
/// player's session is here, the position is finite, and `node` runs the region the player's
/// session sends its inputs to (`owner`, if the player is still here) or the region of the
/// position (a move that crossed a border is applied by the old owner, before its hand-off's
/// route arrives).
pub fn moved(
    me: u16,
    node: u16,
    regions: u64,
    player_id: i32,
    pos: [f32; 3],
    owner: Option<RegionId>,
    layout: &crate::game::world::Layout,
) -> Result<(), Refusal> {
    if gateway_of(player_id) != me {
        return Err(Refusal::NotOurPlayer(player_id));
    }
    finite(&pos)?;
    let half = layout.half();
    if pos[0].abs() > half || pos[2].abs() > half {
        return Err(Refusal::OffMap);
    }
    let region_of_pos = layout.region_of(pos[0]);
    let may = has_region(regions, region_of_pos) || owner.is_some_and(|r| has_region(regions, r));
    if !may {
        return Err(Refusal::NotItsPlayer { node, player_id });
    }
    Ok(())
}

/// Checks a route change for `player_id` to `to`, handed on by region `from`, sent by node
/// `node` (running `regions`), when the world has `world_regions` regions: the player must
/// be ours, both regions real, and `from` one of the sender's (its old owner says so).
pub fn route(
    me: u16,
    node: u16,
    regions: u64,
    player_id: i32,
    to: RegionId,
    from: RegionId,
    world_regions: usize,
) -> Result<(), Refusal> {
    if gateway_of(player_id) != me {
        return Err(Refusal::NotOurPlayer(player_id));
    }
    for region in [to, from] {
        if usize::from(region) >= world_regions {
            return Err(Refusal::NoSuchRegion(region));
        }
    }
    if !has_region(regions, from) {
        return Err(Refusal::NotItsRoute {
            node,
            player_id,
            route: from,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE1: u16 = 1;
    /// Node 1 runs region 1.
    const REGIONS1: u64 = 0b10;
    const P0: i32 = 5; // a player of node 0
    const P1: i32 = (1 << 24) | 5; // a player of node 1

    fn every_region_msg(from: RegionId, player_id: i32) -> Vec<RegionMsg> {
        vec![
            RegionMsg::GhostUpdate {
                from,
                player_id,
                seq: 1,
                pos: [1.0, 0.0, 1.0],
            },
            RegionMsg::GhostRemove {
                from,
                player_id,
                seq: 1,
            },
            RegionMsg::Handoff {
                from,
                player_id,
                pos: [1.0, 0.0, 1.0],
                next_seq: 2,
                watchers: vec![3],
                ghosted_to: 0,
            },
            RegionMsg::ForwardInput {
                from,
                player_id,
                seq: 1,
                input: PlayerInput::Move {
                    pos: [1.0, 0.0, 1.0],
                },
            },
            RegionMsg::ForwardLeave { from, player_id },
            RegionMsg::PlayerGone { from, player_id },
        ]
    }

    #[test]
    fn rejoins_are_refused_from_any_node_and_moved_positions_must_be_on_the_map() {
        let layout = crate::game::world::Layout::new(&crate::game::world::WorldConfig::default());
        for job_ in [
            WireMsg::Region(RegionMsg::Rejoin {
                from: 1,
                player_id: P0,
            }),
            WireMsg::Region(RegionMsg::ForwardInput {
                from: 1,
                player_id: P0,
                seq: 3,
                input: PlayerInput::Rejoin,
            }),
            WireMsg::Input {
                player_id: P1,
                seq: 3,
                input: PlayerInput::Rejoin,
            },
        ] {
            assert_eq!(
                job(NODE1, REGIONS1, &job_),
                Err(Refusal::Rejoin),
                "{job_:?}"
            );
        }
        let ours = crate::game::player_ids::range(0).0;
        let east = [100.0, 0.0, 0.0]; // region 1 of the default two
        assert_eq!(moved(0, 1, 0b10, ours, east, None, &layout), Ok(()));
        assert_eq!(
            moved(0, 1, 0b10, ours, [-100.0, 0.0, 0.0], Some(0), &layout),
            Err(Refusal::NotItsPlayer {
                node: 1,
                player_id: ours
            }),
            "neither the player's owner nor the region of the position"
        );
        assert_eq!(
            moved(0, 1, 0b10, ours, [1e30, 0.0, 0.0], None, &layout),
            Err(Refusal::OffMap)
        );
        assert_eq!(
            moved(0, 1, 0b10, ours, [f32::NAN, 0.0, 0.0], None, &layout),
            Err(Refusal::NonFinite)
        );
    }

    #[test]
    fn every_region_message_must_come_from_a_region_of_its_node() {
        for msg in every_region_msg(1, P0) {
            assert_eq!(job(NODE1, REGIONS1, &WireMsg::Region(msg.clone())), Ok(()));
            let forged = match msg {
                RegionMsg::GhostUpdate {
                    player_id,
                    seq,
                    pos,
                    ..
                } => RegionMsg::GhostUpdate {
                    from: 0,
                    player_id,
                    seq,
                    pos,
                },
                other => {
                    let mut m = other;
                    match &mut m {
                        RegionMsg::GhostRemove { from, .. }
                        | RegionMsg::Handoff { from, .. }
                        | RegionMsg::ForwardInput { from, .. }
                        | RegionMsg::ForwardLeave { from, .. }
                        | RegionMsg::PlayerGone { from, .. }
                        | RegionMsg::Rejoin { from, .. } => *from = 0,
                        RegionMsg::GhostUpdate { .. } => {}
                    }
                    m
                }
            };
            assert_eq!(
                job(NODE1, REGIONS1, &WireMsg::Region(forged.clone())),
                Err(Refusal::NotItsRegion {
                    node: NODE1,
                    region: 0
                }),
                "{forged:?}"
            );
        }
    }

    /// Ids 0 and below are monsters' keys inside a region: no region message may name one,
    /// as its player or among a hand-off's watchers.
    #[test]
    fn region_messages_about_an_id_no_player_has_are_refused() {
        let ghost = |player_id| {
            WireMsg::Region(RegionMsg::GhostUpdate {
                from: 1,
                player_id,
                seq: 0,
                pos: [0.0; 3],
            })
        };
        assert_eq!(job(NODE1, REGIONS1, &ghost(P1)), Ok(()));
        assert_eq!(
            job(NODE1, REGIONS1, &ghost(-7)),
            Err(Refusal::NotAPlayerId(-7))
        );
        assert_eq!(
            job(NODE1, REGIONS1, &ghost(0)),
            Err(Refusal::NotAPlayerId(0))
        );
        let handoff = WireMsg::Region(RegionMsg::Handoff {
            from: 1,
            player_id: P1,
            pos: [0.0; 3],
            next_seq: 1,
            watchers: vec![P0, -3],
            ghosted_to: 0,
        });
        assert_eq!(
            job(NODE1, REGIONS1, &handoff),
            Err(Refusal::NotAPlayerId(-3))
        );
    }

    #[test]
    fn gateway_jobs_must_be_for_the_senders_own_players_and_finite() {
        let enter = |player_id, pos| WireMsg::Enter { player_id, pos };
        assert_eq!(job(NODE1, REGIONS1, &enter(P1, [0.0; 3])), Ok(()));
        assert!(matches!(
            job(NODE1, REGIONS1, &enter(P0, [0.0; 3])),
            Err(Refusal::NotItsPlayer { .. })
        ));
        assert_eq!(
            job(NODE1, REGIONS1, &enter(P1, [f32::NAN, 0.0, 0.0])),
            Err(Refusal::NonFinite)
        );
        let mv = WireMsg::Input {
            player_id: P1,
            seq: 0,
            input: PlayerInput::Move {
                pos: [0.0, f32::INFINITY, 0.0],
            },
        };
        assert_eq!(job(NODE1, REGIONS1, &mv), Err(Refusal::NonFinite));
        let leave = WireMsg::Leave { player_id: P0 };
        assert!(matches!(
            job(NODE1, REGIONS1, &leave),
            Err(Refusal::NotItsPlayer { .. })
        ));
        let ghost = WireMsg::Region(RegionMsg::GhostUpdate {
            from: 1,
            player_id: P0,
            seq: 1,
            pos: [f32::NAN, 0.0, 0.0],
        });
        assert_eq!(job(NODE1, REGIONS1, &ghost), Err(Refusal::NonFinite));
        let long = WireMsg::Input {
            player_id: P1,
            seq: 0,
            input: PlayerInput::Chat {
                message: "x".repeat(40_000),
            },
        };
        assert_eq!(job(NODE1, REGIONS1, &long), Err(Refusal::ChatTooLong));
    }

    #[test]
    fn frames_for_a_player_must_be_ours_whole_and_decode() {
        let mv = SBroadcastMove {
            player_id: 9,
            pos_x: 1.0,
            pos_y: 0.0,
            pos_z: 0.0,
        }
        .encode()
        .expect("encodes");
        let chat = SChat {
            player_id: 9,
            message: "hi".into(),
        }
        .encode()
        .expect("encodes");
        let both = [mv.as_ref(), chat.as_ref()].concat();
        assert_eq!(frames(0, P0, &both), Ok(()));
        assert_eq!(frames(0, P1, &both), Err(Refusal::NotOurPlayer(P1)));
        assert!(
            frames(0, P0, &both[..both.len() - 1]).is_err(),
            "a cut frame"
        );
        // A chat whose UTF-16 body is cut in half: S_Chat would not decode at a client.
        let mut bad_chat = chat.to_vec();
        let last = bad_chat.len() - 1;
        bad_chat.truncate(last);
        bad_chat[0] = last as u8;
        bad_chat[HEADER_SIZE + 4] = 3; // claims 3 bytes of UTF-16: an odd count
        assert!(frames(0, P0, &bad_chat).is_err());
        let ticket = crate::game::packets::SUdpTicket {
            player_id: 1,
            token: 2,
            port: 3,
        }
        .encode()
        .expect("encodes");
        assert!(
            frames(0, P0, &ticket).is_err(),
            "a packet the world never relays"
        );
        assert!(frames(0, P0, &[]).is_err());
        // A monster's frames cross too (a player near the border sees the other node's).
        let spawn = SMonsterSpawn {
            monster_id: 3,
            kind: 2,
            pos_x: 1.0,
            pos_z: 2.0,
            hp: 5,
            max_hp: 60,
        }
        .encode()
        .expect("encodes");
        let gone = SMonsterDespawn { monster_id: 3 }.encode().expect("encodes");
        assert_eq!(
            frames(0, P0, &[spawn.as_ref(), gone.as_ref()].concat()),
            Ok(())
        );
        assert!(
            frames(0, P0, &spawn[..spawn.len() - 1]).is_err(),
            "a cut spawn"
        );
        let both = [spawn.as_ref(), chat.as_ref(), gone.as_ref()].concat();
        assert_eq!(monsters_in(&both), vec![(3, true), (3, false)]);
    }

    #[test]
    fn a_route_change_comes_only_from_the_node_running_the_old_owner() {
        assert_eq!(route(0, NODE1, REGIONS1, P0, 0, 1, 2), Ok(()));
        assert!(matches!(
            route(0, NODE1, REGIONS1, P0, 1, 0, 2),
            Err(Refusal::NotItsRoute { .. })
        ));
        assert_eq!(
            route(0, NODE1, REGIONS1, P0, 0, 9, 2),
            Err(Refusal::NoSuchRegion(9))
        );
        assert_eq!(
            route(0, NODE1, REGIONS1, P1, 0, 1, 2),
            Err(Refusal::NotOurPlayer(P1))
        );
        assert_eq!(
            route(0, NODE1, REGIONS1, P0, 7, 1, 2),
            Err(Refusal::NoSuchRegion(7))
        );
    }
}
