//! `packet-gen SCHEMA --out DIR [--role server|client]`: writes `DIR/packets.rs` so people
//! can read what a build script would generate.

use std::path::PathBuf;
use std::process::ExitCode;

use packet_gen::{Config, Role};

const USAGE: &str = "usage: packet-gen SCHEMA.json --out DIR [--role server|client]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1)) {
        Ok(out) => {
            println!("wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(mut args: impl Iterator<Item = String>) -> Result<PathBuf, String> {
    let mut schema = None;
    let mut out = None;
    let mut role = Role::Server;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = Some(args.next().ok_or(USAGE)?),
            "--role" => {
                role = match args.next().as_deref() {
                    Some("server") => Role::Server,
                    Some("client") => Role::Client,
                    _ => return Err(format!("--role takes server or client\n{USAGE}")),
                }
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            _ if schema.is_none() && !arg.starts_with('-') => schema = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}\n{USAGE}")),
        }
    }
    let (Some(schema), Some(out)) = (schema, out) else {
        return Err(USAGE.to_owned());
    };
    Config::new()
        .role(role)
        .compile(schema, out)
        .map_err(|e| e.to_string())
}
