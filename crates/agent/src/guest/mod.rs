//! Guest-wide operations: CPU/memory onlining, entropy, clock, details, file copies.

mod copy_file;
mod details;
mod online;

pub use copy_file::{copy_file, CopyFileRequest};
pub use details::{mem_block_size, seccomp_filter_available};
pub use online::online_cpu_mem;

use crate::error::{AgentError, Result};

/// ReseedRandomDev: credit `data` to the kernel's entropy pool.
pub fn reseed_random(data: &[u8]) -> Result<()> {
    use std::os::fd::AsRawFd;
    if data.is_empty() {
        return Ok(());
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/random")
        .map_err(|e| AgentError::io("opening", "/dev/random", e))?;
    // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
    let mut req = Vec::with_capacity(8 + data.len());
    req.extend_from_slice(&((data.len() * 8) as i32).to_ne_bytes());
    req.extend_from_slice(&(data.len() as i32).to_ne_bytes());
    req.extend_from_slice(data);
    const RNDADDENTROPY: libc::c_ulong = 0x4008_5203;
    // SAFETY: the buffer holds a complete rand_pool_info header followed by `buf_size` bytes.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), RNDADDENTROPY as _, req.as_ptr()) };
    if rc < 0 {
        return Err(AgentError::io(
            "adding entropy to",
            "/dev/random",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// SetGuestDateTime: set CLOCK_REALTIME.
pub fn set_time(sec: i64, usec: i64) -> Result<()> {
    if !(0..1_000_000).contains(&usec) {
        return Err(AgentError::InvalidArgument(format!("invalid usec {usec}")));
    }
    let ts = nix::sys::time::TimeSpec::new(sec, usec * 1000);
    nix::time::clock_settime(nix::time::ClockId::CLOCK_REALTIME, ts)
        .map_err(|e| AgentError::errno("setting", "CLOCK_REALTIME", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_usec_is_invalid_argument() {
        assert!(matches!(
            set_time(0, 1_000_000),
            Err(AgentError::InvalidArgument(_))
        ));
        assert!(matches!(
            set_time(0, -1),
            Err(AgentError::InvalidArgument(_))
        ));
    }

    #[test]
    fn empty_seed_is_a_no_op() {
        assert!(reseed_random(&[]).is_ok());
    }
}
