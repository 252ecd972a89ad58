//! The AI without sockets: a fake region (players as a list) drives a herd tick by tick.

use super::*;
use crate::game::data::{GameData, Rect, BUILT_IN};

/// Players as the region would tell them: id, position, alive.
#[derive(Default)]
struct Players(Vec<(i32, [f32; 2], bool)>);

impl Senses for Players {
    fn nearest_player(&self, pos: [f32; 2], radius: f32) -> Option<(i32, [f32; 2])> {
        self.0
            .iter()
            .filter(|(_, _, alive)| *alive)
            .map(|&(id, at, _)| (id, at, steer::dist_sq(pos, at)))
            .filter(|&(_, _, d)| d <= radius * radius)
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .map(|(id, at, _)| (id, at))
    }

    fn player(&self, id: i32) -> Option<[f32; 2]> {
        self.0
            .iter()
            .find(|(p, _, alive)| *p == id && *alive)
            .map(|&(_, at, _)| at)
    }
}

impl Players {
    fn positions(&self) -> Vec<[f32; 2]> {
        self.0.iter().map(|&(_, at, _)| at).collect()
    }
}

/// The built-in tables with one spawn area: `count` monsters of kind `monster` in a
/// 10 x 10 square at the origin.
fn one_area(monster: &str, count: u32) -> GameData {
    let square = Rect {
        min: [0.0, 0.0],
        max: [10.0, 10.0],
    };
    GameData::parse(&BUILT_IN)
        .expect("valid")
        .with_one_area(monster, count, square)
        .expect("a kind")
}

const TICK: u64 = 100;

fn run(herd: &mut Herd, players: &Players, from_ms: u64, ticks: u64) -> Vec<(u64, Event)> {
    let mut log = Vec::new();
    let mut events = Vec::new();
    for t in 0..ticks {
        let now = from_ms + t * TICK;
        events.clear();
        herd.tick(now, &players.positions(), players, &mut events);
        log.extend(events.iter().map(|e| (now, *e)));
    }
    log
}

#[test]
fn a_region_with_no_player_near_steps_no_monster() {
    let data = GameData::parse(&BUILT_IN).expect("valid");
    let mut herd = Herd::spawn(&data, 7, 50.0, 0, |_| true).expect("spawns");
    assert_eq!(herd.len() as u64, data.monster_count());
    let nobody = Players::default();
    let log = run(&mut herd, &nobody, 0, 50);
    assert!(log.is_empty());
    assert_eq!(
        herd.last_stepped, 0,
        "840 monsters, nobody near: nothing thinks"
    );
    // One player in a corner wakes only the monsters within a cell or so of it.
    let one = Players(vec![(1, [-300.0, 0.0], true)]);
    run(&mut herd, &one, 5_000, 1);
    assert!(
        herd.last_stepped > 0 && herd.last_stepped < 100,
        "{} stepped",
        herd.last_stepped
    );
}

#[test]
fn a_melee_monster_chases_hits_on_its_cooldown_and_leashes_home_to_heal() {
    let data = one_area("wolf", 1);
    let wolf = data.monster(2).expect("wolf").clone();
    let mut herd = Herd::spawn(&data, 1, 50.0, 0, |_| true).expect("spawns");
    let home = herd.iter().next().expect("one").spawn;
    let id = herd.iter().next().expect("one").id;
    // A player 10 away: within aggro (14).
    let mut players = Players(vec![(42, [home[0] + 10.0, home[1]], true)]);
    let log = run(&mut herd, &players, 0, 60);
    let attacks: Vec<u64> = log
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Attack {
                monster,
                target: 42,
                damage,
            } if *monster == id && *damage == wolf.damage => Some(*t),
            _ => None,
        })
        .collect();
    assert!(attacks.len() >= 3, "it reached the player and hit: {log:?}");
    for pair in attacks.windows(2) {
        assert!(pair[1] - pair[0] >= u64::from(wolf.attack_cooldown_ms));
    }
    let m = herd.get(id).expect("there");
    assert!(steer::dist_sq(m.pos, players.0[0].1) <= wolf.attack_range * wolf.attack_range);

    // Hurt it, then the player runs beyond the leash: it walks home and heals there.
    herd.hit(id, 50, 42, 6_000).expect("a hit");
    players.0[0].1 = [home[0] + wolf.leash_radius + 5.0, home[1]];
    let log = run(&mut herd, &players, 6_000, 100);
    assert!(log
        .iter()
        .any(|(_, e)| matches!(e, Event::Healed { hp, .. } if *hp == wolf.hp)));
    let m = herd.get(id).expect("there");
    assert!(matches!(m.state, State::Idle { .. } | State::Wander { .. }));
    assert!(steer::dist_sq(m.pos, home) <= wolf.wander_radius * wolf.wander_radius + 1e-3);
}

#[test]
fn a_passive_monster_never_starts_a_fight_but_hits_back() {
    let data = one_area("slime", 1);
    let mut herd = Herd::spawn(&data, 3, 50.0, 0, |_| true).expect("spawns");
    let (id, home) = {
        let m = herd.iter().next().expect("one");
        (m.id, m.spawn)
    };
    let players = Players(vec![(5, [home[0] + 1.0, home[1]], true)]);
    let log = run(&mut herd, &players, 0, 50);
    assert!(!log.iter().any(|(_, e)| matches!(e, Event::Attack { .. })));
    herd.hit(id, 1, 5, 5_000).expect("hit");
    let log = run(&mut herd, &players, 5_000, 30);
    assert!(log
        .iter()
        .any(|(_, e)| matches!(e, Event::Attack { target: 5, .. })));
}

#[test]
fn the_dead_do_nothing_until_they_respawn_at_home_with_full_hp() {
    let data = one_area("wolf", 1);
    let wolf = data.monster(2).expect("wolf").clone();
    let mut herd = Herd::spawn(&data, 9, 50.0, 0, |_| true).expect("spawns");
    let (id, home) = {
        let m = herd.iter().next().expect("one");
        (m.id, m.spawn)
    };
    let hit = herd.hit(id, 10_000, 8, 1_000).expect("a hit");
    assert!(hit.died && hit.hp_left == 0);
    assert_eq!(herd.hit(id, 1, 8, 1_001), None, "the dead take no more");
    let players = Players(vec![(8, [home[0] + 1.0, home[1]], true)]);
    let until = 1_000 + u64::from(wolf.respawn_ms);
    let log = run(&mut herd, &players, 1_100, (until - 1_100) / TICK);
    assert!(log.is_empty(), "nothing while dead: {log:?}");
    let log = run(&mut herd, &players, until, 1);
    assert_eq!(
        log[0].1,
        Event::Respawned {
            monster: id,
            pos: home,
            hp: wolf.hp
        }
    );
}

/// Issue 25: deterministic from a seed. The same seed and the same players give the same
/// ticks, event for event; the monsters never leave their leash.
#[test]
fn a_fight_replays_exactly_from_its_seed() {
    let data = one_area("wolf", 30);
    let wolf = data.monster(2).expect("wolf").clone();
    let script = |seed: u64| {
        let mut herd = Herd::spawn(&data, seed, 50.0, 0, |_| true).expect("spawns");
        let mut players = Players(vec![(1, [5.0, 5.0], true), (2, [40.0, 5.0], true)]);
        let mut log = Vec::new();
        for step in 0..300u64 {
            // The players walk back and forth; player 1 hits the nearest wolf now and then.
            let x = 5.0 + 30.0 * ((step as f32) / 40.0).sin();
            players.0[0].1 = [x, 5.0];
            if step % 15 == 0 {
                let near = herd
                    .iter()
                    .filter(|m| m.alive())
                    .min_by(|a, b| {
                        steer::dist_sq(a.pos, [x, 5.0]).total_cmp(&steer::dist_sq(b.pos, [x, 5.0]))
                    })
                    .map(|m| m.id);
                if let Some(id) = near {
                    herd.hit(id, 30, 1, step * TICK);
                }
            }
            log.extend(run(&mut herd, &players, step * TICK, 1));
            for m in herd.iter() {
                let reach = wolf.leash_radius + wolf.attack_range + wolf.speed * MAX_DT;
                assert!(
                    steer::dist_sq(m.pos, m.spawn) <= reach * reach,
                    "a wolf left its leash: {m:?}"
                );
            }
        }
        log
    };
    let first = script(11);
    assert!(first.len() > 100, "something happened: {}", first.len());
    assert_eq!(first, script(11), "the same seed replays the same fight");
    assert_ne!(first, script(12), "another seed, another fight");
}

#[test]
fn a_kind_with_an_unknown_behaviour_is_refused_at_its_row() {
    let mut data = one_area("wolf", 1);
    data.monsters[1].behaviour = "berserk".into();
    data.monsters[1].origin.line = 16;
    data.monsters[1].origin.file = "monsters.json".into();
    let e = match Herd::spawn(&data, 1, 50.0, 0, |_| true) {
        Ok(_) => panic!("refused"),
        Err(e) => e,
    };
    assert_eq!(e.line, 16);
    assert!(e.path.ends_with("behaviour"), "{e}");
    assert!(e.message.contains("melee, passive"), "{e}");
}

#[test]
fn a_spawn_area_whose_kind_was_never_resolved_is_refused_not_a_panic() {
    let mut data = one_area("wolf", 1);
    data.spawns[0].kind = 99;
    match Herd::spawn(&data, 1, 50.0, 0, |_| true) {
        Ok(_) => panic!("refused"),
        Err(e) => assert!(e.message.contains("no monster kind with id 99"), "{e}"),
    }
}

#[test]
fn every_region_draws_the_same_ids_and_keeps_its_own() {
    let data = GameData::parse(&BUILT_IN).expect("valid");
    let west = Herd::spawn(&data, 5, 50.0, 0, |p| p[0] < 0.0).expect("spawns");
    let east = Herd::spawn(&data, 5, 50.0, 0, |p| p[0] >= 0.0).expect("spawns");
    let all = Herd::spawn(&data, 5, 50.0, 0, |_| true).expect("spawns");
    assert_eq!(west.len() + east.len(), all.len());
    for m in west.iter().chain(east.iter()) {
        assert_eq!(all.get(m.id).map(|a| a.pos), Some(m.pos), "{:?}", m.id);
    }
}

/// A region keeps its monsters in its stripe: a wolf after a player across the edge stops
/// at the edge, and says nothing more while it pushes against it.
#[test]
fn a_herd_kept_within_bounds_stops_at_the_edge_and_stays_quiet_there() {
    let data = one_area("wolf", 1);
    let mut herd = Herd::spawn(&data, 2, 50.0, 0, |_| true).expect("spawns");
    let (id, home) = {
        let m = herd.iter().next().expect("one");
        (m.id, m.spawn)
    };
    let edge = home[0] + 5.0;
    herd.keep_within([-100.0, -100.0], [edge, 100.0]);
    // Across the edge, within aggro (14) and leash (35) of home, out of reach.
    let players = Players(vec![(4, [home[0] + 13.0, home[1]], true)]);
    let log = run(&mut herd, &players, 0, 40);
    let moves: Vec<[f32; 2]> = log
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Moved { monster, pos } if *monster == id => Some(*pos),
            _ => None,
        })
        .collect();
    assert!(!moves.is_empty(), "it went after the player: {log:?}");
    assert!(moves.iter().all(|p| p[0] <= edge), "{moves:?}");
    assert_eq!(herd.get(id).expect("there").pos[0], edge, "at the edge");
    let more = run(&mut herd, &players, 4_000, 20);
    assert!(
        !more.iter().any(|(_, e)| matches!(e, Event::Moved { .. })),
        "pushing against the edge is no move: {more:?}"
    );
    // Wandering (the only player near is dead), it never leaves the box either.
    let mut herd = Herd::spawn(&data, 3, 50.0, 0, |_| true).expect("spawns");
    herd.keep_within([0.0, 0.0], [3.0, 3.0]);
    let near_home = Players(vec![(4, [1.0, 1.0], false)]);
    for (_, e) in run(&mut herd, &near_home, 0, 300) {
        if let Event::Moved { pos, .. } = e {
            assert!(
                (0.0..=3.0).contains(&pos[0]) && (0.0..=3.0).contains(&pos[1]),
                "{pos:?}"
            );
        }
    }
}
