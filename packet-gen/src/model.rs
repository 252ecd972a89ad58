//! The validated, language-neutral model of a packet schema.
//!
//! Emitters consume only this model: every name here is a valid identifier, every id is
//! unique and non-zero, every struct reference resolves and no struct contains itself. The
//! Rust emitter (`crate::rust`) and the C# emitter for Unity clients (`crate::csharp`) both
//! read it and nothing else, so neither has a parser or validator of its own.

use std::fmt;
use std::str::FromStr;

/// A whole schema after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// How `string` fields are encoded on the wire.
    pub string_encoding: StringEncoding,
    /// Every struct: the named ones from `structs` first, then the inline list element
    /// structs in the order they appear. Referenced by index from [`Type::Struct`].
    pub structs: Vec<Struct>,
    /// The packets in schema order, with their final ids.
    pub packets: Vec<Packet>,
}

/// A struct used as a field or list element type.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    /// The schema name (`"Player"`).
    pub name: String,
    /// The fields in wire order.
    pub fields: Vec<Field>,
    /// Where an inline list element struct was defined (`None` for the schema's top-level
    /// `structs`). Rust ignores it; C# nests the class there, as the course nests
    /// `S_PlayerList.Player`.
    pub nested_in: Option<Owner>,
}

/// The packet or struct whose field defines an inline struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// By index into [`Schema::packets`].
    Packet(usize),
    /// By index into [`Schema::structs`].
    Struct(usize),
}

/// A packet: a struct with an id and a direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The schema name (`"C_Move"`).
    pub name: String,
    /// The id in the frame header, never 0.
    pub id: u16,
    /// Who sends it.
    pub direction: Direction,
    /// The fields in wire order.
    pub fields: Vec<Field>,
}

/// One field of a packet or struct.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The schema (wire) name (`"posX"`).
    pub name: String,
    /// What it holds.
    pub ty: Type,
}

/// A field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// A fixed-size number or bool.
    Scalar(Scalar),
    /// A u16 byte length, then the string in the schema's [`StringEncoding`].
    String,
    /// A u16 byte length, then raw bytes.
    Bytes,
    /// A struct's fields inline, by index into [`Schema::structs`].
    Struct(usize),
    /// A u16 element count, then each element. The element is never itself a list: a list
    /// of lists goes through a struct, as in the course's skill/attribute example.
    List(Box<Type>),
}

/// Fixed-size scalar types, all little-endian on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    /// 1 byte, 0 or 1 when written; anything non-zero reads as true.
    Bool,
    /// Signed 8-bit.
    I8,
    /// Unsigned 8-bit.
    U8,
    /// Signed 16-bit.
    I16,
    /// Unsigned 16-bit.
    U16,
    /// Signed 32-bit.
    I32,
    /// Unsigned 32-bit.
    U32,
    /// Signed 64-bit.
    I64,
    /// Unsigned 64-bit.
    U64,
    /// IEEE-754 single.
    F32,
    /// IEEE-754 double.
    F64,
}

impl Scalar {
    /// Every scalar, for tests and documentation.
    pub const ALL: [Scalar; 11] = [
        Scalar::Bool,
        Scalar::I8,
        Scalar::U8,
        Scalar::I16,
        Scalar::U16,
        Scalar::I32,
        Scalar::U32,
        Scalar::I64,
        Scalar::U64,
        Scalar::F32,
        Scalar::F64,
    ];

    /// The schema spelling (`"i32"`).
    pub fn name(self) -> &'static str {
        match self {
            Scalar::Bool => "bool",
            Scalar::I8 => "i8",
            Scalar::U8 => "u8",
            Scalar::I16 => "i16",
            Scalar::U16 => "u16",
            Scalar::I32 => "i32",
            Scalar::U32 => "u32",
            Scalar::I64 => "i64",
            Scalar::U64 => "u64",
            Scalar::F32 => "f32",
            Scalar::F64 => "f64",
        }
    }

    /// The scalar a schema type name means, if any.
    pub fn from_name(name: &str) -> Option<Scalar> {
        Scalar::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Bytes on the wire.
    pub fn size(self) -> usize {
        match self {
            Scalar::Bool | Scalar::I8 | Scalar::U8 => 1,
            Scalar::I16 | Scalar::U16 => 2,
            Scalar::I32 | Scalar::U32 | Scalar::F32 => 4,
            Scalar::I64 | Scalar::U64 | Scalar::F64 => 8,
        }
    }
}

/// Who sends a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `C_` packets: the client sends, the server receives.
    ClientToServer,
    /// `S_` packets: the server sends, the client receives.
    ServerToClient,
}

/// Which side the generated code is for; it decides which packets are *received*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// The game server: receives `C_` packets.
    #[default]
    Server,
    /// The client (dummy-client, a Unity client): receives `S_` packets.
    Client,
}

impl Role {
    /// Whether this side receives packets travelling in `direction`.
    pub fn receives(self, direction: Direction) -> bool {
        matches!(
            (self, direction),
            (Role::Server, Direction::ClientToServer) | (Role::Client, Direction::ServerToClient)
        )
    }
}

/// How `string` fields are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringEncoding {
    /// UTF-16LE, the course's `Encoding.Unicode`: compatible with the C# course.
    Utf16Le,
    /// UTF-8: shorter for ASCII-heavy text, not understood by the course's C# code.
    Utf8,
}

impl StringEncoding {
    /// The schema spelling (`"utf-16le"`, `"utf-8"`).
    pub fn name(self) -> &'static str {
        match self {
            StringEncoding::Utf16Le => "utf-16le",
            StringEncoding::Utf8 => "utf-8",
        }
    }
}

impl fmt::Display for StringEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that is neither `utf-16le` nor `utf-8`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown string encoding {0:?}: expected \"utf-16le\" or \"utf-8\"")]
pub struct UnknownEncoding(pub String);

impl FromStr for StringEncoding {
    type Err = UnknownEncoding;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "utf-16le" => Ok(StringEncoding::Utf16Le),
            "utf-8" => Ok(StringEncoding::Utf8),
            other => Err(UnknownEncoding(other.to_owned())),
        }
    }
}

impl Schema {
    /// The fewest bytes a value of `ty` can take on the wire (lists and strings: empty).
    ///
    /// Decoders pass this for a list's element type to `Reader::get_count`, so a hostile
    /// count is refused before anything is allocated. Validation guarantees no struct
    /// contains itself, so the recursion ends.
    pub fn min_size(&self, ty: &Type) -> usize {
        match ty {
            Type::Scalar(s) => s.size(),
            Type::String | Type::Bytes | Type::List(_) => 2,
            Type::Struct(index) => self.structs[*index]
                .fields
                .iter()
                .map(|f| self.min_size(&f.ty))
                .sum(),
        }
    }

    /// The exact size of every value of `ty`, if it does not depend on the value.
    pub fn fixed_size(&self, ty: &Type) -> Option<usize> {
        match ty {
            Type::Scalar(s) => Some(s.size()),
            Type::String | Type::Bytes | Type::List(_) => None,
            Type::Struct(index) => self.fields_fixed_size(&self.structs[*index].fields),
        }
    }

    /// The exact size of these fields, if none of them varies in size.
    pub fn fields_fixed_size(&self, fields: &[Field]) -> Option<usize> {
        fields.iter().map(|f| self.fixed_size(&f.ty)).sum()
    }

    /// The largest packet id (0 if there are no packets; validation refuses that).
    pub fn max_id(&self) -> u16 {
        self.packets.iter().map(|p| p.id).max().unwrap_or(0)
    }
}
