//! `PacketId` (every packet) and the role-specific receive side: `Incoming`,
//! `PacketHandler` and `PacketManager`, the course's packet manager with an O(1) table.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::naming::{decoder_ident, handler_ident, type_ident};
use crate::model::{Direction, Packet, Role, Schema};

/// `PacketId` over all packets of the schema.
pub(crate) fn packet_id(schema: &Schema) -> TokenStream {
    let variants = schema.packets.iter().map(|p| {
        let ident = type_ident(&p.name);
        let id = Literal::u16_unsuffixed(p.id);
        let doc = format!(" `{}` ({}).", p.name, direction_doc(p.direction));
        quote! {
            #[doc = #doc]
            #ident = #id,
        }
    });
    let idents: Vec<_> = schema.packets.iter().map(|p| type_ident(&p.name)).collect();
    let ids = schema.packets.iter().map(|p| Literal::u16_unsuffixed(p.id));
    let names = schema.packets.iter().map(|p| &p.name);
    let max = Literal::u16_unsuffixed(schema.max_id());
    quote! {
        /// Every packet of the schema, by its id on the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum PacketId {
            #(#variants)*
        }

        impl PacketId {
            /// Every packet id, in schema order.
            pub const ALL: &'static [PacketId] = &[#(PacketId::#idents),*];

            /// The largest id in the schema.
            pub const MAX: u16 = #max;

            /// The packet with this id, if any.
            pub fn from_u16(id: u16) -> ::std::option::Option<PacketId> {
                match id {
                    #(#ids => Some(PacketId::#idents),)*
                    _ => None,
                }
            }

            /// The packet's schema name (`"C_Move"`).
            pub fn name(self) -> &'static str {
                match self {
                    #(PacketId::#idents => #names,)*
                }
            }

            /// The id on the wire.
            pub fn as_u16(self) -> u16 {
                self as u16
            }
        }

        impl ::std::convert::From<PacketId> for u16 {
            fn from(id: PacketId) -> u16 {
                id as u16
            }
        }
    }
}

fn direction_doc(direction: Direction) -> &'static str {
    match direction {
        Direction::ClientToServer => "client to server",
        Direction::ServerToClient => "server to client",
    }
}

/// `Incoming`, `PacketHandler` and `PacketManager` for the packets `role` receives.
pub(crate) fn receive_side(schema: &Schema, role: Role) -> TokenStream {
    let received: Vec<&Packet> = schema
        .packets
        .iter()
        .filter(|p| role.receives(p.direction))
        .collect();
    let side = match role {
        Role::Server => "the server: `C_` (client to server) packets",
        Role::Client => "the client: `S_` (server to client) packets",
    };
    let idents: Vec<_> = received.iter().map(|p| type_ident(&p.name)).collect();
    let handlers: Vec<_> = received.iter().map(|p| handler_ident(&p.name)).collect();
    let decoders: Vec<_> = received.iter().map(|p| decoder_ident(&p.name)).collect();
    let ids: Vec<_> = received
        .iter()
        .map(|p| Literal::usize_unsuffixed(usize::from(p.id)))
        .collect();

    let incoming_doc = format!(" A decoded packet received by {side}.");
    let variant_docs = received.iter().map(|p| format!(" `{}`.", p.name));
    let handler_docs = received
        .iter()
        .map(|p| format!(" Called with each `{}` received.", p.name));

    let (id_body, dispatch_body) = if received.is_empty() {
        // No packets travel this way: the enum is empty and these cannot be called.
        (
            quote!(match *self {}),
            quote! {
                let _ = handler;
                match self {}
            },
        )
    } else {
        (
            quote! {
                match self {
                    #(Incoming::#idents(_) => PacketId::#idents,)*
                }
            },
            quote! {
                match self {
                    #(Incoming::#idents(packet) => handler.#handlers(packet),)*
                }
            },
        )
    };

    let table_len = Literal::usize_unsuffixed(usize::from(schema.max_id()) + 1);
    let table = if received.is_empty() {
        quote!([None; #table_len])
    } else {
        quote! {{
            let mut table: [::std::option::Option<Decoder>; #table_len] = [None; #table_len];
            #(table[#ids] = Some(#decoders as Decoder);)*
            table
        }}
    };

    quote! {
        #[doc = #incoming_doc]
        ///
        /// Returned by [`PacketManager::decode`] so a caller can queue packets for another
        /// thread (like the course's `onRecvCallback`) instead of handling them at once.
        #[derive(Debug, Clone, PartialEq)]
        // Variants hold packets by value so decoding allocates nothing extra; a big packet
        // makes every `Incoming` big, which is the price of not boxing.
        #[allow(clippy::large_enum_variant)]
        pub enum Incoming {
            #(
                #[doc = #variant_docs]
                #idents(#idents),
            )*
        }

        impl Incoming {
            /// The packet's id.
            pub fn id(&self) -> PacketId {
                #id_body
            }

            /// Calls the handler method for this packet.
            pub fn dispatch<H: PacketHandler + ?Sized>(self, handler: &mut H) {
                #dispatch_body
            }
        }

        #(
            impl ::std::convert::From<#idents> for Incoming {
                fn from(packet: #idents) -> Incoming {
                    Incoming::#idents(packet)
                }
            }
        )*

        /// One method per packet this side receives. The methods are required on purpose: a
        /// packet added to the schema does not compile until it is handled.
        pub trait PacketHandler {
            #(
                #[doc = #handler_docs]
                fn #handlers(&mut self, packet: #idents);
            )*
        }

        /// Decodes received frames and routes them, like the course's `PacketManager`.
        #[derive(Debug, Clone, Copy, Default)]
        pub struct PacketManager;

        impl PacketManager {
            /// Decodes a frame's body (the frame without its 4-byte header) by its id.
            ///
            /// An id with no packet is [`UnknownPacketId`], a packet this side never receives
            /// is [`UnexpectedPacket`], and a bad body is [`Decode`]; all three should close
            /// the session.
            ///
            /// [`UnknownPacketId`]: ::server_core::ProtocolError::UnknownPacketId
            /// [`UnexpectedPacket`]: ::server_core::ProtocolError::UnexpectedPacket
            /// [`Decode`]: ::server_core::ProtocolError::Decode
            pub fn decode(
                id: u16,
                body: &[u8],
            ) -> ::std::result::Result<Incoming, ::server_core::ProtocolError> {
                type Decoder =
                    fn(&[u8]) -> ::std::result::Result<Incoming, ::server_core::ProtocolError>;

                #(
                    fn #decoders(
                        body: &[u8],
                    ) -> ::std::result::Result<Incoming, ::server_core::ProtocolError> {
                        <#idents as ::server_core::Packet>::decode(body)
                            .map(Incoming::#idents)
                            .map_err(|error| ::server_core::ProtocolError::Decode {
                                id: <#idents as ::server_core::Packet>::ID,
                                name: <#idents as ::server_core::Packet>::NAME,
                                error,
                            })
                    }
                )*

                // Indexed by id, built at compile time: one bounds-checked load per packet.
                static DECODERS: [::std::option::Option<Decoder>; #table_len] = #table;

                match DECODERS.get(usize::from(id)).copied().flatten() {
                    Some(decoder) => decoder(body),
                    None => Err(match PacketId::from_u16(id) {
                        Some(packet) => ::server_core::ProtocolError::UnexpectedPacket {
                            id,
                            name: packet.name(),
                        },
                        None => ::server_core::ProtocolError::UnknownPacketId { id },
                    }),
                }
            }

            /// Decodes a frame's body and calls the handler method for it.
            pub fn dispatch<H: PacketHandler + ?Sized>(
                id: u16,
                body: &[u8],
                handler: &mut H,
            ) -> ::std::result::Result<(), ::server_core::ProtocolError> {
                Self::decode(id, body)?.dispatch(handler);
                Ok(())
            }
        }
    }
}
