//! The builder that build scripts and the CLI drive, after prost-build's `Config`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::csharp::GeneratedFile;
use crate::error::Error;
use crate::model::{Role, Schema, StringEncoding};
use crate::parse::RawSchema;
use crate::validate::validate;

/// What to generate and where. Setters take and return `&mut Self`, so a build script
/// reads as one chain: `Config::new().role(Role::Client).compile(schema, out_dir)`.
#[derive(Debug, Clone)]
pub struct Config {
    role: Role,
    string_encoding: Option<StringEncoding>,
    out_file_name: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            role: Role::Server,
            string_encoding: None,
            out_file_name: "packets.rs".to_owned(),
        }
    }
}

impl Config {
    /// Server role, the schema's own string encoding, output file `packets.rs`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Which side to generate the receive half (`Incoming`, `PacketHandler`,
    /// `PacketManager`) for. Packet structs are generated for both roles alike.
    pub fn role(&mut self, role: Role) -> &mut Self {
        self.role = role;
        self
    }

    /// Encodes strings with `encoding` whatever the schema says. Meant for tests that run
    /// one schema in both encodings; a real protocol should say it in the schema.
    pub fn string_encoding_override(&mut self, encoding: StringEncoding) -> &mut Self {
        self.string_encoding = Some(encoding);
        self
    }

    /// The generated file's name inside the output directory (default `packets.rs`).
    pub fn out_file_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.out_file_name = name.into();
        self
    }

    /// Parses and validates schema text; `file` names it in error messages.
    pub fn parse_str(&self, file: &str, json: &str) -> Result<Schema, Error> {
        let raw: RawSchema = serde_json::from_str(json).map_err(|e| Error::syntax(file, &e))?;
        let mut schema = validate(&raw).map_err(|invalid| Error::Schema {
            file: file.to_owned(),
            path: invalid.path,
            kind: invalid.kind,
        })?;
        if let Some(encoding) = self.string_encoding {
            schema.string_encoding = encoding;
        }
        Ok(schema)
    }

    /// Reads, parses and validates a schema file.
    pub fn parse_file(&self, schema: impl AsRef<Path>) -> Result<Schema, Error> {
        let path = schema.as_ref();
        let json = fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        self.parse_str(&path.display().to_string(), &json)
    }

    /// The generated Rust source for schema text. `file` names it in errors and the header.
    pub fn generate_str(&self, file: &str, json: &str) -> Result<String, Error> {
        let schema = self.parse_str(file, json)?;
        crate::rust::generate(&schema, self.role, file_name(Path::new(file)))
    }

    /// The generated Rust source for a schema file.
    pub fn generate(&self, schema: impl AsRef<Path>) -> Result<String, Error> {
        let path = schema.as_ref();
        let model = self.parse_file(path)?;
        crate::rust::generate(&model, self.role, file_name(path))
    }

    /// The C# files for a schema file: `GenPackets.cs` and the role's packet manager
    /// (`ClientPacketManager.cs` or `ServerPacketManager.cs`), from the same validated model
    /// as the Rust code. The output file name setting does not apply.
    pub fn generate_csharp(&self, schema: impl AsRef<Path>) -> Result<Vec<GeneratedFile>, Error> {
        let path = schema.as_ref();
        let model = self.parse_file(path)?;
        Ok(crate::csharp::generate(&model, self.role, file_name(path)))
    }

    /// The C# files for schema text. `file` names it in errors and the headers.
    pub fn generate_csharp_str(&self, file: &str, json: &str) -> Result<Vec<GeneratedFile>, Error> {
        let schema = self.parse_str(file, json)?;
        Ok(crate::csharp::generate(
            &schema,
            self.role,
            file_name(Path::new(file)),
        ))
    }

    /// Writes the C# files into `out_dir` (each only if its content changed) and returns
    /// their paths.
    pub fn compile_csharp(
        &self,
        schema: impl AsRef<Path>,
        out_dir: impl AsRef<Path>,
    ) -> Result<Vec<PathBuf>, Error> {
        let mut written = Vec::new();
        for file in self.generate_csharp(schema)? {
            let out = out_dir.as_ref().join(&file.name);
            write_if_changed(&out, &file.content)?;
            written.push(out);
        }
        Ok(written)
    }

    /// Generates `out_dir/<out_file_name>` from the schema file, writing it only if its
    /// content changed (so an unchanged schema does not recompile the includer). Returns
    /// the output path.
    pub fn compile(
        &self,
        schema: impl AsRef<Path>,
        out_dir: impl AsRef<Path>,
    ) -> Result<PathBuf, Error> {
        let code = self.generate(schema)?;
        let out = out_dir.as_ref().join(&self.out_file_name);
        write_if_changed(&out, &code)?;
        Ok(out)
    }

    /// The whole job of a `build.rs`: tells cargo to rerun when the schema or `build.rs`
    /// changes, generates into `OUT_DIR`, and on any error prints the one-line message and
    /// exits with status 1, so the build fails with that message and no panic backtrace.
    pub fn compile_in_build_script(&self, schema: impl AsRef<Path>) {
        let schema = schema.as_ref();
        println!("cargo:rerun-if-changed={}", schema.display());
        println!("cargo:rerun-if-changed=build.rs");
        // Messages name the schema by its canonical path so they point at the real file
        // whichever crate's build script reports them.
        let shown = fs::canonicalize(schema).unwrap_or_else(|_| schema.to_owned());
        let result = match std::env::var_os("OUT_DIR") {
            Some(out_dir) => self.compile(&shown, out_dir),
            None => Err(Error::NoOutDir),
        };
        if let Err(error) = result {
            let message = error.to_string();
            for line in message.lines() {
                println!("cargo:warning={line}");
            }
            let mut stderr = std::io::stderr().lock();
            // Nothing more can be done if stderr is gone; the exit status still fails the build.
            let _ = writeln!(stderr, "error: {message}");
            std::process::exit(1);
        }
    }
}

fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("schema")
}

/// Writes `content` to `path` unless the file already holds exactly that. Returns whether
/// it wrote.
pub fn write_if_changed(path: &Path, content: &str) -> Result<bool, Error> {
    if fs::read(path).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
    }
    fs::write(path, content).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(true)
}
