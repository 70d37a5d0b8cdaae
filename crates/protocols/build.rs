//! Generates protobuf messages and async ttRPC client/server code from
//! `protos/` into `$OUT_DIR/gen` with the pure-Rust `ttrpc-codegen` parser.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ttrpc_codegen::{Codegen, Customize, ProtobufCustomize};

const PROTOS: &[&str] = &[
    "protos/google/protobuf/empty.proto",
    "protos/types.proto",
    "protos/oci.proto",
    "protos/csi.proto",
    "protos/agent.proto",
    "protos/health.proto",
];

fn main() -> io::Result<()> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=protos");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }

    let out_dir =
        PathBuf::from(std::env::var_os("OUT_DIR").ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "OUT_DIR is not set by cargo")
        })?)
        .join("gen");
    fs::create_dir_all(&out_dir)?;

    Codegen::new()
        .out_dir(&out_dir)
        .inputs(PROTOS)
        .include("protos")
        .customize(Customize {
            async_all: true,
            ..Default::default()
        })
        .rust_protobuf()
        .rust_protobuf_customize(
            ProtobufCustomize::default()
                .gen_mod_rs(false)
                .generate_accessors(true),
        )
        .run()?;

    for entry in fs::read_dir(&out_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            make_includable(&path)?;
        }
    }
    Ok(())
}

/// Generated files carry inner attributes and inner doc comments, which are
/// not allowed in a file pulled in with `include!` inside a `mod` block; the
/// crate root sets the equivalent `allow`s instead. The OCI message `Box`
/// also shadows `std::boxed::Box` in generated signatures.
fn make_includable(path: &Path) -> io::Result<()> {
    let text = fs::read_to_string(path)?;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#![") || trimmed.starts_with("//!") {
            continue;
        }
        out.push_str(&line.replace("self: Box<Self>", "self: ::std::boxed::Box<Self>"));
        out.push('\n');
    }
    fs::write(path, out)
}
