#!/usr/bin/env bash
# Boot check of the guest image under QEMU (TCG): builds an image around a test init (not the agent), boots
# it with a hybrid vsock device (vhost-device-vsock) and a virtio-fs share (virtiofsd), and checks that
#   - every module in /etc/kata-modules loads (finit_module, as the agent does),
#   - the guest gets vsock CID 3 and a host client reaches its AF_VSOCK listener on port 1024 through
#     VM.vsock with "CONNECT 1024\n" -> "OK ...",
#   - the virtio-fs share mounts and a host file is readable in the guest,
#   - the VM powers off by itself.
# Prints the boot time (QEMU start to "READY" on the serial console, wall clock).
#
# Usage: test-boot.sh [INIT_BINARY]     (default: a static C test init compiled into a temp dir)
# Environment: KERNEL_FLAVOUR (cloud|generic), ACCEL (default tcg), MEM_MB (default 512),
#              KERNEL=vmlinux|vmlinuz (default vmlinux), CMDLINE (kernel command line without the test's
#              own testfs=/testvsock= parameters), INITRD_COMPRESSION (see build-image.sh),
#              KEEP=1 keeps the temp dir.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ACCEL=${ACCEL:-tcg}
MEM_MB=${MEM_MB:-512}
KERNEL=${KERNEL:-vmlinux}
TIMEOUT=${TIMEOUT:-120}
PORT=1024
CID=3

die() {
    echo "test-boot: FAIL: $*" >&2
    exit 1
}
for c in qemu-system-x86_64 vhost-device-vsock virtiofsd gcc; do
    command -v "$c" >/dev/null || die "$c not found (run scripts/install-deps.sh)"
done

T=$(mktemp -d /tmp/kata-test-boot.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "test-boot: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# --- the test init (guest) and the hybrid-vsock client (host) -------------------------------------------
cat >"$T/init.c" <<'EOF'
#define _GNU_SOURCE
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
#include <sys/syscall.h>
#include <unistd.h>

static double uptime(void) {
    double up = -1;
    FILE *f = fopen("/proc/uptime", "r");
    if (f) { if (fscanf(f, "%lf", &up) != 1) up = -1; fclose(f); }
    return up;
}

static void finish(int code) {
    printf("EXIT %d\n", code);
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    for (;;) pause();
}

int main(void) {
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("INIT uptime=%.2f\n", uptime());

    double t0 = uptime();
    int ok = 0, failed = 0;
    char line[512];
    FILE *list = fopen("/etc/kata-modules", "r");
    if (!list) { printf("MODFAIL /etc/kata-modules: %s\n", strerror(errno)); finish(1); }
    while (fgets(line, sizeof line, list)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0]) continue;
        int fd = open(line, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)) {
            printf("MODFAIL %s: %s\n", line, strerror(errno));
            failed++;
        } else {
            ok++;
        }
        if (fd >= 0) close(fd);
    }
    fclose(list);
    printf("MODULES loaded=%d failed=%d in %.2fs\n", ok, failed, uptime() - t0);

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

    const char *tag = getenv("testfs");
    if (tag) {
        char buf[128] = {0};
        mkdir("/mnt", 0755);
        int fd = -1;
        if (mount(tag, "/mnt", "virtiofs", 0, NULL) != 0) printf("VIRTIOFS-FAIL mount %s: %s\n", tag, strerror(errno));
        else if ((fd = open("/mnt/hello", O_RDONLY)) < 0 || read(fd, buf, sizeof buf - 1) <= 0) printf("VIRTIOFS-FAIL read: %s\n", strerror(errno));
        else { buf[strcspn(buf, "\n")] = 0; printf("VIRTIOFS-OK %s\n", buf); }
        if (fd >= 0) close(fd);
        umount("/mnt");
    }

    const char *tag9p = getenv("test9p");
    if (tag9p) {
        char buf[128] = {0};
        mkdir("/mnt9", 0755);
        int fd = -1;
        if (mount(tag9p, "/mnt9", "9p", 0, "trans=virtio,version=9p2000.L") != 0) printf("9P-FAIL mount %s: %s\n", tag9p, strerror(errno));
        else if ((fd = open("/mnt9/hello", O_RDONLY)) < 0 || read(fd, buf, sizeof buf - 1) <= 0) printf("9P-FAIL read: %s\n", strerror(errno));
        else { buf[strcspn(buf, "\n")] = 0; printf("9P-OK %s\n", buf); }
        if (fd >= 0) close(fd);
        umount("/mnt9");
    }

    printf("READY uptime=%.2f\n", uptime());
    if (ls >= 0 && getenv("testvsock")) {
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
INIT=${1:-}
if [ -z "$INIT" ]; then
    gcc -static -O2 -o "$T/init" "$T/init.c" || die "cannot compile the test init"
    INIT=$T/init
fi
gcc -O2 -o "$T/client" "$T/client.c" || die "cannot compile the vsock client"

# --- image ---------------------------------------------------------------------------------------------
AGENT_BIN=$INIT OUT_DIR=$T/image "$HERE/build-image.sh" | sed 's/^/  /'
KVER=$(cat "$T/image/kernel-version")

# --- host-side daemons -----------------------------------------------------------------------------------
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

# --- boot ------------------------------------------------------------------------------------------------
if [ -z "${CMDLINE:-}" ]; then
    CMDLINE="console=ttyS0 quiet panic=1 nr_cpus=1 tsc=reliable no_timer_check rcupdate.rcu_expedited=1"
    CMDLINE+=" i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k"
    CMDLINE+=" cryptomgr.notests net.ifnames=0 pci=lastbus=0"
fi
CMDLINE+=" testfs=kataShared testvsock=1"
QEMU_ARGS=(
    -M pc -accel "$ACCEL" -m "$MEM_MB" -smp 1
    -nodefaults -no-user-config -display none -no-reboot
    -serial "file:$T/console.log"
    -kernel "$T/image/$KERNEL.container" -initrd "$T/image/kata-containers-initrd.img"
    -object "memory-backend-memfd,id=mem,size=${MEM_MB}M,share=on" -numa node,memdev=mem
    -chardev "socket,id=vsock,path=$T/vhu-vsock.sock" -device vhost-user-vsock-pci,chardev=vsock
    -chardev "socket,id=vfs,path=$T/vfs.sock" -device vhost-user-fs-pci,chardev=vfs,tag=kataShared
)
if [ "${KERNEL_FLAVOUR:-cloud}" = generic ]; then
    # Only the generic kernel has 9p.
    CMDLINE+=" test9p=share9p"
    QEMU_ARGS+=(-fsdev "local,id=fs9p,path=$T/share,security_model=none"
        -device virtio-9p-pci,fsdev=fs9p,mount_tag=share9p)
fi
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

"$T/client" "$T/vm.vsock" "$PORT" >"$T/client.log" 2>&1 || die "hybrid vsock: $(cat "$T/client.log")"
for _ in $(seq $((TIMEOUT * 10))); do
    kill -0 "$QEMU_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$QEMU_PID" 2>/dev/null && die "the VM did not power off"
halted=$EPOCHREALTIME

console=$(tr -d '\r' <"$T/console.log")
echo "$console" | sed 's/^/  guest: /'
sed 's/^/  /' "$T/client.log"
echo "$console" | grep -q '^MODFAIL' && die "a module failed to load"
echo "$console" | grep -q '^MODULES loaded=[1-9][0-9]* failed=0' || die "no module loaded"
echo "$console" | grep -q "^VSOCK-CID $CID\$" || die "the guest has no vsock CID $CID"
echo "$console" | grep -q '^VIRTIOFS-OK hello from the host' || die "virtio-fs share not readable"
echo "$console" | grep -q "^VSOCK-OK got 'ping'" || die "no ping over hybrid vsock"
if [ "${KERNEL_FLAVOUR:-cloud}" = generic ]; then
    echo "$console" | grep -q '^9P-OK hello from the host' || die "9p share not readable"
fi
echo "$console" | grep -q '^EXIT 0' || die "the test init did not finish cleanly"

ms() { echo "$(((${2//[.,]/} - ${1//[.,]/}) / 1000))"; }
echo "test-boot: OK kernel $KVER, $KERNEL, -accel $ACCEL, -m $MEM_MB: READY after $(ms "$start" "$ready") ms" \
    "(guest $(echo "$console" | sed -n 's/^READY uptime=//p') s), powered off after $(ms "$start" "$halted") ms"
