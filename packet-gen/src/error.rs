//! Errors of the generator. Every schema error is one line that names the file and either
//! the line and column (syntax, from serde_json) or the JSON path of the bad item.

use std::io;
use std::path::PathBuf;

/// Anything that stops code generation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The schema file could not be read.
    #[error("{}: cannot read the schema: {source}", path.display())]
    Read {
        /// The schema path as given.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The generated file could not be written.
    #[error("{}: cannot write the generated code: {source}", path.display())]
    Write {
        /// The output path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not JSON, or not shaped like a schema (unknown key, wrong type, ...).
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The schema file as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json found wrong.
        message: String,
    },
    /// The schema is well-formed JSON but does not make sense.
    #[error("{file}: {path}: {kind}")]
    Schema {
        /// The schema file as given.
        file: String,
        /// JSON path of the bad item, with names: `packets[4] "C_Move".fields[1] "posX"`.
        path: String,
        /// What is wrong.
        kind: SchemaErrorKind,
    },
    /// `OUT_DIR` is not set: `compile_for_build_script` was called outside a build script.
    #[error("OUT_DIR is not set; run from a build.rs or give an output directory")]
    NoOutDir,
    /// The emitter produced tokens that do not parse as Rust: a bug in packet-gen.
    #[error("packet-gen bug: the generated code does not parse: {0}")]
    Internal(String),
}

/// What is wrong with one item of a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaErrorKind {
    /// The schema defines no packets at all.
    #[error("the schema has no packets")]
    NoPackets,
    /// A name is the empty string.
    #[error("empty name")]
    EmptyName,
    /// A name is not an ASCII letter followed by letters, digits and underscores.
    #[error("{name:?} is not a valid name: use an ASCII letter, then letters, digits or '_'")]
    BadIdentifier {
        /// The name.
        name: String,
    },
    /// A name that generated code needs for itself or that a target language reserves.
    #[error("{name:?} is reserved")]
    Reserved {
        /// The name.
        name: String,
    },
    /// Two packets share a name.
    #[error("duplicate packet name {name:?} (first defined at {first})")]
    DuplicatePacket {
        /// The name.
        name: String,
        /// Path of the first definition.
        first: String,
    },
    /// Two structs share a name (named or inline).
    #[error("duplicate struct name {name:?} (first defined at {first})")]
    DuplicateStruct {
        /// The name.
        name: String,
        /// Path of the first definition.
        first: String,
    },
    /// Two fields of one packet or struct share a name.
    #[error("duplicate field name {name:?}")]
    DuplicateField {
        /// The name.
        name: String,
    },
    /// Two names differ only in case or underscores, so generated code would clash
    /// (`posX` and `pos_x` are both `pos_x` in Rust; `C_Move` and `CMove` both `CMove`).
    #[error("{name:?} clashes with {other:?}: names must differ in more than case and '_'")]
    NameClash {
        /// The later name.
        name: String,
        /// The earlier name it clashes with.
        other: String,
    },
    /// A field named like its own class or a class nested beside it: valid in Rust, but
    /// C# (which keeps schema names verbatim) cannot declare both.
    #[error("{name:?} clashes in C# with {other}: rename the field")]
    MemberClash {
        /// The field's name.
        name: String,
        /// What it clashes with, in words.
        other: String,
    },
    /// Two packets share an id.
    #[error("duplicate id {id} (already used by {other:?})")]
    DuplicateId {
        /// The id.
        id: u16,
        /// The packet that has it first.
        other: String,
    },
    /// Id 0 is refused: a zeroed header must never decode as a packet.
    #[error("id 0 is not allowed: ids start at 1")]
    ZeroId,
    /// The automatic id after 65535 does not exist.
    #[error("no automatic id after 65535: give this packet an explicit \"id\"")]
    IdOverflow,
    /// A type name that is neither built in nor a struct.
    #[error(
        "unknown type {ty:?}: expected bool, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64, \
         string, bytes, list or a struct name"
    )]
    UnknownType {
        /// The type name.
        ty: String,
    },
    /// A `"type": "list"` without `"of"`.
    #[error("a list needs \"of\": the element type name or an inline struct")]
    MissingListElement,
    /// `"of"` on a field that is not a list.
    #[error("\"of\" is only allowed with \"type\": \"list\", not {ty:?}")]
    UnexpectedOf {
        /// The field's type.
        ty: String,
    },
    /// A list directly of lists.
    #[error("a list of lists is not supported: make the inner list a field of a struct")]
    ListOfList,
    /// A packet name without `C_`/`S_` and without `"direction"`.
    #[error(
        "{name:?} has no direction: start the name with C_ or S_, or give \"direction\": \
         \"client_to_server\" or \"server_to_client\""
    )]
    MissingDirection {
        /// The packet's name.
        name: String,
    },
    /// The prefix says one direction and `"direction"` the other.
    #[error("{name:?} has prefix {prefix} but \"direction\" says {direction}")]
    DirectionMismatch {
        /// The packet's name.
        name: String,
        /// `C_` or `S_`.
        prefix: &'static str,
        /// The explicit direction.
        direction: &'static str,
    },
    /// A list's element type can encode to zero bytes, so a count cannot be bounded by the
    /// frame.
    #[error("list of {element}, which takes no bytes on the wire: give it a field, or use a count field instead")]
    EmptyListElement {
        /// The element type's name.
        element: String,
    },
    /// A struct contains itself, directly or through other structs or lists.
    #[error("recursive struct: {cycle} (recursion would let a peer nest values without bound)")]
    RecursiveStruct {
        /// The cycle, `A -> B -> A`.
        cycle: String,
    },
}

impl Error {
    /// The error from serde_json, split into position and message so the message reads
    /// like a compiler's (`file:line:column: message`).
    pub(crate) fn syntax(file: &str, error: &serde_json::Error) -> Error {
        let text = error.to_string();
        let suffix = format!(" at line {} column {}", error.line(), error.column());
        let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
        Error::Syntax {
            file: file.to_owned(),
            line: error.line(),
            column: error.column(),
            message,
        }
    }
}
