//! CRI test harness: a private containerd with its CRI plugin (runtime handlers `kata` and `runc`,
//! a CNI bridge network, local busybox and pause images), the project's own CRI client, and
//! helpers that lay out volumes as kubelet does.
//!
//! ```no_run
//! use kata_cri_tests::{container_config, CriHarness, KATA};
//! let h = CriHarness::start_clean();
//! let pod = h.run_pod("web", KATA).expect("pod");
//! let app = h
//!     .start_container(&pod, &container_config("app", &["sleep", "60"], vec![]))
//!     .expect("container");
//! let out = h.cri().exec_sync(&app, &["echo", "hi"], 30).expect("exec");
//! assert_eq!(out.stdout, b"hi\n");
//! h.finish();
//! ```

mod census;
mod client;
mod config;
mod harness;
mod http;
mod images;
mod kubelet;

pub use census::{bridge_ports, netdevs_now, netns_now, NetCensus};
pub use client::{CriClient, CriError, DEFAULT_CALL_TIMEOUT};
pub use config::{
    cni_conflist, containerd_toml, Layout, BRIDGE, GATEWAY, KATA, NETWORK, RUNC, SUBNET,
};
pub use harness::{container_config, mount, CriHarness, Pod, PodStartTiming, TEARDOWN_GRACE};
pub use http::{http_get, http_get_retry, HostServer};
pub use images::{BUSYBOX_IMAGE, PAUSE_IMAGE};
pub use k8s_cri::v1 as cri;
pub use kubelet::{
    disk_empty_dir, memory_empty_dir, parse_cri_log, volume_dir, LogLine, ProjectedVolume,
    CONFIG_MAP, EMPTY_DIR,
};
