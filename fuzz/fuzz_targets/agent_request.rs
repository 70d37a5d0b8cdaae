//! `CreateContainerRequest` as the guest agent receives it over ttRPC (protobuf bytes from
//! the host, untrusted from the guest's point of view).
//!
//! Only the protobuf decoding (generated code of `kata-protocols` on the `protobuf` crate) is
//! exercised: `kata-agent` is a binary crate, so its request-to-domain conversion
//! (`rpc/convert`) is not reachable from here.
#![no_main]

use kata_protocols::agent::CreateContainerRequest;
use kata_protocols::protobuf::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = CreateContainerRequest::parse_from_bytes(data) else {
        return;
    };
    // Touch the nested messages the agent reads first, then re-encode.
    let _ = req.container_id();
    if let Some(spec) = req.OCI.as_ref() {
        let _ = spec.Mounts.len();
        let _ = spec.Process.as_ref().map(|p| p.Args.len());
    }
    let _ = req.storages.iter().map(|s| s.options.len()).sum::<usize>();
    if let Ok(bytes) = req.write_to_bytes() {
        let _ = CreateContainerRequest::parse_from_bytes(&bytes);
    }
});
