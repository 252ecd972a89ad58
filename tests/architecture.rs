//! The house's layers, checked on every `cargo test --workspace`.
//!
//! For every crate of the workspace this reads the sources (test modules left out, as in
//! `../shared/tools/module_cycles.py`), resolves each `crate::`, `super::` and `self::` path to
//! the file that defines the module it names, and fails on:
//!
//! - a circle of imports between files;
//! - a circle between the units of a layer (a layer's sub-modules, such as `game::world` and
//!   `game::room`, or a crate's top-level modules where it has no layer table);
//! - an import from a lower layer into a higher one, by the layer tables written in
//!   `docs/ARCHITECTURE.md` (between `<!-- layers: CRATE -->` and `<!-- /layers -->`), and
//!   any file of such a crate that no row of its table places.
//!
//! The checker itself is tested on small made-up crates at the bottom, so a check that could
//! not fail would show there.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// A module path inside a crate: `["game", "world", "grid"]`; empty for the crate root.
type ModPath = Vec<String>;

/// One source file of a crate: where it is (relative to `src/`) and its text.
struct Source {
    rel: String,
    text: String,
}

/// One row of a layer table: its rank (higher may import lower), its name and the module
/// paths it holds (`app`, `game::world`; the empty path is the crate root).
#[derive(Debug)]
struct Layer {
    rank: u32,
    name: String,
    modules: Vec<ModPath>,
}

/// What the checker found wrong in one crate, one line each.
fn check_crate(crate_name: &str, sources: &[Source], layers: Option<&[Layer]>) -> Vec<String> {
    let mut problems = Vec::new();
    let mods = module_map(sources);
    let edges = import_edges(sources, &mods);

    // Circles between files.
    let files: Vec<&str> = sources.iter().map(|s| s.rel.as_str()).collect();
    for comp in circles(&files, &edges) {
        let mut line = format!("{crate_name}: circle of {} files:", comp.len());
        for a in &comp {
            for (b, names) in edges.get(a).into_iter().flatten() {
                if comp.contains(b) {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    let _ = write!(line, "\n    {a} -> {b}: {}", names.join(", "));
                }
            }
        }
        problems.push(line);
    }

    let module_of = |rel: &str| -> ModPath { file_module(rel) };
    match layers {
        None => {
            // Circles between top-level modules.
            let unit = |rel: &str| module_of(rel).first().cloned();
            problems.extend(unit_circles(crate_name, &edges, unit));
        }
        Some(layers) => {
            let place = |m: &ModPath| -> Option<(&Layer, ModPath)> {
                layers
                    .iter()
                    .flat_map(|l| l.modules.iter().map(move |p| (l, p)))
                    // The root (`lib.rs`) holds only itself, not every module under it.
                    .filter(|(_, p)| m.starts_with(p) && (!p.is_empty() || m.is_empty()))
                    .max_by_key(|(_, p)| p.len())
                    .map(|(l, p)| (l, p.clone()))
            };
            for s in sources {
                if place(&module_of(&s.rel)).is_none() {
                    problems.push(format!(
                        "{crate_name}: src/{} is in no layer of docs/ARCHITECTURE.md's table",
                        s.rel
                    ));
                }
            }
            for (a, targets) in &edges {
                let Some((la, _)) = place(&module_of(a)) else {
                    continue;
                };
                for (b, names) in targets {
                    let Some((lb, _)) = place(&module_of(b)) else {
                        continue;
                    };
                    if lb.rank > la.rank {
                        let names: Vec<&str> = names.iter().map(String::as_str).collect();
                        problems.push(format!(
                            "{crate_name}: src/{a} (layer {} {}) imports src/{b} (layer {} {}): \
                             {}; a lower layer never names a higher one",
                            la.rank,
                            la.name,
                            lb.rank,
                            lb.name,
                            names.join(", ")
                        ));
                    }
                }
            }
            // Circles between the units of a layer: the module one level below a table row.
            let unit = |rel: &str| {
                let m = module_of(rel);
                let (_, at) = place(&m)?;
                Some(m[..(at.len() + 1).min(m.len())].join("::"))
            };
            problems.extend(unit_circles(crate_name, &edges, unit));
        }
    }
    problems
}

/// Circles in the graph of files grouped by `unit` (files without a unit are left out).
fn unit_circles(
    crate_name: &str,
    edges: &Edges,
    unit: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut unit_edges: Edges = BTreeMap::new();
    let mut via: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut units = BTreeSet::new();
    for (a, targets) in edges {
        let Some(ua) = unit(a) else { continue };
        units.insert(ua.clone());
        for b in targets.keys() {
            let Some(ub) = unit(b) else { continue };
            units.insert(ub.clone());
            if ua != ub && !ua.is_empty() && !ub.is_empty() {
                unit_edges
                    .entry(ua.clone())
                    .or_default()
                    .entry(ub.clone())
                    .or_default();
                via.entry((ua.clone(), ub.clone()))
                    .or_default()
                    .push(format!("{a} -> {b}"));
            }
        }
    }
    let units: Vec<&str> = units.iter().map(String::as_str).collect();
    circles(&units, &unit_edges)
        .into_iter()
        .map(|comp| {
            let mut line = format!("{crate_name}: circle of modules {}:", comp.join(" <-> "));
            for a in &comp {
                for b in unit_edges.get(a).into_iter().flat_map(BTreeMap::keys) {
                    if comp.contains(b) {
                        let files = &via[&(a.clone(), b.clone())];
                        let _ = write!(line, "\n    {a} -> {b}: {}", files.join("; "));
                    }
                }
            }
            line
        })
        .collect()
}

/// file -> file it imports -> the names that tie them.
type Edges = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// The module a file defines: `world/region/mod.rs` -> `world::region`, `lib.rs` -> root.
fn file_module(rel: &str) -> ModPath {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Module path -> file.
fn module_map(sources: &[Source]) -> BTreeMap<ModPath, String> {
    sources
        .iter()
        .map(|s| (file_module(&s.rel), s.rel.clone()))
        .collect()
}

fn import_edges(sources: &[Source], mods: &BTreeMap<ModPath, String>) -> Edges {
    let mut edges: Edges = BTreeMap::new();
    for s in sources {
        let here = file_module(&s.rel);
        let text = strip_comments(&strip_test_modules(&s.text));
        let mut found = paths(&text);
        // `use child::Item;` in a module file names its own child module without `self::`.
        for path in bare_use_paths(&text) {
            let mut child = here.clone();
            child.push(path[0].clone());
            if mods.contains_key(&child) {
                found.push((PathKind::Self_, path));
            }
        }
        for (kind, path) in found {
            let mut base: ModPath = match kind {
                PathKind::Crate => Vec::new(),
                PathKind::Self_ => here.clone(),
                PathKind::Super => {
                    // `super` of `a/foo.rs` (a::foo) and of `a/mod.rs` (a) alike: drop one.
                    let mut b = here.clone();
                    b.pop();
                    b
                }
            };
            let mut rest = path.as_slice();
            while let Some(("super", tail)) = rest.split_first().map(|(h, t)| (h.as_str(), t)) {
                base.pop();
                rest = tail;
            }
            base.extend(rest.iter().cloned());
            let Some((target, left)) = resolve(mods, &base) else {
                continue;
            };
            let tfile = &mods[&target];
            if *tfile == s.rel {
                continue;
            }
            let name = left
                .first()
                .or(target.last())
                .cloned()
                .unwrap_or_else(|| "crate".to_owned());
            edges
                .entry(s.rel.clone())
                .or_default()
                .entry(tfile.clone())
                .or_default()
                .insert(name);
        }
    }
    edges
}

/// The deepest module that prefixes `full`, and what is left of the path after it.
fn resolve(mods: &BTreeMap<ModPath, String>, full: &[String]) -> Option<(ModPath, ModPath)> {
    (0..=full.len())
        .rev()
        .find(|&k| mods.contains_key(&full[..k]))
        .map(|k| (full[..k].to_vec(), full[k..].to_vec()))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PathKind {
    Crate,
    Self_,
    Super,
}

/// Every `crate::a::b`, `super::x`, `self::y` path in `text`, groups (`crate::{a, b::{c}}`)
/// expanded into one path per item.
fn paths(text: &str) -> Vec<(PathKind, Vec<String>)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let word_start = i == 0 || !is_ident(bytes[i - 1]);
        let kind = if !word_start {
            None
        } else if bytes[i..].starts_with(b"crate::") {
            Some((PathKind::Crate, 5))
        } else if bytes[i..].starts_with(b"super::") {
            Some((PathKind::Super, 5))
        } else if bytes[i..].starts_with(b"self::") {
            Some((PathKind::Self_, 4))
        } else {
            None
        };
        let Some((kind, len)) = kind else {
            i += 1;
            continue;
        };
        let (items, end) = path_tail(text, i + len, Vec::new());
        out.extend(items.into_iter().map(|p| (kind, p)));
        i = end.max(i + len);
    }
    out
}

/// Reads `::seg::seg` or `::{group}` from `at`; returns every full path and where it ended.
fn path_tail(text: &str, mut at: usize, mut prefix: Vec<String>) -> (Vec<Vec<String>>, usize) {
    let bytes = text.as_bytes();
    loop {
        if !bytes[at..].starts_with(b"::") {
            return (vec![prefix], at);
        }
        at += 2;
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at < bytes.len() && bytes[at] == b'{' {
            let close = matching_brace(text, at);
            let mut all = Vec::new();
            for item in split_top_level(&text[at + 1..close]) {
                let item = item.trim();
                if item.is_empty() {
                    continue;
                }
                if item == "self" || item == "*" {
                    all.push(prefix.clone());
                    continue;
                }
                // `a::b`, `a::{..}`, `a as b`: read its own path from the item's text.
                let name_end = item
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(item.len());
                let mut p = prefix.clone();
                p.push(item[..name_end].to_owned());
                let (sub, _) = path_tail(item, name_end, p);
                all.extend(sub);
            }
            return (all, close + 1);
        }
        let start = at;
        while at < bytes.len() && is_ident(bytes[at]) {
            at += 1;
        }
        if start == at {
            return (vec![prefix], at);
        }
        prefix.push(text[start..at].to_owned());
    }
}

/// The paths of private `use a::b;` statements that start with a plain name (not `crate`,
/// `super`, `self` or `::`): each may name a child module of the file's own module. A
/// `pub use child::Item` is left out: it is the module's facade (its children's items under
/// its name), not code of the module that depends on the child, and a child that
/// implements its parent's trait (`super::Trait`) is the usual shape, not a circle.
fn bare_use_paths(text: &str) -> Vec<Vec<String>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(k) = text[at..].find("use ") {
        let start = at + k;
        at = start + 4;
        if start > 0 && is_ident(bytes[start - 1]) {
            continue;
        }
        let before = text[..start].trim_end();
        if before.ends_with("pub") || before.ends_with(')') {
            continue; // `pub use`, `pub(crate) use`
        }
        let rest = text[at..].trim_start();
        let offset = text.len() - rest.len();
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let first = &rest[..end];
        if first.is_empty() || ["crate", "super", "self"].contains(&first) {
            continue;
        }
        let (paths, _) = path_tail(text, offset + end, vec![first.to_owned()]);
        out.extend(paths);
    }
    out
}

fn matching_brace(text: &str, open: usize) -> usize {
    let mut depth = 0;
    for (k, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + k;
                }
            }
            _ => {}
        }
    }
    text.len()
}

fn split_top_level(group: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&group[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    out.push(&group[start..]);
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The text without `#[cfg(test)] mod name { ... }` blocks (a `mod tests;` file is skipped
/// by its name).
fn strip_test_modules(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let is_mod_block = trimmed
            .strip_prefix("mod ")
            .or_else(|| trimmed.strip_prefix("pub(crate) mod "))
            .and_then(|m| m.find(['{', ';']).map(|k| (m, k)))
            .filter(|(m, k)| m.as_bytes()[*k] == b'{');
        match is_mod_block {
            Some(_) => {
                let open = after.find('{').unwrap_or(0);
                let close = matching_brace(after, open);
                rest = &after[(close + 1).min(after.len())..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// The text without `//` and `/* */` comments (doc comments included: a doc link is not an
/// import).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let line = rest.find("//");
        let block = rest.find("/*");
        match (line, block) {
            (None, None) => {
                out.push_str(rest);
                return out;
            }
            (Some(l), b) if b.is_none_or(|b| l < b) => {
                out.push_str(&rest[..l]);
                rest = rest[l..].find('\n').map_or("", |e| &rest[l + e..]);
            }
            (_, Some(b)) => {
                out.push_str(&rest[..b]);
                rest = rest[b..].find("*/").map_or("", |e| &rest[b + e + 2..]);
            }
            (Some(_), None) => unreachable!(),
        }
    }
}

/// Strongly connected components of more than one node (Tarjan), each sorted.
fn circles(nodes: &[&str], edges: &Edges) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        edges: &'a Edges,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on: BTreeSet<String>,
        out: Vec<Vec<String>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: &str) {
            let n = self.index.len();
            self.index.insert(v.to_owned(), n);
            self.low.insert(v.to_owned(), n);
            self.stack.push(v.to_owned());
            self.on.insert(v.to_owned());
            let next: Vec<String> = self
                .edges
                .get(v)
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            for w in next {
                if !self.index.contains_key(&w) {
                    self.visit(&w);
                    let lw = self.low[&w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on.contains(&w) {
                    let iw = self.index[&w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(&w);
                    let done = w == v;
                    comp.push(w);
                    if done {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.out.push(comp);
                }
            }
        }
    }
    let mut t = Tarjan {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for n in nodes {
        if !t.index.contains_key(*n) {
            t.visit(n);
        }
    }
    t.out
}

/// The layer tables of `docs/ARCHITECTURE.md`, by crate. A table is the markdown table
/// between `<!-- layers: CRATE -->` and `<!-- /layers -->`; each row's first cell starts
/// with the layer's rank and name (`2 runtime`), its second lists its modules in backticks
/// (`` `game::world` ``; `` `lib.rs` `` is the crate root).
fn layer_tables(doc: &str) -> Result<BTreeMap<String, Vec<Layer>>, String> {
    let mut tables = BTreeMap::new();
    let mut rest = doc;
    while let Some(at) = rest.find("<!-- layers: ") {
        let after = &rest[at + "<!-- layers: ".len()..];
        let name_end = after.find(" -->").ok_or("unclosed <!-- layers: -->")?;
        let crate_name = after[..name_end].trim().to_owned();
        let body_end = after
            .find("<!-- /layers -->")
            .ok_or_else(|| format!("no <!-- /layers --> after the {crate_name} table"))?;
        let mut layers = Vec::new();
        for line in after[name_end..body_end].lines() {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
            if cells.len() < 2 {
                continue;
            }
            let first = cells[0].trim();
            let Some((rank, name)) = first.split_once(' ') else {
                continue;
            };
            let Ok(rank) = rank.parse::<u32>() else {
                continue;
            };
            let modules: Vec<ModPath> = cells[1]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(|m| {
                    if m == "lib.rs" || m == "main.rs" {
                        Vec::new()
                    } else {
                        m.split("::").map(str::to_owned).collect()
                    }
                })
                .collect();
            if modules.is_empty() {
                return Err(format!("{crate_name}: layer `{first}` lists no module"));
            }
            layers.push(Layer {
                rank,
                name: name.trim().to_owned(),
                modules,
            });
        }
        if layers.is_empty() {
            return Err(format!("{crate_name}: the layer table has no rows"));
        }
        tables.insert(crate_name, layers);
        rest = &after[body_end..];
    }
    Ok(tables)
}

fn read_sources(src: &Path) -> Vec<Source> {
    fn walk(dir: &Path, src: &Path, out: &mut Vec<Source>) {
        let mut entries: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, src, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(src)
                    .expect("under src")
                    .to_string_lossy()
                    .replace('\\', "/");
                // A `tests` module is test code, as in module_cycles.py.
                if rel == "tests.rs" || rel.ends_with("/tests.rs") {
                    continue;
                }
                let text =
                    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                out.push(Source { rel, text });
            }
        }
    }
    let mut out = Vec::new();
    walk(src, src, &mut out);
    // A crate with a library: `main.rs` is a second crate root that reaches the library only
    // by its public name, so its `crate::` paths are not the library's.
    if out.iter().any(|s| s.rel == "lib.rs") {
        out.retain(|s| s.rel != "main.rs");
    }
    out
}

#[test]
fn the_workspace_has_no_import_circle_and_keeps_its_layer_tables() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc_path = root.join("docs/ARCHITECTURE.md");
    let doc = fs::read_to_string(&doc_path).expect("docs/ARCHITECTURE.md");
    let tables = layer_tables(&doc).unwrap_or_else(|e| panic!("docs/ARCHITECTURE.md: {e}"));
    for must in ["game-server", "server-core"] {
        assert!(
            tables.contains_key(must),
            "docs/ARCHITECTURE.md has no layer table for {must}"
        );
    }
    let mut problems = Vec::new();
    let mut crates = 0;
    for entry in fs::read_dir(root).expect("workspace root") {
        let dir = entry.expect("entry").path();
        if !dir.join("Cargo.toml").is_file() || !dir.join("src").is_dir() {
            continue;
        }
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let sources = read_sources(&dir.join("src"));
        crates += 1;
        problems.extend(check_crate(
            &name,
            &sources,
            tables.get(&name).map(Vec::as_slice),
        ));
    }
    assert!(
        crates >= 5,
        "found only {crates} crates under {}",
        root.display()
    );
    assert!(
        problems.is_empty(),
        "the layers of docs/ARCHITECTURE.md are broken:\n{}",
        problems.join("\n")
    );
}

#[cfg(test)]
mod checker {
    //! The checker on made-up crates: each rule must catch what it is for.

    use super::*;

    fn crate_of(files: &[(&str, &str)]) -> Vec<Source> {
        files
            .iter()
            .map(|(rel, text)| Source {
                rel: (*rel).to_owned(),
                text: (*text).to_owned(),
            })
            .collect()
    }

    const TABLE: &str = "\
<!-- layers: demo -->
| layer | modules | may import |
|---|---|---|
| 3 wiring | `lib.rs`, `app` | all below |
| 2 runtime | `runtime` | 1 |
| 1 rules | `rules` | itself |
<!-- /layers -->
";

    fn layers() -> Vec<Layer> {
        layer_tables(TABLE)
            .expect("table")
            .remove("demo")
            .expect("demo")
    }

    #[test]
    fn a_clean_crate_passes() {
        let files = crate_of(&[
            ("lib.rs", "mod app; mod rules; mod runtime;"),
            (
                "app/mod.rs",
                "use crate::runtime::Run; use crate::rules::{grid::Grid, Rule};",
            ),
            ("runtime/mod.rs", "use crate::rules::Rule;"),
            ("rules/mod.rs", "pub mod grid; pub struct Rule;"),
            (
                "rules/grid.rs",
                "use super::Rule; // crate::app::X in a comment is no import",
            ),
        ]);
        assert_eq!(
            check_crate("demo", &files, Some(&layers())),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_circle_between_files_fails() {
        let files = crate_of(&[
            ("lib.rs", ""),
            ("a.rs", "use crate::b::B; pub struct A;"),
            ("b.rs", "fn f() -> crate::a::A { todo!() } pub struct B;"),
        ]);
        let problems = check_crate("demo", &files, None);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("circle of 2 files") && p.contains("a.rs -> b.rs")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_circle_between_modules_fails_even_without_a_file_circle() {
        // a/x.rs -> b/y.rs and b/z.rs -> a/w.rs: no two files import each other.
        let files = crate_of(&[
            ("lib.rs", ""),
            ("a/mod.rs", ""),
            ("a/x.rs", "use crate::b::y::Y;"),
            ("a/w.rs", "pub struct W;"),
            ("b/mod.rs", ""),
            ("b/y.rs", "pub struct Y;"),
            ("b/z.rs", "use crate::a::{w::W};"),
        ]);
        let problems = check_crate("demo", &files, None);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("circle of modules a <-> b")),
            "{problems:?}"
        );
    }

    #[test]
    fn an_import_up_the_layers_fails() {
        let files = crate_of(&[
            ("lib.rs", ""),
            ("app/mod.rs", ""),
            ("runtime/mod.rs", "pub struct Run;"),
            ("rules/mod.rs", "use crate::{runtime::Run};"),
        ]);
        let problems = check_crate("demo", &files, Some(&layers()));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("src/rules/mod.rs (layer 1 rules) imports src/runtime/mod.rs")),
            "{problems:?}"
        );
    }

    #[test]
    fn super_paths_resolve_to_the_parent_module() {
        let files = crate_of(&[
            ("lib.rs", ""),
            ("rules/mod.rs", "pub mod grid;"),
            ("rules/grid.rs", "use super::super::runtime::Run;"),
            ("runtime/mod.rs", "pub struct Run;"),
        ]);
        let problems = check_crate("demo", &files, Some(&layers()));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("src/rules/grid.rs (layer 1 rules) imports src/runtime")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_bare_use_of_a_child_module_is_an_import_too() {
        // rules/mod.rs uses its child without `self::`; the child imports its parent.
        let files = crate_of(&[
            ("lib.rs", ""),
            (
                "rules/mod.rs",
                "mod grid;\nuse grid::{Grid};\npub struct Rule;",
            ),
            ("rules/grid.rs", "use super::Rule; pub struct Grid;"),
        ]);
        let problems = check_crate("demo", &files, None);
        assert!(
            problems.iter().any(|p| p.contains("circle of 2 files")),
            "{problems:?}"
        );
        // A bare `use` of something that is not a child module (an external crate) is not,
        // and neither is a parent's `pub use` facade.
        let files = crate_of(&[("lib.rs", "use std::sync::Arc; use bytes::Bytes;")]);
        assert_eq!(check_crate("demo", &files, None), Vec::<String>::new());
        let files = crate_of(&[
            ("lib.rs", ""),
            (
                "rules/mod.rs",
                "mod grid;\npub use grid::Grid;\npub struct Rule;",
            ),
            ("rules/grid.rs", "use super::Rule; pub struct Grid;"),
        ]);
        assert_eq!(check_crate("demo", &files, None), Vec::<String>::new());
    }

    #[test]
    fn a_file_in_no_layer_fails() {
        let files = crate_of(&[("lib.rs", ""), ("stray.rs", "")]);
        let problems = check_crate("demo", &files, Some(&layers()));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("src/stray.rs is in no layer")),
            "{problems:?}"
        );
    }

    #[test]
    fn test_modules_are_not_imports() {
        let files = crate_of(&[
            ("lib.rs", ""),
            (
                "rules/mod.rs",
                "pub struct R;\n#[cfg(test)]\nmod tests {\n use crate::app::X; fn f() { if true {} }\n}\n",
            ),
            ("app/mod.rs", "pub struct X;"),
        ]);
        assert_eq!(
            check_crate("demo", &files, Some(&layers())),
            Vec::<String>::new()
        );
    }
}
