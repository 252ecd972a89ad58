//! Golden tests of the C# emitter: the files generated from tests/golden/csharp.json (every
//! field type, a keyword field, a named struct, an inline struct with a list inside it, an
//! explicit id and direction, an empty packet), compared byte for byte with the files under
//! tests/golden/csharp/. Run with `UPDATE_GOLDEN=1` to accept a deliberate change, then
//! review the diff. That the generated C# compiles and round-trips is checked with Mono in
//! game-server/tests/csharp_bytes.rs and tests/csharp.rs.

use std::fs;
use std::path::Path;

use packet_gen::{Config, Role, StringEncoding};

fn check(config: &Config, golden_dir: &str, expected_names: [&str; 2]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let files = config
        .generate_csharp(dir.join("csharp.json"))
        .unwrap_or_else(|e| panic!("csharp.json should generate: {e}"));
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, expected_names, "the files a C# project expects");
    let out = dir.join("csharp").join(golden_dir);
    for file in files {
        let path = out.join(&file.name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            fs::create_dir_all(&out).expect("create the golden dir");
            fs::write(&path, &file.content)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            continue;
        }
        let expected = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
                path.display()
            )
        });
        assert!(
            file.content == expected,
            "generated {} differs from {}; if the change is intended, rerun with \
             UPDATE_GOLDEN=1 and review the diff",
            file.name,
            path.display()
        );
    }
}

#[test]
fn client_output_matches_golden() {
    check(
        Config::new().role(Role::Client),
        "client",
        ["GenPackets.cs", "ClientPacketManager.cs"],
    );
}

#[test]
fn server_output_with_utf8_strings_matches_golden() {
    check(
        Config::new()
            .role(Role::Server)
            .string_encoding_override(StringEncoding::Utf8),
        "server_utf8",
        ["GenPackets.cs", "ServerPacketManager.cs"],
    );
}

#[test]
fn course_names_and_signatures_are_kept() {
    let files = Config::new()
        .role(Role::Client)
        .generate_csharp(Path::new(env!("CARGO_MANIFEST_DIR")).join("../packets.json"))
        .expect("packets.json generates");
    let packets = &files[0].content;
    let manager = &files[1].content;
    for expected in [
        "public enum PacketID",
        "S_PlayerList = 4,",
        "public interface IPacket",
        "ushort Protocol { get; }",
        "void Read(ArraySegment<byte> segment);",
        "ArraySegment<byte> Write();",
        "public class S_PlayerList : IPacket",
        "public List<Player> players = new List<Player>();",
        "    public class Player",
        "public bool isSelf;",
        "public float posX;",
        "SendBufferHelper.Open(size);",
        "return SendBufferHelper.Close(size);",
    ] {
        assert!(
            packets.contains(expected),
            "GenPackets.cs should contain {expected:?}"
        );
    }
    for expected in [
        "public class PacketManager",
        "public static PacketManager Instance",
        "public void Register()",
        "public void OnRecvPacket(PacketSession session, ArraySegment<byte> buffer, \
         Action<PacketSession, IPacket> onRecvCallback = null)",
        "public void HandlePacket(PacketSession session, IPacket packet)",
        "PacketHandler.S_PlayerListHandler;",
    ] {
        assert!(
            manager.contains(expected),
            "ClientPacketManager.cs should contain {expected:?}"
        );
    }
    assert!(
        !manager.contains("C_Move"),
        "the client manager dispatches only S_ packets"
    );
}
