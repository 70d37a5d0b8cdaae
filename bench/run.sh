#!/usr/bin/env bash
# Benchmarks kata-rs against runc through the same private containerd, side by side in one run:
#   - `ctr run --rm ... true`: median (and min/max) of N runs for runc, kata-rs booting directly,
#     kata-rs from the VM factory's template, and kata-rs taking VMs from the VMCache;
#   - host memory of one idle pod: PSS of QEMU + virtiofsd + vhost-device-vsock + shim (kata) and of
#     the shim + container (runc); the summed PSS of 10 idle pods, direct and from the template.
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

# time_runs LABEL RUNTIME [CTR RUN OPTIONS...]: N timed `ctr run --rm` runs; prints median min max.
# With VMCACHE_WAIT set, each run first waits (untimed) until the cache is full again.
time_runs() {
    local label=$1 runtime=$2; shift 2
    for i in $(seq 1 "$n"); do
        [ -z "${VMCACHE_WAIT:-}" ] || wait_cache "$VMCACHE_WAIT"
        local t0 t1
        t0=$(now)
        timeout -k 5 180 ctr --address "$sock" run --rm --runtime "$runtime" "$@" "$image" "bench-$label-$i-$$" true > /dev/null
        t1=$(now)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
    done | tee "$dir/times-$label" | stats
}

# The configuration the installed binaries use (first existing default path).
installed_config() {
    local p
    for p in ${KATA_CONF_FILE:-} $(kata-runtime --show-default-config-paths); do
        [ -f "$p" ] && { echo "$p"; return; }
    done
    echo "no kata-rs configuration found (make install)" >&2
    return 1
}

# factory_config FILE KEY=VALUE...: the installed configuration with [factory] keys set.
factory_config() {
    local out=$1; shift
    local sets=() kv
    for kv in "$@"; do sets+=(-e "s#^${kv%%=*} = .*#${kv%%=*} = ${kv#*=}#"); done
    sed "${sets[@]}" "$(installed_config)" > "$out"
}

# wait_cache N: until `factory status` lists N cached VMs (at most 120 s).
wait_cache() {
    for _ in $(seq 1 240); do
        [ "$(kata-runtime --config "$dir/vmcache.toml" factory status 2>/dev/null | grep -c 'vm pid')" -ge "$1" ] && return 0
        sleep 0.5
    done
    echo "the VM cache did not fill" >&2
    return 1
}

# Boot phases of the kata runs, from the containerd log, per way of starting (direct, template,
# vmcache): the shim's "vm boot timeline" (ms since the launch began: daemons started, QMP
# answering or VM taken/restored, agent answering), "sandbox created" (CreateSandbox done, ms since
# the launch began) and "container started" (ms of StartContainer); the guest's own lines forwarded
# by the shim ("guest boot timeline": init and modules done; "agent serving", ms of guest uptime:
# direct boots only, a cached or cloned VM booted before the pod). One median per phase and way.
phase_medians() {
    local label=$1 log="$dir/containerd.log"
    grep -E 'vm boot timeline|guest boot timeline|agent serving|sandbox created|container started' "$log" |
        grep -o "bench-$label-[0-9]*-[0-9]*\|[a-z_]*_ms=[0-9]*" |
        awk '/^bench-/ { id = $0; next } { split($0, kv, "="); v[id, kv[1]] = kv[2]; ids[id] = 1 }
             END { for (i in ids) print v[i, "daemons_ms"]+0, v[i, "qmp_ms"]+0, v[i, "init_ms"]+0,
                       v[i, "modules_ms"]+0, v[i, "serving_ms"]+0, v[i, "agent_ms"]+0,
                       v[i, "created_ms"]+0, v[i, "start_ms"]+0 }' > "$dir/phases-$label"
    local c
    for c in 1 2 3 4 5 6 7 8; do
        awk -v c="$c" '{print $c}' "$dir/phases-$label" | sort -n |
            awk '{a[NR]=$1} END {if (NR == 0) {print "-"; exit} print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
    done | paste -sd' '
}

boot_phases() {
    local d t c
    read -r -a d <<< "$(phase_medians direct)"
    read -r -a t <<< "$(phase_medians template)"
    read -r -a c <<< "$(phase_medians vmcache)"
    total() { [ -s "$dir/times-$1" ] && stats < "$dir/times-$1" | awk '{printf "%d", $1 * 1000}' || echo -; }
    sub() { [ "$1" = - ] || [ "$2" = - ] && echo - || awk -v a="$1" -v b="$2" 'BEGIN { print a - b }'; }
    echo "boot phases of \`ctr run --rm true\`, medians of the runs above, ms:"
    printf '| %-56s | %8s | %8s | %8s |\n' "phase" "direct" "template" "VMCache"
    printf '|%s|%s|%s|%s|\n' "----------------------------------------------------------" "----------" "----------" "----------"
    printf '| %-56s | %8s | %8s | %8s |\n' "daemons started (vsock, virtiofsd; from the launch)" "${d[0]}" "${t[0]}" "${c[0]}"
    printf '| %-56s | %8s | %8s | %8s |\n' "QEMU spawned + QMP / VM restored / VM taken + share" "$(sub "${d[1]}" "${d[0]}")" "${t[1]}" "${c[1]}"
    printf '| %-56s | %8s | %8s | %8s |\n' "guest kernel until init (guest uptime)" "${d[2]}" "-" "-"
    printf '| %-56s | %8s | %8s | %8s |\n' "kernel modules loaded" "$(sub "${d[3]}" "${d[2]}")" "-" "-"
    printf '| %-56s | %8s | %8s | %8s |\n' "agent serving" "$(sub "${d[4]}" "${d[3]}")" "-" "-"
    printf '| %-56s | %8s | %8s | %8s |\n' "agent answering the host (from the launch)" "${d[5]}" "${t[5]}" "${c[5]}"
    printf '| %-56s | %8s | %8s | %8s |\n' "sandbox created (from the launch)" "${d[6]}" "${t[6]}" "${c[6]}"
    printf '| %-56s | %8s | %8s | %8s |\n' "StartContainer" "${d[7]}" "${t[7]}" "${c[7]}"
    printf '| %-56s | %8s | %8s | %8s |\n' "whole ctr run (shim start, sandbox, container, teardown)" "$(total direct)" "$(total template)" "$(total vmcache)"
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
read -r r_med r_min r_max < <(time_runs runc io.containerd.runc.v2)
read -r k_med k_min k_max < <(time_runs direct io.containerd.kata.v2)

# VMCache: a server with 1 VM; each run waits (untimed) until the cache holds one again.
factory_config "$dir/vmcache.toml" vm_cache_number=1 "vm_cache_endpoint=\"$dir/cache.sock\""
kata-runtime --config "$dir/vmcache.toml" factory init 2> "$dir/vmcache.log" &
server=$!
c_med=- c_min=- c_max=-
if wait_cache 1; then
    read -r c_med c_min c_max < <(VMCACHE_WAIT=1 time_runs vmcache io.containerd.kata.v2 --runtime-config-path "$dir/vmcache.toml")
fi
kata-runtime --config "$dir/vmcache.toml" factory destroy > /dev/null || kill "$server" 2> /dev/null || true
wait "$server" 2> /dev/null || true

# Template: `factory init` saves it and exits; pods restore from it.
factory_config "$dir/template.toml" enable_template=true "template_path=\"$dir/template\"" "shared_fs=\"virtio-9p\""
t_med=- t_min=- t_max=-
if kata-runtime --config "$dir/template.toml" factory init > "$dir/template.log" 2>&1; then
    read -r t_med t_min t_max < <(time_runs template io.containerd.kata.v2 --runtime-config-path "$dir/template.toml")
else
    echo "template: not measured: $(tail -1 "$dir/template.log")"
fi

k_pss=$(idle_pss io.containerd.kata.v2 qemu-system-x86_64 virtiofsd vhost-device-vsock containerd-shim-kata-v2)
r_pss=$(idle_pss io.containerd.runc.v2 containerd-shim-runc-v2 sleep)

# idle_pods_pss COUNT [CTR RUN OPTIONS...]: summed PSS (KiB) of COUNT idle kata pods.
idle_pods_pss() {
    local count=$1; shift
    local i
    for i in $(seq 1 "$count"); do
        ctr run -d --runtime io.containerd.kata.v2 "$@" "$image" "pods-$i-$$" sleep 3600 > /dev/null
    done
    sleep 10
    pss_of qemu-system-x86_64 virtiofsd vhost-device-vsock containerd-shim-kata-v2
    for i in $(seq 1 "$count"); do
        ctr task kill -s SIGKILL "pods-$i-$$" > /dev/null 2>&1 || true
    done
    for i in $(seq 1 "$count"); do
        for _ in $(seq 1 60); do ctr task ls | grep -q "pods-$i-$$.*RUNNING" || break; sleep 0.5; done
        ctr task delete "pods-$i-$$" > /dev/null 2>&1 || true
        ctr container delete "pods-$i-$$" > /dev/null 2>&1 || true
    done
}
pods=10
p_direct=$(idle_pods_pss $pods)
p_template=-
if [ "$t_med" != - ]; then
    p_template=$(($(idle_pods_pss $pods --runtime-config-path "$dir/template.toml") / 1024))
fi
kata-runtime --config "$dir/template.toml" factory destroy > /dev/null 2>&1 || true

printf '| %-34s | %9s | %9s | %9s | %9s |\n' "measure (n=$n)" "runc" "direct" "template" "VMCache"
printf '|%s|%s|%s|%s|%s|\n' "------------------------------------" "-----------" "-----------" "-----------" "-----------"
printf '| %-34s | %9s | %9s | %9s | %9s |\n' "ctr run --rm true, median s" "$r_med" "$k_med" "$t_med" "$c_med"
printf '| %-34s | %9s | %9s | %9s | %9s |\n' "ctr run --rm true, min s" "$r_min" "$k_min" "$t_min" "$c_min"
printf '| %-34s | %9s | %9s | %9s | %9s |\n' "ctr run --rm true, max s" "$r_max" "$k_max" "$t_max" "$c_max"
printf '| %-34s | %9s | %9s | %9s | %9s |\n' "idle pod host PSS, MiB" "$((r_pss / 1024))" "$((k_pss / 1024))" "" ""
printf '| %-34s | %9s | %9s | %9s | %9s |\n' "$pods idle pods, summed host PSS, MiB" "" "$((p_direct / 1024))" "$p_template" ""
echo "(VMCache: 1 VM kept; each run waits, untimed, until the cache holds one again)"

echo
boot_phases

echo
echo "guest agent (boot the image; its resident memory from its GetMetrics, after boot and with a container):"
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
