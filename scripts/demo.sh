#!/usr/bin/env bash
# The main job's last step: show the host's verdict, then run a container in a VM through a private
# containerd and print its kernel (the guest's, not the host's).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${DEMO_DIR:-/run/kata-rs-demo}

echo "== kata-runtime check"
kata-runtime check || true
echo
echo "== kata-runtime kata-env"
kata-runtime kata-env
echo

command -v containerd-shim-kata-v2 > /dev/null || {
    echo "containerd-shim-kata-v2 is not on PATH: run \`make install\` first" >&2
    exit 1
}

trap '"$here/private-containerd.sh" stop "$dir" > /dev/null' EXIT
"$here/private-containerd.sh" start "$dir"
echo "== host kernel: $(uname -r)"
echo "== ctr run --rm --runtime io.containerd.kata.v2 busybox uname -a"
timeout -k 5 120 ctr --address "$dir/containerd.sock" run --rm --runtime io.containerd.kata.v2 \
    docker.io/library/busybox:latest "kata-demo-$$" uname -a
