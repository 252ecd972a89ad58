//! Generates the server's packet code from the workspace's `packets.json` into `OUT_DIR`.
//!
//! Editing `packets.json` and running `cargo build` is all it takes: cargo reruns this when
//! the schema or this file changes, and a schema error fails the build with its message.

use packet_gen::{Config, Role, StringEncoding};

fn main() {
    Config::new()
        .role(Role::Server)
        .compile_in_build_script("../packets.json");

    // The messages regions exchange (world/wire.rs), in the same frame and codec as the
    // game's packets, so they can cross processes (NATS) as they are.
    Config::new()
        .role(Role::Server)
        .out_file_name("regions.rs")
        .compile_in_build_script("regions.json");

    // A second schema with every field type, compiled in both string encodings, only for
    // the round-trip tests in tests/packets_all_types.rs. It is generated here because the
    // generated code needs a crate that depends on server-core, and generating costs
    // milliseconds; nothing outside the tests includes these files.
    let all_types = "../packet-gen/tests/schemas/all_types.json";
    Config::new()
        .role(Role::Server)
        .string_encoding_override(StringEncoding::Utf16Le)
        .out_file_name("all_types_utf16.rs")
        .compile_in_build_script(all_types);
    Config::new()
        .role(Role::Client)
        .string_encoding_override(StringEncoding::Utf8)
        .out_file_name("all_types_utf8.rs")
        .compile_in_build_script(all_types);
}
