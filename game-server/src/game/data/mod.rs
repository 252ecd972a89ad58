//! Game data: the tables a world's content is made of, read from JSON files (`data/` in the
//! repository, or `--data DIR`) and checked before the server starts.
//!
//! - `monsters.json`: monster kinds ([`MonsterKind`]);
//! - `skills.json`: the skills players use ([`Skill`]);
//! - `players.json`: players' respawn time and base stats per level ([`PlayerRules`]);
//! - `spawns.json`: how many monsters of which kind live where ([`SpawnArea`]).
//!
//! Adding a monster kind, a skill or a spawn area is a row in a file, nothing else. Every
//! refusal names the file, the line and the JSON path (`error.rs`); unknown fields and
//! broken references are refused. Parsing is sans-I/O (text in, tables out): the app reads
//! the files, and the copies in the repository are built in for a server started from
//! elsewhere.

mod check;
mod error;
mod locate;
mod tables;

use serde::Deserialize;
use serde_json::value::RawValue;

pub use check::{MAX_DISTANCE, MAX_MONSTERS, MIN_COOLDOWN_MS};
pub use error::{DataError, Origin};
pub use locate::Source;
pub use tables::{Level, MonsterKind, PlayerRules, Rect, Skill, SpawnArea};

/// The file names in a data directory, in the order they are read.
pub const FILES: [&str; 4] = [
    "monsters.json",
    "skills.json",
    "players.json",
    "spawns.json",
];

/// The four files' texts, each with the name to show in errors.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// `monsters.json`.
    pub monsters: Source<'a>,
    /// `skills.json`.
    pub skills: Source<'a>,
    /// `players.json`.
    pub players: Source<'a>,
    /// `spawns.json`.
    pub spawns: Source<'a>,
}

/// The repository's `data/`, built into the binary.
pub const BUILT_IN: Sources<'static> = Sources {
    monsters: Source {
        file: "<built-in>/monsters.json",
        text: include_str!("../../../../data/monsters.json"),
    },
    skills: Source {
        file: "<built-in>/skills.json",
        text: include_str!("../../../../data/skills.json"),
    },
    players: Source {
        file: "<built-in>/players.json",
        text: include_str!("../../../../data/players.json"),
    },
    spawns: Source {
        file: "<built-in>/spawns.json",
        text: include_str!("../../../../data/spawns.json"),
    },
};

/// Every table, checked: ids and names unique, values in range, references resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct GameData {
    /// Monster kinds, as listed.
    pub monsters: Vec<MonsterKind>,
    /// Skills, as listed.
    pub skills: Vec<Skill>,
    /// Players' rules and levels.
    pub players: PlayerRules,
    /// Spawn areas, each with its kind resolved.
    pub spawns: Vec<SpawnArea>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlayersFile<'a> {
    respawn_ms: u32,
    #[serde(borrow)]
    levels: Vec<&'a RawValue>,
}

/// The rows of a file that is one JSON array, each parsed with its place.
fn table<T: serde::de::DeserializeOwned>(
    src: Source<'_>,
    root: &str,
    named: impl Fn(&T) -> Option<&str>,
    mut keep: impl FnMut(&mut T, Origin),
) -> Result<Vec<T>, DataError> {
    let raws: Vec<&RawValue> = locate::whole(src, root)?;
    rows(src, root, &raws, named, &mut keep)
}

fn rows<T: serde::de::DeserializeOwned>(
    src: Source<'_>,
    root: &str,
    raws: &[&RawValue],
    named: impl Fn(&T) -> Option<&str>,
    keep: &mut impl FnMut(&mut T, Origin),
) -> Result<Vec<T>, DataError> {
    raws.iter()
        .enumerate()
        .map(|(i, raw)| {
            let (mut row, mut origin): (T, Origin) = locate::row(src, format!("{root}[{i}]"), raw)?;
            if let Some(name) = named(&row) {
                origin.path = format!("{root}[{i}] {name:?}");
            }
            keep(&mut row, origin);
            Ok(row)
        })
        .collect()
}

impl GameData {
    /// Parses and checks the four files.
    pub fn parse(sources: &Sources<'_>) -> Result<GameData, DataError> {
        let monsters = table(
            sources.monsters,
            "monsters",
            |k: &MonsterKind| Some(k.name.as_str()),
            |k, o| k.origin = o,
        )?;
        check::monsters(&monsters)?;
        let skills = table(
            sources.skills,
            "skills",
            |s: &Skill| Some(s.name.as_str()),
            |s, o| s.origin = o,
        )?;
        check::skills(&skills)?;
        let file: PlayersFile<'_> = locate::whole(sources.players, "players")?;
        let levels = rows(
            sources.players,
            "players.levels",
            &file.levels,
            |_: &Level| None,
            &mut |l: &mut Level, o| l.origin = o,
        )?;
        let players = PlayerRules {
            respawn_ms: file.respawn_ms,
            levels,
        };
        let whole_file = Origin {
            file: sources.players.file.to_owned(),
            line: 1,
            path: "players".into(),
        };
        check::players(&players, &whole_file)?;
        let mut spawns = table(
            sources.spawns,
            "spawns",
            |_: &SpawnArea| None,
            |a, o| a.origin = o,
        )?;
        check::spawns(&mut spawns, &monsters)?;
        Ok(GameData {
            monsters,
            skills,
            players,
            spawns,
        })
    }

    /// Checks the tables against the world they will run in: every spawn area on the map
    /// (which spans `-map_size / 2 ..= map_size / 2` in x and z), and every distance at
    /// which something acts on a target (a skill's range, a monster's aggro radius and
    /// attack range) within `view_radius`, the distance at which players come into view:
    /// the server acts only on what the actor sees.
    pub fn fits_world(&self, map_size: f32, view_radius: f32) -> Result<(), DataError> {
        let half = map_size / 2.0;
        for area in &self.spawns {
            let r = area.area;
            let on_map = [r.min, r.max]
                .iter()
                .all(|c| c.iter().all(|v| (-half..=half).contains(v)));
            if !on_map {
                return Err(DataError::at(
                    &area.origin,
                    "area",
                    format!(
                        "off the map, which spans {}..={half} in x and z (--map-size): \
                         give --data DIR with spawn areas for this map",
                        -half
                    ),
                ));
            }
        }
        let too_far = |d: f32| d > view_radius;
        let why = |d: f32| {
            format!("{d} is beyond the view radius {view_radius}: a target must be in view")
        };
        for s in &self.skills {
            if too_far(s.range) {
                return Err(DataError::at(&s.origin, "range", why(s.range)));
            }
        }
        for k in &self.monsters {
            if too_far(k.aggro_radius) {
                return Err(DataError::at(
                    &k.origin,
                    "aggro_radius",
                    why(k.aggro_radius),
                ));
            }
            if too_far(k.attack_range) {
                return Err(DataError::at(
                    &k.origin,
                    "attack_range",
                    why(k.attack_range),
                ));
            }
        }
        Ok(())
    }

    /// The kind with id `id`.
    pub fn monster(&self, id: u16) -> Option<&MonsterKind> {
        self.monsters.iter().find(|k| k.id == id)
    }

    /// The skill with id `id`.
    pub fn skill(&self, id: u16) -> Option<&Skill> {
        self.skills.iter().find(|s| s.id == id)
    }

    /// Monsters the spawn areas place, in all.
    /// These tables with one spawn area only: `count` monsters of the kind named `monster`
    /// in `area` (for tests and benches that want monsters in one place). `None` if there
    /// is no such kind.
    pub fn with_one_area(mut self, monster: &str, count: u32, area: Rect) -> Option<GameData> {
        let kind = self.monsters.iter().find(|k| k.name == monster)?.id;
        self.spawns = vec![SpawnArea {
            monster: monster.to_owned(),
            count,
            area,
            kind,
            origin: Origin::default(),
        }];
        Some(self)
    }

    /// Monsters the spawn areas hold in all.
    pub fn monster_count(&self) -> u64 {
        self.spawns.iter().map(|a| u64::from(a.count)).sum()
    }

    /// One line for the log: what was loaded.
    pub fn summary(&self) -> String {
        format!(
            "{} monster kinds, {} skills, {} levels, {} spawn areas ({} monsters)",
            self.monsters.len(),
            self.skills.len(),
            self.players.levels.len(),
            self.spawns.len(),
            self.monster_count()
        )
    }
}

#[cfg(test)]
mod tests;
