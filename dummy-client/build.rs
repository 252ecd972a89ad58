//! Generates the client's packet code from the workspace's `packets.json` into `OUT_DIR`.
//!
//! Editing `packets.json` and running `cargo build` is all it takes: cargo reruns this when
//! the schema or this file changes, and a schema error fails the build with its message.

use packet_gen::{Config, Role};

fn main() {
    Config::new()
        .role(Role::Client)
        .compile_in_build_script("../packets.json");
}
