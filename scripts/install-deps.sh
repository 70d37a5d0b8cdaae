#!/usr/bin/env bash
# Installs everything kata-rs needs on a fresh Debian 12 machine. Run as root. Idempotent: each step is
# skipped when its result is already there, so a second run is quiet and takes about a second.
#
#   Debian packages : QEMU, containerd/runc, image tools (cpio, zstd, lz4, kmod, busybox-static),
#                     build deps (gcc, pkg-config, protoc, libseccomp, libcap-ng, libelf and zlib
#                     for the agent's device cgroup filter through libbpf), and the guest kernel's
#                     source and build tools (linux-source-6.1, bc, bison, flex; `make kernel`)
#   cargo install   : vhost-device-vsock (hybrid vsock), virtiofsd (shared file system)
#   /usr/local/bin  : copies of those two, so the runtime finds them without ~/.cargo/bin in PATH
set -euo pipefail

APT_PACKAGES=(
    qemu-system-x86 containerd runc
    cpio busybox-static zstd lz4 kmod
    libseccomp-dev libcap-ng-dev protobuf-compiler pkg-config gcc libc6-dev
    libelf-dev zlib1g-dev
    iproute2
    containernetworking-plugins
    linux-source-6.1 build-essential bc bison flex xz-utils
)
CARGO_TOOLS=(vhost-device-vsock virtiofsd)
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
INSTALL_BIN=/usr/local/bin

log() { echo "install-deps: $*"; }
die() {
    echo "install-deps: error: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs Debian packages and writes $INSTALL_BIN)"

# --- Debian packages -------------------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    aptlog=$(mktemp /tmp/install-deps-apt.XXXXXX.log)
    if ! apt-get update -qq >"$aptlog" 2>&1; then
        tail -n 20 "$aptlog" >&2
        die "apt-get update failed (is a Debian mirror reachable?), log in $aptlog"
    fi
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$aptlog" 2>&1; then
        tail -n 20 "$aptlog" >&2
        die "apt-get install failed for: ${missing[*]}, log in $aptlog"
    fi
    rm -f "$aptlog"
fi

# --- cargo tools -----------------------------------------------------------------------------------
export PATH="$CARGO_BIN:$PATH"
for tool in "${CARGO_TOOLS[@]}"; do
    [ -x "$CARGO_BIN/$tool" ] && continue
    command -v cargo >/dev/null || die "cargo not found (install Rust with rustup first), needed for $tool"
    log "cargo install --locked $tool (takes a few minutes)"
    logfile=$(mktemp "/tmp/install-deps-$tool.XXXXXX.log")
    if ! cargo install --locked --quiet "$tool" >"$logfile" 2>&1; then
        tail -n 30 "$logfile" >&2
        die "cargo install $tool failed, full log in $logfile"
    fi
    rm -f "$logfile"
done

# --- cargo-fuzz (make fuzz, make fuzz-ci; fuzzing itself also needs the nightly toolchain) ----------
if [ ! -x "$CARGO_BIN/cargo-fuzz" ]; then
    log "cargo install --locked cargo-fuzz (about 2 minutes)"
    logfile=$(mktemp /tmp/install-deps-cargo-fuzz.XXXXXX.log)
    if ! cargo install --locked --quiet cargo-fuzz >"$logfile" 2>&1; then
        tail -n 30 "$logfile" >&2
        die "cargo install cargo-fuzz failed, full log in $logfile"
    fi
    rm -f "$logfile"
fi
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    log "note: no nightly toolchain, so make fuzz-ci skips fuzzing (rustup toolchain install nightly)"
fi

# --- copies in /usr/local/bin ----------------------------------------------------------------------
for tool in "${CARGO_TOOLS[@]}"; do
    src="$CARGO_BIN/$tool"
    dst="$INSTALL_BIN/$tool"
    [ -x "$src" ] || die "$src missing after cargo install"
    if [ ! -x "$dst" ] || [ "$src" -nt "$dst" ] || ! cmp -s "$src" "$dst"; then
        log "install $src -> $dst"
        install -D -m 0755 "$src" "$dst" || die "cannot install $src to $dst"
    fi
done

# --- sanity checks ---------------------------------------------------------------------------------
for bin in qemu-system-x86_64 containerd runc cpio lz4 zstd protoc vhost-device-vsock virtiofsd; do
    command -v "$bin" >/dev/null || die "$bin not found in PATH after installation"
done
[ -x /bin/busybox ] || die "/bin/busybox missing (package busybox-static)"
[ -x /usr/lib/cni/bridge ] || die "/usr/lib/cni/bridge missing (package containernetworking-plugins)"
