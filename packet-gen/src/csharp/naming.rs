//! C# spellings of schema names, and the C# rules the validator applies for this emitter.
//!
//! C# keeps every schema name as written (`posX`, `S_PlayerList`), as the course's
//! generated code does, so a course-style client compiles against it unchanged. The only
//! conversion is the `@` prefix for keywords (`@int`), which cannot make two names collide;
//! what C# does refuse is a member named like its class, like a nested class, or like a
//! member the generated code declares itself. The validator calls [`member_clash`] so those
//! stay schema errors with a JSON path, not compiler errors in a user's Unity project.

use crate::model::{Owner, Schema};

/// C#'s reserved keywords (C# 7.3). A name among them is written `@name`. Contextual
/// keywords (`var`, `value`, `async` ...) are valid identifiers where we use them.
const KEYWORDS: &[&str] = &[
    "abstract",
    "as",
    "base",
    "bool",
    "break",
    "byte",
    "case",
    "catch",
    "char",
    "checked",
    "class",
    "const",
    "continue",
    "decimal",
    "default",
    "delegate",
    "do",
    "double",
    "else",
    "enum",
    "event",
    "explicit",
    "extern",
    "false",
    "finally",
    "fixed",
    "float",
    "for",
    "foreach",
    "goto",
    "if",
    "implicit",
    "in",
    "int",
    "interface",
    "internal",
    "is",
    "lock",
    "long",
    "namespace",
    "new",
    "null",
    "object",
    "operator",
    "out",
    "override",
    "params",
    "private",
    "protected",
    "public",
    "readonly",
    "ref",
    "return",
    "sbyte",
    "sealed",
    "short",
    "sizeof",
    "stackalloc",
    "static",
    "string",
    "struct",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "uint",
    "ulong",
    "unchecked",
    "unsafe",
    "ushort",
    "using",
    "virtual",
    "void",
    "volatile",
    "while",
];

/// Members every generated class declares or inherits from `object`, and the generated
/// types that its method bodies name in expressions (a field of that name would hide the
/// type there). A field may not be called any of these, exactly (C# is case-sensitive).
const RESERVED_MEMBERS: &[&str] = &[
    "Protocol",
    "Read",
    "Write",
    "EncodedSize",
    "Equals",
    "GetHashCode",
    "GetType",
    "ToString",
    "MemberwiseClone",
    "Finalize",
    "PacketID",
    "PacketReader",
    "PacketWriter",
    "PacketError",
    "PacketException",
    "PacketDecodeException",
    "PacketEncodeException",
    "SendBufferHelper",
];

/// Type names (compared lowercase without `_`, like the validator's other reserved type
/// names) that the C# files declare or use unqualified: a packet or struct of that name
/// would clash with or hide them.
pub(crate) const RESERVED_TYPE_NAMES: &[&str] = &[
    "ipacket",
    "packetreader",
    "packetwriter",
    "packeterror",
    "packetexception",
    "packetdecodeexception",
    "packetencodeexception",
    "floatbits",
    "session",
    "packetsession",
    "sendbuffer",
    "sendbufferhelper",
    "recvbuffer",
    "connector",
    "listener",
    "servercore",
    "system",
    "encoding",
    "unicodeencoding",
    "utf8encoding",
    "bitconverter",
    "buffer",
    "enum",
    "exception",
    "argumentexception",
    "argumentnullexception",
    "invalidoperationexception",
    "action",
    "func",
    "dictionary",
    "read",
    "write",
    "protocol",
    "encodedsize",
    // `var` and `dynamic` are contextual keywords: a type of that name changes what they
    // mean in every file of the project.
    "var",
    "dynamic",
];

/// The C# identifier for a schema name: the name itself, `@`-escaped if it is a keyword.
pub(crate) fn ident(name: &str) -> String {
    if KEYWORDS.contains(&name) {
        format!("@{name}")
    } else {
        name.to_owned()
    }
}

/// What a field name collides with in C#.
pub(crate) enum Clash {
    /// A member the generated code declares, or a type its bodies name.
    Reserved,
    /// The enclosing class's own name (C# error CS0542).
    EnclosingType(String),
    /// A class nested in the same class (C# error CS0102).
    NestedType(String),
}

/// The first field of `owner` whose name C# would refuse, with why.
pub(crate) fn member_clash(schema: &Schema, owner: Owner) -> Option<(usize, Clash)> {
    let (name, fields) = match owner {
        Owner::Packet(i) => (&schema.packets[i].name, &schema.packets[i].fields),
        Owner::Struct(i) => (&schema.structs[i].name, &schema.structs[i].fields),
    };
    let nested: Vec<&str> = schema
        .structs
        .iter()
        .filter(|s| s.nested_in == Some(owner))
        .map(|s| s.name.as_str())
        .collect();
    fields.iter().enumerate().find_map(|(i, field)| {
        let field = field.name.as_str();
        if RESERVED_MEMBERS.contains(&field) {
            Some((i, Clash::Reserved))
        } else if field == name {
            Some((i, Clash::EnclosingType(name.clone())))
        } else {
            nested
                .iter()
                .find(|n| **n == field)
                .map(|n| (i, Clash::NestedType((*n).to_owned())))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_escaped_and_other_names_kept_verbatim() {
        assert_eq!(ident("int"), "@int");
        assert_eq!(ident("class"), "@class");
        assert_eq!(ident("posX"), "posX");
        assert_eq!(ident("S_PlayerList"), "S_PlayerList");
        assert_eq!(
            ident("var"),
            "var",
            "contextual keywords are valid field names"
        );
    }
}
