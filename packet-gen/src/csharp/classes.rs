//! One C# class per packet and per struct, with the course's `Read(ArraySegment<byte>)` and
//! `Write()` on packets, plus the checked size and body code they share with nested structs.
//!
//! Every field is accessed as `this.<field>` so a field may be called `r`, `w`, `size` or
//! `count` without shadowing the generated locals. Sizes are `long`: nested lists of long
//! strings can add up past `int` before the frame-size check refuses them.

use super::code::Code;
use super::naming::ident;
use crate::model::{Direction, Field, Owner, Packet, Scalar, Schema, StringEncoding, Type};

/// Emits classes for one schema.
pub(crate) struct Classes<'a> {
    pub schema: &'a Schema,
}

impl Classes<'_> {
    /// The class of packet `index`, its nested classes inside it.
    pub fn packet(&self, code: &mut Code, index: usize) {
        let packet: &Packet = &self.schema.packets[index];
        let name = &packet.name;
        let class = ident(name);
        let direction = match packet.direction {
            Direction::ClientToServer => "client to server",
            Direction::ServerToClient => "server to client",
        };
        code.line(format!(
            "/// <summary><c>{name}</c>: packet id {}, {direction}.</summary>",
            packet.id
        ));
        code.open(format!("public class {class} : IPacket"));
        let owner = Owner::Packet(index);
        self.fields(code, owner, &packet.fields);
        self.nested(code, owner);
        code.line(format!(
            "public ushort Protocol {{ get {{ return (ushort)PacketID.{class}; }} }}"
        ));
        code.line("");

        code.line("/// <summary>Reads a whole frame, header included: size, id and every bound checked.</summary>");
        code.open("public void Read(ArraySegment<byte> segment)");
        code.line(format!(
            "PacketReader r = PacketReader.Frame(segment, (ushort)PacketID.{class}, \"{name}\");"
        ));
        self.read_fields(code, owner, &packet.fields, "");
        code.line("r.End();");
        code.close();
        code.line("");

        code.line("/// <summary>Reserves exactly this packet's size with SendBufferHelper and writes the frame.</summary>");
        code.open("public ArraySegment<byte> Write()");
        code.line(format!(
            "int size = PacketWriter.FrameSize(\"{name}\", this.EncodedSize());"
        ));
        code.line("ArraySegment<byte> segment = SendBufferHelper.Open(size);");
        code.line(format!(
            "PacketWriter w = PacketWriter.Frame(segment, size, (ushort)PacketID.{class}, \"{name}\");"
        ));
        self.write_fields(code, owner, &packet.fields);
        code.line("w.End();");
        code.line("return SendBufferHelper.Close(size);");
        code.close();
        code.line("");

        code.line(
            "/// <summary>The body's size in bytes; checks every length prefix and null.</summary>",
        );
        code.open("public long EncodedSize()");
        self.size_fields(code, owner, &packet.fields, &format!("\"{name}\""), "");
        code.close();
        code.close();
    }

    /// The class of struct `index` (with its own nested classes), at the current depth.
    pub fn structure(&self, code: &mut Code, index: usize) {
        let s = &self.schema.structs[index];
        let owner = Owner::Struct(index);
        code.line(format!(
            "/// <summary><c>{}</c>: a struct inside packets.</summary>",
            s.name
        ));
        code.open(format!("public class {}", ident(&s.name)));
        self.fields(code, owner, &s.fields);
        self.nested(code, owner);
        let prefix = format!("{}.", s.name);

        code.line("/// <summary>Reads this struct's fields from a packet body.</summary>");
        code.open("public void Read(ref PacketReader r)");
        self.read_fields(code, owner, &s.fields, &prefix);
        code.close();
        code.line("");

        code.line("/// <summary>Writes this struct's fields into a packet body.</summary>");
        code.open("public void Write(ref PacketWriter w)");
        self.write_fields(code, owner, &s.fields);
        code.close();
        code.line("");

        code.line("/// <summary>This struct's size in bytes; <paramref name=\"packet\"/> names the packet in errors.</summary>");
        code.open("public long EncodedSize(string packet)");
        self.size_fields(code, owner, &s.fields, "packet", &prefix);
        code.close();
        code.close();
    }

    /// The structs defined inline in `owner`'s fields, as nested classes.
    fn nested(&self, code: &mut Code, owner: Owner) {
        for (i, s) in self.schema.structs.iter().enumerate() {
            if s.nested_in == Some(owner) {
                self.structure(code, i);
                code.line("");
            }
        }
    }

    fn fields(&self, code: &mut Code, owner: Owner, fields: &[Field]) {
        for f in fields {
            let ty = self.cs_type(&f.ty, owner);
            let init = match &f.ty {
                Type::Scalar(_) => String::new(),
                Type::String => " = \"\"".to_owned(),
                Type::Bytes => " = new byte[0]".to_owned(),
                Type::Struct(_) | Type::List(_) => format!(" = new {ty}()"),
            };
            code.line(format!("public {ty} {}{init};", ident(&f.name)));
        }
        if !fields.is_empty() {
            code.line("");
        }
    }

    /// The C# spelling of `ty` as seen from inside `from`'s class.
    fn cs_type(&self, ty: &Type, from: Owner) -> String {
        match ty {
            Type::Scalar(s) => scalar_type(*s).to_owned(),
            Type::String => "string".to_owned(),
            Type::Bytes => "byte[]".to_owned(),
            Type::Struct(index) => self.struct_path(*index, from),
            Type::List(element) => format!("List<{}>", self.cs_type(element, from)),
        }
    }

    /// A struct's name from inside `from`: just its name when nested right there (as the
    /// course writes `List<Player>` in `S_PlayerList`), else its full path from the global
    /// namespace (`S_Inventory.Slot`), which resolves anywhere.
    fn struct_path(&self, index: usize, from: Owner) -> String {
        let s = &self.schema.structs[index];
        match s.nested_in {
            Some(owner) if owner == from => ident(&s.name),
            None => ident(&s.name),
            Some(_) => self.full_path(index),
        }
    }

    /// `Outer.Inner.Name`: a struct's path from the global namespace.
    fn full_path(&self, index: usize) -> String {
        let s = &self.schema.structs[index];
        match s.nested_in {
            None => ident(&s.name),
            Some(Owner::Packet(p)) => {
                format!("{}.{}", ident(&self.schema.packets[p].name), ident(&s.name))
            }
            Some(Owner::Struct(parent)) => format!("{}.{}", self.full_path(parent), ident(&s.name)),
        }
    }

    fn read_fields(&self, code: &mut Code, owner: Owner, fields: &[Field], prefix: &str) {
        for f in fields {
            let target = format!("this.{}", ident(&f.name));
            let label = format!("{prefix}{}", f.name);
            match &f.ty {
                Type::List(element) => {
                    let min = self.schema.min_size(element);
                    let element_ty = self.cs_type(element, owner);
                    code.block();
                    code.line(format!("int count = r.ReadCount(\"{label}\", {min});"));
                    code.line(format!(
                        "List<{element_ty}> list = new List<{element_ty}>(count);"
                    ));
                    code.open("for (int i = 0; i < count; i++)");
                    match element.as_ref() {
                        Type::Struct(_) => {
                            code.line(format!("{element_ty} item = new {element_ty}();"));
                            code.line("item.Read(ref r);");
                            code.line("list.Add(item);");
                        }
                        other => {
                            let read = self.read_value(other, &format!("{label}[]"));
                            code.line(format!("list.Add({read});"));
                        }
                    }
                    code.close();
                    code.line(format!("{target} = list;"));
                    code.close();
                }
                Type::Struct(_) => {
                    code.line(format!("{target} = new {}();", self.cs_type(&f.ty, owner)));
                    code.line(format!("{target}.Read(ref r);"));
                }
                other => {
                    let read = self.read_value(other, &label);
                    code.line(format!("{target} = {read};"));
                }
            }
        }
    }

    /// The expression that reads one scalar, string or byte array.
    fn read_value(&self, ty: &Type, label: &str) -> String {
        match ty {
            Type::Scalar(s) => format!("r.Read{}(\"{label}\")", scalar_method(*s)),
            Type::String => format!("r.ReadString{}(\"{label}\")", self.encoding()),
            Type::Bytes => format!("r.ReadBytes(\"{label}\")"),
            Type::Struct(_) | Type::List(_) => unreachable!("structs and lists are read in place"),
        }
    }

    fn write_fields(&self, code: &mut Code, owner: Owner, fields: &[Field]) {
        for f in fields {
            let value = format!("this.{}", ident(&f.name));
            match &f.ty {
                Type::List(element) => {
                    let element_ty = self.cs_type(element, owner);
                    code.line(format!("w.WriteUInt16((ushort){value}.Count);"));
                    code.line(format!("foreach ({element_ty} item in {value})"));
                    code.line(format!("    {}", self.write_value(element, "item")));
                }
                other => code.line(self.write_value(other, &value)),
            }
        }
    }

    /// The statement that writes one value that is not a list.
    fn write_value(&self, ty: &Type, value: &str) -> String {
        match ty {
            Type::Scalar(s) => format!("w.Write{}({value});", scalar_method(*s)),
            Type::String => format!("w.WriteString{}({value});", self.encoding()),
            Type::Bytes => format!("w.WriteBytes({value});"),
            Type::Struct(_) => format!("{value}.Write(ref w);"),
            Type::List(_) => unreachable!("validation refuses lists of lists"),
        }
    }

    /// The body of `EncodedSize`: a sum that checks every prefix and every null on the way.
    fn size_fields(
        &self,
        code: &mut Code,
        owner: Owner,
        fields: &[Field],
        packet: &str,
        prefix: &str,
    ) {
        let fixed: usize = fields
            .iter()
            .filter_map(|f| match f.ty {
                Type::Scalar(s) => Some(s.size()),
                _ => None,
            })
            .sum();
        code.line(format!("long size = {fixed};"));
        for f in fields {
            let value = format!("this.{}", ident(&f.name));
            let label = format!("\"{prefix}{}\"", f.name);
            match &f.ty {
                Type::Scalar(_) => {}
                Type::List(element) => {
                    code.line(format!(
                        "PacketWriter.CheckList({value}, {packet}, {label});"
                    ));
                    code.line("size += 2;");
                    match element.as_ref() {
                        Type::Scalar(s) => {
                            code.line(format!("size += (long){value}.Count * {};", s.size()));
                        }
                        other => {
                            let element_ty = self.cs_type(other, owner);
                            let item_label = format!("\"{prefix}{}[]\"", f.name);
                            code.line(format!("foreach ({element_ty} item in {value})"));
                            code.line(format!(
                                "    size += {};",
                                self.size_value(other, "item", packet, &item_label)
                            ));
                        }
                    }
                }
                other => {
                    let size = self.size_value(other, &value, packet, &label);
                    code.line(format!("size += {size};"));
                }
            }
        }
        code.line("return size;");
    }

    /// The size expression of one string, byte array or struct value (null-checked).
    fn size_value(&self, ty: &Type, value: &str, packet: &str, label: &str) -> String {
        match ty {
            Type::String => format!(
                "PacketWriter.StringSize{}({value}, {packet}, {label})",
                self.encoding()
            ),
            Type::Bytes => format!("PacketWriter.BytesSize({value}, {packet}, {label})"),
            Type::Struct(_) => {
                format!(
                    "PacketWriter.NotNullStruct({value}, {packet}, {label}).EncodedSize({packet})"
                )
            }
            Type::Scalar(s) => s.size().to_string(),
            Type::List(_) => unreachable!("validation refuses lists of lists"),
        }
    }

    fn encoding(&self) -> &'static str {
        match self.schema.string_encoding {
            StringEncoding::Utf16Le => "Utf16",
            StringEncoding::Utf8 => "Utf8",
        }
    }
}

fn scalar_type(s: Scalar) -> &'static str {
    match s {
        Scalar::Bool => "bool",
        Scalar::I8 => "sbyte",
        Scalar::U8 => "byte",
        Scalar::I16 => "short",
        Scalar::U16 => "ushort",
        Scalar::I32 => "int",
        Scalar::U32 => "uint",
        Scalar::I64 => "long",
        Scalar::U64 => "ulong",
        Scalar::F32 => "float",
        Scalar::F64 => "double",
    }
}

/// The `PacketReader.Read*` / `PacketWriter.Write*` suffix, after .NET's type names.
fn scalar_method(s: Scalar) -> &'static str {
    match s {
        Scalar::Bool => "Bool",
        Scalar::I8 => "SByte",
        Scalar::U8 => "Byte",
        Scalar::I16 => "Int16",
        Scalar::U16 => "UInt16",
        Scalar::I32 => "Int32",
        Scalar::U32 => "UInt32",
        Scalar::I64 => "Int64",
        Scalar::U64 => "UInt64",
        Scalar::F32 => "Single",
        Scalar::F64 => "Double",
    }
}
