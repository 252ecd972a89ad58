//! `packet-gen [SCHEMA] --out DIR [--lang rust|csharp] [--role server|client]`: writes the
//! generated code into DIR: `packets.rs` for Rust (so people can read what a build script
//! generates), or `GenPackets.cs` plus the role's packet manager for a C# (Unity) project.

use std::path::PathBuf;
use std::process::ExitCode;

use packet_gen::{Config, Role};

const USAGE: &str = "\
usage: packet-gen [SCHEMA.json] --out DIR [--lang rust|csharp] [--role server|client]

  SCHEMA.json  the schema (default: packets.json in the current directory)
  --out DIR    where to write (created if missing; unchanged files are not rewritten)
  --lang       rust (default): DIR/packets.rs
               csharp: DIR/GenPackets.cs and DIR/ServerPacketManager.cs (--role server)
               or DIR/ClientPacketManager.cs (--role client)
  --role       which side receives: server (default, C_ packets) or client (S_ packets)

example: cargo run -p packet-gen -- --lang csharp --role client --out MyGame/Assets/Scripts/Packet";

#[derive(Clone, Copy)]
enum Lang {
    Rust,
    CSharp,
}

enum Outcome {
    Wrote(Vec<PathBuf>),
    Help,
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1)) {
        Ok(Outcome::Wrote(files)) => {
            for file in files {
                println!("wrote {}", file.display());
            }
            ExitCode::SUCCESS
        }
        Ok(Outcome::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(mut args: impl Iterator<Item = String>) -> Result<Outcome, String> {
    let mut schema = None;
    let mut out = None;
    let mut role = Role::Server;
    let mut lang = Lang::Rust;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => {
                out = Some(
                    args.next()
                        .ok_or(format!("--out needs a directory\n{USAGE}"))?,
                )
            }
            "--role" => {
                role = match args.next().as_deref() {
                    Some("server") => Role::Server,
                    Some("client") => Role::Client,
                    _ => return Err(format!("--role takes server or client\n{USAGE}")),
                }
            }
            "--lang" => {
                lang = match args.next().as_deref() {
                    Some("rust") => Lang::Rust,
                    Some("csharp" | "cs" | "c#") => Lang::CSharp,
                    _ => return Err(format!("--lang takes rust or csharp\n{USAGE}")),
                }
            }
            "-h" | "--help" => return Ok(Outcome::Help),
            _ if schema.is_none() && !arg.starts_with('-') => schema = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}\n{USAGE}")),
        }
    }
    let Some(out) = out else {
        return Err(format!("--out is required\n{USAGE}"));
    };
    let schema = schema.unwrap_or_else(|| "packets.json".to_owned());
    let mut config = Config::new();
    config.role(role);
    let written = match lang {
        Lang::Rust => config.compile(&schema, &out).map(|file| vec![file]),
        Lang::CSharp => config.compile_csharp(&schema, &out),
    };
    written.map(Outcome::Wrote).map_err(|e| e.to_string())
}
