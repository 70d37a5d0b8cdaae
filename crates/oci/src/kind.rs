//! Container type and sandbox id from the annotations CRI implementations put in the spec.

use oci_spec::runtime::Spec;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::validate_id;

/// containerd CRI: `sandbox` or `container`.
pub const CONTAINERD_CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";
/// containerd CRI: the pod sandbox id.
pub const CONTAINERD_SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";
/// CRI-O: `sandbox` or `container`.
pub const CRIO_CONTAINER_TYPE: &str = "io.kubernetes.cri-o.ContainerType";
/// CRI-O: the pod sandbox id.
pub const CRIO_SANDBOX_ID: &str = "io.kubernetes.cri-o.SandboxID";
/// dockershim: `podsandbox` or `container`.
pub const DOCKERSHIM_CONTAINER_TYPE: &str = "io.kubernetes.docker.type";
/// dockershim: the pod sandbox id.
pub const DOCKERSHIM_SANDBOX_ID: &str = "io.kubernetes.sandbox.id";

/// What a container is within its pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerKind {
    /// The first container of a pod: creating it creates the VM.
    PodSandbox,
    /// A container joining an existing pod sandbox.
    PodContainer,
}

/// Which CRI implementation annotated the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CriFlavor {
    Containerd,
    CriO,
    Dockershim,
}

struct Keys {
    flavor: CriFlavor,
    type_key: &'static str,
    id_key: &'static str,
    sandbox_value: &'static str,
    container_value: &'static str,
}

/// Looked up in this order; the first type annotation present decides.
const KEYS: [Keys; 3] = [
    Keys {
        flavor: CriFlavor::Containerd,
        type_key: CONTAINERD_CONTAINER_TYPE,
        id_key: CONTAINERD_SANDBOX_ID,
        sandbox_value: "sandbox",
        container_value: "container",
    },
    Keys {
        flavor: CriFlavor::CriO,
        type_key: CRIO_CONTAINER_TYPE,
        id_key: CRIO_SANDBOX_ID,
        sandbox_value: "sandbox",
        container_value: "container",
    },
    Keys {
        flavor: CriFlavor::Dockershim,
        type_key: DOCKERSHIM_CONTAINER_TYPE,
        id_key: DOCKERSHIM_SANDBOX_ID,
        sandbox_value: "podsandbox",
        container_value: "container",
    },
];

/// A container's place in a pod, with the sandbox id resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxRef {
    pub kind: ContainerKind,
    /// The sandbox this container belongs to (its own id for a sandbox without annotations).
    pub sandbox_id: String,
    /// The CRI that annotated the spec; `None` for a plain single-container pod (`ctr run`).
    pub cri: Option<CriFlavor>,
}

impl SandboxRef {
    /// Resolves the sandbox of `container_id` described by `spec`.
    ///
    /// Errors: [`Error::InvalidSandboxId`] when the annotated sandbox id breaks containerd's
    /// identifier rule (it becomes host paths), [`Error::InvalidId`] when the container id,
    /// used as the sandbox id of an unannotated spec, does.
    pub fn from_spec(spec: &Spec, container_id: &str) -> Result<Self> {
        let (kind, id, cri) = classify(spec)?;
        let sandbox_id = match id {
            Some(id) => id,
            None => {
                validate_id("container id", container_id)?;
                container_id.to_owned()
            }
        };
        Ok(Self {
            kind,
            sandbox_id,
            cri,
        })
    }
}

/// The container type and, when annotated, the sandbox id.
///
/// Without CRI annotations the spec is a single-container pod: a [`ContainerKind::PodSandbox`]
/// whose sandbox id is the container's own id (returned as `None`).
pub fn container_kind(spec: &Spec) -> Result<(ContainerKind, Option<String>)> {
    classify(spec).map(|(kind, id, _)| (kind, id))
}

fn classify(spec: &Spec) -> Result<(ContainerKind, Option<String>, Option<CriFlavor>)> {
    let Some(annotations) = spec.annotations() else {
        return Ok((ContainerKind::PodSandbox, None, None));
    };
    for keys in &KEYS {
        let Some(value) = annotations.get(keys.type_key) else {
            continue;
        };
        let kind = if value == keys.sandbox_value {
            ContainerKind::PodSandbox
        } else if value == keys.container_value {
            ContainerKind::PodContainer
        } else {
            return Err(Error::UnknownContainerType {
                annotation: keys.type_key.to_owned(),
                value: value.clone(),
            });
        };
        let id = annotations
            .get(keys.id_key)
            .filter(|id| !id.is_empty())
            .cloned();
        if kind == ContainerKind::PodContainer && id.is_none() {
            return Err(Error::MissingSandboxId {
                type_annotation: keys.type_key.to_owned(),
                id_annotation: keys.id_key.to_owned(),
            });
        }
        if let Some(id) = &id {
            validate_id("sandbox id", id).map_err(|source| Error::InvalidSandboxId {
                annotation: keys.id_key.to_owned(),
                id: id.clone(),
                source,
            })?;
        }
        return Ok((kind, id, Some(keys.flavor)));
    }
    Ok((ContainerKind::PodSandbox, None, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn spec_with(pairs: &[(&str, &str)]) -> Spec {
        let mut spec = Spec::default();
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        spec.set_annotations(Some(map));
        spec
    }

    #[test]
    fn no_annotations_is_a_single_container_pod() {
        let mut spec = Spec::default();
        spec.set_annotations(None);
        assert_eq!(
            container_kind(&spec).expect("ok"),
            (ContainerKind::PodSandbox, None)
        );
        let r = SandboxRef::from_spec(&spec_with(&[("other", "x")]), "c1").expect("ok");
        assert_eq!(r.kind, ContainerKind::PodSandbox);
        assert_eq!(r.sandbox_id, "c1");
        assert_eq!(r.cri, None);
    }

    #[test]
    fn containerd_sandbox_and_container() {
        let s = spec_with(&[
            (CONTAINERD_CONTAINER_TYPE, "sandbox"),
            (CONTAINERD_SANDBOX_ID, "sb1"),
        ]);
        assert_eq!(
            container_kind(&s).expect("ok"),
            (ContainerKind::PodSandbox, Some("sb1".into()))
        );
        let c = spec_with(&[
            (CONTAINERD_CONTAINER_TYPE, "container"),
            (CONTAINERD_SANDBOX_ID, "sb1"),
        ]);
        let r = SandboxRef::from_spec(&c, "c2").expect("ok");
        assert_eq!(r.kind, ContainerKind::PodContainer);
        assert_eq!(r.sandbox_id, "sb1");
        assert_eq!(r.cri, Some(CriFlavor::Containerd));
    }

    #[test]
    fn crio_annotations() {
        let c = spec_with(&[
            (CRIO_CONTAINER_TYPE, "container"),
            (CRIO_SANDBOX_ID, "pod9"),
        ]);
        assert_eq!(
            container_kind(&c).expect("ok"),
            (ContainerKind::PodContainer, Some("pod9".into()))
        );
        let s = spec_with(&[(CRIO_CONTAINER_TYPE, "sandbox")]);
        let r = SandboxRef::from_spec(&s, "pod9").expect("ok");
        assert_eq!(
            (r.kind, r.sandbox_id.as_str()),
            (ContainerKind::PodSandbox, "pod9")
        );
        assert_eq!(r.cri, Some(CriFlavor::CriO));
    }

    #[test]
    fn dockershim_annotations() {
        let s = spec_with(&[(DOCKERSHIM_CONTAINER_TYPE, "podsandbox")]);
        assert_eq!(container_kind(&s).expect("ok").0, ContainerKind::PodSandbox);
        let c = spec_with(&[
            (DOCKERSHIM_CONTAINER_TYPE, "container"),
            (DOCKERSHIM_SANDBOX_ID, "d1"),
        ]);
        assert_eq!(
            container_kind(&c).expect("ok"),
            (ContainerKind::PodContainer, Some("d1".into()))
        );
        // dockershim's sandbox value is "podsandbox", not "sandbox".
        let bad = spec_with(&[(DOCKERSHIM_CONTAINER_TYPE, "sandbox")]);
        assert!(container_kind(&bad).is_err());
    }

    #[test]
    fn unknown_type_names_annotation_and_value() {
        let s = spec_with(&[(CONTAINERD_CONTAINER_TYPE, "sidecar")]);
        let err = container_kind(&s).expect_err("unknown type");
        let msg = err.to_string();
        assert!(msg.contains(CONTAINERD_CONTAINER_TYPE), "{msg}");
        assert!(msg.contains("sidecar"), "{msg}");
    }

    #[test]
    fn sandbox_ids_that_are_paths_are_refused_naming_the_id() {
        for bad in ["../../etc", "a/b", "..", &"x".repeat(77)] {
            for ty in ["sandbox", "container"] {
                let s = spec_with(&[
                    (CONTAINERD_CONTAINER_TYPE, ty),
                    (CONTAINERD_SANDBOX_ID, bad),
                ]);
                let err = SandboxRef::from_spec(&s, "c1").expect_err(bad);
                let msg = err.to_string();
                assert!(msg.contains(&format!("{bad:?}")), "{msg}");
                assert!(msg.contains(CONTAINERD_SANDBOX_ID), "{msg}");
            }
        }
        let plain = spec_with(&[("other", "x")]);
        let err = SandboxRef::from_spec(&plain, "../x").expect_err("container id");
        assert!(err.to_string().contains("\"../x\""), "{err}");
    }

    #[test]
    fn container_without_sandbox_id_is_an_error() {
        let s = spec_with(&[(CRIO_CONTAINER_TYPE, "container"), (CRIO_SANDBOX_ID, "")]);
        let err = container_kind(&s).expect_err("missing id");
        assert!(err.to_string().contains(CRIO_SANDBOX_ID), "{err}");
    }
}
