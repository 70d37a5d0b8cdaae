//! VM templating end to end under TCG: a template VM (guest RAM in a shared file, the agent on
//! the virtio-serial channel, a 9p share, vmgenid) is saved, then two copy-on-write clones are
//! restored from it and their agents answer over their own serial sockets. Prints the save
//! time, each clone's restore-to-agent time and the PSS of the QEMU processes.
//!
//! Needs the guest image of `make image` (`build/image` or `$KATA_TEST_IMAGE_DIR`); skipped
//! without it. Run VM tests under `flock /tmp/kata-vm-tests.lock`.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kata_agent_client::kata_protocols::agent::ReseedRandomDevRequest;
use kata_agent_client::kata_protocols::health::health_check_response::ServingStatus;
use kata_agent_client::{AgentAddress, AgentClient};
use kata_hypervisor::{Accelerator, AgentChannel, MemoryKind, SharedFs, VmSpec};
use kata_qemu::{QemuError, QemuVm};

const QEMU: &str = "/usr/bin/qemu-system-x86_64";
const MEMORY_MIB: u32 = 512;
/// As tests/vm's harness boots the guest image (tools/osbuilder/README.md).
const KERNEL_PARAMS: &str = "console=ttyS0 quiet panic=1 nr_cpus=1 tsc=reliable no_timer_check \
     rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 \
     noreplace-smp reboot=k cryptomgr.notests net.ifnames=0 pci=lastbus=0 agent.log=debug";

struct Image {
    kernel: PathBuf,
    initrd: PathBuf,
}

fn image_or_skip(test: &str) -> Option<Image> {
    let dir = std::env::var_os("KATA_TEST_IMAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build/image"));
    let image = Image {
        kernel: dir.join("vmlinux.container"),
        initrd: dir.join("kata-containers-initrd.img"),
    };
    for path in [&image.kernel, &image.initrd, &PathBuf::from(QEMU)] {
        if !path.is_file() {
            eprintln!("SKIP {test}: {} missing (make image)", path.display());
            return None;
        }
    }
    Some(image)
}

/// The machine every VM of the template shares; `name` picks its own sockets and logs.
fn spec(image: &Image, root: &Path, name: &str, memory: &Path, shared: bool) -> VmSpec {
    let own = root.join(name);
    let mut spec = VmSpec::minimal(
        name,
        QEMU,
        &image.kernel,
        own.join("run"),
        Accelerator::tcg(),
    );
    spec.machine_type = "pc".into();
    spec.memory.size_mib = MEMORY_MIB;
    spec.memory.max_mib = MEMORY_MIB;
    spec.boot.initrd = Some(image.initrd.clone());
    spec.boot.kernel_params = KERNEL_PARAMS.into();
    spec.console_log = Some(own.join("console.log"));
    spec.agent_channel = Some(AgentChannel::Serial {
        socket: own.join("agent.sock"),
    });
    spec.shared_fs = Some(SharedFs::NineP {
        dir: own.join("shared"),
        tag: "kataShared".into(),
        msize: 8192,
    });
    spec.memory_backend.kind = MemoryKind::MappedFile {
        path: memory.to_path_buf(),
        shared,
    };
    spec.vm_generation_id = true;
    spec
}

fn prepare_dirs(spec: &VmSpec) {
    if let Some(SharedFs::NineP { dir, .. }) = &spec.shared_fs {
        std::fs::create_dir_all(dir).expect("shared dir");
    }
}

fn address(spec: &VmSpec) -> AgentAddress {
    match &spec.agent_channel {
        Some(AgentChannel::Serial { socket }) => AgentAddress::Serial {
            path: socket.clone(),
        },
        other => panic!("not a serial channel: {other:?}"),
    }
}

fn console(spec: &VmSpec) -> String {
    let log = spec.console_log.as_deref().expect("console log");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let start = text.len().saturating_sub(4000);
    text.get(start..).unwrap_or(&text).to_string()
}

/// Connects over the serial channel and waits for `SERVING`.
async fn healthy_agent(spec: &VmSpec, timeout: Duration) -> AgentClient {
    let addr = address(spec);
    let client = match AgentClient::connect(&addr, timeout).await {
        Ok(c) => c,
        Err(e) => panic!(
            "{}: connect {addr}: {e}\nconsole:\n{}",
            spec.id,
            console(spec)
        ),
    };
    match client.check(timeout).await {
        Ok(ServingStatus::SERVING) => client,
        other => panic!(
            "{}: health check: {other:?}\nconsole:\n{}",
            spec.id,
            console(spec)
        ),
    }
}

/// Proportional set size of `pid`, KiB (/proc/PID/smaps_rollup).
fn pss_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A cheap fingerprint of a file's bytes.
fn fingerprint(path: &Path) -> u64 {
    let mut file = std::fs::File::open(path).expect("open memory file");
    let mut buf = vec![0u8; 1 << 20];
    let mut sum = 0u64;
    loop {
        let n = file.read(&mut buf).expect("read memory file");
        if n == 0 {
            return sum;
        }
        for (i, chunk) in buf[..n].chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            sum = sum.rotate_left(5) ^ u64::from_le_bytes(word).wrapping_add(i as u64);
        }
    }
}

async fn generation_id(vm: &QemuVm) -> String {
    let reply = vm
        .qmp()
        .execute_raw("query-vm-generation-id", None)
        .await
        .expect("query-vm-generation-id");
    reply["guid"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn clones_restored_from_a_template_answer_on_their_own_serial_channels() {
    let test = "clones_restored_from_a_template_answer_on_their_own_serial_channels";
    let Some(image) = image_or_skip(test) else {
        return;
    };
    // Guest RAM on tmpfs, as a template's would be.
    let root = tempfile::Builder::new()
        .prefix("kata-template-test-")
        .tempdir_in("/dev/shm")
        .expect("tempdir");
    let memory = root.path().join("template/memory");
    let state = root.path().join("template/state");
    std::fs::create_dir_all(root.path().join("template")).expect("template dir");

    // The template: boots, answers once over the serial channel, is saved and stopped.
    let template_spec = spec(&image, root.path(), "template", &memory, true);
    prepare_dirs(&template_spec);
    let started = Instant::now();
    let template = QemuVm::start(template_spec.clone())
        .await
        .expect("start template");
    let client = healthy_agent(&template_spec, Duration::from_secs(120)).await;
    let boot = started.elapsed();
    let template_pss = pss_kib(template.pid().expect("template pid"));
    let template_guid = generation_id(&template).await;
    drop(client);
    // Let the guest see the host leave the port before its vCPUs stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let saving = Instant::now();
    template.save_template(&state).await.expect("save template");
    let save_time = saving.elapsed();
    template.stop().await.expect("stop template");
    let state_size = std::fs::metadata(&state).expect("state file").len();
    let memory_before = fingerprint(&memory);

    // Two clones from the same files, each with its own agent socket.
    let mut clones = Vec::new();
    for name in ["clone-0", "clone-1"] {
        let mut clone_spec = spec(&image, root.path(), name, &memory, false);
        clone_spec.wait_for_restore = true;
        prepare_dirs(&clone_spec);
        let started = Instant::now();
        let vm = QemuVm::start(clone_spec.clone())
            .await
            .expect("start clone");
        vm.restore(&state).await.expect("restore clone");
        let restored = started.elapsed();
        let client = healthy_agent(&clone_spec, Duration::from_secs(30)).await;
        let answered = started.elapsed();
        clones.push((clone_spec, vm, client, restored, answered));
    }

    // Both answer, independently: each takes its own entropy, each has its own generation id,
    // and neither wrote to the template's memory.
    let mut guids = vec![template_guid.clone()];
    for (i, (spec, vm, client, _, _)) in clones.iter().enumerate() {
        let mut req = ReseedRandomDevRequest::new();
        req.data = vec![i as u8 + 1; 64];
        client
            .agent
            .reseed_random_dev(ttrpc::context::with_timeout(10_000_000_000), &req)
            .await
            .unwrap_or_else(|e| panic!("{}: ReseedRandomDev: {e}", spec.id));
        assert_eq!(
            client.check(Duration::from_secs(10)).await.expect("check"),
            ServingStatus::SERVING
        );
        guids.push(generation_id(vm).await);
        // The clone's console starts empty: this line is the clone's own session on the
        // port, a fresh ttRPC connection rather than the template's.
        assert!(
            console(spec).contains("host attached to the serial agent channel"),
            "{}: no fresh session on the port; console:\n{}",
            spec.id,
            console(spec)
        );
    }
    let mut distinct = guids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "generation ids {guids:?}");
    assert_eq!(
        fingerprint(&memory),
        memory_before,
        "a clone wrote to the template's memory file"
    );

    eprintln!(
        "template: boot to agent {boot:.2?}, save {save_time:.2?}, state {state_size} bytes, \
         qemu pss {} MiB",
        template_pss / 1024
    );
    for (spec, vm, _, restored, answered) in &clones {
        eprintln!(
            "{}: restored {restored:.2?}, agent answering {answered:.2?} after spawn, qemu pss {} MiB",
            spec.id,
            pss_kib(vm.pid().expect("clone pid")) / 1024
        );
    }
    for (_, vm, client, _, _) in clones {
        drop(client);
        vm.stop().await.expect("stop clone");
    }
}

#[tokio::test]
async fn state_files_that_cannot_be_opened_are_named() {
    let Some(kernel) = support::kernel_or_skip("state_files_that_cannot_be_opened_are_named")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = support::spec("state-missing", dir.path(), &kernel);
    spec.wait_for_restore = true;
    let vm = QemuVm::start(spec).await.expect("start");
    let missing = dir.path().join("no-such-state");
    let err = vm.restore(&missing).await.expect_err("no state file");
    assert!(
        matches!(&err, QemuError::StateFile { path, .. } if path == &missing),
        "{err}"
    );
    assert!(
        err.to_string().contains(&*missing.to_string_lossy()),
        "{err}"
    );
    let unwritable = dir.path().join("no-such-dir/state");
    let err = vm
        .save_template(&unwritable)
        .await
        .expect_err("no directory");
    assert!(
        matches!(&err, QemuError::StateFile { path, .. } if path == &unwritable),
        "{err}"
    );
    vm.stop().await.expect("stop");
}
