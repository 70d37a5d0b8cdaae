//! Generates the VMCache gRPC service (Kata's `cache.proto`, shared with kata-protocols) with
//! tonic; needs `protoc` (Debian's `protobuf-compiler`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../protocols/protos/cache.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure().compile_protos(&[proto], &["../protocols/protos"])?;
    Ok(())
}
