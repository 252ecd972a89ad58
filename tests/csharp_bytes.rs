//! Rust and C# agree on every byte: for every packet of the all-types schema
//! (packet-gen/tests/schemas/all_types.json), in both string encodings, frames encoded by
//! the generated Rust decode in the generated C# and encode back to the identical bytes,
//! and frames encoded by C# decode in Rust and encode back identically. Values are edge
//! cases (minimum and maximum integers, infinities, -0.0, subnormals, empty strings and
//! lists, lists of 1000) and random ones (non-ASCII text with surrogate pairs included).
//! The C# side is tests/csharp/ByteCheck.cs; the Rust code comes from this package's build.rs.

#[path = "csharp/mono.rs"]
mod mono;

use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

use packet_gen::{Role, StringEncoding};
use server_core::Packet;

use mono::{generate, root, runtime_sources, work_dir, Mono};

#[allow(dead_code)]
mod utf16 {
    include!(concat!(env!("OUT_DIR"), "/all_types_utf16.rs"));
}

#[allow(dead_code)]
mod utf8 {
    include!(concat!(env!("OUT_DIR"), "/all_types_utf8.rs"));
}

const DEADLINE: Duration = Duration::from_secs(120);

/// Random packets per packet type (besides one per edge mode).
const RANDOM_PER_PACKET: usize = 200;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Min,
    Max,
    Empty,
    Long,
    Random,
}

const MODES: [Mode; 4] = [Mode::Min, Mode::Max, Mode::Empty, Mode::Long];

/// A small deterministic generator (xorshift64*): reproducible failures, no dependency.
struct Values {
    state: u64,
    mode: Mode,
    depth: usize,
}

trait Edge: Sized {
    const MIN: Self;
    const MAX: Self;
    fn from_bits(bits: u64) -> Self;
}

macro_rules! edge_ints {
    ($($t:ty),*) => {$(
        impl Edge for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            fn from_bits(bits: u64) -> Self {
                bits as $t
            }
        }
    )*};
}
edge_ints!(i8, u8, i16, u16, i32, u32, i64, u64);

impl Values {
    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn int<T: Edge + Default>(&mut self) -> T {
        match self.mode {
            Mode::Min => T::MIN,
            Mode::Max => T::MAX,
            Mode::Empty => T::default(),
            Mode::Long | Mode::Random => T::from_bits(self.next()),
        }
    }

    fn bool(&mut self) -> bool {
        match self.mode {
            Mode::Max => true,
            Mode::Random => self.next() & 1 == 1,
            _ => false,
        }
    }

    fn f32(&mut self) -> f32 {
        let coin = self.next() & 1 == 0;
        let value = match self.mode {
            Mode::Min => f32::MIN,
            Mode::Max => f32::MAX,
            Mode::Empty => -0.0,
            Mode::Long if coin => f32::NEG_INFINITY,
            Mode::Long => f32::from_bits(1), // the smallest subnormal
            Mode::Random => f32::from_bits(self.next() as u32),
        };
        // NaN payloads are not promised to survive every float path; everything else is.
        if value.is_nan() {
            0.75
        } else {
            value
        }
    }

    fn f64(&mut self) -> f64 {
        let coin = self.next() & 1 == 0;
        let value = match self.mode {
            Mode::Min => f64::MIN,
            Mode::Max => f64::MAX,
            Mode::Empty => -0.0,
            Mode::Long if coin => f64::INFINITY,
            Mode::Long => f64::from_bits(1),
            Mode::Random => f64::from_bits(self.next()),
        };
        if value.is_nan() {
            -3.5
        } else {
            value
        }
    }

    fn string(&mut self) -> String {
        const PIECES: [&str; 9] = ["a", "Z", "é", "안", "녕", "😀", "🎮", " ", "\0"];
        let pieces = match self.mode {
            Mode::Min | Mode::Empty => return String::new(),
            Mode::Long => return "x".to_owned(),
            Mode::Max => 40,
            Mode::Random => self.below(12),
        };
        (0..pieces)
            .map(|_| PIECES[self.below(PIECES.len())])
            .collect()
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = match self.mode {
            Mode::Min | Mode::Empty => 0,
            Mode::Max => 300,
            Mode::Long => 1,
            Mode::Random => self.below(16),
        };
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// A list whose elements come from `element`; 1000 (300 for structs) long at the top in
    /// Long mode, random inside nested lists so frames stay under 64 KiB.
    fn list<T>(&mut self, structs: bool, mut element: impl FnMut(&mut Values) -> T) -> Vec<T> {
        let len = match self.mode {
            Mode::Empty => 0,
            Mode::Long if self.depth == 0 => {
                if structs {
                    300
                } else {
                    1000
                }
            }
            Mode::Min | Mode::Max => 1 + self.below(3),
            _ => self.below(if self.depth == 0 { 6 } else { 3 }),
        };
        let outer = self.mode;
        self.depth += 1;
        if outer == Mode::Long && self.depth > 1 {
            self.mode = Mode::Random;
        }
        let list = (0..len).map(|_| element(self)).collect();
        self.mode = outer;
        self.depth -= 1;
        list
    }
}

/// The same functions for both generated modules: their types have the same shape.
macro_rules! cross_language {
    ($name:ident, $module:ident) => {
        mod $name {
            use super::*;
            use crate::$module::*;

            fn vec3(v: &mut Values) -> Vec3 {
                Vec3 {
                    x: v.f32(),
                    y: v.f32(),
                    z: v.f32(),
                }
            }

            fn packets(v: &mut Values) -> Vec<Vec<u8>> {
                let scalars = CScalars {
                    flag: v.bool(),
                    tiny: v.int(),
                    byte: v.int(),
                    short: v.int(),
                    ushort: v.int(),
                    int: v.int(),
                    uint: v.int(),
                    long: v.int(),
                    ulong: v.int(),
                    single: v.f32(),
                    double: v.f64(),
                };
                let variable = CVariable {
                    text: v.string(),
                    blob: v.bytes(),
                    position: vec3(v),
                    numbers: v.list(false, |v| v.int()),
                    names: v.list(false, |v| v.string()),
                    blobs: v.list(false, |v| v.bytes()),
                    points: v.list(true, vec3),
                };
                let skills = SSkills {
                    owner_id: v.int(),
                    skills: v.list(true, |v| Skill {
                        id: v.int(),
                        level: v.int(),
                        r#type: v.string(),
                        attributes: v.list(true, |v| Attribute {
                            key: v.string(),
                            value: v.f64(),
                        }),
                    }),
                };
                vec![
                    encode(&scalars),
                    encode(&variable),
                    encode(&skills),
                    encode(&Empty),
                ]
            }

            /// Rust's frames for every packet in every mode, then random ones.
            pub fn rust_frames() -> Vec<Vec<u8>> {
                let mut v = Values {
                    state: 0x9e37_79b9_7f4a_7c15,
                    mode: Mode::Min,
                    depth: 0,
                };
                let mut frames = Vec::new();
                for mode in MODES {
                    v.mode = mode;
                    frames.extend(packets(&mut v));
                }
                v.mode = Mode::Random;
                for _ in 0..RANDOM_PER_PACKET {
                    frames.extend(packets(&mut v));
                }
                frames
            }

            /// Decodes a frame as the packet its id names and encodes it again.
            pub fn reencode(frame: &[u8]) -> Result<Vec<u8>, String> {
                let id = u16::from_le_bytes([frame[2], frame[3]]);
                let body = &frame[4..];
                match id {
                    CScalars::ID => again::<CScalars>(body),
                    CVariable::ID => again::<CVariable>(body),
                    SSkills::ID => again::<SSkills>(body),
                    Empty::ID => again::<Empty>(body),
                    other => Err(format!("id {other} is not in the all-types schema")),
                }
            }
        }
    };
}

cross_language!(utf16_cross, utf16);
cross_language!(utf8_cross, utf8);

fn encode<P: Packet>(packet: &P) -> Vec<u8> {
    packet
        .encode()
        .unwrap_or_else(|e| panic!("test values are sized to encode: {e}"))
        .to_vec()
}

fn again<P: Packet + Debug>(body: &[u8]) -> Result<Vec<u8>, String> {
    P::decode(body)
        .map(|packet| encode(&packet))
        .map_err(|e| format!("{}: {e}", P::NAME))
}

/// Splits frames laid back to back by their size headers.
fn split(bytes: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 4 {
        let size = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        assert!(
            (4..=rest.len()).contains(&size),
            "a frame of size {size} with {} bytes left",
            rest.len()
        );
        let (frame, tail) = rest.split_at(size);
        frames.push(frame);
        rest = tail;
    }
    assert!(
        rest.is_empty(),
        "{} stray bytes after the last frame",
        rest.len()
    );
    frames
}

fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(48).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}{}",
        shown.join(" "),
        if bytes.len() > 48 { " ..." } else { "" }
    )
}

fn cross_check(
    test: &str,
    encoding: StringEncoding,
    rust_frames: fn() -> Vec<Vec<u8>>,
    reencode: fn(&[u8]) -> Result<Vec<u8>, String>,
) {
    let Some(mono) = Mono::find(test) else {
        return;
    };
    let dir = work_dir(test);
    let schema = root().join("packet-gen/tests/schemas/all_types.json");
    let mut sources = generate(&schema, Role::Server, Some(encoding), &dir);
    sources.extend(runtime_sources());
    sources.push(root().join("tests/csharp/ByteCheck.cs"));
    // ServerPacketManager.cs calls PacketHandler; ByteCheck never dispatches.
    sources.push(mono::write_source(
        &dir,
        "Handlers.cs",
        "static class PacketHandler {\n\
         public static void C_ScalarsHandler(ServerCore.PacketSession s, IPacket p) { }\n\
         public static void C_VariableHandler(ServerCore.PacketSession s, IPacket p) { }\n}\n",
    ));
    let exe = dir.join("ByteCheck.exe");
    mono.compile(&exe, &sources);

    // Rust -> C# -> identical bytes.
    let frames = rust_frames();
    let input = dir.join("rust.bin");
    std::fs::write(&input, frames.concat()).expect("write Rust's frames");
    let output = dir.join("csharp-again.bin");
    run(&mono, &exe, &["roundtrip", path(&input), path(&output)]);
    let back = std::fs::read(&output).expect("read C#'s frames");
    let back = split(&back);
    assert_eq!(
        back.len(),
        frames.len(),
        "C# should write one frame per frame read"
    );
    for (i, (rust, csharp)) in frames.iter().zip(&back).enumerate() {
        assert!(
            rust.as_slice() == *csharp,
            "frame {i}: C# re-encoded Rust's bytes differently\nrust:   {}\ncsharp: {}",
            hex(rust),
            hex(csharp)
        );
    }

    // C# -> Rust -> identical bytes.
    let generated = dir.join("csharp.bin");
    run(
        &mono,
        &exe,
        &[
            "generate",
            "20261122",
            &RANDOM_PER_PACKET.to_string(),
            path(&generated),
        ],
    );
    let bytes = std::fs::read(&generated).expect("read C#'s frames");
    let csharp_frames = split(&bytes);
    assert_eq!(
        csharp_frames.len(),
        4 * (MODES.len() + RANDOM_PER_PACKET),
        "C# should generate every packet in every mode"
    );
    for (i, frame) in csharp_frames.iter().enumerate() {
        let again = reencode(frame).unwrap_or_else(|e| {
            panic!(
                "frame {i} from C# should decode in Rust: {e}\n{}",
                hex(frame)
            )
        });
        assert!(
            again.as_slice() == *frame,
            "frame {i}: Rust re-encoded C#'s bytes differently\ncsharp: {}\nrust:   {}",
            hex(frame),
            hex(&again)
        );
    }
    println!(
        "{test}: {} Rust frames and {} C# frames crossed over and came back byte for byte",
        frames.len(),
        csharp_frames.len()
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

fn run(mono: &Mono, exe: &Path, args: &[&str]) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let output = mono.run(exe, &args, DEADLINE);
    assert!(
        output.status.success(),
        "ByteCheck {} failed ({}):\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn utf16_bytes_cross_between_rust_and_csharp_unchanged() {
    cross_check(
        "utf16_bytes_cross_between_rust_and_csharp_unchanged",
        StringEncoding::Utf16Le,
        utf16_cross::rust_frames,
        utf16_cross::reencode,
    );
}

#[test]
fn utf8_bytes_cross_between_rust_and_csharp_unchanged() {
    cross_check(
        "utf8_bytes_cross_between_rust_and_csharp_unchanged",
        StringEncoding::Utf8,
        utf8_cross::rust_frames,
        utf8_cross::reencode,
    );
}
