//! `packet-gen`: turns `packets.json` into Rust packet structs, a `PacketId` enum and a
//! role-specific `PacketManager`, from a build script or the command line.
//!
//! The pipeline, after prost-build: `parse` reads the JSON into raw types that refuse
//! unknown keys; `validate` checks it once into the language-neutral [`model`]; the `rust`
//! emitter turns the model into tokens, formatted with prettyplease; the `csharp` emitter
//! reads the same model and writes `GenPackets.cs` and a `PacketManager` for C# (Unity)
//! clients. [`Config`] drives it all; see `docs/PACKETS.md` for the schema format.
//!
//! ```no_run
//! // build.rs
//! packet_gen::Config::new()
//!     .role(packet_gen::Role::Server)
//!     .compile_in_build_script("../packets.json");
//! ```

#![warn(missing_docs)]

mod config;
mod csharp;
mod error;
pub mod model;
mod parse;
mod rust;
mod validate;

pub use config::{write_if_changed, Config};
pub use csharp::GeneratedFile;
pub use error::{Error, SchemaErrorKind};
pub use model::{Direction, Role, Schema, StringEncoding};
