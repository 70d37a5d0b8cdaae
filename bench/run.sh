#!/usr/bin/env bash
# Benchmarks kata-rs against runc through the same private containerd, side by side in one run:
#   - `ctr run --rm ... true`: median (and min/max) of N runs for each runtime;
#   - host memory of one idle pod: PSS of QEMU + virtiofsd + vhost-device-vsock + shim (kata) and of
#     the shim + container (runc).
# Usage: bench/run.sh [N]   (N defaults to 10). Needs `make install` (or the binaries on PATH).
set -euo pipefail

n=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
dir=$(mktemp -d /tmp/kata-bench-XXXXXX)
trap '"$top/scripts/private-containerd.sh" stop "$dir" > /dev/null; rm -rf "$dir"' EXIT
"$top/scripts/private-containerd.sh" start "$dir" > /dev/null
sock="$dir/containerd.sock"
ctr() { command ctr --address "$sock" "$@"; }
image=docker.io/library/busybox:latest

now() { date +%s.%N; }

# median/min/max of the numbers on stdin
stats() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f %.3f %.3f\n", m, a[1], a[NR]}'; }

time_runs() {
    local runtime=$1
    for i in $(seq 1 "$n"); do
        local t0 t1
        t0=$(now)
        timeout -k 5 180 ctr --address "$sock" run --rm --runtime "$runtime" "$image" "bench-${runtime//./-}-$i-$$" true > /dev/null
        t1=$(now)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
    done | tee "$dir/times-$runtime" | stats
}

# Boot phases of the kata runs, from the containerd log: the shim's "vm boot timeline" (ms since
# the launch began: daemons started, QMP answering, agent answering) and the guest's own lines
# forwarded by the shim ("guest boot timeline": init and modules done; "agent serving"), in ms of
# guest uptime. Prints one median per phase.
boot_phases() {
    local log="$dir/containerd.log"
    grep -E 'vm boot timeline|guest boot timeline|agent serving' "$log" |
        grep -o 'bench-io-containerd-kata-v2-[0-9]*-[0-9]*\|[a-z_]*_ms=[0-9]*' |
        awk '/^bench-/ { id = $0; next } { split($0, kv, "="); v[id, kv[1]] = kv[2]; ids[id] = 1 }
             END { for (i in ids) print v[i, "daemons_ms"], v[i, "qmp_ms"], v[i, "init_ms"],
                       v[i, "modules_ms"], v[i, "serving_ms"], v[i, "agent_ms"] }' |
        awk 'NF == 6' > "$dir/phases"
    median_col() { awk -v c="$1" '{print $c}' "$dir/phases" | sort -n | awk '{a[NR]=$1} END {if (NR == 0) {print "-"; exit} print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
    local daemons qmp init modules serving agent total
    daemons=$(median_col 1); qmp=$(median_col 2); init=$(median_col 3)
    modules=$(median_col 4); serving=$(median_col 5); agent=$(median_col 6)
    total=$(stats < "$dir/times-io.containerd.kata.v2" | awk '{printf "%d", $1 * 1000}')
    echo "boot phases of \`ctr run --rm true\` with kata-rs, medians of $(wc -l < "$dir/phases") runs, ms:"
    printf '| %-58s | %8s |\n' "phase" "ms"
    printf '|%s|%s|\n' "------------------------------------------------------------" "----------"
    printf '| %-58s | %8s |\n' "vhost-device-vsock started (from the launch)" "$daemons"
    printf '| %-58s | %8s |\n' "QEMU spawned and QMP answering" "$((qmp - daemons))"
    printf '| %-58s | %8s |\n' "guest kernel until init (guest uptime)" "$init"
    printf '| %-58s | %8s |\n' "kernel modules loaded" "$((modules - init))"
    printf '| %-58s | %8s |\n' "agent serving" "$((serving - modules))"
    printf '| %-58s | %8s |\n' "agent answering the host (from the launch)" "$agent"
    printf '| %-58s | %8s |\n' "whole ctr run (shim start, sandbox, container, teardown)" "$total"
}

# PSS (KiB) summed over the processes whose comm matches one of the names.
pss_of() {
    local total=0 pid comm
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
        for name in "$@"; do
            if [ "${name:0:15}" = "$comm" ]; then
                local p
                p=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
                total=$((total + ${p:-0}))
            fi
        done
    done
    echo "$total"
}

idle_pss() {
    local runtime=$1; shift
    local id="idle-${runtime//./-}-$$"
    ctr run -d --runtime "$runtime" "$image" "$id" sleep 3600 > /dev/null
    sleep 5
    local pss
    pss=$(pss_of "$@")
    ctr task kill -s SIGKILL "$id" > /dev/null 2>&1 || true
    for _ in $(seq 1 60); do ctr task ls | grep -q "$id.*RUNNING" || break; sleep 0.5; done
    ctr task delete "$id" > /dev/null 2>&1 || true
    ctr container delete "$id" > /dev/null 2>&1 || true
    echo "$pss"
}

echo "kata-rs benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), host kernel $(uname -r)"
echo "accelerator: $({ kata-runtime check 2>/dev/null || true; } | grep -m1 '\] kvm:')"
echo
read -r k_med k_min k_max < <(time_runs io.containerd.kata.v2)
read -r r_med r_min r_max < <(time_runs io.containerd.runc.v2)
k_pss=$(idle_pss io.containerd.kata.v2 qemu-system-x86_64 virtiofsd vhost-device-vsock containerd-shim-kata-v2)
r_pss=$(idle_pss io.containerd.runc.v2 containerd-shim-runc-v2 sleep)

printf '| %-28s | %12s | %12s |\n' "measure (n=$n)" "kata-rs" "runc"
printf '|%s|%s|%s|\n' "------------------------------" "--------------" "--------------"
printf '| %-28s | %12s | %12s |\n' "ctr run --rm true, median s" "$k_med" "$r_med"
printf '| %-28s | %12s | %12s |\n' "ctr run --rm true, min s" "$k_min" "$r_min"
printf '| %-28s | %12s | %12s |\n' "ctr run --rm true, max s" "$k_max" "$r_max"
printf '| %-28s | %12s | %12s |\n' "idle pod host PSS, MiB" "$((k_pss / 1024))" "$((r_pss / 1024))"

echo
boot_phases

echo
echo "guest agent (boot the image, VmRSS of PID 1 read from a container without a PID namespace):"
(cd "$top" && KATA_TEST_IMAGE_DIR="${KATA_TEST_IMAGE_DIR:-$top/build/image}" cargo run -q --release -p kata-vm-tests --bin agent_rss) |
    sed 's/^/  /'

echo
echo "CRI pods (RunPodSandbox to a running container; host <-> pod latency and throughput), n=$n:"
# This part uses the workspace build, not the installed binaries: the tests/cri harness runs its own
# containerd (CRI plugin, handlers kata and runc, CNI bridge) with the shim of target/debug (else
# target/release) and the guest image of build/image (or KATA_TEST_IMAGE_DIR).
(cd "$top" && cargo build -q -p containerd-shim-kata-v2 &&
    KATA_TEST_IMAGE_DIR="${KATA_TEST_IMAGE_DIR:-$top/build/image}" \
        cargo run -q -p kata-cri-tests --example bench_cri -- "$n") |
    sed 's/^/  /'
