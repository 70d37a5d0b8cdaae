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

/// The first descriptor number QEMU inherits tap devices at (after the console's 3); the n-th
/// device with a [`NetDevice::tap_device`] (in spec order) gets `FIRST_TAP_FD + n`.
pub const FIRST_TAP_FD: i32 = 4;

/// Cold-plug arguments for one interface (the id must already be checked); `fd` is the
/// descriptor QEMU inherits the tap device at, if the device is given that way.
pub fn net_device_args(dev: &NetDevice, fd: Option<i32>) -> Result<Vec<String>, CmdlineError> {
    check_mac(dev)?;
    if dev.tap.is_empty() {
        return Err(CmdlineError::Empty { what: "tap name" });
    }
    let vhost = if dev.vhost { ",vhost=on" } else { "" };
    let backend = match fd {
        Some(fd) => format!("tap,id={id},fd={fd}{vhost}", id = dev.id),
        None => format!(
            "tap,id={id},ifname={tap},script=no,downscript=no{vhost}",
            id = dev.id,
            tap = escape(&dev.tap)
        ),
    };
    Ok(vec![
        "-netdev".into(),
        backend,
        "-device".into(),
        format!(
            "virtio-net-pci,netdev={id},mac={mac},id={id}",
            id = dev.id,
            mac = dev.mac
        ),
    ])
}

/// The tap devices QEMU inherits as descriptors, with the number each must have in QEMU.
pub fn inherited_taps(spec: &VmSpec) -> Vec<(&std::path::Path, i32)> {
    spec.net_devices
        .iter()
        .filter_map(|d| d.tap_device.as_deref())
        .zip(FIRST_TAP_FD..)
        .collect()
}

pub(super) fn args(spec: &VmSpec) -> Result<Vec<String>, CmdlineError> {
    let mut args = Vec::new();
    let mut next_fd = FIRST_TAP_FD;
    for dev in &spec.net_devices {
        let fd = dev.tap_device.as_ref().map(|_| {
            next_fd += 1;
            next_fd - 1
        });
        args.extend(net_device_args(dev, fd)?);
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
            tap_device: None,
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
            assert!(net_device_args(&nic(mac), None).is_err(), "{mac}");
        }
    }

    #[test]
    fn macvtap_devices_are_inherited_descriptors_in_order() {
        let mut s = test_spec();
        let mut a = nic("02:42:ac:11:00:02");
        a.vhost = false;
        a.tap_device = Some("/run/vc/vm/p/tap0_kata".into());
        let mut b = nic("02:42:ac:11:00:03");
        b.id = "eth1".into();
        b.vhost = false;
        let mut c = a.clone();
        c.id = "eth2".into();
        c.tap_device = Some("/run/vc/vm/p/tap2_kata".into());
        s.net_devices = vec![a, b, c];
        let args = args(&s).expect("args");
        assert_eq!(
            values_of(&args, "-netdev"),
            [
                "tap,id=eth0,fd=4",
                "tap,id=eth1,ifname=tap0_kata,script=no,downscript=no",
                "tap,id=eth2,fd=5"
            ]
        );
        let fds: Vec<i32> = inherited_taps(&s).iter().map(|(_, fd)| *fd).collect();
        assert_eq!(fds, [4, 5]);
    }
}
