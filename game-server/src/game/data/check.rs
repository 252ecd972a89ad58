//! The rules a parsed table must meet, each failure an error at the row (and field) that
//! breaks it. The bounds are wide enough for any game and narrow enough that no value can
//! overflow the arithmetic of the rules that use it (HP, experience, timers in ms).

use std::collections::HashMap;

use super::error::{DataError, Origin};
use super::tables::{MonsterKind, PlayerRules, Skill, SpawnArea};

/// Most hit points, damage or attack bonus any row may have.
pub const MAX_POINTS: u32 = 10_000_000;
/// Longest distance (radius, range) any row may have, in world units.
pub const MAX_DISTANCE: f32 = 1000.0;
/// Fastest monster, in units per second.
pub const MAX_SPEED: f32 = 100.0;
/// Shortest cooldown: a skill or attack faster than 20 a second would only load the server.
pub const MIN_COOLDOWN_MS: u32 = 50;
/// Longest cooldown or respawn time: one day.
pub const MAX_TIME_MS: u32 = 86_400_000;
/// Most monsters one spawn area may hold, and all of them together.
pub const MAX_PER_AREA: u32 = 100_000;
/// See [`MAX_PER_AREA`].
pub const MAX_MONSTERS: u32 = 1_000_000;
/// Most levels.
pub const MAX_LEVELS: usize = 1000;

fn need(
    ok: bool,
    origin: &Origin,
    field: &str,
    message: impl Into<String>,
) -> Result<(), DataError> {
    if ok {
        Ok(())
    } else {
        Err(DataError::at(origin, field, message))
    }
}

fn distance(value: f32, origin: &Origin, field: &str, zero_ok: bool) -> Result<(), DataError> {
    let low_ok = if zero_ok { value >= 0.0 } else { value > 0.0 };
    need(
        value.is_finite() && low_ok && value <= MAX_DISTANCE,
        origin,
        field,
        format!(
            "{value} is not a distance: use a number {} {MAX_DISTANCE}",
            if zero_ok {
                "from 0 to"
            } else {
                "above 0, at most"
            }
        ),
    )
}

fn points(value: u32, origin: &Origin, field: &str, min: u32) -> Result<(), DataError> {
    need(
        (min..=MAX_POINTS).contains(&value),
        origin,
        field,
        format!("{value} is out of range {min}..={MAX_POINTS}"),
    )
}

fn millis(value: u32, origin: &Origin, field: &str, min: u32) -> Result<(), DataError> {
    need(
        (min..=MAX_TIME_MS).contains(&value),
        origin,
        field,
        format!("{value} ms is out of range {min}..={MAX_TIME_MS}"),
    )
}

/// Lowercase ASCII letters, digits and `_`, a letter first, 1 to 32 characters: safe in
/// logs, metrics labels and file names, and the same in every client language.
fn name(value: &str, origin: &Origin) -> Result<(), DataError> {
    let ok = (1..=32).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    need(
        ok,
        origin,
        "name",
        format!("{value:?} is not a name: 1 to 32 of a-z, 0-9 and '_', a letter first"),
    )
}

/// Ids from 1, names valid; both unique in the table.
fn unique<'a>(
    rows: impl Iterator<Item = (u16, &'a str, &'a Origin)>,
    table: &str,
) -> Result<(), DataError> {
    let mut ids: HashMap<u16, usize> = HashMap::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (id, row_name, origin) in rows {
        need(
            id >= 1,
            origin,
            "id",
            "ids start at 1 (0 means none on the wire)",
        )?;
        name(row_name, origin)?;
        if let Some(first) = ids.insert(id, origin.line) {
            return Err(DataError::at(
                origin,
                "id",
                format!("{table} id {id} is taken (line {first})"),
            ));
        }
        if let Some(first) = names.insert(row_name, origin.line) {
            return Err(DataError::at(
                origin,
                "name",
                format!("{table} name {row_name:?} is taken (line {first})"),
            ));
        }
    }
    Ok(())
}

pub(super) fn monsters(kinds: &[MonsterKind]) -> Result<(), DataError> {
    unique(
        kinds.iter().map(|k| (k.id, k.name.as_str(), &k.origin)),
        "monster",
    )?;
    for k in kinds {
        let o = &k.origin;
        points(k.hp, o, "hp", 1)?;
        points(k.damage, o, "damage", 0)?;
        need(
            k.speed.is_finite() && k.speed > 0.0 && k.speed <= MAX_SPEED,
            o,
            "speed",
            format!("{} is not a speed: above 0, at most {MAX_SPEED}", k.speed),
        )?;
        distance(k.wander_radius, o, "wander_radius", true)?;
        distance(k.aggro_radius, o, "aggro_radius", true)?;
        distance(k.leash_radius, o, "leash_radius", false)?;
        distance(k.attack_range, o, "attack_range", false)?;
        need(
            k.leash_radius >= k.aggro_radius && k.leash_radius >= k.wander_radius,
            o,
            "leash_radius",
            format!(
                "{} must be at least aggro_radius ({}) and wander_radius ({}): else it would \
                 give up on a target as soon as it took it, or wander where it leashes back",
                k.leash_radius, k.aggro_radius, k.wander_radius
            ),
        )?;
        millis(
            k.attack_cooldown_ms,
            o,
            "attack_cooldown_ms",
            MIN_COOLDOWN_MS,
        )?;
        millis(k.respawn_ms, o, "respawn_ms", 0)?;
        points(k.exp, o, "exp", 0)?;
    }
    Ok(())
}

pub(super) fn skills(skills: &[Skill]) -> Result<(), DataError> {
    unique(
        skills.iter().map(|s| (s.id, s.name.as_str(), &s.origin)),
        "skill",
    )?;
    for s in skills {
        distance(s.range, &s.origin, "range", false)?;
        millis(s.cooldown_ms, &s.origin, "cooldown_ms", MIN_COOLDOWN_MS)?;
        points(s.damage, &s.origin, "damage", 1)?;
    }
    Ok(())
}

pub(super) fn players(rules: &PlayerRules, file: &Origin) -> Result<(), DataError> {
    millis(rules.respawn_ms, file, "respawn_ms", 0)?;
    need(
        !rules.levels.is_empty() && rules.levels.len() <= MAX_LEVELS,
        file,
        "levels",
        format!("from 1 to {MAX_LEVELS} levels, level 1 first"),
    )?;
    let last = rules.levels.len();
    for (i, level) in rules.levels.iter().enumerate() {
        let o = &level.origin;
        need(
            level.level as usize == i + 1,
            o,
            "level",
            format!(
                "expected level {} here: levels go 1, 2, 3, ... in order",
                i + 1
            ),
        )?;
        points(level.max_hp, o, "max_hp", 1)?;
        points(level.attack, o, "attack", 0)?;
        match (i + 1 == last, level.exp_to_next) {
            (false, Some(exp)) => points(exp, o, "exp_to_next", 1)?,
            (false, None) => {
                return Err(DataError::at(
                    o,
                    "exp_to_next",
                    "missing: every level but the last needs it",
                ))
            }
            (true, Some(_)) => {
                return Err(DataError::at(
                    o,
                    "exp_to_next",
                    "the last level has no next: remove it, or add the level after",
                ))
            }
            (true, None) => {}
        }
    }
    Ok(())
}

/// Checks the spawn areas and resolves each one's kind.
pub(super) fn spawns(areas: &mut [SpawnArea], kinds: &[MonsterKind]) -> Result<(), DataError> {
    let mut total: u64 = 0;
    for area in areas.iter_mut() {
        let o = &area.origin;
        let Some(kind) = kinds.iter().find(|k| k.name == area.monster) else {
            let known: Vec<&str> = kinds.iter().map(|k| k.name.as_str()).collect();
            return Err(DataError::at(
                o,
                "monster",
                format!(
                    "no monster kind {:?} in monsters.json (it has: {})",
                    area.monster,
                    known.join(", ")
                ),
            ));
        };
        area.kind = kind.id;
        need(
            (1..=MAX_PER_AREA).contains(&area.count),
            o,
            "count",
            format!("{} is out of range 1..={MAX_PER_AREA}", area.count),
        )?;
        let r = area.area;
        let finite = r.min.iter().chain(&r.max).all(|v| v.is_finite());
        need(
            finite && r.min[0] <= r.max[0] && r.min[1] <= r.max[1],
            o,
            "area",
            "min must be at or below max, in x and in z",
        )?;
        total += u64::from(area.count);
        need(
            total <= u64::from(MAX_MONSTERS),
            o,
            "count",
            format!("more than {MAX_MONSTERS} monsters in all"),
        )?;
    }
    Ok(())
}
