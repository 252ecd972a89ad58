//! Turns the raw JSON schema into the validated [`Schema`] model, or the first error found.
//!
//! Checks, in this order: every struct name (named and inline), every packet name,
//! direction and id, every field name and type, that no struct contains itself, that no list
//! element can be empty, and that C# can declare every field beside its class. Errors
//! carry the JSON path of the bad item so the message can point at it without line numbers.

use std::collections::HashMap;

use crate::csharp::naming as csharp;
use crate::error::SchemaErrorKind;
use crate::model::{Direction, Field, Owner, Packet, Scalar, Schema, Struct, Type};
use crate::parse::{RawDirection, RawElement, RawField, RawPacket, RawSchema, RawStruct};

/// A validation failure: the JSON path of the bad item and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub path: String,
    pub kind: SchemaErrorKind,
}

type Result<T> = std::result::Result<T, Invalid>;

fn fail<T>(path: &str, kind: SchemaErrorKind) -> Result<T> {
    Err(Invalid {
        path: path.to_owned(),
        kind,
    })
}

/// Names every emitter generates beside the packet and struct types (compared after
/// [`normalize`]), plus prelude values that a unit struct would shadow in Rust.
const RESERVED_TYPE_NAMES: &[&str] = &[
    "packetid",
    "incoming",
    "packethandler",
    "packetmanager",
    "ok",
    "err",
    "some",
    "none",
    "self",
];

/// Field names no target language can spell, even escaped (`r#self` is not valid Rust).
const RESERVED_FIELD_NAMES: &[&str] = &["self", "super", "crate"];

/// Validates `raw` into the model.
pub(crate) fn validate(raw: &RawSchema) -> Result<Schema> {
    if raw.packets.is_empty() {
        return fail("packets", SchemaErrorKind::NoPackets);
    }
    let mut types = TypeNames::default();
    let structs = collect_structs(raw, &mut types)?;
    let packets = raw
        .packets
        .iter()
        .enumerate()
        .map(|(i, p)| (packet_path(i, p), p))
        .collect::<Vec<_>>();
    for (path, packet) in &packets {
        check_name(path, &packet.name)?;
        types.insert(path, &packet.name, TypeKind::Packet)?;
    }

    let struct_index: HashMap<&str, usize> = structs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.raw.name.as_str(), i))
        .collect();
    let resolver = Resolver {
        struct_index: &struct_index,
    };

    let mut model_structs = Vec::with_capacity(structs.len());
    for s in &structs {
        model_structs.push(Struct {
            name: s.raw.name.clone(),
            fields: resolver.fields(&s.path, &s.raw.fields)?,
            nested_in: s.nested_in,
        });
    }

    let mut model_packets = Vec::with_capacity(packets.len());
    let mut ids: HashMap<u16, &str> = HashMap::new();
    let mut next_id: u32 = 1;
    for (path, packet) in &packets {
        let direction = direction(path, packet)?;
        let id = match packet.id {
            Some(id) => id,
            None => match u16::try_from(next_id) {
                Ok(id) => id,
                Err(_) => return fail(path, SchemaErrorKind::IdOverflow),
            },
        };
        if id == 0 {
            return fail(&format!("{path}.id"), SchemaErrorKind::ZeroId);
        }
        if let Some(other) = ids.insert(id, &packet.name) {
            return fail(
                path,
                SchemaErrorKind::DuplicateId {
                    id,
                    other: other.to_owned(),
                },
            );
        }
        next_id = u32::from(id) + 1;
        model_packets.push(Packet {
            name: packet.name.clone(),
            id,
            direction,
            fields: resolver.fields(path, &packet.fields)?,
        });
    }

    let schema = Schema {
        string_encoding: raw.string_encoding.into(),
        structs: model_structs,
        packets: model_packets,
    };
    check_recursion(&schema, &structs)?;
    check_list_elements(&schema, &structs, &packets)?;
    check_csharp_members(&schema, &structs, &packets)?;
    Ok(schema)
}

fn packet_path(index: usize, packet: &RawPacket) -> String {
    named_path(&format!("packets[{index}]"), &packet.name)
}

fn named_path(base: &str, name: &str) -> String {
    if name.is_empty() {
        base.to_owned()
    } else {
        format!("{base} {name:?}")
    }
}

/// Lowercase without underscores: two names with the same key would clash once an emitter
/// applies its naming convention (`posX`/`pos_x`, `C_Move`/`CMove`).
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn check_name(path: &str, name: &str) -> Result<()> {
    let mut chars = name.chars();
    match chars.next() {
        None => fail(path, SchemaErrorKind::EmptyName),
        Some(first) if first.is_ascii_alphabetic() => {
            if chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
                Ok(())
            } else {
                fail(
                    path,
                    SchemaErrorKind::BadIdentifier {
                        name: name.to_owned(),
                    },
                )
            }
        }
        Some(_) => fail(
            path,
            SchemaErrorKind::BadIdentifier {
                name: name.to_owned(),
            },
        ),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TypeKind {
    Packet,
    Struct,
}

/// Packet and struct names seen so far: they share one namespace in generated code.
#[derive(Default)]
struct TypeNames {
    by_name: HashMap<String, (TypeKind, String)>,
    by_key: HashMap<String, String>,
}

impl TypeNames {
    fn insert(&mut self, path: &str, name: &str, kind: TypeKind) -> Result<()> {
        let key = normalize(name);
        if RESERVED_TYPE_NAMES.contains(&key.as_str())
            || csharp::RESERVED_TYPE_NAMES.contains(&key.as_str())
        {
            return fail(
                path,
                SchemaErrorKind::Reserved {
                    name: name.to_owned(),
                },
            );
        }
        if let Some((first_kind, first)) = self.by_name.get(name) {
            let (name, first) = (name.to_owned(), first.clone());
            return fail(
                path,
                match (kind, *first_kind) {
                    (TypeKind::Packet, TypeKind::Packet) => {
                        SchemaErrorKind::DuplicatePacket { name, first }
                    }
                    _ => SchemaErrorKind::DuplicateStruct { name, first },
                },
            );
        }
        if let Some(other) = self.by_key.get(&key) {
            return fail(
                path,
                SchemaErrorKind::NameClash {
                    name: name.to_owned(),
                    other: other.clone(),
                },
            );
        }
        self.by_name
            .insert(name.to_owned(), (kind, path.to_owned()));
        self.by_key.insert(key, name.to_owned());
        Ok(())
    }
}

/// A struct definition with the path it was found at.
struct FoundStruct<'a> {
    path: String,
    raw: &'a RawStruct,
    nested_in: Option<Owner>,
}

/// Every struct of the schema: the named ones, then the inline ones in order of appearance.
fn collect_structs<'a>(raw: &'a RawSchema, types: &mut TypeNames) -> Result<Vec<FoundStruct<'a>>> {
    let mut found = Vec::new();
    for (i, s) in raw.structs.iter().enumerate() {
        let path = named_path(&format!("structs[{i}]"), &s.name);
        found.push(FoundStruct {
            path,
            raw: s,
            nested_in: None,
        });
    }
    let named = found.len();
    for i in 0..named {
        let (path, raw) = (found[i].path.clone(), found[i].raw);
        collect_inline(&path, Owner::Struct(i), &raw.fields, &mut found);
    }
    for (i, p) in raw.packets.iter().enumerate() {
        collect_inline(&packet_path(i, p), Owner::Packet(i), &p.fields, &mut found);
    }
    for s in &found {
        check_name(&s.path, &s.raw.name)?;
        types.insert(&s.path, &s.raw.name, TypeKind::Struct)?;
    }
    Ok(found)
}

fn collect_inline<'a>(
    owner_path: &str,
    owner: Owner,
    fields: &'a [RawField],
    found: &mut Vec<FoundStruct<'a>>,
) {
    for (j, field) in fields.iter().enumerate() {
        if let Some(RawElement::Inline(s)) = &field.of {
            let path = named_path(&format!("{}.of", field_path(owner_path, j, field)), &s.name);
            let index = found.len();
            found.push(FoundStruct {
                path: path.clone(),
                raw: s,
                nested_in: Some(owner),
            });
            collect_inline(&path, Owner::Struct(index), &s.fields, found);
        }
    }
}

fn field_path(owner: &str, index: usize, field: &RawField) -> String {
    named_path(&format!("{owner}.fields[{index}]"), &field.name)
}

struct Resolver<'a> {
    struct_index: &'a HashMap<&'a str, usize>,
}

impl Resolver<'_> {
    fn fields(&self, owner: &str, raw: &[RawField]) -> Result<Vec<Field>> {
        let mut keys: HashMap<String, &str> = HashMap::new();
        let mut fields = Vec::with_capacity(raw.len());
        for (j, field) in raw.iter().enumerate() {
            let path = field_path(owner, j, field);
            check_name(&path, &field.name)?;
            let key = normalize(&field.name);
            if RESERVED_FIELD_NAMES.contains(&key.as_str()) {
                return fail(
                    &path,
                    SchemaErrorKind::Reserved {
                        name: field.name.clone(),
                    },
                );
            }
            if let Some(other) = keys.insert(key, &field.name) {
                let kind = if other == field.name {
                    SchemaErrorKind::DuplicateField {
                        name: field.name.clone(),
                    }
                } else {
                    SchemaErrorKind::NameClash {
                        name: field.name.clone(),
                        other: other.to_owned(),
                    }
                };
                return fail(&path, kind);
            }
            fields.push(Field {
                name: field.name.clone(),
                ty: self.field_type(&path, field)?,
            });
        }
        Ok(fields)
    }

    fn field_type(&self, path: &str, field: &RawField) -> Result<Type> {
        if field.ty != "list" {
            if field.of.is_some() {
                return fail(
                    path,
                    SchemaErrorKind::UnexpectedOf {
                        ty: field.ty.clone(),
                    },
                );
            }
            return self.named_type(path, &field.ty);
        }
        let element = match &field.of {
            None => return fail(path, SchemaErrorKind::MissingListElement),
            Some(RawElement::Named(name)) if name == "list" => {
                return fail(&format!("{path}.of"), SchemaErrorKind::ListOfList)
            }
            Some(RawElement::Named(name)) => self.named_type(&format!("{path}.of"), name)?,
            // Inline structs were collected (and their names checked) up front.
            Some(RawElement::Inline(s)) => Type::Struct(self.struct_index[s.name.as_str()]),
        };
        Ok(Type::List(Box::new(element)))
    }

    fn named_type(&self, path: &str, name: &str) -> Result<Type> {
        if let Some(scalar) = Scalar::from_name(name) {
            return Ok(Type::Scalar(scalar));
        }
        match name {
            "string" => Ok(Type::String),
            "bytes" => Ok(Type::Bytes),
            _ => match self.struct_index.get(name) {
                Some(index) => Ok(Type::Struct(*index)),
                None => fail(
                    path,
                    SchemaErrorKind::UnknownType {
                        ty: name.to_owned(),
                    },
                ),
            },
        }
    }
}

fn direction(path: &str, packet: &RawPacket) -> Result<Direction> {
    let prefixed = if packet.name.starts_with("C_") {
        Some(("C_", Direction::ClientToServer))
    } else if packet.name.starts_with("S_") {
        Some(("S_", Direction::ServerToClient))
    } else {
        None
    };
    let explicit = packet.direction.map(Direction::from);
    match (prefixed, explicit) {
        (Some((prefix, implied)), Some(given)) if implied != given => fail(
            &format!("{path}.direction"),
            SchemaErrorKind::DirectionMismatch {
                name: packet.name.clone(),
                prefix,
                direction: match packet.direction {
                    Some(RawDirection::ClientToServer) => "client_to_server",
                    _ => "server_to_client",
                },
            },
        ),
        (_, Some(given)) => Ok(given),
        (Some((_, implied)), None) => Ok(implied),
        (None, None) => fail(
            path,
            SchemaErrorKind::MissingDirection {
                name: packet.name.clone(),
            },
        ),
    }
}

/// Refuses structs that contain themselves through any chain of fields or lists.
fn check_recursion(schema: &Schema, found: &[FoundStruct<'_>]) -> Result<()> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }

    fn referenced(ty: &Type) -> Option<usize> {
        match ty {
            Type::Struct(index) => Some(*index),
            Type::List(element) => referenced(element),
            _ => None,
        }
    }

    fn visit(
        schema: &Schema,
        at: usize,
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        marks[at] = Mark::Open;
        stack.push(at);
        for field in &schema.structs[at].fields {
            let Some(next) = referenced(&field.ty) else {
                continue;
            };
            match marks[next] {
                Mark::Open => {
                    let start = stack.iter().position(|s| *s == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(schema, next, marks, stack) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks[at] = Mark::Done;
        None
    }

    let mut marks = vec![Mark::New; schema.structs.len()];
    for start in 0..schema.structs.len() {
        if marks[start] != Mark::New {
            continue;
        }
        if let Some(cycle) = visit(schema, start, &mut marks, &mut Vec::new()) {
            let names: Vec<&str> = cycle
                .iter()
                .map(|i| schema.structs[*i].name.as_str())
                .collect();
            return fail(
                &found[cycle[0]].path,
                SchemaErrorKind::RecursiveStruct {
                    cycle: names.join(" -> "),
                },
            );
        }
    }
    Ok(())
}

/// Refuses lists whose elements can encode to zero bytes (a struct with no fields, or only
/// such structs). The decoder bounds a list's count by the bytes left divided by the
/// element's minimum size; with a minimum of zero, a 4-byte count prefix inside a nested list
/// could make a tiny frame decode into billions of elements.
fn check_list_elements(
    schema: &Schema,
    structs: &[FoundStruct<'_>],
    packets: &[(String, &RawPacket)],
) -> Result<()> {
    let owners = structs
        .iter()
        .map(|s| s.path.as_str())
        .zip(schema.structs.iter().map(|s| &s.fields))
        .chain(
            packets
                .iter()
                .map(|(path, _)| path.as_str())
                .zip(schema.packets.iter().map(|p| &p.fields)),
        );
    for (path, fields) in owners {
        for (i, field) in fields.iter().enumerate() {
            if let Type::List(element) = &field.ty {
                if schema.min_size(element) == 0 {
                    let element = match element.as_ref() {
                        Type::Struct(index) => schema.structs[*index].name.clone(),
                        _ => "an empty element".to_owned(),
                    };
                    return fail(
                        &format!("{path}.fields[{i}] \"{}\"", field.name),
                        SchemaErrorKind::EmptyListElement { element },
                    );
                }
            }
        }
    }
    Ok(())
}

/// Refuses field names that C# cannot declare in their class (see `csharp::naming`): the
/// C# emitter keeps names verbatim, so these are checked here, once, with the JSON path.
fn check_csharp_members(
    schema: &Schema,
    structs: &[FoundStruct<'_>],
    packets: &[(String, &RawPacket)],
) -> Result<()> {
    let owners = (0..schema.structs.len())
        .map(|i| (Owner::Struct(i), structs[i].path.as_str()))
        .chain(
            packets
                .iter()
                .enumerate()
                .map(|(i, (path, _))| (Owner::Packet(i), path.as_str())),
        );
    for (owner, path) in owners {
        let Some((index, clash)) = csharp::member_clash(schema, owner) else {
            continue;
        };
        let fields = match owner {
            Owner::Packet(i) => &schema.packets[i].fields,
            Owner::Struct(i) => &schema.structs[i].fields,
        };
        let name = fields[index].name.clone();
        let kind = match clash {
            csharp::Clash::Reserved => SchemaErrorKind::Reserved { name: name.clone() },
            csharp::Clash::EnclosingType(other) => SchemaErrorKind::MemberClash {
                name: name.clone(),
                other: format!("its own class {other:?}"),
            },
            csharp::Clash::NestedType(other) => SchemaErrorKind::MemberClash {
                name: name.clone(),
                other: format!("the nested class {other:?}"),
            },
        };
        return fail(&format!("{path}.fields[{index}] {name:?}"), kind);
    }
    Ok(())
}
