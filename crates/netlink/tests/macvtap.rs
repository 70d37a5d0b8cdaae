//! Privileged test: in a private network namespace (the test thread's), a macvtap on a veth gets
//! the MAC asked for, bridge mode, and a character device whose number sysfs (mounted privately
//! for this namespace) gives; two namespaces with a macvtap of the same index each get their own
//! device number, which `/dev/tap<index>` could not tell apart. Static neighbours are listed.

use std::process::Command;

use kata_netlink::{link, macvtap, neigh, Netlink};

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

type Seen = (u32, (u32, u32), Vec<kata_netlink::Neighbor>);

/// In a new namespace: a veth `eth0`, a static neighbour on it, a macvtap on it. Returns the
/// macvtap's index, its device number and the neighbours listed; the namespace lives until every
/// party of `all_done` got there.
fn macvtap_in_new_netns(
    all_done: std::sync::Arc<std::sync::Barrier>,
) -> std::thread::JoinHandle<Seen> {
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
        run(
            "ip",
            &[
                "link", "add", "eth0", "type", "veth", "peer", "name", "peer0",
            ],
        );
        run("ip", &["link", "set", "eth0", "up"]);
        run(
            "ip",
            &[
                "neigh",
                "add",
                "10.9.0.7",
                "lladdr",
                "02:00:00:00:09:07",
                "dev",
                "eth0",
                "nud",
                "permanent",
            ],
        );
        let mut nl = Netlink::open().expect("netlink");
        let eth0 = link::index_of(&mut nl, "eth0").expect("eth0");
        let neighbours =
            neigh::static_neighbors(&mut nl, &[(eth0, "eth0".into())]).expect("neighbours");
        let index = macvtap::create(&mut nl, "tap0_kata", eth0, "02:00:00:00:00:aa", 1400)
            .expect("macvtap");
        let shown = run("ip", &["-d", "link", "show", "tap0_kata"]);
        assert!(shown.contains("macvtap mode bridge"), "{shown}");
        assert!(shown.contains("02:00:00:00:00:aa"), "{shown}");
        assert!(shown.contains("mtu 1400"), "{shown}");
        let number = macvtap::device_number("tap0_kata", index).expect("device number");
        all_done.wait();
        (index, number, neighbours)
    })
}

#[test]
fn macvtaps_get_their_own_device_numbers_in_each_namespace() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let both = std::sync::Arc::new(std::sync::Barrier::new(2));
    let a = macvtap_in_new_netns(both.clone());
    let b = macvtap_in_new_netns(both);
    let (index_a, dev_a, neighbours) = a.join().expect("netns a");
    let (index_b, dev_b, _) = b.join().expect("netns b");
    assert_eq!(index_a, index_b, "same index in both namespaces");
    assert_ne!(dev_a, dev_b, "one device number for two macvtaps");
    let majors = std::fs::read_to_string("/proc/devices").expect("devices");
    assert!(
        majors
            .lines()
            .any(|l| l.trim() == format!("{} macvtap", dev_a.0)),
        "major {} is not macvtap's: {majors}",
        dev_a.0
    );
    assert_eq!(neighbours.len(), 1, "{neighbours:?}");
    assert_eq!(neighbours[0].lladdr, "02:00:00:00:09:07");
    assert_eq!(neighbours[0].device, "eth0");
    assert_eq!(neighbours[0].ip.to_string(), "10.9.0.7");
}
