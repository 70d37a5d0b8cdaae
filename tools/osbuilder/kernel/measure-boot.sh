#!/usr/bin/env bash
# Boot time and memory of an idle VM running the real agent, for one or more image directories (each holds
# vmlinux.container and kata-containers-initrd.img, as `make image` writes them):
#   ready  wall time from spawning QEMU until the agent accepts on vsock port 1024 (a host client's
#          "CONNECT 1024" through vhost-device-vsock is answered "OK")
#   PSS    QEMU's proportional set size IDLE seconds after that, split into anonymous (QEMU's heap, TCG
#          translation buffer), file-backed (binaries, the kernel file) and shmem (the memfd guest RAM)
# Runs ROUNDS rounds, alternating the images so that background load hits them alike.
#
# Usage: measure-boot.sh IMAGE_DIR... (e.g. build/image build/image-built)
# Environment: ROUNDS (default 3), IDLE (s, default 10), MACHINE (default pc), MEM_MB (default 512).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-10}
MACHINE=${MACHINE:-pc}
MEM_MB=${MEM_MB:-512}
[ "$#" -ge 1 ] || {
    echo "usage: measure-boot.sh IMAGE_DIR..." >&2
    exit 2
}
die() {
    echo "measure-boot: FAIL: $*" >&2
    exit 1
}
for c in qemu-system-x86_64 vhost-device-vsock virtiofsd python3; do
    command -v "$c" >/dev/null || die "$c not found (run scripts/install-deps.sh)"
done

T=$(mktemp -d /tmp/kata-measure-boot.XXXXXX)
PIDS=()
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
trap 'stop_all; rm -rf "$T"' EXIT

# Polls VM.vsock until the guest's port 1024 accepts; prints nothing, exits 0 when it did.
cat >"$T/wait-agent.py" <<'EOF'
import socket, sys, time
path, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.sendall(b"CONNECT 1024\n")
        if s.makefile("rb").readline().startswith(b"OK "):
            sys.exit(0)
    except OSError:
        pass
    finally:
        s.close()
    time.sleep(0.02)
sys.exit(1)
EOF

kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/smaps_rollup"; }

boot_once() {
    local img=$1 d=$T/run
    rm -rf "$d"
    mkdir -p "$d/share"
    vhost-device-vsock --vm "guest-cid=3,socket=$d/vhu.sock,uds-path=$d/vm.vsock" >"$d/vsock.log" 2>&1 &
    PIDS+=($!)
    virtiofsd --socket-path="$d/vfs.sock" --shared-dir="$d/share" --sandbox=none --cache=never >"$d/vfs.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        [ -S "$d/vhu.sock" ] && [ -S "$d/vfs.sock" ] && break
        sleep 0.05
    done
    local start=$EPOCHREALTIME
    qemu-system-x86_64 -M "$MACHINE" -accel tcg,tb-size=32 -m "$MEM_MB" -smp 1 \
        -nodefaults -no-user-config -display none -no-reboot -serial "file:$d/console.log" \
        -kernel "$img/vmlinux.container" -initrd "$img/kata-containers-initrd.img" \
        -object "memory-backend-memfd,id=mem,size=${MEM_MB}M,share=on" -numa node,memdev=mem \
        -chardev "socket,id=vsock,path=$d/vhu.sock" -device vhost-user-vsock-pci,chardev=vsock \
        -chardev "socket,id=vfs,path=$d/vfs.sock" -device vhost-user-fs-pci,chardev=vfs,tag=kataShared \
        -append "console=ttyS0 quiet panic=1" >"$d/qemu.log" 2>&1 &
    local qemu=$!
    PIDS+=("$qemu")
    python3 "$T/wait-agent.py" "$d/vm.vsock" 120 || die "$img: the agent never listened; console: $(tail -n 20 "$d/console.log")"
    local ready=$EPOCHREALTIME
    sleep "$IDLE"
    local pss anon file shmem
    pss=$(kib "$qemu" Pss)
    anon=$(kib "$qemu" Pss_Anon)
    file=$(kib "$qemu" Pss_File)
    shmem=$(kib "$qemu" Pss_Shmem)
    stop_all
    printf '%s\tready %d ms\tPSS %d MiB (anon %d, file %d, shmem/guest RAM %d)\n' "$img" \
        $(((${ready//[.,]/} - ${start//[.,]/}) / 1000)) $((pss / 1024)) $((anon / 1024)) $((file / 1024)) \
        $((shmem / 1024))
}

for round in $(seq "$ROUNDS"); do
    for img in "$@"; do
        img=$(cd "$img" && pwd)
        printf 'round %d\t' "$round"
        boot_once "$img"
    done
done
