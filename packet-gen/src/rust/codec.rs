//! Packet and struct definitions with their wire code: size, encode, decode.
//!
//! Sizes are computed exactly before anything is written (the course reserved a fixed 4096
//! bytes and could overrun it); every length prefix is checked against u16 there, so the
//! writer itself never fails.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::naming::{field_ident, type_ident};
use crate::model::{Direction, Field, Packet, Schema, StringEncoding, Type};

/// Emits the code for one schema.
pub(crate) struct Codec<'a> {
    pub schema: &'a Schema,
}

/// Where a value lives: a field of `self`, or the `item` of a list loop (a reference).
#[derive(Clone, Copy)]
enum Place<'a> {
    Field(&'a Field),
    Item,
}

impl Place<'_> {
    /// The value itself (for `Copy` scalars).
    fn value(self) -> TokenStream {
        match self {
            Place::Field(f) => {
                let ident = field_ident(&f.name);
                quote!(self.#ident)
            }
            Place::Item => quote!(*item),
        }
    }

    /// The value as a method receiver (`self.players.len()`, `item.len()`).
    fn receiver(self) -> TokenStream {
        match self {
            Place::Field(f) => {
                let ident = field_ident(&f.name);
                quote!(self.#ident)
            }
            Place::Item => quote!(item),
        }
    }

    /// A reference to the value.
    fn by_ref(self) -> TokenStream {
        match self {
            Place::Field(f) => {
                let ident = field_ident(&f.name);
                quote!(&self.#ident)
            }
            Place::Item => quote!(item),
        }
    }
}

impl Codec<'_> {
    /// Whether any type in the schema has a length prefix, so `checked_len` is needed.
    pub fn needs_checked_len(&self) -> bool {
        let all = self
            .schema
            .structs
            .iter()
            .flat_map(|s| &s.fields)
            .chain(self.schema.packets.iter().flat_map(|p| &p.fields));
        all.into_iter()
            .any(|f| matches!(f.ty, Type::String | Type::Bytes | Type::List(_)))
    }

    /// The shared length check of all `body_len`/`encoded_len` functions.
    pub fn checked_len_fn(&self) -> TokenStream {
        quote! {
            /// Checks that a string, byte field or list is short enough for its u16 prefix.
            fn checked_len(
                packet: &'static str,
                field: &'static str,
                len: usize,
            ) -> ::std::result::Result<usize, ::server_core::EncodeError> {
                if len > usize::from(u16::MAX) {
                    Err(::server_core::EncodeError::TooLong { packet, field, len })
                } else {
                    Ok(len)
                }
            }
        }
    }

    /// The Rust type of a field.
    fn rust_type(&self, ty: &Type) -> TokenStream {
        match ty {
            Type::Scalar(s) => {
                let ident = proc_macro2::Ident::new(s.name(), proc_macro2::Span::call_site());
                quote!(#ident)
            }
            Type::String => quote!(::std::string::String),
            Type::Bytes => quote!(::std::vec::Vec<u8>),
            Type::Struct(index) => {
                let ident = type_ident(&self.schema.structs[*index].name);
                quote!(#ident)
            }
            Type::List(element) => {
                let element = self.rust_type(element);
                quote!(::std::vec::Vec<#element>)
            }
        }
    }

    /// How a type reads in docs: `f32`, `string (utf-16le)`, `list of Player`.
    fn type_doc(&self, ty: &Type) -> String {
        match ty {
            Type::Scalar(s) => s.name().to_owned(),
            Type::String => format!("string ({})", self.schema.string_encoding),
            Type::Bytes => "bytes".to_owned(),
            Type::Struct(index) => format!("[`{}`]", type_ident(&self.schema.structs[*index].name)),
            Type::List(element) => format!("list of {}", self.type_doc(element)),
        }
    }

    fn field_defs(&self, fields: &[Field]) -> Vec<TokenStream> {
        fields
            .iter()
            .map(|f| {
                let doc = format!(" `{}`: {}.", f.name, self.type_doc(&f.ty));
                let ident = field_ident(&f.name);
                let ty = self.rust_type(&f.ty);
                quote! {
                    #[doc = #doc]
                    pub #ident: #ty,
                }
            })
            .collect()
    }

    /// A packet's struct and its `Packet` impl.
    pub fn packet(&self, packet: &Packet) -> TokenStream {
        let ident = type_ident(&packet.name);
        let direction = match packet.direction {
            Direction::ClientToServer => "client to server",
            Direction::ServerToClient => "server to client",
        };
        let doc = format!(" `{}`: packet id {}, {direction}.", packet.name, packet.id);
        let definition = if packet.fields.is_empty() {
            // A unit struct can be written `CLeaveGame`, `CLeaveGame {}` or with `default()`.
            quote!(pub struct #ident;)
        } else {
            let fields = self.field_defs(&packet.fields);
            quote!(pub struct #ident { #(#fields)* })
        };
        let id = Literal::u16_unsuffixed(packet.id);
        let name = &packet.name;
        let owner = quote!(Self::NAME);
        let body_len = self.len_fn_body(&packet.fields, &owner, "");
        let (writer, encode) = self.encode_fn_body(&packet.fields);
        let (reader, decode) = self.decode_fn_body(&packet.fields);
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, PartialEq, Default)]
            #definition

            impl ::server_core::Packet for #ident {
                const ID: u16 = #id;
                const NAME: &'static str = #name;

                fn body_len(&self) -> ::std::result::Result<usize, ::server_core::EncodeError> {
                    #body_len
                }

                fn encode_body(&self, #writer: &mut ::server_core::wire::Writer<'_>) {
                    #encode
                }

                fn decode_body(
                    #reader: &mut ::server_core::wire::Reader<'_>,
                ) -> ::std::result::Result<Self, ::server_core::DecodeError> {
                    #decode
                }
            }
        }
    }

    /// A nested struct and its inherent wire methods.
    pub fn nested(&self, index: usize) -> TokenStream {
        let s = &self.schema.structs[index];
        let ident = type_ident(&s.name);
        let doc = format!(" `{}`: a struct nested in packets.", s.name);
        let fields = self.field_defs(&s.fields);
        let has_variable = self.schema.fields_fixed_size(&s.fields).is_none();
        let packet = if has_variable {
            quote!(packet)
        } else {
            quote!(_packet)
        };
        let prefix = format!("{}.", s.name);
        let len_body = self.len_fn_body(&s.fields, &quote!(packet), &prefix);
        let (writer, encode) = self.encode_fn_body(&s.fields);
        let (reader, decode) = self.decode_fn_body(&s.fields);
        let min = Literal::usize_unsuffixed(self.schema.min_size(&Type::Struct(index)));
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, PartialEq, Default)]
            pub struct #ident { #(#fields)* }

            impl #ident {
                /// The fewest bytes one value takes on the wire (all lists and strings empty).
                pub const MIN_ENCODED_LEN: usize = #min;

                /// Exact encoded size in bytes. `packet` names the enclosing packet in errors.
                pub fn encoded_len(
                    &self,
                    #packet: &'static str,
                ) -> ::std::result::Result<usize, ::server_core::EncodeError> {
                    #len_body
                }

                /// Writes the fields in wire order; `writer` has room (see `encoded_len`).
                pub fn encode_into(&self, #writer: &mut ::server_core::wire::Writer<'_>) {
                    #encode
                }

                /// Reads the fields in wire order, bounded by the frame.
                pub fn decode_from(
                    #reader: &mut ::server_core::wire::Reader<'_>,
                ) -> ::std::result::Result<Self, ::server_core::DecodeError> {
                    #decode
                }
            }
        }
    }

    /// Body of `body_len`/`encoded_len`: the fixed part as one constant, then each
    /// variable-size field checked and added.
    fn len_fn_body(&self, fields: &[Field], packet: &TokenStream, prefix: &str) -> TokenStream {
        let fixed: usize = fields
            .iter()
            .filter_map(|f| self.schema.fixed_size(&f.ty))
            .sum();
        let fixed = Literal::usize_unsuffixed(fixed);
        let variable: Vec<TokenStream> = fields
            .iter()
            .filter(|f| self.schema.fixed_size(&f.ty).is_none())
            .map(|f| {
                let label = format!("{prefix}{}", f.name);
                self.len_of(&f.ty, Place::Field(f), packet, &label)
            })
            .collect();
        if variable.is_empty() {
            quote!(Ok(#fixed))
        } else {
            quote! {
                let mut len: usize = #fixed;
                #(#variable)*
                Ok(len)
            }
        }
    }

    /// Statements adding the size of one variable-size value to `len`.
    fn len_of(
        &self,
        ty: &Type,
        place: Place<'_>,
        packet: &TokenStream,
        label: &str,
    ) -> TokenStream {
        let value = place.by_ref();
        let receiver = place.receiver();
        match ty {
            // Fixed-size values are summed into the constant part and never get here.
            Type::Scalar(_) => TokenStream::new(),
            Type::String => {
                let bytes = match self.schema.string_encoding {
                    StringEncoding::Utf16Le => quote!(::server_core::wire::utf16_len(#value)),
                    StringEncoding::Utf8 => quote!(#receiver.len()),
                };
                quote!(len += 2 + checked_len(#packet, #label, #bytes)?;)
            }
            Type::Bytes => quote!(len += 2 + checked_len(#packet, #label, #receiver.len())?;),
            Type::Struct(_) => quote!(len += #receiver.encoded_len(#packet)?;),
            Type::List(element) => {
                let count = quote!(checked_len(#packet, #label, #receiver.len())?);
                match self.schema.fixed_size(element) {
                    Some(0) => quote! {
                        #count;
                        len += 2;
                    },
                    Some(1) => quote!(len += 2 + #count;),
                    Some(size) => {
                        let size = Literal::usize_unsuffixed(size);
                        quote!(len += 2 + #count * #size;)
                    }
                    None => {
                        let each = self.len_of(element, Place::Item, packet, label);
                        quote! {
                            #count;
                            len += 2;
                            for item in #value {
                                #each
                            }
                        }
                    }
                }
            }
        }
    }

    /// The writer parameter's name and the body of `encode_body`/`encode_into`.
    fn encode_fn_body(&self, fields: &[Field]) -> (TokenStream, TokenStream) {
        if fields.is_empty() {
            return (quote!(_writer), TokenStream::new());
        }
        let statements = fields.iter().map(|f| self.encode(&f.ty, Place::Field(f)));
        (quote!(writer), quote!(#(#statements)*))
    }

    fn encode(&self, ty: &Type, place: Place<'_>) -> TokenStream {
        match ty {
            Type::Scalar(s) => {
                let put = proc_macro2::Ident::new(
                    &format!("put_{}", s.name()),
                    proc_macro2::Span::call_site(),
                );
                let value = place.value();
                quote!(writer.#put(#value);)
            }
            Type::String => {
                let value = place.by_ref();
                match self.schema.string_encoding {
                    StringEncoding::Utf16Le => quote!(writer.put_str_utf16(#value);),
                    StringEncoding::Utf8 => quote!(writer.put_str_utf8(#value);),
                }
            }
            Type::Bytes => {
                let value = place.by_ref();
                quote!(writer.put_bytes(#value);)
            }
            Type::Struct(_) => {
                let receiver = place.receiver();
                quote!(#receiver.encode_into(writer);)
            }
            Type::List(element) => {
                let value = place.by_ref();
                let receiver = place.receiver();
                let each = self.encode(element, Place::Item);
                quote! {
                    writer.put_len(#receiver.len());
                    for item in #value {
                        #each
                    }
                }
            }
        }
    }

    /// The reader parameter's name and the body of `decode_body`/`decode_from`.
    fn decode_fn_body(&self, fields: &[Field]) -> (TokenStream, TokenStream) {
        if fields.is_empty() {
            return (quote!(_reader), quote!(Ok(Self {})));
        }
        let fields = fields.iter().map(|f| {
            let ident = field_ident(&f.name);
            let value = self.decode(&f.ty);
            quote!(#ident: #value,)
        });
        // Struct literal fields evaluate in source order, which is wire order.
        (quote!(reader), quote!(Ok(Self { #(#fields)* })))
    }

    fn decode(&self, ty: &Type) -> TokenStream {
        match ty {
            Type::Scalar(s) => {
                let get = proc_macro2::Ident::new(
                    &format!("get_{}", s.name()),
                    proc_macro2::Span::call_site(),
                );
                quote!(reader.#get()?)
            }
            Type::String => match self.schema.string_encoding {
                StringEncoding::Utf16Le => quote!(reader.get_str_utf16()?),
                StringEncoding::Utf8 => quote!(reader.get_str_utf8()?),
            },
            Type::Bytes => quote!(reader.get_bytes()?.to_vec()),
            Type::Struct(index) => {
                let ident = type_ident(&self.schema.structs[*index].name);
                quote!(#ident::decode_from(reader)?)
            }
            Type::List(element) => {
                let min = Literal::usize_unsuffixed(self.schema.min_size(element));
                let each = self.decode(element);
                quote! {{
                    // get_count refuses counts the rest of the frame cannot hold, so this
                    // allocation is bounded by the frame size, not by the peer's claim.
                    let count = reader.get_count(#min)?;
                    let mut items = ::std::vec::Vec::with_capacity(count);
                    for _ in 0..count {
                        items.push(#each);
                    }
                    items
                }}
            }
        }
    }
}
