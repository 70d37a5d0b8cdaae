//! Network interfaces: a tap netdev and a virtio-net-pci device, both named after the device id.

use kata_hypervisor::{NetDevice, VmSpec};

use super::{escape, CmdlineError};

/// Checks a MAC address: six pairs of hex digits separated by `:`.
pub fn check_mac(dev: &NetDevice) -> Result<(), CmdlineError> {
    let parts: Vec<&str> = dev.mac.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(CmdlineError::InvalidMac {
            id: dev.id.clone(),
            mac: dev.mac.clone(),
        })
    }
}

/// Cold-plug arguments for one interface (the id must already be checked).
pub fn net_device_args(dev: &NetDevice) -> Result<Vec<String>, CmdlineError> {
    check_mac(dev)?;
    if dev.tap.is_empty() {
        return Err(CmdlineError::Empty { what: "tap name" });
    }
    let vhost = if dev.vhost { ",vhost=on" } else { "" };
    Ok(vec![
        "-netdev".into(),
        format!(
            "tap,id={id},ifname={tap},script=no,downscript=no{vhost}",
            id = dev.id,
            tap = escape(&dev.tap)
        ),
        "-device".into(),
        format!(
            "virtio-net-pci,netdev={id},mac={mac},id={id}",
            id = dev.id,
            mac = dev.mac
        ),
    ])
}

pub(super) fn args(spec: &VmSpec) -> Result<Vec<String>, CmdlineError> {
    let mut args = Vec::new();
    for dev in &spec.net_devices {
        args.extend(net_device_args(dev)?);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    fn nic(mac: &str) -> NetDevice {
        NetDevice {
            id: "eth0".into(),
            tap: "tap0_kata".into(),
            mac: mac.into(),
            vhost: true,
        }
    }

    #[test]
    fn tap_netdev_and_virtio_net_device() {
        let mut s = test_spec();
        s.net_devices = vec![nic("02:42:ac:11:00:02")];
        let a = args(&s).expect("args");
        assert_eq!(
            values_of(&a, "-netdev"),
            ["tap,id=eth0,ifname=tap0_kata,script=no,downscript=no,vhost=on"]
        );
        assert_eq!(
            values_of(&a, "-device"),
            ["virtio-net-pci,netdev=eth0,mac=02:42:ac:11:00:02,id=eth0"]
        );
    }

    #[test]
    fn bad_mac_is_refused() {
        for mac in [
            "",
            "02:42:ac:11:00",
            "02:42:ac:11:00:zz",
            "02:42:ac:11:00:02,x=y",
        ] {
            assert!(net_device_args(&nic(mac)).is_err(), "{mac}");
        }
    }
}
