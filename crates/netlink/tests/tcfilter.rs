//! Privileged test: in a private network namespace (the test thread's), two veth ends get a tap
//! beside one of them and Kata's tcfilter redirection, checked with iproute2; then undone.

use std::process::Command;

use kata_netlink::{link, tap, tc, Netlink};

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_tap_and_redirect_filters_connect_to_a_veth_and_go_away() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let worker = std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
        run(
            "ip",
            &[
                "link", "add", "eth0", "type", "veth", "peer", "name", "peer0",
            ],
        );
        run("ip", &["link", "set", "eth0", "up"]);
        let mut nl = Netlink::open().expect("netlink");
        tap::create_persistent("tap0_kata", None).expect("tap");
        let eth0 = link::index_of(&mut nl, "eth0").expect("eth0");
        let tap0 = link::index_of(&mut nl, "tap0_kata").expect("tap0");
        link::set_up(&mut nl, tap0, 1400).expect("up");
        tc::add_ingress_qdisc(&mut nl, eth0).expect("qdisc eth0");
        tc::add_ingress_qdisc(&mut nl, tap0).expect("qdisc tap0");
        tc::add_redirect(&mut nl, eth0, tap0).expect("eth0 -> tap0");
        tc::add_redirect(&mut nl, tap0, eth0).expect("tap0 -> eth0");
        let filters = run("tc", &["filter", "show", "dev", "eth0", "ingress"]);
        assert!(
            filters.contains("Egress Redirect to device tap0_kata"),
            "{filters}"
        );
        let back = run("tc", &["filter", "show", "dev", "tap0_kata", "ingress"]);
        assert!(back.contains("Egress Redirect to device eth0"), "{back}");
        let tap_link = run("ip", &["-d", "link", "show", "tap0_kata"]);
        assert!(
            tap_link.contains("mtu 1400") && tap_link.contains("tun type tap"),
            "{tap_link}"
        );
        assert!(tap_link.contains("persist"), "{tap_link}");

        tc::del_ingress_qdisc(&mut nl, eth0).expect("del qdisc");
        link::delete(&mut nl, tap0).expect("del tap");
        let qdiscs = run("tc", &["qdisc", "show", "dev", "eth0"]);
        assert!(!qdiscs.contains("ingress"), "{qdiscs}");
        assert!(link::index_of(&mut nl, "tap0_kata").is_err(), "tap left");
    });
    worker.join().expect("worker");
}
