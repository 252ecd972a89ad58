//! Every schema mistake fails with one message that names the file and the place: the line
//! and column for JSON errors, the JSON path of the item for everything else.

use packet_gen::{Config, Role};

/// The message `json` fails with, as a build script would print it.
fn error(json: &str) -> String {
    match Config::new().generate_str("packets.json", json) {
        Ok(_) => panic!("schema should have been refused:\n{json}"),
        Err(e) => e.to_string(),
    }
}

/// A schema with these packets, UTF-16 strings and no named structs.
fn packets(packets: &str) -> String {
    format!(r#"{{ "string_encoding": "utf-16le", "packets": [{packets}] }}"#)
}

#[test]
fn syntax_errors_give_line_and_column() {
    let json = "{\n  \"string_encoding\": \"utf-16le\",\n  \"packets\": [,]\n}";
    assert_eq!(error(json), "packets.json:3:15: expected value");
}

#[test]
fn unknown_keys_are_refused_with_their_position() {
    let json = r#"{ "string_encoding": "utf-16le",
  "packets": [ { "name": "C_Move", "feilds": [] } ] }"#;
    assert_eq!(
        error(json),
        "packets.json:2:43: unknown field `feilds`, expected one of `name`, `id`, `direction`, `fields`"
    );
}

#[test]
fn string_encoding_is_required_and_checked() {
    assert_eq!(
        error(r#"{ "packets": [] }"#),
        "packets.json:1:17: missing field `string_encoding`"
    );
    assert_eq!(
        error(r#"{ "string_encoding": "utf16", "packets": [] }"#),
        "packets.json:1:28: unknown variant `utf16`, expected `utf-16le` or `utf-8`"
    );
}

#[test]
fn ids_must_fit_u16() {
    assert_eq!(
        error(&packets(r#"{ "name": "C_A", "id": 70000 }"#)),
        "packets.json:1:73: invalid value: integer `70000`, expected u16"
    );
}

#[test]
fn no_packets() {
    assert_eq!(
        error(&packets("")),
        "packets.json: packets: the schema has no packets"
    );
}

#[test]
fn id_zero() {
    assert_eq!(
        error(&packets(r#"{ "name": "C_A", "id": 0 }"#)),
        "packets.json: packets[0] \"C_A\".id: id 0 is not allowed: ids start at 1"
    );
}

#[test]
fn duplicate_ids() {
    assert_eq!(
        error(&packets(r#"{ "name": "C_A" }, { "name": "C_B", "id": 1 }"#)),
        "packets.json: packets[1] \"C_B\": duplicate id 1 (already used by \"C_A\")"
    );
    // The automatic id after an explicit one is the next number, which may be taken.
    assert_eq!(
        error(&packets(
            r#"{ "name": "C_A", "id": 5 }, { "name": "C_B", "id": 4 }, { "name": "C_C" }"#
        )),
        "packets.json: packets[2] \"C_C\": duplicate id 5 (already used by \"C_A\")"
    );
}

#[test]
fn automatic_ids_stop_at_u16_max() {
    assert_eq!(
        error(&packets(r#"{ "name": "C_A", "id": 65535 }, { "name": "C_B" }"#)),
        "packets.json: packets[1] \"C_B\": no automatic id after 65535: give this packet an explicit \"id\""
    );
}

#[test]
fn duplicate_packet_names() {
    assert_eq!(
        error(&packets(r#"{ "name": "C_Move" }, { "name": "C_Move" }"#)),
        "packets.json: packets[1] \"C_Move\": duplicate packet name \"C_Move\" (first defined at packets[0] \"C_Move\")"
    );
}

#[test]
fn names_that_clash_in_generated_code() {
    assert_eq!(
        error(&packets(
            r#"{ "name": "C_Move" }, { "name": "CMove", "direction": "client_to_server" }"#
        )),
        "packets.json: packets[1] \"CMove\": \"CMove\" clashes with \"C_Move\": names must differ in more than case and '_'"
    );
    assert_eq!(
        error(&packets(
            r#"{ "name": "C_Move", "fields": [
                { "name": "posX", "type": "f32" }, { "name": "pos_x", "type": "f32" } ] }"#
        )),
        "packets.json: packets[0] \"C_Move\".fields[1] \"pos_x\": \"pos_x\" clashes with \"posX\": names must differ in more than case and '_'"
    );
}

#[test]
fn duplicate_field_names() {
    assert_eq!(
        error(&packets(
            r#"{ "name": "C_Move", "fields": [
                { "name": "posX", "type": "f32" }, { "name": "posX", "type": "f32" } ] }"#
        )),
        "packets.json: packets[0] \"C_Move\".fields[1] \"posX\": duplicate field name \"posX\""
    );
}

#[test]
fn unknown_types() {
    let json = packets(
        r#"{ "name": "S_A" }, { "name": "S_B" }, { "name": "S_C" }, { "name": "S_D" },
           { "name": "C_Move", "fields": [
               { "name": "posX", "type": "f32" }, { "name": "posY", "type": "flaot" } ] }"#,
    );
    assert_eq!(
        error(&json),
        "packets.json: packets[4] \"C_Move\".fields[1] \"posY\": unknown type \"flaot\": expected \
         bool, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64, string, bytes, list or a struct name"
    );
}

#[test]
fn unknown_struct_in_a_list() {
    assert_eq!(
        error(&packets(
            r#"{ "name": "S_PlayerList", "fields": [ { "name": "players", "type": "list", "of": "Playr" } ] }"#
        )),
        "packets.json: packets[0] \"S_PlayerList\".fields[0] \"players\".of: unknown type \"Playr\": expected \
         bool, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64, string, bytes, list or a struct name"
    );
}

#[test]
fn list_shape_mistakes() {
    assert_eq!(
        error(&packets(
            r#"{ "name": "S_L", "fields": [ { "name": "players", "type": "list" } ] }"#
        )),
        "packets.json: packets[0] \"S_L\".fields[0] \"players\": a list needs \"of\": the element type name or an inline struct"
    );
    assert_eq!(
        error(&packets(
            r#"{ "name": "S_L", "fields": [ { "name": "hp", "type": "i32", "of": "i32" } ] }"#
        )),
        "packets.json: packets[0] \"S_L\".fields[0] \"hp\": \"of\" is only allowed with \"type\": \"list\", not \"i32\""
    );
    assert_eq!(
        error(&packets(
            r#"{ "name": "S_L", "fields": [ { "name": "grid", "type": "list", "of": "list" } ] }"#
        )),
        "packets.json: packets[0] \"S_L\".fields[0] \"grid\".of: a list of lists is not supported: make the inner list a field of a struct"
    );
}

#[test]
fn bad_identifiers() {
    assert_eq!(
        error(&packets(
            r#"{ "name": "C_Move", "fields": [ { "name": "pos-x", "type": "f32" } ] }"#
        )),
        "packets.json: packets[0] \"C_Move\".fields[0] \"pos-x\": \"pos-x\" is not a valid name: use an ASCII letter, then letters, digits or '_'"
    );
    assert_eq!(
        error(&packets(r#"{ "name": "1_Move", "direction": "client_to_server" }"#)),
        "packets.json: packets[0] \"1_Move\": \"1_Move\" is not a valid name: use an ASCII letter, then letters, digits or '_'"
    );
}

#[test]
fn empty_names() {
    assert_eq!(
        error(&packets(r#"{ "name": "" }"#)),
        "packets.json: packets[0]: empty name"
    );
    assert_eq!(
        error(&packets(
            r#"{ "name": "C_Move", "fields": [ { "name": "", "type": "f32" } ] }"#
        )),
        "packets.json: packets[0] \"C_Move\".fields[0]: empty name"
    );
}

#[test]
fn reserved_names() {
    assert_eq!(
        error(&packets(
            r#"{ "name": "PacketId", "direction": "client_to_server" }"#
        )),
        "packets.json: packets[0] \"PacketId\": \"PacketId\" is reserved"
    );
    assert_eq!(
        error(&packets(
            r#"{ "name": "C_A", "fields": [ { "name": "self", "type": "i32" } ] }"#
        )),
        "packets.json: packets[0] \"C_A\".fields[0] \"self\": \"self\" is reserved"
    );
}

#[test]
fn missing_direction() {
    assert_eq!(
        error(&packets(r#"{ "name": "Move" }"#)),
        "packets.json: packets[0] \"Move\": \"Move\" has no direction: start the name with C_ or S_, or give \
         \"direction\": \"client_to_server\" or \"server_to_client\""
    );
}

#[test]
fn direction_contradicting_the_prefix() {
    assert_eq!(
        error(&packets(r#"{ "name": "C_Move", "direction": "server_to_client" }"#)),
        "packets.json: packets[0] \"C_Move\".direction: \"C_Move\" has prefix C_ but \"direction\" says server_to_client"
    );
}

#[test]
fn duplicate_structs() {
    let json = r#"{ "string_encoding": "utf-8",
        "structs": [ { "name": "Player", "fields": [] } ],
        "packets": [ { "name": "S_L", "fields": [
            { "name": "players", "type": "list", "of": { "name": "Player", "fields": [] } } ] } ] }"#;
    assert_eq!(
        error(json),
        "packets.json: packets[0] \"S_L\".fields[0] \"players\".of \"Player\": duplicate struct name \"Player\" (first defined at structs[0] \"Player\")"
    );
}

#[test]
fn recursive_structs() {
    let json = r#"{ "string_encoding": "utf-8",
        "structs": [
            { "name": "Node", "fields": [ { "name": "children", "type": "list", "of": "Edge" } ] },
            { "name": "Edge", "fields": [ { "name": "to", "type": "Node" } ] } ],
        "packets": [ { "name": "S_Tree", "fields": [ { "name": "root", "type": "Node" } ] } ] }"#;
    assert_eq!(
        error(json),
        "packets.json: structs[0] \"Node\": recursive struct: Node -> Edge -> Node (recursion would let a peer nest values without bound)"
    );
}

#[test]
fn the_shipped_schema_is_valid_for_both_roles() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../packets.json");
    for role in [Role::Server, Role::Client] {
        if let Err(e) = Config::new().role(role).generate(path) {
            panic!("packets.json should be valid: {e}");
        }
    }
}

#[test]
fn lists_of_elements_that_take_no_bytes_are_refused() {
    let json = r#"{ "string_encoding": "utf-16le",
  "structs": [ { "name": "Nothing", "fields": [] } ],
  "packets": [ { "name": "S_Boom", "fields": [ { "name": "items", "type": "list", "of": "Nothing" } ] } ] }"#;
    assert_eq!(
        error(json),
        "packets.json: packets[0] \"S_Boom\".fields[0] \"items\": list of Nothing, which takes no bytes on the wire: give it a field, or use a count field instead"
    );
}
