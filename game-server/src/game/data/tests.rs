//! The shipped tables load, and every kind of mistake in a file is refused at its place.

use super::*;

/// The built-in files with `from` replaced by `to` in the one named `file`.
fn edited(file: &str, from: &str, to: &str) -> Result<GameData, DataError> {
    let mut texts: Vec<String> = [
        BUILT_IN.monsters,
        BUILT_IN.skills,
        BUILT_IN.players,
        BUILT_IN.spawns,
    ]
    .iter()
    .map(|s| s.text.to_owned())
    .collect();
    let at = FILES.iter().position(|f| *f == file).expect("a data file");
    assert!(texts[at].contains(from), "{file} has {from:?}");
    texts[at] = texts[at].replacen(from, to, 1);
    let src = |i: usize| Source {
        file: FILES[i],
        text: &texts[i],
    };
    GameData::parse(&Sources {
        monsters: src(0),
        skills: src(1),
        players: src(2),
        spawns: src(3),
    })
}

/// The line of the first `needle` in the built-in `file`.
fn line_of(file: &str, needle: &str) -> usize {
    let text = [
        BUILT_IN.monsters,
        BUILT_IN.skills,
        BUILT_IN.players,
        BUILT_IN.spawns,
    ][FILES.iter().position(|f| *f == file).expect("a data file")]
    .text;
    let at = text.find(needle).expect("present");
    text[..at].matches('\n').count() + 1
}

fn refused(file: &str, from: &str, to: &str) -> DataError {
    match edited(file, from, to) {
        Ok(_) => panic!("{file}: {from:?} -> {to:?} should be refused"),
        Err(e) => {
            assert_eq!(e.file, file, "{e}");
            e
        }
    }
}

#[test]
fn the_shipped_tables_load_and_fit_the_default_world() {
    let data = GameData::parse(&BUILT_IN).expect("data/ is valid");
    assert_eq!(data.monsters.len(), 3);
    assert_eq!(data.monster(2).map(|k| k.name.as_str()), Some("wolf"));
    assert_eq!(data.skill(1).map(|s| s.name.as_str()), Some("strike"));
    assert_eq!(data.spawns[1].kind, 2, "references resolved to ids");
    assert_eq!(data.players.level(0).level, 1);
    assert_eq!(data.players.level(99).level, 10);
    assert_eq!(
        data.monsters[1].origin.line,
        line_of("monsters.json", "\"id\": 2") - 1
    );
    assert_eq!(data.monsters[1].origin.path, "monsters[1] \"wolf\"");
    data.fits_world(1000.0, 40.0)
        .expect("fits the default world");
    assert!(
        data.summary().contains("3 monster kinds"),
        "{}",
        data.summary()
    );
}

#[test]
fn unknown_fields_and_wrong_types_are_refused_at_their_line() {
    let e = refused("monsters.json", "\"hp\": 120", "\"hpp\": 120");
    assert_eq!(e.line, line_of("monsters.json", "\"hp\": 120"), "{e}");
    assert_eq!(e.path, "monsters[1].hpp", "{e}");
    assert!(e.message.contains("unknown field `hpp`"), "{e}");

    let e = refused("skills.json", "\"damage\": 25", "\"damage\": \"lots\"");
    assert_eq!(e.line, line_of("skills.json", "\"damage\": 25"), "{e}");
    assert_eq!(e.path, "skills[1].damage", "{e}");

    let e = refused("monsters.json", "\"hp\": 600", "\"hp\": -1");
    assert_eq!(e.path, "monsters[2].hp", "{e}");

    let e = refused("players.json", "\"respawn_ms\": 5000", "\"respawn\": 5000");
    assert_eq!((e.line, e.path.as_str()), (2, "players.respawn"), "{e}");

    let e = refused("spawns.json", "\"min\": [-50.0, 300.0]", "\"min\": [-50.0]");
    assert_eq!(e.path, "spawns[3].area.min", "{e}");
}

#[test]
fn broken_json_is_refused_with_line_and_column() {
    let e = refused("skills.json", "\"range\": 2.5,", "\"range\": 2.5");
    assert_eq!(
        e.line,
        line_of("skills.json", "\"cooldown_ms\": 1000"),
        "{e}"
    );
    assert!(e.column.is_some(), "{e}");
    assert!(e.path.starts_with("skills[0]"), "{e}");
    let e = refused("spawns.json", "[", "");
    assert_eq!(e.line, 2, "{e}");
}

#[test]
fn broken_references_and_duplicates_name_the_row() {
    let e = refused(
        "spawns.json",
        "\"monster\": \"golem\"",
        "\"monster\": \"gollum\"",
    );
    assert_eq!(
        e.line,
        line_of("spawns.json", "\"monster\": \"golem\"") - 1,
        "{e}"
    );
    assert_eq!(e.path, "spawns[3].monster", "{e}");
    assert!(e.message.contains("no monster kind \"gollum\""), "{e}");
    assert!(e.message.contains("slime, wolf, golem"), "{e}");

    let e = refused("monsters.json", "\"id\": 3", "\"id\": 1");
    assert_eq!(e.path, "monsters[2] \"golem\".id", "{e}");
    assert!(e.message.contains("taken (line 2)"), "{e}");
    let e = refused("skills.json", "\"name\": \"arrow\"", "\"name\": \"strike\"");
    assert!(e.message.contains("name \"strike\" is taken"), "{e}");
    let e = refused("skills.json", "\"id\": 1", "\"id\": 0");
    assert_eq!(e.path, "skills[0] \"strike\".id", "{e}");
}

#[test]
fn values_out_of_range_are_refused() {
    let cases = [
        (
            "monsters.json",
            "\"leash_radius\": 20.0",
            "\"leash_radius\": 7.0",
            "leash_radius",
        ),
        ("monsters.json", "\"speed\": 2.5", "\"speed\": 0", "speed"),
        (
            "monsters.json",
            "\"attack_cooldown_ms\": 1500",
            "\"attack_cooldown_ms\": 1",
            "attack_cooldown_ms",
        ),
        (
            "monsters.json",
            "\"name\": \"slime\"",
            "\"name\": \"Slime King\"",
            "name",
        ),
        (
            "monsters.json",
            "\"attack_range\": 1.5",
            "\"attack_range\": 1e40",
            "attack_range",
        ),
        ("skills.json", "\"range\": 20.0", "\"range\": 0.0", "range"),
        ("skills.json", "\"damage\": 15", "\"damage\": 0", "damage"),
        ("spawns.json", "\"count\": 400", "\"count\": 0", "count"),
        (
            "spawns.json",
            "\"min\": [-200.0, -200.0]",
            "\"min\": [300.0, -200.0]",
            "area",
        ),
        ("players.json", "\"level\": 3,", "\"level\": 4,", "level"),
        (
            "players.json",
            ", \"exp_to_next\": 120",
            "",
            "players.levels[1].exp_to_next",
        ),
        (
            "players.json",
            "\"attack\": 36",
            "\"attack\": 36, \"exp_to_next\": 9",
            "exp_to_next",
        ),
        ("players.json", "\"max_hp\": 100", "\"max_hp\": 0", "max_hp"),
    ];
    for (file, from, to, field) in cases {
        let e = refused(file, from, to);
        assert!(e.path.ends_with(field), "{from} -> {to}: {e}");
        assert!(e.line > 1, "{e}");
    }
    let e = refused("players.json", "\"levels\": [", "\"levels\": [], \"x\": [");
    assert!(e.message.contains("unknown field `x`"), "{e}");
}

#[test]
fn the_world_check_refuses_areas_off_the_map_and_reach_beyond_view() {
    let data = GameData::parse(&BUILT_IN).expect("valid");
    let e = data
        .fits_world(600.0, 40.0)
        .expect_err("wolves at 450 are off a 600 map");
    assert_eq!(e.path, "spawns[1].area", "{e}");
    assert_eq!(
        e.line,
        line_of("spawns.json", "\"monster\": \"wolf\"") - 1,
        "{e}"
    );
    let e = data.fits_world(1000.0, 10.0).expect_err("arrows reach 20");
    assert_eq!(e.path, "skills[1] \"arrow\".range", "{e}");
    let far_sighted = edited(
        "monsters.json",
        "\"aggro_radius\": 14.0",
        "\"aggro_radius\": 35.0",
    )
    .expect("valid alone");
    let e = far_sighted
        .fits_world(1000.0, 30.0)
        .expect_err("wolves aggro at 35");
    assert_eq!(e.path, "monsters[1] \"wolf\".aggro_radius", "{e}");
}
