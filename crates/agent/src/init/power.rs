//! Powering the VM off when the sandbox is destroyed.

/// Flushes file systems and powers the machine off. Only meaningful as PID 1 of a VM.
pub fn power_off() -> ! {
    nix::unistd::sync();
    let err = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    // reboot(2) only returns on failure; as PID 1 exiting panics the kernel, which also stops the VM
    // (the runtime boots it with panic=1 and -no-reboot).
    tracing::error!(error = ?err, "power off failed");
    std::process::exit(1)
}
