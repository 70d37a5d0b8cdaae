#!/usr/bin/env bash
# Starts or stops a private containerd (own root, state and sockets) for the demo, tests and benchmarks.
#   private-containerd.sh start DIR   -> containerd running, socket DIR/containerd.sock, busybox imported
#   private-containerd.sh stop DIR    -> containerd stopped, its mounts and state removed
# The kata shim is found through PATH (containerd-shim-kata-v2); KATA_CONF_FILE is passed through.
set -euo pipefail

cmd=${1:?usage: private-containerd.sh start|stop DIR}
dir=${2:?usage: private-containerd.sh start|stop DIR}
here=$(cd "$(dirname "$0")" && pwd)

start() {
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    cat > "$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[debug]
  level = "info"

[plugins."io.containerd.runtime.v2.task"]
  platforms = ["linux/amd64"]
TOML
    if [ -f "$dir/containerd.pid" ] && kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null; then
        echo "containerd already running in $dir"
    else
        containerd --config "$dir/config.toml" > "$dir/containerd.log" 2>&1 &
        echo $! > "$dir/containerd.pid"
    fi
    for _ in $(seq 1 100); do
        ctr --address "$dir/containerd.sock" version > /dev/null 2>&1 && break
        sleep 0.1
    done
    ctr --address "$dir/containerd.sock" version > /dev/null || {
        echo "private containerd did not come up; see $dir/containerd.log" >&2
        exit 1
    }
    if ! ctr --address "$dir/containerd.sock" images ls -q | grep -q busybox; then
        [ -f "$dir/busybox.tar" ] || "$here/make-busybox-oci.sh" "$dir/busybox.tar" > /dev/null
        ctr --address "$dir/containerd.sock" images import "$dir/busybox.tar" > /dev/null
    fi
    echo "containerd running: --address $dir/containerd.sock"
}

stop() {
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/containerd.pid" ]; then
        pid=$(cat "$dir/containerd.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/containerd.pid"
    fi
    # Leftover overlay/rootfs mounts of the private root, deepest first.
    { grep -o " $dir/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$dir/root" "$dir/state"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    *) echo "unknown command $cmd (start|stop)" >&2; exit 2 ;;
esac
