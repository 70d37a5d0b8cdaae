#!/usr/bin/env bash
# Boot check of the built guest kernel (build-kernel.sh) under QEMU, with a test init instead of the agent:
#   - no module is loaded, yet vsock (CID 3, a host client reaches the guest's port 1024 through
#     vhost-device-vsock), virtio-fs and virtio-9p shares work;
#   - /proc/filesystems lists 9p, virtiofs, overlay, ext4, tmpfs, hugetlbfs, cgroup2; /proc/config.gz exists;
#   - cgroup2 offers the cpuset, cpu, io, memory, hugetlb and pids controllers;
#   - /dev/hwrng is fed by virtio-rng;
#   - a CPU and a 128 MiB pc-dimm hot-plugged through QMP show up in sysfs (offline) and can be onlined;
#   - the VM powers off by itself.
# Prints the boot time (QEMU start to "READY" on the serial console).
#
# Usage: test-kernel.sh         (builds the kernel first if needed: cached, seconds)
# Environment: MACHINE (pc|q35, default pc), ACCEL (default tcg), KERNEL=vmlinux|vmlinuz (default vmlinux),
#              KERNEL_DIR (default build/kernel), TIMEOUT (s, default 120), KEEP=1 keeps the temp dir.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
MACHINE=${MACHINE:-pc}
ACCEL=${ACCEL:-tcg}
KERNEL=${KERNEL:-vmlinux}
KERNEL_DIR=${KERNEL_DIR:-$ROOT/build/kernel}
TIMEOUT=${TIMEOUT:-120}
MEM_MB=512
CID=3

die() {
    echo "test-kernel: FAIL: $*" >&2
    exit 1
}
for c in qemu-system-x86_64 vhost-device-vsock virtiofsd gcc python3; do
    command -v "$c" >/dev/null || die "$c not found (run scripts/install-deps.sh)"
done

T=$(mktemp -d /tmp/kata-test-kernel.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "test-kernel: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# --- the test init (guest) --------------------------------------------------------------------------------
cat >"$T/init.c" <<'EOF'
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static double uptime(void) {
    double up = -1;
    FILE *f = fopen("/proc/uptime", "r");
    if (f) { if (fscanf(f, "%lf", &up) != 1) up = -1; fclose(f); }
    return up;
}

static int slurp(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    return (int)n;
}

static void finish(int code) {
    printf("EXIT %d\n", code);
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    for (;;) pause();
}

/* Counts sysfs entries "<prefix><n>" in dir, and brings the offline ones online. */
static int count_and_online(const char *dir, const char *prefix, int *onlined) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d))) {
        size_t pl = strlen(prefix);
        if (strncmp(e->d_name, prefix, pl) != 0 || e->d_name[pl] < '0' || e->d_name[pl] > '9') continue;
        n++;
        char path[512], state[16] = {0};
        snprintf(path, sizeof path, "%s/%s/online", dir, e->d_name);
        if (onlined && slurp(path, state, sizeof state) > 0 && state[0] == '0') {
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            if (fd >= 0 && write(fd, "1", 1) == 1) (*onlined)++;
            else printf("ONLINE-FAIL %s: %s\n", path, strerror(errno));
            if (fd >= 0) close(fd);
        }
    }
    closedir(d);
    return n;
}

static long mem_total_kb(void) {
    char buf[4096];
    if (slurp("/proc/meminfo", buf, sizeof buf) <= 0) return -1;
    long kb = -1;
    sscanf(buf, "MemTotal: %ld kB", &kb);
    return kb;
}

static void mount_share(const char *fstype, const char *tag, const char *opts) {
    char buf[128] = {0};
    int fd = -1;
    mkdir("/mnt", 0755);
    if (mount(tag, "/mnt", fstype, 0, opts) != 0) printf("SHARE-FAIL %s mount %s: %s\n", fstype, tag, strerror(errno));
    else if ((fd = open("/mnt/hello", O_RDONLY)) < 0 || read(fd, buf, sizeof buf - 1) <= 0) printf("SHARE-FAIL %s read: %s\n", fstype, strerror(errno));
    else { buf[strcspn(buf, "\n")] = 0; printf("SHARE-OK %s %s\n", fstype, buf); }
    if (fd >= 0) close(fd);
    umount("/mnt");
}

int main(void) {
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("INIT uptime=%.2f\n", uptime());
    int failed = 0;

    static char fs[8192];
    slurp("/proc/filesystems", fs, sizeof fs);
    const char *want_fs[] = {"9p", "virtiofs", "overlay", "ext4", "tmpfs", "hugetlbfs", "cgroup2", "devtmpfs", NULL};
    for (int i = 0; want_fs[i]; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "\t%s\n", want_fs[i]);
        if (!strstr(fs, pat)) { printf("FS-MISSING %s\n", want_fs[i]); failed++; }
    }
    printf("FILESYSTEMS checked\n");

    struct stat st;
    if (stat("/proc/config.gz", &st) != 0) { printf("CONFIG-MISSING /proc/config.gz\n"); failed++; }
    if (stat("/sys/devices/system/memory", &st) != 0) { printf("MEMORY-SYSFS-MISSING\n"); failed++; }

    char rng[64] = {0}, bytes[16];
    slurp("/sys/class/misc/hw_random/rng_current", rng, sizeof rng);
    rng[strcspn(rng, "\n")] = 0;
    int rfd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);
    if (rfd < 0 || read(rfd, bytes, sizeof bytes) != sizeof bytes) { printf("HWRNG-FAIL %s (%s)\n", strerror(errno), rng); failed++; }
    else printf("HWRNG-OK %s\n", rng);
    if (rfd >= 0) close(rfd);

    char ctl[256] = {0};
    mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL);
    slurp("/sys/fs/cgroup/cgroup.controllers", ctl, sizeof ctl);
    ctl[strcspn(ctl, "\n")] = 0;
    printf("CGROUP-CONTROLLERS %s\n", ctl);

    unsigned int cid = 0;
    int vfd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
    if (vfd < 0 || ioctl(vfd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) != 0) printf("VSOCK-FAIL /dev/vsock: %s\n", strerror(errno));
    else printf("VSOCK-CID %u\n", cid);
    int ls = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = 1024 };
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 1) != 0) {
        printf("VSOCK-FAIL listen: %s\n", strerror(errno));
        ls = -1;
    }

    mount_share("virtiofs", "kataShared", NULL);
    mount_share("9p", "share9p", "trans=virtio,version=9p2000.L,cache=mmap");

    int cpus0 = count_and_online("/sys/devices/system/cpu", "cpu", NULL);
    int mem0 = count_and_online("/sys/devices/system/memory", "memory", NULL);
    long kb0 = mem_total_kb();
    printf("READY uptime=%.2f cpus=%d memory_blocks=%d\n", uptime(), cpus0, mem0);

    if (ls >= 0) {
        struct pollfd p = { .fd = ls, .events = POLLIN };
        if (poll(&p, 1, 60000) != 1) { printf("VSOCK-FAIL no connection\n"); finish(1); }
        int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        char buf[256], reply[300];
        ssize_t n = c < 0 ? -1 : read(c, buf, sizeof buf - 1);
        if (n <= 0) { printf("VSOCK-FAIL read: %s\n", strerror(errno)); finish(1); }
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        int len = snprintf(reply, sizeof reply, "pong %s\n", buf);
        if (write(c, reply, len) != len) printf("VSOCK-FAIL write: %s\n", strerror(errno));
        else printf("VSOCK-OK got '%s'\n", buf);
        close(c);
    }

    /* The host hot-plugs one CPU and one memory DIMM after the ping; wait for them and online them. */
    int cpus_on = 0, mem_on = 0, cpus = cpus0, mem = mem0;
    for (int i = 0; i < 600 && (cpus <= cpus0 || mem <= mem0); i++) {
        usleep(100000);
        cpus = count_and_online("/sys/devices/system/cpu", "cpu", &cpus_on);
        mem = count_and_online("/sys/devices/system/memory", "memory", &mem_on);
    }
    usleep(200000);
    count_and_online("/sys/devices/system/cpu", "cpu", &cpus_on);
    count_and_online("/sys/devices/system/memory", "memory", &mem_on);
    char online[64] = {0};
    slurp("/sys/devices/system/cpu/online", online, sizeof online);
    online[strcspn(online, "\n")] = 0;
    printf("HOTPLUG cpus %d->%d (onlined %d, online %s), memory blocks %d->%d (onlined %d), MemTotal %ld->%ld kB\n",
           cpus0, cpus, cpus_on, online, mem0, mem, mem_on, kb0, mem_total_kb());
    finish(failed ? 1 : 0);
}
EOF
cat >"$T/client.c" <<'EOF'
/* Hybrid vsock client: connect to the Unix socket, "CONNECT <port>\n", expect "OK ", then ping. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int readline(int fd, char *buf, size_t cap) {
    size_t n = 0;
    while (n + 1 < cap && read(fd, buf + n, 1) == 1) { if (buf[n++] == '\n') break; }
    buf[n] = 0;
    return (int)n;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: client SOCKET PORT\n"); return 2; }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 1; }
    char buf[256];
    int len = snprintf(buf, sizeof buf, "CONNECT %s\n", argv[2]);
    if (write(fd, buf, len) != len) { perror("write"); return 1; }
    readline(fd, buf, sizeof buf);
    printf("host: %s", buf);
    if (strncmp(buf, "OK ", 3) != 0) { fprintf(stderr, "no OK from %s\n", argv[1]); return 1; }
    if (write(fd, "ping\n", 5) != 5) { perror("write"); return 1; }
    readline(fd, buf, sizeof buf);
    printf("host: %s", buf);
    return strcmp(buf, "pong ping\n") == 0 ? 0 : 1;
}
EOF
# QMP: hot-plug the first free CPU slot and a 128 MiB DIMM (shared memfd, so vhost-user back-ends see it).
cat >"$T/hotplug.py" <<'EOF'
import json, socket, sys

sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
f = sock.makefile("rw")

def cmd(name, **args):
    f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
    f.flush()
    while True:
        msg = json.loads(f.readline())
        if "return" in msg:
            return msg["return"]
        if "error" in msg:
            sys.exit(f"{name}: {msg['error']}")

json.loads(f.readline())
cmd("qmp_capabilities")
free = [c for c in cmd("query-hotpluggable-cpus") if "qom-path" not in c]
if not free:
    sys.exit("no free CPU slot")
slot = free[-1]
cmd("device_add", driver=slot["type"], id="hotcpu", **slot["props"])
cmd("object-add", **{"qom-type": "memory-backend-memfd", "id": "hotmem", "size": 128 << 20, "share": True})
cmd("device_add", driver="pc-dimm", id="hotdimm", memdev="hotmem")
print("hot-plugged", slot["type"], slot["props"], "and a 128 MiB pc-dimm")
EOF
gcc -static -O2 -o "$T/init" "$T/init.c" || die "cannot compile the test init"
gcc -O2 -o "$T/client" "$T/client.c" || die "cannot compile the vsock client"

# --- image: the built kernel, the test init as /init -----------------------------------------------------
GUEST_KERNEL=built KERNEL_DIR=$KERNEL_DIR AGENT_BIN=$T/init OUT_DIR=$T/image DEBUG_CONSOLE=0 \
    "$ROOT/tools/osbuilder/build-image.sh" | sed 's/^/  /'
KVER=$(cat "$T/image/kernel-version")

# --- host-side daemons -------------------------------------------------------------------------------------
mkdir -p "$T/share"
echo "hello from the host" >"$T/share/hello"
vhost-device-vsock --vm "guest-cid=$CID,socket=$T/vhu-vsock.sock,uds-path=$T/vm.vsock" >"$T/vsock.log" 2>&1 &
PIDS+=($!)
virtiofsd --socket-path="$T/vfs.sock" --shared-dir="$T/share" --sandbox=none --cache=never >"$T/virtiofsd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    [ -S "$T/vhu-vsock.sock" ] && [ -S "$T/vfs.sock" ] && break
    sleep 0.05
done
[ -S "$T/vhu-vsock.sock" ] || die "vhost-device-vsock did not create its socket: $(cat "$T/vsock.log")"
[ -S "$T/vfs.sock" ] || die "virtiofsd did not create its socket: $(cat "$T/virtiofsd.log")"

# --- boot --------------------------------------------------------------------------------------------------
CMDLINE="console=ttyS0 quiet panic=1 tsc=reliable no_timer_check rcupdate.rcu_expedited=1 reboot=k"
CMDLINE+=" cryptomgr.notests net.ifnames=0"
QEMU_ARGS=(
    -M "$MACHINE" -accel "$ACCEL" -m "${MEM_MB}M,slots=2,maxmem=2G" -smp 1,maxcpus=2
    -nodefaults -no-user-config -display none -no-reboot
    -serial "file:$T/console.log" -qmp "unix:$T/qmp.sock,server=on,wait=off"
    -kernel "$T/image/$KERNEL.container" -initrd "$T/image/kata-containers-initrd.img"
    -object "memory-backend-memfd,id=mem,size=${MEM_MB}M,share=on" -numa node,memdev=mem
    -chardev "socket,id=vsock,path=$T/vhu-vsock.sock" -device vhost-user-vsock-pci,chardev=vsock
    -chardev "socket,id=vfs,path=$T/vfs.sock" -device vhost-user-fs-pci,chardev=vfs,tag=kataShared
    -fsdev "local,id=fs9p,path=$T/share,security_model=none" -device virtio-9p-pci,fsdev=fs9p,mount_tag=share9p
    -object rng-random,id=rng0,filename=/dev/urandom -device virtio-rng-pci,rng=rng0
)
start=$EPOCHREALTIME
qemu-system-x86_64 "${QEMU_ARGS[@]}" -append "$CMDLINE" >"$T/qemu.log" 2>&1 &
QEMU_PID=$!
PIDS+=("$QEMU_PID")

ready=""
deadline=$((SECONDS + TIMEOUT))
while [ "$SECONDS" -lt "$deadline" ]; do
    if grep -q '^READY' "$T/console.log" 2>/dev/null; then
        ready=$EPOCHREALTIME
        break
    fi
    kill -0 "$QEMU_PID" 2>/dev/null || break
    sleep 0.02
done
[ -n "$ready" ] || die "no READY within ${TIMEOUT}s; console:
$(cat "$T/console.log" 2>/dev/null) $(cat "$T/qemu.log")"

"$T/client" "$T/vm.vsock" 1024 >"$T/client.log" 2>&1 || die "hybrid vsock: $(cat "$T/client.log")"
python3 "$T/hotplug.py" "$T/qmp.sock" >"$T/hotplug.log" 2>&1 || die "QMP hot-plug: $(cat "$T/hotplug.log")"
for _ in $(seq $((TIMEOUT * 10))); do
    kill -0 "$QEMU_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$QEMU_PID" 2>/dev/null && die "the VM did not power off"

console=$(tr -d '\r' <"$T/console.log")
echo "$console" | sed 's/^/  guest: /'
sed 's/^/  host: /' "$T/client.log" "$T/hotplug.log"
echo "$console" | grep -E '^(FS-MISSING|CONFIG-MISSING|MEMORY-SYSFS-MISSING|HWRNG-FAIL|SHARE-FAIL|VSOCK-FAIL|ONLINE-FAIL)' &&
    die "a check failed (lines above)"
echo "$console" | grep -q "^VSOCK-CID $CID\$" || die "the guest has no vsock CID $CID"
echo "$console" | grep -q "^VSOCK-OK got 'ping'" || die "no ping over hybrid vsock"
echo "$console" | grep -q '^HWRNG-OK virtio_rng' || die "/dev/hwrng is not virtio-rng"
echo "$console" | grep -q '^SHARE-OK virtiofs hello from the host' || die "virtio-fs share not readable"
echo "$console" | grep -q '^SHARE-OK 9p hello from the host' || die "9p share not readable"
controllers=$(echo "$console" | sed -n 's/^CGROUP-CONTROLLERS //p')
for c in cpuset cpu io memory hugetlb pids; do
    [[ " $controllers " == *" $c "* ]] || die "cgroup2 lacks the $c controller (has: $controllers)"
done
echo "$console" | grep -Eq '^HOTPLUG cpus 1->2 \(onlined 1, online 0-1\)' || die "CPU hot-plug did not work"
echo "$console" | grep -Eq '^HOTPLUG .*memory blocks ([0-9]+)->([0-9]+) \(onlined [1-9]' || die "memory hot-plug did not work"
echo "$console" | grep -q '^EXIT 0' || die "the test init did not finish cleanly"

ms() { echo "$(((${2//[.,]/} - ${1//[.,]/}) / 1000))"; }
echo "test-kernel: OK kernel $KVER, $KERNEL, -M $MACHINE -accel $ACCEL: READY after $(ms "$start" "$ready") ms" \
    "(guest $(echo "$console" | sed -n 's/^READY uptime=\([0-9.]*\).*/\1/p') s)"
