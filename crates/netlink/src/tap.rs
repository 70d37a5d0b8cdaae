//! Tap devices (`/dev/net/tun`, `IFF_TAP | IFF_NO_PI`), made persistent so that the hypervisor
//! attaches to them by name later, and owned by the hypervisor's user when it runs unprivileged.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;

use crate::error::{Error, Result};

/// Largest interface name (`IFNAMSIZ` less the terminating NUL).
pub const MAX_NAME: usize = 15;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETPERSIST: libc::c_ulong = 0x4004_54cb;
const TUNSETOWNER: libc::c_ulong = 0x4004_54cc;
const TUNSETGROUP: libc::c_ulong = 0x4004_54ce;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Creates the persistent tap `name` in the calling thread's network namespace, owned by `owner`
/// (uid, gid) when given. Errors: a bad name, `/dev/net/tun` missing, a device of that name.
pub fn create_persistent(name: &str, owner: Option<(u32, u32)>) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME || name.contains(['/', ' ', '\0']) {
        return Err(Error::io(
            format!("tap name {name:?}"),
            std::io::Error::from_raw_os_error(libc::EINVAL),
        ));
    }
    let what = |op: &str| format!("tap {name}: {op}");
    let tun = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| Error::io(what("open /dev/net/tun"), e))?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
        _pad: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    let fd = tun.as_raw_fd();
    // SAFETY: TUNSETIFF reads (and writes back) one ifreq through a valid pointer.
    if unsafe { libc::ioctl(fd, TUNSETIFF, &mut req) } < 0 {
        return Err(Error::io(
            what("TUNSETIFF"),
            std::io::Error::last_os_error(),
        ));
    }
    if let Some((uid, gid)) = owner {
        // SAFETY: integer arguments only.
        if unsafe { libc::ioctl(fd, TUNSETOWNER, uid as libc::c_ulong) } < 0
            || unsafe { libc::ioctl(fd, TUNSETGROUP, gid as libc::c_ulong) } < 0
        {
            return Err(Error::io(
                what("TUNSETOWNER"),
                std::io::Error::last_os_error(),
            ));
        }
    }
    // SAFETY: integer argument only.
    if unsafe { libc::ioctl(fd, TUNSETPERSIST, 1 as libc::c_ulong) } < 0 {
        return Err(Error::io(
            what("TUNSETPERSIST"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
