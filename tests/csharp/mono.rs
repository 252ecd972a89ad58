//! Mono for the C# tests: finding `mcs` and `mono` (or saying loudly why a test is
//! skipped), generating C# with packet-gen, compiling it, and running it with a deadline.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use packet_gen::{Config, Role, StringEncoding};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Mono compiler and runtime.
pub struct Mono {
    mcs: PathBuf,
    mono: PathBuf,
}

impl Mono {
    /// Both programs, or `None` after printing a SKIPPED line. When the environment variable
    /// CI is set a missing program fails the test instead: CI installs Mono (.ci/run).
    pub fn find(test: &str) -> Option<Mono> {
        let mut found = Vec::new();
        for (program, package) in [("mcs", "mono-mcs"), ("mono", "mono-runtime")] {
            match which(program) {
                Some(path) => found.push(path),
                None => {
                    let message = format!(
                        "SKIPPED: {test}: '{program}' not found; install Debian package {package}"
                    );
                    if std::env::var_os("CI").is_some() {
                        panic!("{message} (CI is set, so this is a failure)");
                    }
                    // Straight to the stderr handle, not eprintln!: the test harness
                    // captures the macros' output of passing tests, and a skip must be seen.
                    let bang = "!".repeat(80);
                    let _ = writeln!(std::io::stderr(), "\n{bang}\n{message}\n{bang}\n");
                    return None;
                }
            }
        }
        let mono = found.pop()?;
        let mcs = found.pop()?;
        Some(Mono { mcs, mono })
    }

    /// Compiles `sources` into `exe` (a console program) with C# 7.2, the newest language
    /// level mcs knows (so the code is also valid 7.3, Unity's), warnings as errors, and only
    /// the System assemblies a Unity project has.
    pub fn compile(&self, exe: &Path, sources: &[PathBuf]) {
        let output = Command::new(&self.mcs)
            .args([
                "-langversion:7.2",
                "-nologo",
                "-warnaserror+",
                "-debug-",
                "-r:System.dll",
                "-r:System.Core.dll",
            ])
            .arg(format!("-out:{}", exe.display()))
            .args(sources)
            .output()
            .unwrap_or_else(|e| panic!("running mcs: {e}"));
        assert!(
            output.status.success(),
            "mcs should compile {}:\n{}{}",
            exe.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Runs `exe` with `args`; kills it and fails the test if it runs past `deadline`.
    pub fn run(&self, exe: &Path, args: &[String], deadline: Duration) -> Output {
        let mut child = Command::new(&self.mono)
            .arg("--debug")
            .arg(exe)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running mono: {e}"));
        // Readers on their own threads so a chatty program cannot block on a full pipe.
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let out = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stdout.read_to_end(&mut text);
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text);
            text
        });
        let start = Instant::now();
        let status = loop {
            match child.try_wait().expect("waiting for mono") {
                Some(status) => break status,
                None if start.elapsed() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let out = out.join().unwrap_or_default();
                    panic!(
                        "{} ran past {deadline:?} and was killed; its output:\n{}",
                        exe.display(),
                        String::from_utf8_lossy(&out)
                    );
                }
                // A test helper waiting on a child: a short sleep is simpler than a
                // platform wait-with-timeout and costs nothing measurable.
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A fresh directory for one test's generated and compiled files, under cargo's
/// per-package temp dir (inside `target/`, so nothing lands in the source tree).
pub fn work_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("csharp")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Generates C# for `schema` into `out` and returns the files.
pub fn generate(
    schema: &Path,
    role: Role,
    encoding: Option<StringEncoding>,
    out: &Path,
) -> Vec<PathBuf> {
    let mut config = Config::new();
    config.role(role);
    if let Some(encoding) = encoding {
        config.string_encoding_override(encoding);
    }
    config.compile_csharp(schema, out).unwrap_or_else(|e| {
        panic!(
            "packet-gen should generate C# for {}: {e}",
            schema.display()
        )
    })
}

/// The `.cs` files directly inside `dir`, sorted.
pub fn sources_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "cs"))
        .collect();
    files.sort();
    files
}

/// The C# client runtime (namespace ServerCore).
pub fn runtime_sources() -> Vec<PathBuf> {
    sources_in(&root().join("clients/csharp/ServerCore"))
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_source(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}
