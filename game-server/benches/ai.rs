//! The monsters' AI and the combat rules alone, without sockets: a region's herd of 10,000
//! monsters on the default 1000 x 1000 map, ticked with no player near (the cost of a
//! monster nobody sees), and with players spread over the map (monsters near them wander,
//! chase and hit); and one skill-use check. What a region thread adds per monster per tick.
//!
//! Run: `cargo bench -p game-server --bench ai`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use game_server::game::ai::{Event, Herd, Senses};
use game_server::game::combat::{check_use, Combatant, Cooldowns, SkillUse};
use game_server::game::data::{GameData, Rect, SpawnArea, BUILT_IN};
use rand::{Rng, SeedableRng};
use rustc_hash::FxHashMap;

const MONSTERS: u32 = 10_000;
const VIEW: f32 = 50.0;
const TICK_MS: u64 = 100;

/// Player ids and positions, by grid cell.
type Cells = FxHashMap<(i32, i32), Vec<(i32, [f32; 2])>>;

/// Players in a grid of view-radius cells, as a region's interest grid would answer.
struct Grid {
    cells: Cells,
    by_id: FxHashMap<i32, [f32; 2]>,
    positions: Vec<[f32; 2]>,
}

fn cell(p: [f32; 2]) -> (i32, i32) {
    ((p[0] / VIEW).floor() as i32, (p[1] / VIEW).floor() as i32)
}

impl Grid {
    fn new(players: usize, seed: u64) -> Grid {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut grid = Grid {
            cells: FxHashMap::default(),
            by_id: FxHashMap::default(),
            positions: Vec::new(),
        };
        for id in 1..=players as i32 {
            let p = [rng.gen_range(-500.0..500.0), rng.gen_range(-500.0..500.0)];
            grid.cells.entry(cell(p)).or_default().push((id, p));
            grid.by_id.insert(id, p);
            grid.positions.push(p);
        }
        grid
    }
}

impl Senses for Grid {
    fn nearest_player(&self, pos: [f32; 2], radius: f32) -> Option<(i32, [f32; 2])> {
        let (cx, cz) = cell(pos);
        let mut best: Option<(i32, [f32; 2], f32)> = None;
        for dx in -1..=1 {
            for dz in -1..=1 {
                for &(id, at) in self.cells.get(&(cx + dx, cz + dz)).into_iter().flatten() {
                    let d = (at[0] - pos[0]).powi(2) + (at[1] - pos[1]).powi(2);
                    if d <= radius * radius && best.is_none_or(|b| d < b.2) {
                        best = Some((id, at, d));
                    }
                }
            }
        }
        best.map(|(id, at, _)| (id, at))
    }

    fn player(&self, id: i32) -> Option<[f32; 2]> {
        self.by_id.get(&id).copied()
    }
}

/// The built-in kinds, `MONSTERS` of them spread over the whole map, a third of each kind.
fn data() -> GameData {
    let mut data = GameData::parse(&BUILT_IN).expect("valid");
    let whole = Rect {
        min: [-500.0, -500.0],
        max: [500.0, 500.0],
    };
    data.spawns = data
        .monsters
        .iter()
        .map(|k| SpawnArea {
            monster: k.name.clone(),
            count: MONSTERS / 3,
            area: whole,
            kind: k.id,
            origin: Default::default(),
        })
        .collect();
    data
}

fn herd_ticks(c: &mut Criterion) {
    let data = data();
    let mut group = c.benchmark_group("ai_tick");
    group.measurement_time(Duration::from_secs(5));
    for players in [0usize, 1_000, 10_000] {
        let grid = Grid::new(players, 1);
        let mut herd = Herd::spawn(&data, 7, VIEW, 0, |_| true).expect("spawns");
        let monsters = herd.len() as u64;
        // Per monster per tick: the figure the issue asks for.
        group.throughput(Throughput::Elements(monsters));
        let mut now = 0;
        let mut events: Vec<Event> = Vec::new();
        group.bench_function(format!("{monsters}_monsters_{players}_players"), |b| {
            b.iter(|| {
                now += TICK_MS;
                events.clear();
                herd.tick(now, &grid.positions, &grid, &mut events);
                black_box(events.len())
            })
        });
    }
    group.finish();
}

fn skill_checks(c: &mut Criterion) {
    let data = GameData::parse(&BUILT_IN).expect("valid");
    let strike = data.skill(1).expect("strike");
    let mut now = 0u64;
    c.bench_function("combat_check_use", |b| {
        let mut cooldowns = Cooldowns::default();
        b.iter(|| {
            now += 1_000;
            let use_ = SkillUse {
                skill: Some(strike),
                user: Combatant {
                    pos: [0.0, 0.0],
                    alive: true,
                },
                target: Some(Combatant {
                    pos: [1.0, 1.0],
                    alive: true,
                }),
                in_view: true,
                now_ms: now,
            };
            black_box(check_use(black_box(&use_), &mut cooldowns))
        })
    });
}

criterion_group!(benches, herd_ticks, skill_checks);
criterion_main!(benches);
