//! Regions driven without threads or sockets: a `Cluster` runs each region's FIFO of jobs
//! in an order the test picks, as the job queues would, and fake links record every frame.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use proptest::prelude::*;
use server_core::frame::parse_header;
use server_core::Packet;

use super::*;
use crate::game::ai::Herd;
use crate::game::data::{GameData, Rect, BUILT_IN};
use crate::game::packets::{
    PacketId, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove, SMonsterDespawn,
    SMonsterMove, SMonsterSpawn, SPlayerList,
};
use crate::game::world::ViewFilter;

#[derive(Clone, Default)]
struct FakeLink {
    frames: Arc<Mutex<Vec<Bytes>>>,
    route: Arc<AtomicU16>,
    /// A rejoined connection's filter, as the real `WorldLink` has.
    filter: Option<Arc<Mutex<ViewFilter>>>,
}

impl Outbox for FakeLink {
    fn send(&self, frame: Bytes) -> bool {
        let frame = match &self.filter {
            None => Some(frame),
            Some(filter) => filter.lock().expect("filter").pass(frame).expect("fits"),
        };
        if let Some(frame) = frame {
            self.frames.lock().expect("frames").push(frame);
        }
        true
    }
}

impl PlayerLink for FakeLink {
    fn route_to(&self, route: Route) {
        self.route.store(route.to, Ordering::SeqCst);
    }
}

#[derive(Clone, Default)]
struct FakeDirectory(Arc<Mutex<HashMap<i32, FakeLink>>>);

impl Directory<FakeLink> for FakeDirectory {
    fn find(&self, player_id: i32) -> Option<FakeLink> {
        self.0.lock().expect("directory").get(&player_id).cloned()
    }
}

/// What a player received, frame by frame.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    List(Vec<(i32, bool, f32, f32)>),
    Enter(i32, f32, f32),
    Move(i32, f32, f32),
    Leave(i32),
    /// A monster: id, x, z, hit points.
    MonsterSpawn(i32, f32, f32, i32),
    MonsterMove(i32, f32, f32),
    MonsterDespawn(i32),
}

impl FakeLink {
    fn seen(&self) -> Vec<Seen> {
        let mut out = Vec::new();
        for batch in self.frames.lock().expect("frames").iter() {
            let mut rest = batch.clone();
            while let Ok(Some(h)) = parse_header(&rest, 65535) {
                let body = rest.slice(4..h.size);
                out.push(match PacketId::from_u16(h.id) {
                    Some(PacketId::SPlayerList) => Seen::List(
                        SPlayerList::decode(&body)
                            .expect("list")
                            .players
                            .iter()
                            .map(|p| (p.player_id, p.is_self, p.pos_x, p.pos_z))
                            .collect(),
                    ),
                    Some(PacketId::SBroadcastEnterGame) => {
                        let p = SBroadcastEnterGame::decode(&body).expect("enter");
                        Seen::Enter(p.player_id, p.pos_x, p.pos_z)
                    }
                    Some(PacketId::SBroadcastMove) => {
                        let p = SBroadcastMove::decode(&body).expect("move");
                        Seen::Move(p.player_id, p.pos_x, p.pos_z)
                    }
                    Some(PacketId::SBroadcastLeaveGame) => {
                        Seen::Leave(SBroadcastLeaveGame::decode(&body).expect("leave").player_id)
                    }
                    Some(PacketId::SMonsterSpawn) => {
                        let p = SMonsterSpawn::decode(&body).expect("monster spawn");
                        Seen::MonsterSpawn(p.monster_id, p.pos_x, p.pos_z, p.hp)
                    }
                    Some(PacketId::SMonsterMove) => {
                        let p = SMonsterMove::decode(&body).expect("monster move");
                        Seen::MonsterMove(p.monster_id, p.pos_x, p.pos_z)
                    }
                    Some(PacketId::SMonsterDespawn) => Seen::MonsterDespawn(
                        SMonsterDespawn::decode(&body).expect("despawn").monster_id,
                    ),
                    other => panic!("unexpected frame {other:?}"),
                });
                rest = rest.slice(h.size..);
            }
            assert!(rest.is_empty(), "batches hold whole frames");
        }
        out
    }
}

struct Cluster {
    regions: Vec<Region<FakeLink, FakeDirectory>>,
    queues: Vec<VecDeque<RegionJob>>,
    directory: FakeDirectory,
    links: HashMap<i32, FakeLink>,
    seqs: HashMap<i32, u64>,
    layout: Layout,
    stats: Arc<WorldStats>,
}

fn config(regions: usize) -> WorldConfig {
    WorldConfig {
        map_size: 200.0,
        cell_size: 15.0,
        inner_radius: 10.0,
        outer_radius: 15.0,
        regions,
        max_step: 5.0,
        spawn: crate::game::world::Spawn::At { x: 0.0, z: 0.0 },
    }
}

impl Cluster {
    fn new(regions: usize) -> Self {
        let config = config(regions);
        let directory = FakeDirectory::default();
        let stats = Arc::new(WorldStats::default());
        Cluster {
            regions: (0..regions as RegionId)
                .map(|id| {
                    Region::new(
                        id,
                        &config,
                        1 << 20,
                        directory.clone(),
                        Arc::clone(&stats),
                        Arc::default(),
                    )
                })
                .collect(),
            queues: (0..regions).map(|_| VecDeque::new()).collect(),
            directory,
            links: HashMap::new(),
            seqs: HashMap::new(),
            layout: Layout::new(&config),
            stats,
        }
    }

    fn route(&self, id: i32) -> usize {
        self.links[&id].route.load(Ordering::SeqCst) as usize
    }

    fn enter(&mut self, id: i32, x: f32, z: f32) {
        let region = self.layout.region_of(x);
        let link = FakeLink::default();
        link.route.store(region, Ordering::SeqCst);
        self.directory
            .0
            .lock()
            .expect("dir")
            .insert(id, link.clone());
        self.links.insert(id, link);
        self.queues[region as usize].push_back(RegionJob::Enter {
            player_id: id,
            pos: [x, 0.0, z],
        });
    }

    fn walk(&mut self, id: i32, x: f32, z: f32) {
        let seq = self.seqs.entry(id).or_insert(0);
        let job = RegionJob::Input {
            player_id: id,
            seq: *seq,
            input: PlayerInput::Move { pos: [x, 0.0, z] },
        };
        *seq += 1;
        let r = self.route(id);
        self.queues[r].push_back(job);
    }

    /// The player's connection is replaced by a new one (a login within the reconnect
    /// grace): a new, filtered link in the directory and a `Rejoin` after its last input.
    fn rejoin(&mut self, id: i32) {
        let old = &self.links[&id];
        let link = FakeLink {
            route: Arc::new(AtomicU16::new(old.route.load(Ordering::SeqCst))),
            filter: Some(Arc::default()),
            ..FakeLink::default()
        };
        // The old link still takes what regions send it until they switch. The new one
        // starts from the old one's route, as the real link does; a later hand-off's route
        // reaches whichever link its region holds, and late inputs are forwarded.
        self.directory
            .0
            .lock()
            .expect("dir")
            .insert(id, link.clone());
        self.links.insert(id, link);
        let seq = self.seqs.entry(id).or_insert(0);
        let job = RegionJob::Input {
            player_id: id,
            seq: *seq,
            input: PlayerInput::Rejoin,
        };
        *seq += 1;
        let r = self.route(id);
        self.queues[r].push_back(job);
    }

    fn disconnect(&mut self, id: i32) {
        let r = self.route(id);
        self.queues[r].push_back(RegionJob::Leave { player_id: id });
        self.directory.0.lock().expect("dir").remove(&id);
    }

    /// Runs the next job of region `r`, if any.
    fn step(&mut self, r: usize) -> bool {
        let Some(job) = self.queues[r].pop_front() else {
            return false;
        };
        self.regions[r].run(job);
        for effect in self.regions[r].take_outgoing() {
            match effect {
                Outgoing::Msg(to, msg) => self.queues[to as usize].push_back(RegionJob::Peer(msg)),
                Outgoing::Route(link, route) => link.route_to(route),
            }
        }
        true
    }

    /// Runs every job until all queues are empty, region by region in turn, then flushes.
    fn settle(&mut self) {
        while (0..self.regions.len()).any(|r| !self.queues[r].is_empty()) {
            for r in 0..self.regions.len() {
                self.step(r);
            }
        }
        self.flush();
    }

    fn flush(&mut self) {
        for region in &mut self.regions {
            region.flush();
        }
    }

    /// Gives every region its share of `data`'s monsters, as `World::populate` does.
    fn populate(&mut self, data: &GameData) {
        for r in 0..self.regions.len() {
            let layout = self.layout.clone();
            let herd = Herd::spawn(data, 7, 15.0, 0, |p| {
                layout.region_of(p[0]) == r as RegionId
            })
            .expect("spawns");
            self.queues[r].push_back(RegionJob::Monsters(Box::new(herd)));
        }
    }

    /// One tick of every region's monsters at `now_ms`, then the flush.
    fn tick(&mut self, now_ms: u64) {
        for region in &mut self.regions {
            region.tick(now_ms);
        }
        self.flush();
    }

    fn seen(&self, id: i32) -> Vec<Seen> {
        self.links[&id].seen()
    }

    fn owner_pos(&self, id: i32) -> Option<Pos> {
        self.regions
            .iter()
            .find(|r| r.owns(id))
            .and_then(|r| r.interest().pos(id))
    }
}

/// Each player's moves, as (x, z), in the order sent or received.
type MovesBy = HashMap<i32, Vec<(f32, f32)>>;

/// Replays what `me` received and checks it is well formed: one list first, spawn before
/// move, no spawn of a player in view, no move or despawn of one out of view. Returns who is
/// in view at the end, and every move received per player.
fn replay(me: i32, seen: &[Seen]) -> (HashSet<i32>, MovesBy) {
    let mut view = HashSet::new();
    let mut moves: MovesBy = HashMap::new();
    let mut frames = seen.iter();
    match frames.next() {
        Some(Seen::List(players)) => {
            for &(id, is_self, _, _) in players {
                assert_eq!(is_self, id == me, "only {me} is flagged self");
                assert!(view.insert(id), "{id} listed twice");
            }
        }
        other => panic!("{me}: the first frame must be S_PlayerList, got {other:?}"),
    }
    for frame in frames {
        match *frame {
            Seen::MonsterSpawn(..) | Seen::MonsterMove(..) | Seen::MonsterDespawn(..) => {}
            Seen::List(_) => panic!("{me}: a second S_PlayerList"),
            Seen::Enter(id, ..) if id == me => {}
            Seen::Enter(id, ..) => assert!(view.insert(id), "{me}: spawn of {id}, already in view"),
            Seen::Move(id, x, z) => {
                assert!(view.contains(&id), "{me}: move of {id}, not in view");
                moves.entry(id).or_default().push((x, z));
            }
            Seen::Leave(id) => assert!(view.remove(&id), "{me}: despawn of {id}, not in view"),
        }
    }
    (view, moves)
}

/// Replays the monster frames `me` received (after its list, which `replay` checks): a
/// spawn only of one not in view, with hit points, a move or despawn only of one in view.
/// Returns the monsters in view at the end, where `me` last heard they are.
fn replay_monsters(me: i32, seen: &[Seen]) -> HashMap<i32, (f32, f32)> {
    let mut view = HashMap::new();
    for frame in seen {
        match *frame {
            Seen::MonsterSpawn(id, x, z, hp) => {
                assert!(hp > 0, "{me}: monster {id} shown dead");
                assert!(
                    view.insert(id, (x, z)).is_none(),
                    "{me}: spawn of monster {id}, already in view"
                );
            }
            Seen::MonsterMove(id, x, z) => assert!(
                view.insert(id, (x, z)).is_some(),
                "{me}: move of monster {id}, not in view"
            ),
            Seen::MonsterDespawn(id) => assert!(
                view.remove(&id).is_some(),
                "{me}: despawn of monster {id}, not in view"
            ),
            _ => {}
        }
    }
    view
}

/// The built-in tables with one spawn area of `count` wolves in `area`.
fn wolves(count: u32, area: Rect) -> GameData {
    GameData::parse(&BUILT_IN)
        .expect("valid")
        .with_one_area("wolf", count, area)
        .expect("wolves")
}

#[test]
fn a_player_sees_the_monsters_near_it_after_its_list_and_they_chase_it_in_their_region() {
    let mut c = Cluster::new(2); // the border is at x = 0
    c.populate(&wolves(
        4,
        Rect {
            min: [-9.0, -1.0],
            max: [-7.0, 1.0],
        },
    ));
    c.enter(1, -10.0, 30.0); // 28 and more away: sees none
    c.enter(2, 60.0, 0.0); // region 1, far
    c.settle();
    assert!(
        !c.seen(1)
            .iter()
            .any(|s| matches!(s, Seen::MonsterSpawn(..))),
        "{:?}",
        c.seen(1)
    );
    let herd = c.regions[0].herd().expect("region 0 has the wolves");
    assert_eq!(herd.len(), 4);
    assert!(c.regions[1].herd().expect("a herd").is_empty());

    // Player 3 enters among them: its list, its enter, then the four wolves.
    c.enter(3, -10.0, 0.0);
    c.settle();
    let seen = c.seen(3);
    assert!(matches!(seen[0], Seen::List(_)), "{seen:?}");
    assert_eq!(seen[1], Seen::Enter(3, -10.0, 0.0));
    assert_eq!(replay_monsters(3, &seen).len(), 4);

    // Across the border, in region 1, player 3 is watched by region 0 as a ghost: the
    // wolves chase it to the border and no farther, and it keeps seeing them.
    c.walk(3, -6.0, 0.0);
    c.walk(3, -1.0, 0.0);
    c.walk(3, 3.0, 0.0);
    c.settle();
    assert_eq!(c.route(3), 1, "handed to region 1");
    for t in 1..40 {
        c.tick(t * 100);
        c.settle();
    }
    let view = replay_monsters(3, &c.seen(3));
    assert_eq!(view.len(), 4, "all four in view: {view:?}");
    assert!(
        view.values().all(|&(x, _)| x <= 0.0),
        "held in region 0: {view:?}"
    );
    assert!(
        view.values().any(|&(x, _)| x > -1.0),
        "they came up to the border: {view:?}"
    );
    assert!(c.stats.monster_moves.load(Ordering::Relaxed) > 0);

    // Walking away: each goes out of view once, and nothing more is said of it.
    for step in 1..=10 {
        c.walk(3, 3.0 + 5.0 * step as f32, 0.0);
    }
    c.settle();
    c.tick(4_000);
    c.settle();
    assert!(replay_monsters(3, &c.seen(3)).is_empty());
    let n = c.seen(3).len();
    for t in 41..60 {
        c.tick(t * 100);
    }
    c.settle();
    assert!(
        !c.seen(3)[n..].iter().any(|s| matches!(
            s,
            Seen::MonsterMove(..) | Seen::MonsterSpawn(..) | Seen::MonsterDespawn(..)
        )),
        "nothing about a monster out of view"
    );
    for r in &c.regions {
        assert_eq!(r.interest().check_rule(), Ok(()));
    }
}

#[test]
fn a_rejoined_player_is_shown_the_monsters_it_sees_once() {
    let mut c = Cluster::new(2);
    c.populate(&wolves(
        3,
        Rect {
            min: [-4.0, -2.0],
            max: [-2.0, 2.0],
        },
    ));
    c.enter(1, 3.0, 0.0); // region 1; region 0's wolves see it as a ghost
    c.settle();
    assert_eq!(replay_monsters(1, &c.seen(1)).len(), 3);
    c.rejoin(1);
    c.settle();
    let seen = c.seen(1);
    replay(1, &seen);
    assert_eq!(replay_monsters(1, &seen).len(), 3, "{seen:?}");
    let spawns = seen
        .iter()
        .filter(|s| matches!(s, Seen::MonsterSpawn(..)))
        .count();
    assert_eq!(
        spawns, 3,
        "the new connection is shown each wolf once: {seen:?}"
    );
}

#[test]
fn the_newcomer_gets_its_neighbours_in_the_list_and_its_own_enter() {
    let mut c = Cluster::new(1);
    c.enter(1, 0.0, 0.0);
    c.enter(2, 5.0, 0.0);
    c.enter(3, 50.0, 0.0);
    c.settle();
    c.enter(4, 3.0, 3.0);
    c.settle();
    let seen = c.seen(4);
    let Seen::List(mut list) = seen[0].clone() else {
        panic!("list first: {seen:?}")
    };
    list.sort_by_key(|p| p.0);
    assert_eq!(
        list,
        vec![
            (1, false, 0.0, 0.0),
            (2, false, 5.0, 0.0),
            (4, true, 3.0, 3.0)
        ],
        "the list holds the players within the inner radius and itself, not the far one"
    );
    assert_eq!(
        seen[1],
        Seen::Enter(4, 3.0, 3.0),
        "then its own enter, with its position"
    );
    assert!(
        c.seen(1).contains(&Seen::Enter(4, 3.0, 3.0)),
        "1 sees 4 come in"
    );
    assert!(
        !c.seen(3).iter().any(|s| matches!(s, Seen::Enter(4, ..))),
        "3 is too far"
    );
}

#[test]
fn moves_reach_only_watchers_and_walking_away_despawns() {
    let mut c = Cluster::new(1);
    c.enter(1, 0.0, 0.0);
    c.enter(2, 8.0, 0.0);
    c.settle();
    c.walk(2, 12.0, 0.0); // between the radii: still seen
    c.walk(2, 16.0, 0.0); // beyond the outer radius
    c.walk(2, 20.0, 0.0); // nobody sees this one but 2 itself
    c.settle();
    let tail: Vec<Seen> = c.seen(1).into_iter().skip(2).collect();
    assert_eq!(
        tail,
        vec![
            Seen::Enter(2, 8.0, 0.0),
            Seen::Move(2, 12.0, 0.0),
            Seen::Leave(2)
        ]
    );
    let own: Vec<Seen> = c
        .seen(2)
        .into_iter()
        .filter(|s| matches!(s, Seen::Move(2, ..)))
        .collect();
    assert_eq!(own.len(), 3, "a player always gets its own moves: {own:?}");
}

#[test]
fn off_map_and_teleport_moves_are_clamped_by_the_rule() {
    let mut c = Cluster::new(1);
    c.enter(1, 98.0, 0.0);
    c.settle();
    c.walk(1, 150.0, 0.0); // off the map: clamped to the edge at x = 100
    c.walk(1, 0.0, 0.0); // a 100-unit jump: shortened to 5
    c.settle();
    let moves: Vec<Seen> = c
        .seen(1)
        .into_iter()
        .filter(|s| matches!(s, Seen::Move(..)))
        .collect();
    assert_eq!(
        moves,
        vec![Seen::Move(1, 100.0, 0.0), Seen::Move(1, 95.0, 0.0)]
    );
    assert_eq!(c.stats.clamped_to_map.load(Ordering::Relaxed), 1);
    assert_eq!(c.stats.step_limited.load(Ordering::Relaxed), 1);
}

#[test]
fn a_crossing_keeps_every_move_in_order_with_no_despawn_for_those_who_keep_seeing() {
    // Two stripes split at x = 0. A walks east across it; B (west) and C (east) watch.
    let mut c = Cluster::new(2);
    c.enter(1, -6.0, 0.0);
    c.enter(2, -4.0, 3.0);
    c.enter(3, 3.0, -3.0);
    c.settle();
    let xs: Vec<f32> = (1..=10).map(|i| -6.0 + i as f32).collect();
    for &x in &xs {
        c.walk(1, x, 0.0);
        // Interleave: sometimes a region runs one job before the other catches up.
        c.step(0);
        c.step(1);
    }
    c.settle();
    assert!(
        c.regions[1].owns(1) && !c.regions[0].owns(1),
        "A is owned by the east region"
    );
    assert!(
        c.regions[0].has_ghost(1),
        "and the west region keeps it as a ghost"
    );
    for watcher in [1, 2, 3] {
        let seen = c.seen(watcher);
        let (view, moves) = replay(watcher, &seen);
        assert!(view.contains(&1), "{watcher} still sees A");
        let got: Vec<f32> = moves[&1].iter().map(|m| m.0).collect();
        assert_eq!(got, xs, "{watcher} gets every move of A once, in order");
        assert!(
            !seen.contains(&Seen::Leave(1)),
            "{watcher}: no spurious despawn of A"
        );
    }
    assert_eq!(c.stats.handoffs.load(Ordering::Relaxed), 1);
}

#[test]
fn inputs_still_queued_at_the_old_owner_are_applied_in_order_by_the_new_one() {
    let mut c = Cluster::new(2);
    c.enter(1, -2.0, 0.0);
    c.enter(2, 2.0, 0.0);
    c.settle();
    c.walk(1, 1.0, 0.0); // the crossing move
    c.walk(1, 2.0, 0.0); // queued at the west region behind it
    c.step(0); // the crossing: hand-off sent east, route now east
    c.walk(1, 3.0, 0.0); // straight to the east region, ahead of the forwarded one
    c.walk(1, 4.0, 0.0);
    c.settle();
    let (_, moves) = replay(2, &c.seen(2));
    let got: Vec<f32> = moves[&1].iter().map(|m| m.0).collect();
    assert_eq!(got, vec![1.0, 2.0, 3.0, 4.0], "no move lost or reordered");
    assert!(c.stats.forwarded_inputs.load(Ordering::Relaxed) >= 1);
}

#[test]
fn a_disconnect_while_crossing_leaves_no_ghost_in_either_region() {
    for leave_at_old in [true, false] {
        let mut c = Cluster::new(2);
        c.enter(1, -2.0, 0.0);
        c.enter(2, -3.0, 0.0);
        c.enter(3, 3.0, 0.0);
        c.settle();
        c.walk(1, 1.0, 0.0);
        if leave_at_old {
            // The leave is queued at the old owner before the crossing runs.
            c.disconnect(1);
            c.step(0);
        } else {
            // The crossing ran, the hand-off is in flight, the session now routes east.
            c.step(0);
            c.disconnect(1);
        }
        c.settle();
        for r in &c.regions {
            assert!(
                !r.owns(1) && !r.has_ghost(1),
                "region {} still holds 1",
                r.id()
            );
            assert!(!r.interest().contains(1), "region {} still knows 1", r.id());
        }
        for watcher in [2, 3] {
            let (view, _) = replay(watcher, &c.seen(watcher));
            assert!(
                !view.contains(&1),
                "{watcher} was told 1 left (leave at old: {leave_at_old})"
            );
        }
    }
}

#[test]
fn chat_is_heard_by_those_who_see_the_speaker_only() {
    let mut c = Cluster::new(1);
    c.enter(1, 0.0, 0.0);
    c.enter(2, 5.0, 0.0);
    c.enter(3, 60.0, 0.0);
    c.settle();
    c.queues[0].push_back(RegionJob::Input {
        player_id: 1,
        seq: 0,
        input: PlayerInput::Chat {
            message: "hi".into(),
        },
    });
    c.settle();
    let chats = |id: i32| {
        c.links[&id]
            .frames
            .lock()
            .expect("frames")
            .iter()
            .filter(|b| b.len() > 4 && b[2..4] == (PacketId::SChat as u16).to_le_bytes())
            .count()
    };
    assert_eq!((chats(1), chats(2), chats(3)), (1, 1, 0));
}

#[test]
fn a_gap_in_the_inputs_is_held_then_given_up_past_the_cap() {
    let mut c = Cluster::new(1);
    c.enter(1, 0.0, 0.0);
    c.settle();
    // Input 0 never comes: 1..=REORDER_CAP are held, one more gives the gap up.
    for seq in 1..=(REORDER_CAP as u64 + 1) {
        c.queues[0].push_back(RegionJob::Input {
            player_id: 1,
            seq,
            input: PlayerInput::Move {
                pos: [0.01 * seq as f32, 0.0, 0.0],
            },
        });
        if seq == REORDER_CAP as u64 {
            c.settle();
            let moved = c
                .seen(1)
                .iter()
                .filter(|s| matches!(s, Seen::Move(..)))
                .count();
            assert_eq!(moved, 0, "inputs after a gap wait for it");
        }
    }
    // A duplicate of an applied input is dropped.
    c.queues[0].push_back(RegionJob::Input {
        player_id: 1,
        seq: 5,
        input: PlayerInput::Move {
            pos: [9.0, 0.0, 0.0],
        },
    });
    c.settle();
    let moves: Vec<f32> = c
        .seen(1)
        .iter()
        .filter_map(|s| match s {
            Seen::Move(_, x, _) => Some(*x),
            _ => None,
        })
        .collect();
    assert_eq!(
        moves.len(),
        REORDER_CAP + 1,
        "every held input applied once, in order"
    );
    assert!(moves.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        c.stats.inputs_skipped.load(Ordering::Relaxed),
        1,
        "input 0 given up"
    );
    assert_eq!(
        c.stats.inputs_stale.load(Ordering::Relaxed),
        1,
        "the duplicate dropped"
    );
}

#[test]
fn a_shed_input_marker_takes_its_place_and_the_next_input_applies_at_once() {
    let mut c = Cluster::new(1);
    c.enter(1, 0.0, 0.0);
    c.settle();
    let mv = |seq: u64, x: f32| RegionJob::Input {
        player_id: 1,
        seq,
        input: PlayerInput::Move { pos: [x, 0.0, 0.0] },
    };
    // Input 1 arrives before 0's marker (the marker was queued later): held, then both go.
    c.queues[0].push_back(mv(1, 0.5));
    c.settle();
    assert!(
        !c.seen(1).iter().any(|s| matches!(s, Seen::Move(..))),
        "1 waits for 0"
    );
    c.queues[0].push_back(RegionJob::Input {
        player_id: 1,
        seq: 0,
        input: PlayerInput::Skipped,
    });
    c.queues[0].push_back(mv(2, 1.0));
    c.settle();
    let moves: Vec<f32> = c
        .seen(1)
        .iter()
        .filter_map(|s| match s {
            Seen::Move(_, x, _) => Some(*x),
            _ => None,
        })
        .collect();
    assert_eq!(
        moves,
        [0.5, 1.0],
        "the marker did nothing but free its number"
    );
    assert_eq!(c.stats.inputs_shed.load(Ordering::Relaxed), 1);
    assert_eq!(
        c.stats.inputs_skipped.load(Ordering::Relaxed),
        0,
        "no gap given up"
    );
}

/// A player that comes back to a region it left (1 -> 2 -> 1, having come from 0) may
/// still have late inputs at every region that ever handed it here: region 1 takes a
/// forward from 0 as well as from 2.
#[test]
fn a_region_takes_late_forwards_from_every_region_that_handed_it_the_player() {
    let mut c = Cluster::new(3);
    c.enter(1, -36.0, 0.0); // region 0: x < -33.3
    c.settle();
    let mut x: f32 = -36.0;
    for target in [36.0f32, 30.0] {
        while (x - target).abs() > 0.1 {
            x += (target - x).clamp(-4.0, 4.0);
            c.walk(1, x, 0.0);
            c.settle();
        }
    }
    assert_eq!(
        c.route(1),
        1,
        "back in region 1, handed there by 0 and later by 2"
    );
    let next = c.seqs[&1];
    c.queues[1].push_back(RegionJob::Peer(RegionMsg::ForwardInput {
        from: 0,
        player_id: 1,
        seq: next,
        input: PlayerInput::Move {
            pos: [28.0, 0.0, 0.0],
        },
    }));
    c.settle();
    assert_eq!(c.stats.peer_refused.load(Ordering::Relaxed), 0);
    assert_eq!(
        c.owner_pos(1).map(|p| p.x),
        Some(28.0),
        "region 0's late input applied"
    );
}

#[test]
fn a_snapshot_gives_the_stripe_and_at_most_k_players() {
    let mut c = Cluster::new(2);
    for id in 1..=5 {
        c.enter(id, -10.0 * id as f32, 0.0);
    }
    c.enter(6, 10.0, 0.0);
    c.settle();
    let west = c.regions[0].snapshot(3);
    assert_eq!(
        (west.min_x, west.max_x, west.min_z, west.max_z),
        (-100.0, 0.0, -100.0, 100.0)
    );
    assert_eq!((west.owned, west.players.len()), (5, 3));
    assert!(west
        .players
        .iter()
        .all(|&(id, x, _)| (1..=5).contains(&id) && x < 0.0));
    let east = c.regions[1].snapshot(10);
    assert_eq!(east.players, vec![(6, 10.0, 0.0)]);
    assert_eq!(east.ghosts, 2, "players 1 and 2 are near the border");
}

#[derive(Debug, Clone)]
enum Op {
    Enter(f32, f32),
    Walk { who: usize, dx: f32, dz: f32 },
    Leave { who: usize },
    Rejoin { who: usize },
    Run { region: usize, jobs: usize },
    Tick,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (-30f32..30.0, -20f32..20.0).prop_map(|(x, z)| Op::Enter(x, z)),
        8 => (0usize..64, -3.5f32..3.5, -3.5f32..3.5).prop_map(|(who, dx, dz)| Op::Walk { who, dx, dz }),
        1 => (0usize..64).prop_map(|who| Op::Leave { who }),
        1 => (0usize..64).prop_map(|who| Op::Rejoin { who }),
        3 => (0usize..3, 1usize..6).prop_map(|(region, jobs)| Op::Run { region, jobs }),
        2 => Just(Op::Tick),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Three narrow regions, players walking across borders and taking their characters back
    /// over new connections, jobs run in any order a real world could run them: every stream
    /// a player's connection receives is well formed, every move a watcher gets of a player
    /// is in that player's order, and once all is quiet every view follows the rule for the
    /// final positions, with no ghost of a player who left.
    #[test]
    fn a_world_of_regions_keeps_every_view_right(ops in prop::collection::vec(op(), 1..150)) {
        let mut c = Cluster::new(3);
        // Wolves over the three stripes' middle: they wander, chase, stop at borders.
        c.populate(&wolves(24, Rect { min: [-40.0, -20.0], max: [40.0, 20.0] }));
        let mut now_ms = 0;
        let mut next_id = 1;
        let mut alive: Vec<i32> = Vec::new();
        let mut left: Vec<i32> = Vec::new();
        let mut sent: MovesBy = HashMap::new();
        let mut at: HashMap<i32, (f32, f32)> = HashMap::new();
        for op in ops {
            match op {
                Op::Enter(x, z) => {
                    c.enter(next_id, x, z);
                    at.insert(next_id, (x, z));
                    alive.push(next_id);
                    next_id += 1;
                }
                Op::Walk { who, dx, dz } if !alive.is_empty() => {
                    let id = alive[who % alive.len()];
                    let (x, z) = at[&id];
                    let (x, z) = ((x + dx).clamp(-100.0, 100.0), (z + dz).clamp(-100.0, 100.0));
                    at.insert(id, (x, z));
                    sent.entry(id).or_default().push((x, z));
                    c.walk(id, x, z);
                }
                Op::Leave { who } if !alive.is_empty() => {
                    let id = alive.remove(who % alive.len());
                    c.disconnect(id);
                    left.push(id);
                }
                Op::Rejoin { who } if !alive.is_empty() => {
                    // What the new connection gets is checked from its first frame on.
                    c.rejoin(alive[who % alive.len()]);
                }
                Op::Run { region, jobs } => {
                    for _ in 0..jobs {
                        c.step(region);
                    }
                }
                Op::Tick => {
                    now_ms += 100;
                    c.tick(now_ms);
                }
                _ => {}
            }
        }
        c.settle();
        for &me in &alive {
            let (view, moves) = replay(me, &c.seen(me));
            for (&id, got) in &moves {
                // What a watcher got of `id` is a run of `id`'s own moves, in its order.
                if let Some(all) = sent.get(&id) {
                    let mut it = all.iter();
                    for m in got {
                        prop_assert!(it.any(|s| s == m), "{me} got {id}'s moves out of order");
                    }
                }
            }
            let mp = c.owner_pos(me).expect("a connected player has an owner");
            for &other in &alive {
                if other == me {
                    continue;
                }
                let op = c.owner_pos(other).expect("owner");
                let d = mp.dist2(op).sqrt();
                if d <= 10.0 {
                    prop_assert!(view.contains(&other), "{me} should see {other} at {d}");
                }
                if d > 15.0 {
                    prop_assert!(!view.contains(&other), "{me} should not see {other} at {d}");
                }
            }
            for gone in &left {
                prop_assert!(!view.contains(gone), "{me} still sees {gone}, who left");
            }
            prop_assert!(at[&me] == (mp.x, mp.z), "{me} is where it walked");
            // Its monsters: the rule for where they stand, and where they stand as told.
            let monsters = replay_monsters(me, &c.seen(me));
            for r in &c.regions {
                for m in r.herd().expect("a herd").iter() {
                    let (x, z) = (m.pos[0], m.pos[1]);
                    let (stripe_min, stripe_max) = c.layout.stripe(r.id());
                    prop_assert!((stripe_min..=stripe_max).contains(&x), "a wolf left its region");
                    let d = mp.dist2(Pos { x, z }).sqrt();
                    let id = m.id.0 as i32;
                    if d <= 10.0 {
                        prop_assert_eq!(monsters.get(&id), Some(&(x, z)), "{} should see wolf {} at {}", me, id, d);
                    }
                    if d > 15.0 {
                        prop_assert!(!monsters.contains_key(&id), "{me} should not see wolf {id} at {d}");
                    }
                    if let Some(&told) = monsters.get(&id) {
                        prop_assert_eq!(told, (x, z), "{} was told wolf {} is elsewhere", me, id);
                    }
                }
            }
        }
        for r in &c.regions {
            for gone in &left {
                prop_assert!(!r.interest().contains(*gone), "region {} keeps {gone}", r.id());
            }
            prop_assert_eq!(r.interest().check_rule(), Ok(()));
        }
        prop_assert_eq!(c.stats.inputs_skipped.load(Ordering::Relaxed), 0);
        prop_assert_eq!(c.stats.unknown_watchers.load(Ordering::Relaxed), 0);
        // Every forward, hand-off and PlayerGone came from a region entitled to send it:
        // the rules that refuse forged ones never refuse what a real world sends.
        prop_assert_eq!(c.stats.peer_refused.load(Ordering::Relaxed), 0);
    }
}

/// Messages from a region with no say over a player (issue 22, item 2): a forward from a
/// region that did not hand the player here, a hand-off from a region that does not own
/// it, and a `PlayerGone` for a player owned here are refused and counted, and change
/// nothing.
#[test]
fn a_region_refuses_forwards_hand_offs_and_gones_from_regions_with_no_say() {
    let mut c = Cluster::new(3);
    c.enter(1, -50.0, 0.0); // region 0's, far from every border
    c.enter(2, 5.0, 0.0); // region 1's
    c.settle();
    let before = c.seen(1).len();
    for msg in [
        RegionMsg::ForwardLeave {
            from: 2,
            player_id: 1,
        },
        RegionMsg::ForwardInput {
            from: 1,
            player_id: 1,
            seq: 0,
            input: PlayerInput::Move {
                pos: [-40.0, 0.0, 0.0],
            },
        },
        RegionMsg::PlayerGone {
            from: 1,
            player_id: 1,
        },
        RegionMsg::Handoff {
            from: 2,
            player_id: 2,
            pos: [-1.0, 0.0, 0.0],
            next_seq: 0,
            watchers: vec![],
            ghosted_to: 0,
        },
    ] {
        c.queues[0].push_back(RegionJob::Peer(msg));
    }
    c.settle();
    assert_eq!(c.stats.peer_refused.load(Ordering::Relaxed), 4);
    assert_eq!(
        c.owner_pos(1).map(|p| p.x),
        Some(-50.0),
        "1 did not move or leave"
    );
    assert_eq!(c.seen(1).len(), before, "1 noticed nothing");
    assert_eq!(c.route(2), 1, "2 still belongs to region 1 alone");
}

/// A cluster's recovery, driven by hand: both sides of a border lose each other (what a
/// NATS restart does), despawn what the other owned, and see it again after the resync;
/// a lost gateway's players leave the region that owned them.
#[test]
fn a_cut_border_despawns_both_sides_and_the_resync_brings_them_back() {
    let mut c = Cluster::new(2);
    c.enter(1, -2.0, 0.0);
    c.enter(2, 2.0, 0.0);
    c.settle();
    assert!(c.regions[0].has_ghost(2) && c.regions[1].has_ghost(1));
    c.queues[0].push_back(RegionJob::NodeLost {
        gateway: None,
        regions: 0b10,
    });
    c.queues[1].push_back(RegionJob::NodeLost {
        gateway: None,
        regions: 0b01,
    });
    c.settle();
    assert!(!c.regions[0].has_ghost(2) && !c.regions[1].has_ghost(1));
    for (me, other) in [(1, 2), (2, 1)] {
        let (view, _) = replay(me, &c.seen(me));
        assert!(!view.contains(&other), "{me} no longer sees {other}");
    }
    c.queues[0].push_back(RegionJob::Resync);
    c.queues[1].push_back(RegionJob::Resync);
    c.settle();
    for (me, other) in [(1, 2), (2, 1)] {
        let (view, _) = replay(me, &c.seen(me));
        assert!(
            view.contains(&other),
            "{me} sees {other} again after the resync"
        );
    }
    // And play goes on: 2's move reaches 1.
    c.walk(2, 3.0, 1.0);
    c.settle();
    let (_, moves) = replay(1, &c.seen(1));
    assert_eq!(moves.get(&2).and_then(|m| m.last()), Some(&(3.0, 1.0)));
}

#[test]
fn a_lost_gateway_takes_its_players_out_of_the_regions_that_owned_them() {
    let remote = (1 << crate::game::player_ids::LOCAL_BITS) | 5;
    let mut c = Cluster::new(1);
    c.enter(1, 0.0, 0.0);
    c.enter(remote, 1.0, 0.0);
    c.settle();
    assert!(c.regions[0].owns(remote));
    let (view, _) = replay(1, &c.seen(1));
    assert!(
        view.contains(&remote),
        "player 1 saw the remote player first"
    );
    c.queues[0].push_back(RegionJob::NodeLost {
        gateway: Some(1),
        regions: 0,
    });
    c.settle();
    assert!(!c.regions[0].owns(remote), "the lost gateway's player left");
    assert!(c.regions[0].owns(1), "the local player stays");
    let (view, _) = replay(1, &c.seen(1));
    assert!(!view.contains(&remote), "and was despawned for the others");
}

#[test]
fn a_player_is_not_handed_to_an_unreachable_region() {
    let mut c = Cluster::new(2);
    c.enter(1, -2.0, 0.0);
    c.settle();
    c.regions[0].set_reachable(0b01);
    c.walk(1, 2.0, 0.0);
    c.settle();
    assert!(
        c.regions[0].owns(1),
        "it stays with its owner past the border"
    );
    assert_eq!(c.route(1), 0);
    c.regions[0].set_reachable(0b11);
    c.walk(1, 3.0, 0.0);
    c.settle();
    assert!(c.regions[1].owns(1), "handed on once the region is back");
    assert_eq!(c.route(1), 1);
}

/// A rejoin (issue 24, reconnect in world mode): the new connection gets its list from the
/// owner first, then each other region's own players it sees; the others see nothing; and
/// what it gets from then on follows as for any player.
#[test]
fn a_rejoined_player_is_told_the_world_as_it_is_and_nobody_sees_it_go() {
    let mut c = Cluster::new(2); // the border is at x = 0
    c.enter(1, -5.0, 0.0); // the one who rejoins, region 0
    c.enter(2, -8.0, 3.0); // region 0, seen by 1
    c.enter(3, 4.0, 0.0); // region 1, seen by 1 across the border
    c.enter(4, 90.0, 0.0); // region 1, far
    c.settle();
    let before = c.seen(3).len();
    c.rejoin(1);
    c.settle();
    let seen = c.seen(1);
    let Seen::List(mut list) = seen[0].clone() else {
        panic!("the list first: {seen:?}")
    };
    list.sort_by_key(|p| p.0);
    assert_eq!(
        list,
        vec![(1, true, -5.0, 0.0), (2, false, -8.0, 3.0)],
        "the owner's list: itself and the owner's players it sees"
    );
    assert_eq!(
        &seen[1..],
        &[Seen::Enter(3, 4.0, 0.0)],
        "then the other region's player it sees, and nothing of the far one"
    );
    assert_eq!(c.seen(3).len(), before, "3 saw nothing: no leave, no enter");
    // From now on the new connection is a player like any other.
    c.walk(3, 6.0, 0.0);
    c.walk(1, -2.0, 0.0);
    c.settle();
    let (view, _) = replay(1, &c.seen(1));
    assert_eq!(view, HashSet::from([1, 2, 3]));
    assert!(
        c.seen(3).contains(&Seen::Move(1, -2.0, 0.0)),
        "3 sees 1 move on"
    );
    assert!(c.stats.rejoin_spawns.load(Ordering::Relaxed) >= 1);
}
