//! The `game-server` binary itself: flags, and a clean exit on SIGTERM with sessions open.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_game-server");

#[test]
fn help_lists_the_flags() {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("run game-server --help");
    assert!(out.status.success(), "--help exits 0");
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--addr", "--max-connections", "--tick-ms", "--log"] {
        assert!(help.contains(flag), "--help should mention {flag}:\n{help}");
    }
}

#[test]
fn bad_flags_print_usage_and_fail() {
    for args in [
        &["--tick-ms", "0"][..],
        &["--addr", "not-an-address"],
        &["--bogus"],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .output()
            .expect("run game-server");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} should be a usage error"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Usage"),
            "{args:?} should print usage, got:\n{err}"
        );
    }
}

#[test]
fn a_send_queue_limit_that_would_close_readers_is_refused_at_start() {
    // Before the rule, this started and then closed every player of a busy room as a slow
    // consumer: one flush batch (up to --max-pending-bytes, 1 MiB) passed the 64 KiB limit.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut child = Command::new(BIN)
        .args(["--addr", &addr.to_string(), "--send-queue-limit", "65536"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start game-server");
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("poll child") {
            break exit;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("game-server started with --send-queue-limit 65536 instead of refusing it");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut err);
    }
    assert_eq!(exit.code(), Some(2), "a usage error; stderr:\n{err}");
    assert!(
        err.contains("send queue limit of 65536 bytes is too small") && err.contains("Usage"),
        "the error should say which limit and why, then the usage:\n{err}"
    );

    // The same limit works once the batches and the room are small enough for it.
    let mut child = Command::new(BIN)
        .args([
            "--addr",
            &addr.to_string(),
            "--send-queue-limit",
            "65536",
            "--max-pending-bytes",
            "8192",
            "--max-connections",
            "1000",
            "--log",
            "warn",
            "--login",
            "off",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start game-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    let listened = loop {
        if TcpStream::connect(addr).is_ok() {
            break true;
        }
        if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        listened,
        "64 KiB with 8 KiB batches and 1000 players should start"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_closes_sessions_and_exits_zero_quickly() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut child = Command::new(BIN)
        .args([
            "--addr",
            &addr.to_string(),
            "--log",
            "warn",
            "--stats-secs",
            "0",
            "--db",
            &temp_db("sigterm"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start game-server");

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut client = loop {
        match TcpStream::connect(addr) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("game-server never listened on {addr}: {e}"),
        }
    };
    // The player list arrives: the session is in the room.
    let mut header = [0u8; 4];
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    client.read_exact(&mut header).expect("S_PlayerList header");
    assert_eq!(
        u16::from_le_bytes([header[2], header[3]]),
        4,
        "first packet is S_PlayerList"
    );

    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("poll child") {
            break exit;
        }
        if signalled.elapsed() > Duration::from_secs(3) {
            let _ = child.kill();
            panic!("game-server did not exit within 3 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        exit.success(),
        "SIGTERM is a clean shutdown: exit 0, got {exit:?}"
    );
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    assert!(
        client.read(&mut [0u8; 1]).map(|n| n == 0).unwrap_or(true),
        "the session was closed by the shutdown"
    );
}

#[test]
fn admin_flags_refuse_an_open_port_without_a_token() {
    for (args, says) in [
        (&["--admin", "0.0.0.0:0"][..], "--admin-token"),
        (
            &["--admin", "127.0.0.1:0", "--admin-token", "short"],
            "at least 16",
        ),
        (&["--admin-token", "0123456789abcdef0123"], "--admin"),
        (&["--admin", "not-an-address"], "invalid"),
    ] {
        let out = Command::new(BIN)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("GAME_SERVER_ADMIN_TOKEN")
            .output()
            .expect("run game-server");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} must not start the server:\n{err}"
        );
        assert!(
            err.contains(says) && err.contains("Usage"),
            "{args:?} should say {says:?} and print usage, got:\n{err}"
        );
    }
}

/// A database file in a fresh temp directory (the binary's default, `data/game.sqlite3`,
/// would land in the package's folder).
fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("binary-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("game.sqlite3").to_string_lossy().into_owned()
}

#[test]
fn a_database_that_cannot_be_used_is_one_line_and_exit_2_with_the_file_untouched() {
    let dir = std::env::temp_dir().join(format!("binary-baddb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let not_a_db = dir.join("notes.txt");
    std::fs::write(&not_a_db, "my notes, not a database\n".repeat(200)).expect("write");
    let before = std::fs::read(&not_a_db).expect("read");
    for (db, says) in [
        (
            not_a_db.to_string_lossy().into_owned(),
            "not a database this server can read",
        ),
        (
            "postgres://game:secret@127.0.0.1:1/mmo".to_owned(),
            "cannot open the database",
        ),
    ] {
        let out = Command::new(BIN)
            .args(["--addr", "127.0.0.1:0", "--db", &db])
            .output()
            .expect("run game-server");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{db}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "one line for {db}: {err}");
        assert!(lines[0].contains(says), "{db} should say {says:?}: {err}");
        assert!(
            !err.contains("secret"),
            "the password is never printed: {err}"
        );
    }
    assert_eq!(
        std::fs::read(&not_a_db).expect("read"),
        before,
        "nothing overwritten"
    );
}

/// A cluster's nodes share their accounts: logins with `--nats` need a PostgreSQL `--db`.
/// A SQLite file is refused with usage, before anything connects or is written.
#[test]
fn logins_in_a_cluster_on_sqlite_are_refused_at_start() {
    let db = temp_db("cluster-sqlite");
    let out = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--world", "grid", "--regions", "2"])
        .args([
            "--nats",
            "nats://127.0.0.1:1",
            "--node-id",
            "0",
            "--own-regions",
            "0",
        ])
        .args(["--login", "optional", "--db", &db])
        .output()
        .expect("run game-server");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("PostgreSQL") && err.contains("--login off"),
        "says why and what to do: {err}"
    );
    assert!(!std::path::Path::new(&db).exists(), "nothing written");
}

/// Issue 25: a game data file that cannot be used stops the start with one line naming the
/// file, the line and the JSON path; `--data` outside world mode is a usage error.
#[test]
fn bad_game_data_is_one_line_with_file_line_and_path_and_exit_2() {
    let repo_data = concat!(env!("CARGO_MANIFEST_DIR"), "/../data");
    let dir = std::env::temp_dir().join(format!("game-data-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for file in [
        "monsters.json",
        "skills.json",
        "players.json",
        "spawns.json",
    ] {
        let text = std::fs::read_to_string(format!("{repo_data}/{file}")).expect("repo data");
        let text = if file == "monsters.json" {
            text.replacen("\"hp\": 120", "\"hp\": 120, \"mana\": 5", 1)
        } else {
            text
        };
        std::fs::write(dir.join(file), text).expect("written");
    }
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(["--addr", "127.0.0.1:0", "--login", "off"])
            .args(args)
            .output()
            .expect("run game-server")
    };
    let dir_arg = dir.to_str().expect("utf-8 path");
    let out = run(&["--world", "grid", "--data", dir_arg]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = format!("error: {}:20:", dir.join("monsters.json").display());
    assert!(err.starts_with(&expected), "{err}");
    assert!(
        err.contains("monsters[1].mana: unknown field `mana`"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    // Tables asked for that do not fit a smaller map: said, with what to do.
    std::fs::write(
        dir.join("monsters.json"),
        std::fs::read_to_string(format!("{repo_data}/monsters.json")).expect("repo data"),
    )
    .expect("written");
    let out = run(&["--world", "grid", "--map-size", "300", "--data", dir_arg]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spawns.json:"), "{err}");
    assert!(err.contains("off the map"), "{err}");

    let out = run(&["--data", dir_arg]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--data needs world mode"), "{err}");
    assert!(err.contains("Usage"), "{err}");
    std::fs::remove_dir_all(&dir).expect("cleaned");
}
