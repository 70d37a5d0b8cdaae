//! OCI runtime spec to Kata sandbox and container configuration: the container's place in its
//! pod (from CRI annotations), mount classification (k8s emptyDir -> `local`/`ephemeral`),
//! `/dev/shm` size, environment and field validation, and the `io.katacontainers.*` annotations
//! handed to the configuration crate.

mod annotations;
mod env;
mod error;
mod ids;
mod kind;
mod mounts;
mod shm;
mod spec;
mod unsupported;
mod validate;

pub use annotations::{apply_annotations, kata_annotations, KATA_ANNOTATION_PREFIX};
pub use env::{validate_env, EnvVar};
pub use error::{Error, Result};
pub use ids::{validate_id, IdError, MAX_ID_LEN};
pub use kind::{
    container_kind, ContainerKind, CriFlavor, SandboxRef, CONTAINERD_CONTAINER_TYPE,
    CONTAINERD_SANDBOX_ID, CRIO_CONTAINER_TYPE, CRIO_SANDBOX_ID, DOCKERSHIM_CONTAINER_TYPE,
    DOCKERSHIM_SANDBOX_ID,
};
pub use mounts::{
    classify_mounts, classify_mounts_with, fs_type_in, is_k8s_empty_dir, unescape_mount_field,
    ClassifiedMount, MountStorage, EPHEMERAL_MOUNT_TYPE, K8S_EMPTY_DIR, LOCAL_MOUNT_TYPE,
};
pub use oci_spec::runtime::Spec;
pub use shm::{parse_size, shm_size, statfs_size, DEFAULT_SHM_SIZE};
pub use spec::{load_spec, network_namespace, wants_new_network_namespace};
pub use unsupported::left_out_fields;
pub use validate::{validate_devices, validate_mounts, validate_spec};
