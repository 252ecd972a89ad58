//! The schema as written in JSON, before validation.
//!
//! These types mirror the file one to one and refuse unknown keys, so a typo such as
//! `"feilds"` is an error with a line and column instead of a silently empty packet. All
//! meaning (types, ids, directions) is checked later, in `validate`.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::model::{Direction, StringEncoding};

/// The top-level object of `packets.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSchema {
    /// Required: the wire encoding of strings matters too much to default silently.
    pub string_encoding: RawEncoding,
    #[serde(default)]
    pub structs: Vec<RawStruct>,
    pub packets: Vec<RawPacket>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) enum RawEncoding {
    #[serde(rename = "utf-16le")]
    Utf16Le,
    #[serde(rename = "utf-8")]
    Utf8,
}

impl From<RawEncoding> for StringEncoding {
    fn from(raw: RawEncoding) -> Self {
        match raw {
            RawEncoding::Utf16Le => StringEncoding::Utf16Le,
            RawEncoding::Utf8 => StringEncoding::Utf8,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawDirection {
    ClientToServer,
    ServerToClient,
}

impl From<RawDirection> for Direction {
    fn from(raw: RawDirection) -> Self {
        match raw {
            RawDirection::ClientToServer => Direction::ClientToServer,
            RawDirection::ServerToClient => Direction::ServerToClient,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStruct {
    pub name: String,
    pub fields: Vec<RawField>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPacket {
    pub name: String,
    pub id: Option<u16>,
    pub direction: Option<RawDirection>,
    #[serde(default)]
    pub fields: Vec<RawField>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// Only for `"type": "list"`: the element type.
    pub of: Option<RawElement>,
}

/// A list's element: a type name, or a struct defined in place.
#[derive(Debug)]
pub(crate) enum RawElement {
    Named(String),
    Inline(RawStruct),
}

// Hand-written rather than `#[serde(untagged)]`: untagged enums report every mistake
// inside an inline struct as "did not match any variant", losing the real cause.
impl<'de> Deserialize<'de> for RawElement {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ElementVisitor;

        impl<'de> Visitor<'de> for ElementVisitor {
            type Value = RawElement;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a type name or an inline struct { \"name\": ..., \"fields\": [...] }")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<RawElement, E> {
                Ok(RawElement::Named(value.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawElement, A::Error> {
                RawStruct::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawElement::Inline)
            }
        }

        deserializer.deserialize_any(ElementVisitor)
    }
}
