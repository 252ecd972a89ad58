//! The binary refuses cluster flags that cannot work, before binding anything: exit status
//! 2, what is wrong, and the usage line.

use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_game-server"))
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .output()
        .expect("game-server runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_cluster_file_with_an_overlap_or_a_gap_is_a_usage_error() {
    let dir = std::env::temp_dir().join(format!("cluster-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let overlap = dir.join("overlap.json");
    std::fs::write(
        &overlap,
        r#"{"nats": "nats://127.0.0.1:1", "nodes": [{"id": 0, "regions": [0, 1]}, {"id": 1, "regions": [1]}]}"#,
    )
    .expect("write");
    let gap = dir.join("gap.json");
    std::fs::write(
        &gap,
        r#"{"nats": "nats://127.0.0.1:1", "nodes": [{"id": 0, "regions": [0]}, {"id": 1, "regions": [2]}]}"#,
    )
    .expect("write");
    for (file, says) in [
        (&overlap, "region 1 is owned by two nodes"),
        (&gap, "region 1 is owned by no node"),
    ] {
        let path = file.to_string_lossy();
        let (code, err) = run(&[
            "--world",
            "grid",
            "--regions",
            "3",
            "--cluster",
            &path,
            "--node-id",
            "0",
        ]);
        assert_eq!(code, Some(2), "refused as a usage error: {err}");
        assert!(err.contains(says), "says what is wrong ({says}): {err}");
        assert!(err.contains("Usage:"), "and prints the usage: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_cluster_flags_are_usage_errors() {
    for (args, says) in [
        (
            &[
                "--world",
                "grid",
                "--regions",
                "2",
                "--nats",
                "nats://127.0.0.1:1",
                "--own-regions",
                "0,2",
            ][..],
            "region 2 does not exist",
        ),
        (
            &["--nats", "nats://127.0.0.1:1", "--own-regions", "0"],
            "needs world mode",
        ),
        (&["--own-regions", "0"], "--nats"),
        (
            &[
                "--world",
                "grid",
                "--nats",
                "nats://127.0.0.1:1",
                "--own-regions",
                "one",
            ],
            "expected region numbers",
        ),
    ] {
        let (code, err) = run(args);
        assert_eq!(code, Some(2), "{args:?} refused: {err}");
        assert!(err.contains(says), "{args:?} says {says:?}: {err}");
    }
}
