#!/usr/bin/env bash
# Builds the kata-rs guest image: a guest kernel (as an ELF vmlinux and a bzImage) and an initrd whose
# /init is the kata-agent. The kernel is ours by default, built from Debian's linux-source-6.1 with every
# driver built in (kernel/build-kernel.sh, cached); a Debian kernel package with the modules the agent loads
# at boot is the alternative. See README.md next to this file.
#
# Environment:
#   AGENT_BIN        the static kata-agent (default: target/x86_64-unknown-linux-gnu/release/kata-agent)
#   OUT_DIR          where the image goes (default: build/image)
#   CACHE_DIR        downloaded and unpacked kernel packages (default: build/cache)
#   GUEST_KERNEL     built (default): the kernel of kernel/build-kernel.sh (run here; cached), every driver
#                    built in (9p, memory and CPU hotplug, balloon); debian: a Debian kernel package
#                    (KERNEL_FLAVOUR, KERNEL_PKG) with its modules
#   KERNEL_DIR       where build-kernel.sh puts the built kernel (default: build/kernel)
#   KERNEL_FLAVOUR   cloud (default, linux-image-cloud-amd64) or generic (linux-image-amd64, has 9p)
#   KERNEL_PKG       an exact package, e.g. linux-image-6.1.0-56-cloud-amd64 (default: the flavour's dependency)
#   EXTRA_MODULES    more module names to load, space separated (dependencies are added)
#   INITRD_COMPRESSION  zstd (default when the kernel has CONFIG_RD_ZSTD), gzip or none
#   DEBUG_CONSOLE    1 (default): install busybox as /bin/busybox and /bin/sh, the shell of the agent's debug
#                    console (`kata-runtime exec`, served only when debug_console_enabled); 0: no shell in the guest
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AGENT_BIN=${AGENT_BIN:-$ROOT/target/x86_64-unknown-linux-gnu/release/kata-agent}
OUT_DIR=${OUT_DIR:-$ROOT/build/image}
CACHE_DIR=${CACHE_DIR:-$ROOT/build/cache}
KERNEL_FLAVOUR=${KERNEL_FLAVOUR:-cloud}
GUEST_KERNEL=${GUEST_KERNEL:-built}
KERNEL_DIR=${KERNEL_DIR:-$ROOT/build/kernel}
DEBUG_CONSOLE=${DEBUG_CONSOLE:-1}

# Modules the agent loads, in this order (each one's dependencies are put before it). A trailing `?` marks a
# module that may be missing from the kernel. Built-in ones are dropped.
COMMON_MODULES=(
    virtio_pci
    vmw_vsock_virtio_transport
    virtio_console
    virtiofs
    overlay
    virtio_net
    virtio_blk
    virtio_scsi?
    sd_mod?
    virtio_rng?
)
GENERIC_MODULES=(9pnet_virtio 9p)

log() { echo "build-image: $*"; }
die() {
    echo "build-image: error: $*" >&2
    exit 1
}
need() {
    for c in "$@"; do
        command -v "$c" >/dev/null || die "$c not found (run scripts/install-deps.sh)"
    done
}
size() { du -h "$1" | cut -f1; }

need apt-get apt-cache dpkg-deb lz4 cpio gzip zstd depmod

case "$GUEST_KERNEL" in
    debian | built) ;;
    *) die "GUEST_KERNEL=$GUEST_KERNEL is not one of: debian, built" ;;
esac
case "$KERNEL_FLAVOUR" in
    cloud) META_PKG=linux-image-cloud-amd64 WANTED=("${COMMON_MODULES[@]}") ;;
    generic) META_PKG=linux-image-amd64 WANTED=("${COMMON_MODULES[@]}" "${GENERIC_MODULES[@]}") ;;
    *) die "KERNEL_FLAVOUR=$KERNEL_FLAVOUR is not one of: cloud, generic" ;;
esac
# shellcheck disable=SC2206
WANTED+=(${EXTRA_MODULES:-})

[ -f "$AGENT_BIN" ] || die "agent binary $AGENT_BIN not found (build it with: make agent)"
if ! head -c 4 "$AGENT_BIN" | grep -q ELF; then
    die "agent binary $AGENT_BIN is not an ELF file"
fi
if command -v readelf >/dev/null && readelf -l "$AGENT_BIN" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    die "agent binary $AGENT_BIN is dynamically linked (build it with RUSTFLAGS=\"-C target-feature=+crt-static\")"
fi

mkdir -p "$CACHE_DIR/$KERNEL_FLAVOUR" "$OUT_DIR"
CACHE_DIR=$(cd "$CACHE_DIR/$KERNEL_FLAVOUR" && pwd)

if [ "$GUEST_KERNEL" = built ]; then
    # --- 1-3. the kernel of kernel/build-kernel.sh (cached after the first build): drivers built in -------
    [ -z "${EXTRA_MODULES:-}" ] || die "EXTRA_MODULES: the built kernel has no modules (add the option to kernel/guest.conf)"
    OUT_DIR=$KERNEL_DIR "$ROOT/tools/osbuilder/kernel/build-kernel.sh" || die "building the guest kernel failed"
    KVER=$(cat "$KERNEL_DIR/kernel-version")
    KERNEL_PKG="built by kernel/build-kernel.sh, cache key $(cat "$KERNEL_DIR/build-id")"
    VMLINUX=$KERNEL_DIR/vmlinux.container
    VMLINUZ=$KERNEL_DIR/vmlinuz.container
    KCONFIG=$KERNEL_DIR/config
    # What the agent needs before it can be reached: built in, since nothing is loaded.
    for opt in VIRTIO_PCI VIRTIO_VSOCKETS VIRTIO_CONSOLE VIRTIO_FS OVERLAY_FS VIRTIO_NET VIRTIO_BLK; do
        grep -q "^CONFIG_$opt=y" "$KCONFIG" || die "$KCONFIG: CONFIG_$opt is not built in"
    done
    ORDER=()
    MOD_TREE=
else
    # --- 1. the kernel package: resolve, download once, unpack once --------------------------------------
    resolve_kernel_pkg() {
        apt-cache depends --important "$META_PKG" 2>/dev/null |
            sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1
    }
    if [ -z "${KERNEL_PKG:-}" ]; then
        KERNEL_PKG=$(resolve_kernel_pkg)
        if [ -z "$KERNEL_PKG" ]; then
            apt-get update -qq >/dev/null 2>&1 || true
            KERNEL_PKG=$(resolve_kernel_pkg)
        fi
        if [ -z "$KERNEL_PKG" ]; then
            # Offline: fall back to the newest package already unpacked in the cache.
            KERNEL_PKG=$(find "$CACHE_DIR" -maxdepth 1 -name 'linux-image-*' -type d -printf '%f\n' | sort -V | tail -n 1)
            [ -n "$KERNEL_PKG" ] || die "cannot resolve $META_PKG with apt-cache and nothing is cached in $CACHE_DIR"
            log "apt-cache failed, using cached $KERNEL_PKG"
        fi
    fi
    KVER=${KERNEL_PKG#linux-image-}
    PKG_DIR=$CACHE_DIR/$KERNEL_PKG
    MOD_TREE=$PKG_DIR/lib/modules/$KVER

    if [ ! -f "$PKG_DIR/.unpacked" ]; then
        deb=$(find "$CACHE_DIR" -maxdepth 1 -name "${KERNEL_PKG}_*.deb" | sort -V | tail -n 1)
        if [ -z "$deb" ]; then
            log "downloading $KERNEL_PKG"
            (cd "$CACHE_DIR" && apt-get download -qq -o APT::Sandbox::User=root "$KERNEL_PKG" >/dev/null 2>&1) ||
                die "apt-get download $KERNEL_PKG failed (is a Debian mirror reachable? try apt-get update)"
            deb=$(find "$CACHE_DIR" -maxdepth 1 -name "${KERNEL_PKG}_*.deb" | sort -V | tail -n 1)
            [ -n "$deb" ] || die "apt-get download did not leave ${KERNEL_PKG}_*.deb in $CACHE_DIR"
        fi
        log "unpacking $(basename "$deb")"
        rm -rf "$PKG_DIR"
        dpkg-deb -x "$deb" "$PKG_DIR" || die "dpkg-deb -x $deb failed"
        [ -d "$MOD_TREE" ] || die "$deb has no lib/modules/$KVER"
        # The package ships no modules.dep (the host's depmod makes it at install time): make it here.
        depmod -b "$PKG_DIR" "$KVER" || die "depmod -b $PKG_DIR $KVER failed"
        touch "$PKG_DIR/.unpacked"
    fi
    VMLINUZ=$PKG_DIR/boot/vmlinuz-$KVER
    KCONFIG=$PKG_DIR/boot/config-$KVER
    [ -f "$VMLINUZ" ] && [ -f "$KCONFIG" ] || die "$PKG_DIR lacks boot/vmlinuz-$KVER or boot/config-$KVER"

    # --- 2. the ELF vmlinux inside the bzImage (boots via the PVH entry, no decompression in the guest) ------
    VMLINUX=$PKG_DIR/vmlinux
    extract_vmlinux() {
        local magic tool
        if grep -q '^CONFIG_KERNEL_LZ4=y' "$KCONFIG"; then
            magic='\x02\x21\x4c\x18' tool='lz4 -dc'
        elif grep -q '^CONFIG_KERNEL_ZSTD=y' "$KCONFIG"; then
            magic='\x28\xb5\x2f\xfd' tool='zstd -dcq'
        elif grep -q '^CONFIG_KERNEL_XZ=y' "$KCONFIG"; then
            magic='\xfd\x37\x7a\x58\x5a\x00' tool='xz -dcq'
        elif grep -q '^CONFIG_KERNEL_GZIP=y' "$KCONFIG"; then
            magic='\x1f\x8b\x08' tool='gzip -dcq'
        else
            die "$KCONFIG: unsupported kernel compression"
        fi
        local off
        # The payload's magic can also occur by chance: try each match until one decompresses to an ELF.
        for off in $(LC_ALL=C grep -obUaP "$magic" "$VMLINUZ" | cut -d: -f1); do
            # Trailing bytes after the stream make the decompressor exit non-zero: judge by the output.
            tail -c "+$((off + 1))" "$VMLINUZ" | $tool >"$VMLINUX.tmp.$$" 2>/dev/null || true
            if [ "$(head -c 4 "$VMLINUX.tmp.$$" | od -An -tx1 | tr -d ' \n')" = "7f454c46" ]; then
                mv "$VMLINUX.tmp.$$" "$VMLINUX"
                return 0
            fi
        done
        rm -f "$VMLINUX.tmp.$$"
        die "no ${tool%% *} stream in $VMLINUZ decompresses to an ELF vmlinux"
    }
    [ -f "$VMLINUX" ] || extract_vmlinux

    # --- 3. modules: resolve dependencies in load order ----------------------------------------------------
    declare -A DEP_OF=() PATH_OF=() BUILTIN=() ADDED=()
    while IFS= read -r line; do
        path=${line%%:*}
        name=${path##*/}
        name=${name%%.ko*}
        name=${name//-/_}
        PATH_OF[$name]=$path
        DEP_OF[$name]=${line#*:}
    done <"$MOD_TREE/modules.dep"
    while IFS= read -r path; do
        name=${path##*/}
        name=${name%%.ko*}
        BUILTIN[${name//-/_}]=1
    done <"$MOD_TREE/modules.builtin"

    ORDER=()
    add_module() {
        local name=${1//-/_} depname i deps=()
        [ -n "${ADDED[$name]:-}" ] && return 0
        ADDED[$name]=1
        # modules.dep lists the dependencies so that loading them last-to-first works.
        read -r -a deps <<<"${DEP_OF[$name]:-}"
        for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
            depname=${deps[i]##*/}
            depname=${depname%%.ko*}
            add_module "$depname"
        done
        ORDER+=("$name")
    }
    for want in "${WANTED[@]}"; do
        optional=0
        [[ "$want" == *\? ]] && optional=1 && want=${want%\?}
        want=${want//-/_}
        if [ -n "${PATH_OF[$want]:-}" ]; then
            add_module "$want"
        elif [ -n "${BUILTIN[$want]:-}" ]; then
            :
        elif [ "$optional" = 1 ]; then
            log "note: module $want is not in $KVER, skipped"
        else
            die "module $want is neither a module nor built into $KVER"
        fi
    done
fi

# --- 4. the initrd tree -------------------------------------------------------------------------------
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/kata-initrd.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{proc,sys,dev,run,tmp,etc,usr/bin,bin,sbin,lib/modules/"$KVER"}
chmod 1777 "$STAGE/tmp"
# The kernel opens /dev/console for init's stdio before /init runs.
mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || log "note: cannot mknod dev/console (not root?)"
install -m 0755 "$AGENT_BIN" "$STAGE/init"
ln -s ../../init "$STAGE/usr/bin/kata-agent"

: >"$STAGE/etc/kata-modules"
for name in "${ORDER[@]}"; do
    rel=${PATH_OF[$name]}
    src=$MOD_TREE/$rel
    dst=$STAGE/lib/modules/$KVER/${rel%.ko*}.ko
    mkdir -p "$(dirname "$dst")"
    case "$rel" in
        *.ko) cp "$src" "$dst" ;;
        *.ko.xz) xz -dc "$src" >"$dst" ;;
        *.ko.zst) zstd -dcq "$src" >"$dst" ;;
        *.ko.gz) gzip -dc "$src" >"$dst" ;;
        *) die "$src: unknown module compression" ;;
    esac
    echo "/lib/modules/$KVER/${rel%.ko*}.ko" >>"$STAGE/etc/kata-modules"
done
if [ -n "$MOD_TREE" ]; then
    cp "$MOD_TREE"/modules.{builtin,builtin.modinfo,order} "$STAGE/lib/modules/$KVER/"
    depmod -b "$STAGE" "$KVER" 2>/dev/null || log "note: depmod in the initrd failed (modprobe will not work there)"
else
    # The built kernel: no module to load, only the list of what is built in (`kernel_modules`).
    cp "$KERNEL_DIR/modules.builtin" "$STAGE/lib/modules/$KVER/modules.builtin"
fi
echo "$KVER" >"$STAGE/etc/kata-kernel-version"

if [ "$DEBUG_CONSOLE" = 1 ]; then
    [ -x /bin/busybox ] || die "DEBUG_CONSOLE=1 needs /bin/busybox (package busybox-static)"
    install -m 0755 /bin/busybox "$STAGE/bin/busybox"
    ln -s busybox "$STAGE/bin/sh"
fi

# --- 5. archive and outputs -----------------------------------------------------------------------------
COMPRESSION=${INITRD_COMPRESSION:-}
if [ -z "$COMPRESSION" ]; then
    if grep -q '^CONFIG_RD_ZSTD=y' "$KCONFIG"; then COMPRESSION=zstd; else COMPRESSION=gzip; fi
fi
case "$COMPRESSION" in
    zstd) grep -q '^CONFIG_RD_ZSTD=y' "$KCONFIG" || die "$KVER cannot unpack a zstd initrd"; compress=(zstd -q -10 -T0) ;;
    gzip) compress=(gzip -9 -n) ;;
    none) compress=(cat) ;;
    *) die "INITRD_COMPRESSION=$COMPRESSION is not one of: zstd, gzip, none" ;;
esac
INITRD=$OUT_DIR/kata-containers-initrd.img
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible | "${compress[@]}") >"$INITRD.tmp.$$" ||
    die "cannot write $INITRD"
mv "$INITRD.tmp.$$" "$INITRD"

install -m 0644 "$VMLINUX" "$OUT_DIR/vmlinux.container"
install -m 0644 "$VMLINUZ" "$OUT_DIR/vmlinuz.container"
echo "$KVER" >"$OUT_DIR/kernel-version"
install -m 0644 "$KCONFIG" "$OUT_DIR/kernel-config"
cp "$STAGE/etc/kata-modules" "$OUT_DIR/kata-modules"

log "kernel $KVER ($KERNEL_PKG)"
log "modules (${#ORDER[@]}): ${ORDER[*]}"
log "$OUT_DIR/vmlinux.container $(size "$OUT_DIR/vmlinux.container")"
log "$OUT_DIR/vmlinuz.container $(size "$OUT_DIR/vmlinuz.container")"
log "$INITRD $(size "$INITRD") ($COMPRESSION; agent $(size "$AGENT_BIN"))"
