#!/usr/bin/env bash
# Builds the kata-rs guest kernel from Debian's kernel source (package linux-source-6.1) with the
# configuration `make allnoconfig` + guest.conf, and puts the result in build/kernel:
#   vmlinux.container   the ELF kernel (boots through its PVH entry with QEMU -kernel)
#   vmlinuz.container   the bzImage
#   config              the full .config
#   kernel-version      the release (uname -r), e.g. 6.1.192-kata-rs
#   build-id            the cache key the kernel was built under
#
# A build is cached outside the repository under a key made of the fragment, the source package's version,
# the compiler's version and this script's recipe number: when the cache holds the key already, the script
# only copies (a second or so). A changed fragment rebuilds in the same object directory, so only what the
# change touches is recompiled.
#
# Environment:
#   OUT_DIR           where the kernel goes (default: build/kernel)
#   KERNEL_CACHE_DIR  source tree, objects and finished builds (default: /var/cache/kata-rs/kernel)
#   KERNEL_FRAGMENT   the configuration fragment (default: guest.conf next to this script)
#   JOBS              parallel compile jobs (default: nproc); the compile runs under `nice -n 19`
#   KERNEL_NO_INSTALL 1: do not apt-get install what is missing, fail instead
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT_DIR=${OUT_DIR:-$ROOT/build/kernel}
CACHE=${KERNEL_CACHE_DIR:-/var/cache/kata-rs/kernel}
FRAGMENT=${KERNEL_FRAGMENT:-$HERE/guest.conf}
JOBS=${JOBS:-$(nproc)}
SRC_PKG=linux-source-6.1
SRC_TARBALL=/usr/src/$SRC_PKG.tar.xz
# Bump when the way the kernel is configured or built changes (the cache key includes it).
RECIPE=1
# What the build needs: the source, a compiler, the kconfig and objtool prerequisites, the bzImage compressor.
BUILD_DEPS=("$SRC_PKG" build-essential bc bison flex libelf-dev lz4 xz-utils)

log() { echo "build-kernel: $*"; }
die() {
    echo "build-kernel: error: $*" >&2
    exit 1
}

# --- 1. packages ---------------------------------------------------------------------------------------------
missing=()
for p in "${BUILD_DEPS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    [ "${KERNEL_NO_INSTALL:-0}" = 1 ] && die "missing packages: ${missing[*]}"
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
        {
            apt-get update -qq >/dev/null 2>&1 || true
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
        } || die "apt-get install ${missing[*]} failed"
fi
[ -f "$SRC_TARBALL" ] || die "$SRC_TARBALL is missing (reinstall $SRC_PKG)"
[ -f "$FRAGMENT" ] || die "configuration fragment $FRAGMENT not found"

# --- 2. the cache key ----------------------------------------------------------------------------------------
SRC_VERSION=$(dpkg-query -W -f='${Version}' "$SRC_PKG")
CC_VERSION=$(gcc -dumpfullversion 2>/dev/null || gcc -dumpversion)
KEY=$({
    echo "recipe $RECIPE"
    echo "source $SRC_PKG $SRC_VERSION"
    echo "gcc $CC_VERSION"
    cat "$FRAGMENT"
} | sha256sum | cut -c1-16)

mkdir -p "$CACHE/builds"
exec 9>"$CACHE/lock"
if ! flock -n 9; then
    log "waiting for another kernel build ($CACHE/lock)"
    flock 9
fi

SRC=$CACHE/src/$SRC_PKG-$SRC_VERSION
OBJ=$CACHE/obj/$SRC_PKG-$SRC_VERSION
BUILD=$CACHE/builds/$KEY

# The fragment's lines as `CONFIG_X=value` (a "# CONFIG_X is not set" line becomes `CONFIG_X=n`).
normalise() {
    sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=\(.*\)$/\1=\2/p' \
        -e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1=n/p' "$1"
}

# --- 3. configure and compile (only when the key is not cached) --------------------------------------------
# The kernel release of the object directory (e.g. 6.1.192-kata-rs).
kernel_release() {
    local r
    r=$(make -s --no-print-directory -C "$SRC" O="$OBJ" ARCH=x86_64 kernelrelease 2>/dev/null | tail -n 1)
    case "$r" in
        "" | *" "*) die "cannot read the kernel release from $OBJ (got: $r)" ;;
    esac
    echo "$r"
}

if [ ! -f "$BUILD/.done" ]; then
    started=$SECONDS
    if [ ! -f "$SRC/.extracted" ]; then
        log "extracting $SRC_TARBALL ($SRC_PKG $SRC_VERSION) to $SRC"
        rm -rf "$SRC"
        mkdir -p "$SRC"
        tar -xJf "$SRC_TARBALL" -C "$SRC" --strip-components=1 || die "cannot extract $SRC_TARBALL"
        touch "$SRC/.extracted"
    fi
    mkdir -p "$OBJ" "$BUILD"
    # allnoconfig with the fragment as its base: every option not named in the fragment (and not pulled in
    # by one that is) is off.
    log "configuring (allnoconfig + $(basename "$FRAGMENT")) in $OBJ"
    (cd "$SRC" && ARCH=x86_64 scripts/kconfig/merge_config.sh -n -O "$OBJ" "$FRAGMENT") >"$BUILD/config.log" 2>&1 ||
        die "merge_config.sh failed, see $BUILD/config.log"
    # Every line of the fragment must have taken effect.
    declare -A FINAL=()
    while IFS='=' read -r name value; do
        FINAL[$name]=$value
    done < <(normalise "$OBJ/.config")
    bad=()
    while IFS='=' read -r name value; do
        got=${FINAL[$name]:-n}
        [ "$got" = "$value" ] || bad+=("$name: wanted $value, got $got")
    done < <(normalise "$FRAGMENT")
    if [ "${#bad[@]}" -gt 0 ]; then
        printf 'build-kernel:   %s\n' "${bad[@]}" >&2
        die "${#bad[@]} option(s) of $FRAGMENT did not take effect (renamed, or a dependency is off)"
    fi

    log "compiling vmlinux and bzImage with -j$JOBS under nice -n 19 (log: $BUILD/build.log)"
    compile_start=$SECONDS
    if ! nice -n 19 make -C "$SRC" O="$OBJ" ARCH=x86_64 -j"$JOBS" vmlinux bzImage >"$BUILD/build.log" 2>&1; then
        tail -n 30 "$BUILD/build.log" >&2
        die "kernel build failed, see $BUILD/build.log"
    fi
    release=$(kernel_release)
    cp "$OBJ/vmlinux" "$BUILD/vmlinux"
    cp "$OBJ/arch/x86/boot/bzImage" "$BUILD/bzImage"
    cp "$OBJ/.config" "$BUILD/config"
    cp "$OBJ/modules.builtin" "$BUILD/modules.builtin"
    echo "$release" >"$BUILD/kernel-version"
    echo "$KEY" >"$BUILD/build-id"
    touch "$BUILD/.done"
    log "built $release in $((SECONDS - started)) s (compile $((SECONDS - compile_start)) s)"
else
    # Builds cached before --no-print-directory recorded make's "Leaving directory" line.
    if grep -q ' ' "$BUILD/kernel-version" 2>/dev/null; then
        kernel_release >"$BUILD/kernel-version"
    fi
    log "cached build $KEY ($(cat "$BUILD/kernel-version"))"
    # Builds cached before the list was kept: it is still in the object directory.
    if [ ! -f "$BUILD/modules.builtin" ]; then
        [ -f "$OBJ/modules.builtin" ] || die "$OBJ/modules.builtin is missing: remove $BUILD to rebuild"
        cp "$OBJ/modules.builtin" "$BUILD/modules.builtin"
    fi
fi

# --- 4. outputs ----------------------------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
install_file() {
    install -m 0644 "$1" "$OUT_DIR/$2.tmp.$$"
    mv "$OUT_DIR/$2.tmp.$$" "$OUT_DIR/$2"
}
install_file "$BUILD/vmlinux" vmlinux.container
install_file "$BUILD/bzImage" vmlinuz.container
install_file "$BUILD/config" config
install_file "$BUILD/kernel-version" kernel-version
install_file "$BUILD/build-id" build-id
# What is built in, for the agent's `kernel_modules` (a built-in module counts as loaded, as modprobe says).
install_file "$BUILD/modules.builtin" modules.builtin
log "$OUT_DIR: $(cat "$BUILD/kernel-version"), vmlinux $(du -h "$OUT_DIR/vmlinux.container" | cut -f1)," \
    "bzImage $(du -h "$OUT_DIR/vmlinuz.container" | cut -f1)"
