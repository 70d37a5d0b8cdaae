//! The text of the private containerd's configuration (CRI plugin enabled) and of its CNI network.

use std::path::Path;

/// The runtime handler that runs pods in kata-rs VMs.
pub const KATA: &str = "kata";
/// The runtime handler that runs pods with runc: the oracle the kata pods are compared with.
pub const RUNC: &str = "runc";

/// The Linux bridge the CNI network creates (removed by the harness at teardown).
pub const BRIDGE: &str = "katacni0";
/// The CNI network's name.
pub const NETWORK: &str = "kata-cri-tests";
/// The pods' subnet.
pub const SUBNET: &str = "10.88.77.0/24";
/// The bridge's address: the pods' gateway, where the host side listens.
pub const GATEWAY: &str = "10.88.77.1";

/// Where the private containerd keeps things, all under one temporary directory.
pub struct Layout<'a> {
    pub root: &'a Path,
    pub state: &'a Path,
    pub socket: &'a Path,
    pub cni_conf_dir: &'a Path,
    pub kata_config: &'a Path,
}

/// containerd's configuration (version 2, as containerd 1.6 and 1.7 read it): the CRI plugin with
/// handlers `runc` and `kata`, the local pause image, and the CNI network of [`cni_conflist`].
pub fn containerd_toml(l: &Layout<'_>, pause_image: &str) -> String {
    let cri = r#"plugins."io.containerd.grpc.v1.cri""#;
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[debug]
  level = "info"

[{cri}]
  sandbox_image = "{pause_image}"
  # This machine refuses a negative oom_score_adj (every runc RunPodSandbox fails without it).
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[{cri}.containerd]
  default_runtime_name = "{RUNC}"
  snapshotter = "overlayfs"

[{cri}.containerd.runtimes.{RUNC}]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.{KATA}]
  runtime_type = "io.containerd.kata.v2"
  privileged_without_host_devices = true
  pod_annotations = ["io.katacontainers.*"]

[{cri}.containerd.runtimes.{KATA}.options]
  ConfigPath = "{kata_config}"

[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{cni_conf_dir}"
  max_conf_num = 1
"#,
        root = l.root.display(),
        state = l.state.display(),
        socket = l.socket.display(),
        kata_config = l.kata_config.display(),
        cni_conf_dir = l.cni_conf_dir.display(),
    )
}

/// The CNI network: a bridge ([`BRIDGE`], gateway [`GATEWAY`], no masquerading) with host-local
/// addresses from [`SUBNET`] kept in `ipam_dir`. The pods' `lo` comes from containerd itself,
/// through the `loopback` plugin of the same bin dir.
pub fn cni_conflist(ipam_dir: &Path) -> String {
    format!(
        r#"{{
  "cniVersion": "0.4.0",
  "name": "{NETWORK}",
  "plugins": [
    {{
      "type": "bridge",
      "bridge": "{BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {{
        "type": "host-local",
        "ranges": [[{{ "subnet": "{SUBNET}", "gateway": "{GATEWAY}" }}]],
        "routes": [{{ "dst": "0.0.0.0/0" }}],
        "dataDir": "{ipam}"
      }}
    }}
  ]
}}
"#,
        ipam = ipam_dir.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerd_toml_parses_and_names_both_handlers() {
        let p = Path::new("/x");
        let text = containerd_toml(
            &Layout {
                root: p,
                state: p,
                socket: p,
                cni_conf_dir: p,
                kata_config: Path::new("/k/configuration.toml"),
            },
            "localhost/pause:1",
        );
        let v: toml::Value = toml::from_str(&text).expect("valid toml");
        let cri = &v["plugins"]["io.containerd.grpc.v1.cri"];
        assert_eq!(cri["restrict_oom_score_adj"].as_bool(), Some(true));
        assert_eq!(cri["sandbox_image"].as_str(), Some("localhost/pause:1"));
        let runtimes = &cri["containerd"]["runtimes"];
        assert_eq!(
            runtimes["kata"]["runtime_type"].as_str(),
            Some("io.containerd.kata.v2")
        );
        assert_eq!(
            runtimes["kata"]["options"]["ConfigPath"].as_str(),
            Some("/k/configuration.toml")
        );
        assert_eq!(
            runtimes["runc"]["runtime_type"].as_str(),
            Some("io.containerd.runc.v2")
        );
    }

    #[test]
    fn cni_conflist_is_json_with_bridge_and_ipam_dir() {
        let v: serde_json::Value =
            serde_json::from_str(&cni_conflist(Path::new("/t/ipam"))).expect("valid json");
        let bridge = &v["plugins"][0];
        assert_eq!(bridge["bridge"], BRIDGE);
        assert_eq!(bridge["ipMasq"], false);
        assert_eq!(bridge["ipam"]["dataDir"], "/t/ipam");
        assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], SUBNET);
    }
}
