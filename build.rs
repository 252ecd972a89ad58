//! Generates the all-types test schema (packet-gen/tests/schemas/all_types.json) in Rust,
//! once per string encoding, for the cross-language byte test in tests/csharp_bytes.rs:
//! Rust encodes and decodes there what the generated C# decodes and encodes.
//! Nothing but that test includes these files.

use packet_gen::{Config, Role, StringEncoding};

fn main() {
    let all_types = "packet-gen/tests/schemas/all_types.json";
    Config::new()
        .role(Role::Server)
        .string_encoding_override(StringEncoding::Utf16Le)
        .out_file_name("all_types_utf16.rs")
        .compile_in_build_script(all_types);
    Config::new()
        .role(Role::Server)
        .string_encoding_override(StringEncoding::Utf8)
        .out_file_name("all_types_utf8.rs")
        .compile_in_build_script(all_types);
}
