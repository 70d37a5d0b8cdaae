//! What a hostile guest (root in the VM, a privileged container) must never do to the host.
//!
//! * write a read-only volume, nested mounts included, or a read-only rootfs (a read-only bind
//!   of the image layer), even through its own mount of the `kataShared` virtio-fs tag and after
//!   remounting everything read-write in the guest (Kata's CVE-2020-28914 class);
//! * reach a host path through symlinks it plants in its writable rootfs or volumes before a
//!   later container is created and before the pod is removed (CVE-2020-2024/2026);
//! * write a volume made read-only by `rro`, or a read-only volume nested in a writable volume
//!   of the same pod through the writable copy (a guest bind of it, or an unmount of the nested
//!   one); make a later container's bind follow a symlink planted in a writable volume or rootfs;
//! * change the guest image (kernel, initrd), which QEMU holds read-only (CVE-2020-2025);
//! * make the host open or run what an annotation names outside `valid_*_paths`
//!   (CVE-2020-27151).
//!
//! One pod (one VM) runs the guest-side checks.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kata_e2e_tests::{
    assert_no_leftovers, member_annotations, pids_named, sandbox_annotations, PrivateContainerd,
    IMAGE, SLEEPER,
};

const TEARDOWN: Duration = Duration::from_secs(20);

/// Runs in the privileged container: `probe DIR FILE` tries every kind of write on the
/// read-only directory DIR holding FILE and prints `BREACH ...` for each that worked.
const PROBES: &str = r#"
breach() { echo "BREACH $*"; }
probe() {
  d=$1; f=$2
  [ -e "$d/$f" ] || { echo "MISSING $d/$f"; return; }
  [ -f "$d/$f" ] && echo "SEEN $d/$f $(head -c 16 "$d/$f" | tr -dc 'a-z')"
  echo guest > "$d/$f" 2>/dev/null && breach write "$d/$f"
  echo guest >> "$d/$f" 2>/dev/null && breach append "$d/$f"
  chmod 777 "$d/$f" 2>/dev/null && breach chmod "$d/$f"
  chown 1:1 "$d/$f" 2>/dev/null && breach chown "$d/$f"
  touch -c "$d/$f" 2>/dev/null && breach utimes "$d/$f"
  mv "$d/$f" "$d/moved" 2>/dev/null && breach rename "$d/$f"
  rm -f "$d/$f" 2>/dev/null; [ -e "$d/$f" ] || breach unlink "$d/$f"
  touch "$d/new" 2>/dev/null && breach create "$d/new"
  mkdir "$d/newdir" 2>/dev/null && breach mkdir "$d/newdir"
  ln -s /etc "$d/link" 2>/dev/null && breach symlink "$d/link"
  mknod "$d/null" c 1 3 2>/dev/null && breach mknod "$d/null"
  echo "PROBED $d"
}
"#;

fn containerd() -> PrivateContainerd {
    PrivateContainerd::start_clean(TEARDOWN)
}

/// `ctr run -d --runtime kata [flags] [--annotation a]... busybox ID sh -c SLEEPER`
fn run_detached(c: &PrivateContainerd, id: &str, flags: &[String], annotations: &[String]) {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    c.run_detached_with(id, &flags, annotations);
}

/// `sh -c SCRIPT sh ARGS...` in container `id`, which must exit 0; its stdout.
fn exec(c: &PrivateContainerd, id: &str, exec_id: &str, script: &str, args: &[&str]) -> String {
    let mut argv = vec!["sh", "-c", script, "sh"];
    argv.extend_from_slice(args);
    c.exec_output(id, exec_id, &argv)
}

/// What a file looks like from the host: kind, mode, owner, size, mtime and contents.
type Tree = BTreeMap<PathBuf, String>;

/// Every entry below `root` (not following symlinks, crossing mounts), relative to it.
fn tree(root: &Path) -> Tree {
    let mut out = Tree::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let mut desc = format!(
                "mode={:o} uid={} gid={} size={} mtime={}.{}",
                meta.mode(),
                meta.uid(),
                meta.gid(),
                meta.size(),
                meta.mtime(),
                meta.mtime_nsec()
            );
            if meta.is_file() {
                let data = std::fs::read(&path).unwrap_or_default();
                desc.push_str(&format!(" sum={:x}", checksum(&data)));
            } else if meta.is_dir() {
                todo.push(path.clone());
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap_or_default();
                desc.push_str(&format!(" -> {}", target.display()));
            }
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            out.insert(rel, desc);
        }
    }
    out
}

/// FNV-1a, enough to notice a changed file.
fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `(mount point, read-only)` of every mount in the namespace of `pid`.
fn mountinfo(pid: u32) -> Vec<(String, bool)> {
    std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let point = f.nth(4)?.to_string();
            let ro = f.next()?.split(',').any(|o| o == "ro");
            Some((point, ro))
        })
        .collect()
}

/// The mount points of the shim's mount namespace (it may have its own).
fn shim_mount_points() -> BTreeSet<String> {
    pids_named("containerd-shim-kata-v2")
        .into_iter()
        .flat_map(mountinfo)
        .map(|(m, _)| m)
        .filter(|m| !m.starts_with("/tmp/.tmp"))
        .collect()
}

/// The host's mount points, without the temporary directories of other crates' unit tests
/// (`tempfile`'s `/tmp/.tmpXXXX`), which may run meanwhile.
fn mount_points() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| !m.starts_with("/tmp/.tmp"))
        .collect()
}

fn sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().expect("sh");
    assert!(st.success(), "{cmd}");
}

/// A host directory for the test, with a read-only volume holding a nested tmpfs mount, a
/// writable volume and a canary file; everything is unmounted and removed on drop.
struct HostFiles {
    dir: tempfile::TempDir,
}

impl HostFiles {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("kata-hostile-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let h = Self { dir };
        std::fs::create_dir_all(h.ro().join("nested")).expect("mkdir");
        std::fs::create_dir_all(h.rw()).expect("mkdir");
        std::fs::write(h.ro().join("f"), b"hostdata").expect("write");
        sh(&format!(
            "mount -t tmpfs nested {}",
            h.ro().join("nested").display()
        ));
        std::fs::write(h.ro().join("nested/f"), b"nesteddata").expect("write");
        std::fs::write(h.canary(), b"canary").expect("write");
        h
    }
    fn ro(&self) -> PathBuf {
        self.dir.path().join("ro")
    }
    fn rw(&self) -> PathBuf {
        self.dir.path().join("rw")
    }
    fn canary(&self) -> PathBuf {
        self.dir.path().join("canary")
    }
}

impl Drop for HostFiles {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg(self.ro().join("nested"))
            .status();
    }
}

/// The path after `key = ` in the test configuration.
fn config_path(config: &Path, key: &str) -> PathBuf {
    let text = std::fs::read_to_string(config).expect("read config");
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| PathBuf::from(v.trim().trim_matches('"')))
        })
        .unwrap_or_else(|| panic!("no {key} in {}", config.display()))
}

/// The image layer of busybox in the private containerd's snapshotter: the snapshot holding
/// `bin/busybox`.
fn busybox_layer(c: &PrivateContainerd) -> PathBuf {
    let root = c
        .socket()
        .parent()
        .expect("containerd dir")
        .join("root/io.containerd.snapshotter.v1.overlayfs/snapshots");
    std::fs::read_dir(&root)
        .expect("snapshots")
        .flatten()
        .map(|e| e.path().join("fs"))
        .find(|fs| fs.join("bin/busybox").exists())
        .expect("the busybox layer")
}

/// The file flags (octal, `/proc/<pid>/fdinfo`) of every descriptor of `pid` open on `file`.
fn open_flags(pid: u32, file: &Path) -> Vec<u32> {
    let mut flags = Vec::new();
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return flags;
    };
    for entry in entries.flatten() {
        if std::fs::read_link(entry.path()).ok().as_deref() != Some(file) {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            entry.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        if let Some(v) = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        {
            flags.push(v);
        }
    }
    flags
}

/// The argument after `flag` on QEMU's command line.
fn qemu_arg(pid: u32, flag: &str) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).cloned()
}

fn breaches(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("BREACH")).collect()
}

#[test]
fn privileged_guest_cannot_write_read_only_mounts_escape_by_symlinks_or_touch_the_image() {
    let c = containerd();
    let host = HostFiles::new();
    let kernel = config_path(c.config_path(), "kernel");
    let initrd = config_path(c.config_path(), "initrd");
    let image_before = (tree_of_file(&kernel), tree_of_file(&initrd));
    let ro_before = tree(&host.ro());
    let canary_before = tree(host.dir.path()).get(Path::new("canary")).cloned();
    let etc_before = tree_shallow(Path::new("/etc"));
    let mounts_before = mount_points();
    let private_dir = c.socket().parent().expect("dir").to_path_buf();

    // The pod: a privileged sandbox container with a read-only volume (nested mount inside) and
    // a writable one, and a member whose rootfs is a read-only bind of the image layer.
    let ro_mount = format!(
        "type=bind,src={},dst=/data,options=rbind:ro",
        host.ro().display()
    );
    let rw_mount = format!(
        "type=bind,src={},dst=/rw,options=rbind:rw",
        host.rw().display()
    );
    run_detached(
        &c,
        "hg",
        &[
            "--privileged".into(),
            "--mount".into(),
            ro_mount,
            "--mount".into(),
            rw_mount.clone(),
        ],
        &sandbox_annotations("hg"),
    );
    run_detached(
        &c,
        "hg-ro",
        &["--privileged".into(), "--read-only".into()],
        &member_annotations("hg"),
    );
    let layer = busybox_layer(&c);
    let layer_before = tree(&layer);

    // QEMU holds the guest image read-only (or not at all once loaded).
    let qemus = pids_named("qemu-system-x86_64");
    assert_eq!(qemus.len(), 1, "one VM for the pod");
    let qemu = qemus[0];
    assert_eq!(
        qemu_arg(qemu, "-kernel").map(PathBuf::from),
        Some(kernel.clone())
    );
    assert_eq!(
        qemu_arg(qemu, "-initrd").map(PathBuf::from),
        Some(initrd.clone())
    );
    for file in [&kernel, &initrd] {
        for flags in open_flags(qemu, file) {
            assert_eq!(
                flags & 0o3,
                0,
                "QEMU holds {} open for writing (flags {flags:o})",
                file.display()
            );
        }
    }

    // virtiofsd serves the guest from its own mount namespace: there, every mount of the
    // read-only volume (the nested one included) and the read-only rootfs is read-only.
    let daemons = pids_named("virtiofsd");
    assert!(!daemons.is_empty(), "no virtiofsd");
    for pid in &daemons {
        let entries = mountinfo(*pid);
        let ro_of = |pred: &dyn Fn(&str) -> bool| -> Vec<(String, bool)> {
            entries.iter().filter(|(m, _)| pred(m)).cloned().collect()
        };
        let data = ro_of(&|m| m.starts_with("/hg-") && m.contains("-data"));
        assert_eq!(
            data.len(),
            2,
            "volume and nested mount in virtiofsd: {entries:?}"
        );
        let rootfs = ro_of(&|m| m == "/hg-ro/rootfs");
        assert_eq!(
            rootfs.len(),
            1,
            "read-only rootfs in virtiofsd: {entries:?}"
        );
        for (m, ro) in data.iter().chain(&rootfs) {
            assert!(ro, "virtiofsd (pid {pid}) exports {m} writable");
        }
        // The share's top (where the host makes each container's directory) is read-only.
        let top = ro_of(&|m| m == "/");
        assert!(
            top.iter().all(|(_, ro)| *ro) && !top.is_empty(),
            "share top: {top:?}"
        );
        // Control: the writable volume is writable there.
        let rw = ro_of(&|m| m.starts_with("/hg-") && m.ends_with("-rw"));
        assert!(rw.len() == 1 && !rw[0].1, "writable volume: {rw:?}");
    }

    // Root in the guest drops the guest-side read-only flags (the flags the CVE relied on)
    // and writes: the host must refuse every write.
    let attack = format!(
        "{PROBES}
        all() {{ probe /data f; probe /data/nested f; }}
        all
        mount -o remount,rw /data && mount -o remount,rw /data/nested && echo REMOUNTED
        grep -cE ' /data(/nested)? rw,' /proc/self/mountinfo
        all"
    );
    let out = exec(&c, "hg", "attack", &attack, &[]);
    assert!(out.contains("SEEN /data/f hostdata"), "{out}");
    assert!(out.contains("SEEN /data/nested/f nesteddata"), "{out}");
    assert!(
        out.contains("REMOUNTED\n2\n"),
        "guest-side flags not dropped: {out}"
    );
    assert_eq!(out.matches("PROBED").count(), 4, "{out}");
    assert!(breaches(&out).is_empty(), "{:#?}", breaches(&out));

    let attack_ro = format!(
        "{PROBES}
        all() {{ probe /etc passwd; probe /bin busybox; }}
        all
        mount -o remount,rw / && echo REMOUNTED
        grep -c ' / / rw,' /proc/self/mountinfo
        all"
    );
    let out = exec(&c, "hg-ro", "attack", &attack_ro, &[]);
    assert!(out.contains("SEEN /etc/passwd root"), "{out}");
    assert!(
        out.contains("REMOUNTED\n1\n"),
        "guest-side flags not dropped: {out}"
    );
    assert_eq!(out.matches("PROBED").count(), 4, "{out}");
    assert!(breaches(&out).is_empty(), "{:#?}", breaches(&out));

    // Symlinks planted where the guest can write: its rootfs and the writable volume, pointing
    // at host paths (a canary, /etc, PID 1's root).
    let canary = host.canary().display().to_string();
    let plant = "for l in /etc /proc/1/root/etc \"$1\"; do
          n=$(echo $l | tr / _)
          ln -sfn $l /rw/link$n; ln -sfn $l /link$n; ln -sfn $l /tmp/link$n
        done
        ls /rw | grep -c link";
    let out = exec(&c, "hg", "plant", plant, &[&canary]);
    assert_eq!(out.trim(), "3", "links not planted: {out}");
    let shim_mounts_before = shim_mount_points();

    // A later container of the pod, with the planted writable volume.
    run_detached(
        &c,
        "hg-late",
        &["--mount".into(), rw_mount.replace("dst=/rw", "dst=/rw2")],
        &member_annotations("hg"),
    );
    let outside: Vec<String> = shim_mount_points()
        .difference(&shim_mounts_before)
        .chain(mount_points().difference(&mounts_before))
        .filter(|m| {
            !m.starts_with("/run/kata-containers/")
                && !Path::new(m.as_str()).starts_with(&private_dir)
        })
        .cloned()
        .collect();
    assert!(outside.is_empty(), "mounts outside the share: {outside:?}");
    let late = exec(&c, "hg-late", "see", "ls /rw2 | grep -c link", &[]);
    assert_eq!(late.trim(), "3", "hg-late does not see the volume: {late}");

    // More links just before removal, then everything goes.
    let out = exec(&c, "hg", "plant2", plant, &[&canary]);
    assert_eq!(out.trim(), "3", "links not planted: {out}");
    assert_eq!(tree(&layer), layer_before, "the image layer changed");
    for id in ["hg-late", "hg-ro", "hg"] {
        c.remove(id);
    }
    drop(c);
    assert_no_leftovers(TEARDOWN);

    assert_eq!(tree(&host.ro()), ro_before, "the read-only volume changed");
    assert_eq!(
        tree(host.dir.path()).get(Path::new("canary")).cloned(),
        canary_before,
        "the canary changed"
    );
    assert_eq!(std::fs::read(host.canary()).expect("canary"), b"canary");
    assert_eq!(tree_shallow(Path::new("/etc")), etc_before, "/etc changed");
    assert_eq!(mount_points(), mounts_before, "host mounts changed");
    assert_eq!(
        (tree_of_file(&kernel), tree_of_file(&initrd)),
        image_before,
        "the guest image changed"
    );
}

/// Metadata and checksum of one file.
fn tree_of_file(path: &Path) -> String {
    let meta = std::fs::metadata(path).expect("stat");
    let data = std::fs::read(path).expect("read");
    format!(
        "mode={:o} size={} mtime={}.{} sum={:x}",
        meta.mode(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        checksum(&data)
    )
}

/// Names, kinds and mtimes of a directory's entries (not recursive).
fn tree_shallow(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let m = std::fs::symlink_metadata(e.path()).ok();
                    format!(
                        "{} {:?}",
                        e.file_name().to_string_lossy(),
                        m.map(|m| (m.mode(), m.mtime(), m.mtime_nsec()))
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn annotations_naming_paths_outside_the_valid_lists_are_refused_at_create() {
    let marker_dir = tempfile::Builder::new()
        .prefix("kata-evil-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let marker = marker_dir.path().join("ran");
    let evil = marker_dir.path().join("evil.sh");
    std::fs::write(
        &evil,
        format!("#!/bin/sh\ntouch {}\nexec sleep 600\n", marker.display()),
    )
    .expect("write evil.sh");
    sh(&format!("chmod 755 {}", evil.display()));

    assert_no_leftovers(TEARDOWN);
    let c = PrivateContainerd::start_edited(|text| {
        text.replace(
            "enable_annotations = [\"enable_iommu\"]",
            "enable_annotations = [\"enable_iommu\", \"path\", \"jailer_path\", \"kernel\", \
             \"initrd\", \"virtio_fs_daemon\"]",
        )
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let text = std::fs::read_to_string(c.config_path()).expect("config");
    assert!(
        text.contains("\"virtio_fs_daemon\"]"),
        "annotations not enabled"
    );

    let evil = evil.display().to_string();
    let cases = [
        ("path", "valid_hypervisor_paths"),
        ("jailer_path", "valid_jailer_paths"),
        ("kernel", "valid_kernel_paths"),
        ("initrd", "valid_initrd_paths"),
        ("virtio_fs_daemon", "valid_virtio_fs_daemon_paths"),
    ];
    for (i, (key, list)) in cases.iter().enumerate() {
        let name = format!("io.katacontainers.config.hypervisor.{key}");
        let annotation = format!("{name}={evil}");
        let id = format!("evil{i}");
        let out = c
            .ctr(
                &[
                    "run",
                    "--rm",
                    "--runtime",
                    "io.containerd.kata.v2",
                    "--annotation",
                    &annotation,
                    IMAGE,
                    &id,
                    "true",
                ],
                None,
                120,
            )
            .expect("ctr run");
        assert_ne!(out.code, Some(0), "{name} was accepted");
        assert!(
            out.stderr.contains(&name),
            "the error does not name {name}: {}",
            out.stderr
        );
        // Refused by the allow-list (the gate let it through), not merely not enabled.
        assert!(
            out.stderr.contains(list),
            "the error does not name {list}: {}",
            out.stderr
        );
        let _ = c.ctr(&["container", "delete", &id], None, 30);
        assert!(!marker.exists(), "{name}: the host ran {evil}");
    }
    drop(c);
    assert_no_leftovers(TEARDOWN);
    assert!(!marker.exists(), "the host ran {evil}");
}

/// One pod for three breaks a red-team found: a volume read-only by `rro` (not `ro`); a
/// read-only volume nested in a writable volume of the same pod, reached through the writable
/// copy (a guest bind of the writable volume, or an unmount of the nested one); a symlink
/// planted in a writable volume that a later container of the pod mounts as its source.
#[test]
fn rro_volumes_nested_read_only_volumes_and_planted_sources_hold() {
    let c = containerd();
    let dir = tempfile::Builder::new()
        .prefix("kata-nested-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let (rro, p, secret) = (
        dir.path().join("rro"),
        dir.path().join("p"),
        dir.path().join("secret"),
    );
    for d in [&rro, &p.join("sub"), &secret] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::write(rro.join("f"), b"rrodata").expect("write");
    std::fs::write(p.join("sub/f"), b"subdata").expect("write");
    std::fs::write(secret.join("f"), b"secret").expect("write");
    let (rro_before, sub_before, secret_before) = (tree(&rro), tree(&p.join("sub")), tree(&secret));

    let mount = |src: &Path, dst: &str, opt: &str| {
        vec![
            "--mount".to_string(),
            format!(
                "type=bind,src={},dst={dst},options=rbind:{opt}",
                src.display()
            ),
        ]
    };
    let mut flags = vec!["--privileged".to_string()];
    flags.extend(mount(&rro, "/rro", "rro"));
    flags.extend(mount(&p, "/rwp", "rw"));
    flags.extend(mount(&p.join("sub"), "/rwp/sub", "ro"));
    run_detached(&c, "hn", &flags, &sandbox_annotations("hn"));

    let attack = format!(
        "{PROBES}
        probe /rro f
        probe /rwp/sub f
        mkdir -p /mnt/x && mount --bind /rwp /mnt/x && echo BOUND
        probe /mnt/x/sub f
        umount /rwp/sub && echo UNMOUNTED
        probe /rwp/sub f
        mkdir -p /mnt/share && mount -t virtiofs kataShared /mnt/share && echo SHARE
        for d in /mnt/share/*-rwp; do probe $d/sub f; done
        echo top > /rwp/top && echo TOPWRITTEN
        ln -s {0} /rwp/planted && echo PLANTED
        ln -s {0} /planted-in-rootfs && echo ROOTFS-PLANTED",
        secret.display()
    );
    let out = exec(&c, "hn", "attack", &attack, &[]);
    assert!(out.contains("SEEN /rro/f rrodata"), "{out}");
    assert!(out.contains("SEEN /mnt/x/sub/f subdata"), "{out}");
    for step in [
        "BOUND",
        "UNMOUNTED",
        "TOPWRITTEN",
        "PLANTED",
        "ROOTFS-PLANTED",
    ] {
        assert!(out.contains(step), "{step} missing: {out}");
    }
    assert!(out.matches("PROBED").count() >= 4, "{out}");
    assert!(breaches(&out).is_empty(), "{:#?}", breaches(&out));
    assert_eq!(
        std::fs::read(p.join("top")).expect("the writable volume works"),
        b"top\n"
    );

    // Later containers of the pod mount the planted symlinks (in the writable volume, in the
    // first container's rootfs upper dir on the host): refused, naming them.
    let snapshots = c
        .socket()
        .parent()
        .expect("containerd dir")
        .join("root/io.containerd.snapshotter.v1.overlayfs/snapshots");
    let upper_link = std::fs::read_dir(&snapshots)
        .expect("snapshots")
        .flatten()
        .map(|e| e.path().join("fs/planted-in-rootfs"))
        .find(|l| l.symlink_metadata().is_ok())
        .expect("the link in the rootfs upper dir");
    for (id, src, name) in [
        ("hn-late", p.join("planted"), "planted"),
        ("hn-late2", upper_link, "planted-in-rootfs"),
    ] {
        let flag = format!("type=bind,src={},dst=/x,options=rbind:rw", src.display());
        let mut args: Vec<&str> = vec!["run", "-d", "--runtime", "io.containerd.kata.v2"];
        args.extend(["--mount", flag.as_str()]);
        let ann = member_annotations("hn");
        for a in &ann {
            args.push("--annotation");
            args.push(a);
        }
        args.extend_from_slice(&[IMAGE, id, "sh", "-c", SLEEPER]);
        let run = c.ctr(&args, None, 180).expect("ctr run");
        assert_ne!(run.code, Some(0), "{id}: the symlink {name} was followed");
        assert!(
            run.stderr.contains(name) && run.stderr.contains("can write"),
            "{id}: the error does not name the symlink {name}: {}",
            run.stderr
        );
        let _ = c.ctr(&["task", "delete", id], None, 60);
        let _ = c.ctr(&["container", "delete", id], None, 30);
    }

    c.remove("hn");
    drop(c);
    assert_no_leftovers(TEARDOWN);
    assert_eq!(tree(&rro), rro_before, "the rro volume changed");
    assert_eq!(
        tree(&p.join("sub")),
        sub_before,
        "the nested read-only volume changed"
    );
    assert_eq!(tree(&secret), secret_before, "the host directory changed");
}
