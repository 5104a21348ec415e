//! Compiles proto/symbolicator.proto with protox (pure Rust), so building
//! Faultline needs no protoc on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto");
    let proto = format!("{proto_dir}/symbolicator.proto");
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([&proto], [proto_dir])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
