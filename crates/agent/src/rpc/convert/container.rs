//! `CreateContainerRequest` to [`CreateRequest`]: the whole conversion the CreateContainer RPC
//! does before any guest state is touched.

use kata_protocols::agent as pb;

use super::{spec_from_grpc, storage_from_grpc};
use crate::container::CreateRequest;
use crate::error::{AgentError, Result};

/// Converts a decoded request. Errors: `InvalidArgument` when the OCI spec is missing or is not
/// a valid OCI runtime spec once rewritten (the message names the field oci-spec refused).
pub fn create_request_from_grpc(req: pb::CreateContainerRequest) -> Result<CreateRequest> {
    let spec = req
        .OCI
        .as_ref()
        .ok_or_else(|| AgentError::InvalidArgument("CreateContainer without OCI spec".into()))
        .and_then(spec_from_grpc)?;
    Ok(CreateRequest {
        storages: req.storages.iter().map(storage_from_grpc).collect(),
        id: req.container_id,
        exec_id: req.exec_id,
        spec,
        sandbox_pidns: req.sandbox_pidns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_without_spec_is_invalid() {
        let mut req = pb::CreateContainerRequest::new();
        req.container_id = "c1".into();
        let err = create_request_from_grpc(req).expect_err("no spec");
        assert!(matches!(err, AgentError::InvalidArgument(_)), "{err}");
    }

    #[test]
    fn ids_storages_and_spec_carry_over() {
        let mut req = pb::CreateContainerRequest::new();
        req.container_id = "c1".into();
        req.exec_id = "e1".into();
        req.sandbox_pidns = true;
        let mut s = pb::Storage::new();
        s.mount_point = "/run/kata-containers/sandbox/local/v".into();
        req.storages.push(s);
        let mut spec = kata_protocols::oci::Spec::new();
        spec.Hostname = "pod".into();
        req.OCI = Some(spec).into();
        let got = create_request_from_grpc(req).expect("convert");
        assert_eq!((got.id.as_str(), got.exec_id.as_str()), ("c1", "e1"));
        assert!(got.sandbox_pidns);
        assert_eq!(got.storages.len(), 1);
        assert_eq!(got.spec.hostname().as_deref(), Some("pod"));
    }
}
