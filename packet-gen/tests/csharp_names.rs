//! C#-specific schema rules: keywords are escaped, and names C# cannot declare are schema
//! errors naming packets.json and the JSON path, not compiler errors in a Unity project.

use packet_gen::{Config, Role};

fn packets(packets: &str) -> String {
    format!(r#"{{ "string_encoding": "utf-16le", "packets": [{packets}] }}"#)
}

fn csharp(json: &str) -> Result<String, String> {
    Config::new()
        .role(Role::Client)
        .generate_csharp_str("packets.json", json)
        .map(|files| files[0].content.clone())
        .map_err(|e| e.to_string())
}

fn error(json: &str) -> String {
    match csharp(json) {
        Ok(_) => panic!("schema should have been refused:\n{json}"),
        Err(e) => e,
    }
}

#[test]
fn keyword_fields_are_escaped_with_at() {
    let code = csharp(&packets(
        r#"{ "name": "S_K", "fields": [ { "name": "class", "type": "i32" },
                                       { "name": "params", "type": "string" } ] }"#,
    ))
    .expect("keywords are escaped, not refused");
    assert!(code.contains("public int @class;"), "{code}");
    assert!(code.contains("this.@params = r.ReadStringUtf16(\"params\");"));
}

#[test]
fn a_field_named_like_a_generated_member_is_refused() {
    assert_eq!(
        error(&packets(
            r#"{ "name": "S_K", "fields": [ { "name": "Protocol", "type": "i32" } ] }"#
        )),
        r#"packets.json: packets[0] "S_K".fields[0] "Protocol": "Protocol" is reserved"#
    );
    assert_eq!(
        error(&packets(
            r#"{ "name": "S_K", "fields": [ { "name": "x", "type": "list", "of":
                 { "name": "Item", "fields": [ { "name": "Write", "type": "u8" } ] } } ] }"#
        )),
        r#"packets.json: packets[0] "S_K".fields[0] "x".of "Item".fields[0] "Write": "Write" is reserved"#
    );
}

#[test]
fn a_field_named_like_its_class_is_refused() {
    assert_eq!(
        error(&packets(
            r#"{ "name": "S_K", "fields": [ { "name": "S_K", "type": "i32" } ] }"#
        )),
        r#"packets.json: packets[0] "S_K".fields[0] "S_K": "S_K" clashes in C# with its own class "S_K": rename the field"#
    );
}

#[test]
fn a_field_named_like_a_nested_class_is_refused() {
    assert_eq!(
        error(&packets(
            r#"{ "name": "S_K", "fields": [ { "name": "Item", "type": "list", "of":
                 { "name": "Item", "fields": [ { "name": "id", "type": "u8" } ] } } ] }"#
        )),
        r#"packets.json: packets[0] "S_K".fields[0] "Item": "Item" clashes in C# with the nested class "Item": rename the field"#
    );
}

#[test]
fn type_names_the_csharp_files_use_are_refused() {
    for name in [
        "PacketReader",
        "Session",
        "Encoding",
        "Buffer",
        "System",
        "var",
    ] {
        let json = format!(
            r#"{{ "string_encoding": "utf-16le",
                "structs": [ {{ "name": "{name}", "fields": [ {{ "name": "a", "type": "u8" }} ] }} ],
                "packets": [ {{ "name": "S_K", "fields": [] }} ] }}"#
        );
        assert_eq!(
            error(&json),
            format!(r#"packets.json: structs[0] "{name}": "{name}" is reserved"#)
        );
    }
}

#[test]
fn the_rust_side_applies_the_same_rules() {
    // One validator for both languages: a schema that C# refuses does not build in Rust
    // either, so the two sides can never disagree about a packets.json.
    let json = packets(r#"{ "name": "S_K", "fields": [ { "name": "Read", "type": "i32" } ] }"#);
    let rust = Config::new()
        .generate_str("packets.json", &json)
        .expect_err("the Rust emitter refuses it too");
    assert_eq!(rust.to_string(), error(&json));
}

#[test]
fn inline_structs_are_nested_in_their_owner_and_named_by_path_elsewhere() {
    let code = csharp(
        r#"{ "string_encoding": "utf-8", "packets": [
          { "name": "S_A", "fields": [ { "name": "items", "type": "list", "of":
              { "name": "Item", "fields": [ { "name": "parts", "type": "list", "of":
                  { "name": "Part", "fields": [ { "name": "id", "type": "u8" } ] } } ] } } ] },
          { "name": "S_B", "fields": [ { "name": "part", "type": "Part" },
                                       { "name": "items", "type": "list", "of": "Item" } ] } ] }"#,
    )
    .expect("generates");
    assert!(code.contains("public List<Item> items = new List<Item>();"));
    assert!(
        code.contains("        public class Part"),
        "Part nests inside S_A.Item"
    );
    assert!(code.contains("public S_A.Item.Part part = new S_A.Item.Part();"));
    assert!(code.contains("public List<S_A.Item> items = new List<S_A.Item>();"));
}
