//! Reading the game data files: the app's half of `game/data` (files in, checked tables
//! out). `--data DIR` reads the four files there, each required. Without it, `data/` under
//! the working directory is read if it has them (the repository's, when the server runs
//! from a checkout, so an edit there takes effect), else the copies built into the binary.
//!
//! A table that is wrong is always an error. Tables that are right but do not fit the world
//! (a spawn area off a smaller `--map-size`, a skill that reaches beyond a smaller
//! `--inner-radius`) are an error when they were asked for with `--data`; the shipped ones,
//! made for the default world, are then left out with a warning, and the world runs with
//! players only.

use std::path::{Path, PathBuf};

use crate::game::ai::Herd;
use crate::game::data::{DataError, GameData, Source, Sources, BUILT_IN, FILES};

/// Where the tables came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataFrom {
    /// A folder of files.
    Dir(PathBuf),
    /// The copies built into the binary.
    BuiltIn,
}

/// The folder read when `--data` is not given.
pub const DEFAULT_DIR: &str = "data";

/// What world mode runs with.
#[derive(Debug)]
pub enum WorldData {
    /// These tables.
    Tables(GameData, DataFrom),
    /// None: the shipped tables do not fit this world (the reason, for the log).
    PlayersOnly(DataError),
}

/// The tables for a world of `map_size` whose view radius is `view_radius`, read from
/// `dir` (`--data`) or the default (see the module comment).
pub fn for_world(
    dir: Option<&Path>,
    map_size: f32,
    view_radius: f32,
) -> Result<WorldData, DataError> {
    let (data, from) = load(dir)?;
    // Behaviours are code: a kind naming one there is not is refused here, at its row,
    // rather than when the world starts.
    Herd::spawn(&data, 0, view_radius, 0, |_| false)?;
    match data.fits_world(map_size, view_radius) {
        Ok(()) => Ok(WorldData::Tables(data, from)),
        Err(e) if dir.is_none() => Ok(WorldData::PlayersOnly(e)),
        Err(e) => Err(e),
    }
}

/// Reads and checks the tables from `dir`, or as the module comment says when `None`.
pub fn load(dir: Option<&Path>) -> Result<(GameData, DataFrom), DataError> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => {
            let default = Path::new(DEFAULT_DIR);
            if !default.join(FILES[0]).is_file() {
                return Ok((GameData::parse(&BUILT_IN)?, DataFrom::BuiltIn));
            }
            default.to_path_buf()
        }
    };
    let mut texts = Vec::with_capacity(FILES.len());
    for file in FILES {
        let path = dir.join(file);
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| DataError::unreadable(&shown, e))?;
        texts.push((shown, text));
    }
    let src = |i: usize| Source {
        file: &texts[i].0,
        text: &texts[i].1,
    };
    let data = GameData::parse(&Sources {
        monsters: src(0),
        skills: src(1),
        players: src(2),
        spawns: src(3),
    })?;
    Ok((data, DataFrom::Dir(dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_read_whole_and_its_errors_name_its_files() {
        let dir = std::env::temp_dir().join(format!("game-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let texts = [
            BUILT_IN.monsters.text,
            BUILT_IN.skills.text,
            BUILT_IN.players.text,
            BUILT_IN.spawns.text,
        ];
        for (file, text) in FILES.iter().zip(texts) {
            std::fs::write(dir.join(file), text).expect("written");
        }
        let (data, from) = load(Some(&dir)).expect("loads");
        assert_eq!(from, DataFrom::Dir(dir.clone()));
        let built_in = GameData::parse(&BUILT_IN).expect("valid");
        assert_eq!(data.summary(), built_in.summary());
        assert_eq!(data.monsters[2].name, built_in.monsters[2].name);
        assert_eq!(
            data.monsters[2].origin.file,
            dir.join("monsters.json").display().to_string(),
            "errors found later name the file that was read"
        );

        std::fs::write(dir.join("skills.json"), "[{\"id\": 1}]").expect("written");
        let e = load(Some(&dir)).expect_err("incomplete row");
        assert!(e
            .to_string()
            .starts_with(&format!("{}:1:", dir.join("skills.json").display())));
        assert!(e.message.contains("missing field `name`"), "{e}");

        // Right but for another world: an error when asked for, players only by default.
        std::fs::write(dir.join("skills.json"), BUILT_IN.skills.text).expect("written");
        let e = for_world(Some(&dir), 300.0, 40.0).expect_err("off a 300 map");
        assert!(e.to_string().contains("off the map"), "{e}");
        assert!(matches!(
            for_world(None, 300.0, 40.0),
            Ok(WorldData::PlayersOnly(_))
        ));
        assert!(matches!(
            for_world(Some(&dir), 1000.0, 40.0),
            Ok(WorldData::Tables(..))
        ));

        std::fs::remove_file(dir.join("spawns.json")).expect("removed");
        let e = load(Some(&dir)).expect_err("missing file");
        assert!(e.to_string().contains("spawns.json: cannot read"), "{e}");
        std::fs::remove_dir_all(&dir).expect("cleaned");
    }
}
