//! Privileged test: drives the real kernel in a private network namespace of the test thread
//! (namespaces are per thread; the namespace disappears with the thread).

use std::net::IpAddr;
use std::process::Command;

use super::*;

fn in_private_netns() -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: needs root");
        return false;
    }
    if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
        eprintln!("skipping: cannot unshare the network namespace");
        return false;
    }
    let ok = Command::new("ip")
        .args([
            "link",
            "add",
            "veth0",
            "address",
            "02:00:00:00:00:01",
            "type",
            "veth",
            "peer",
            "name",
            "veth1",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping: cannot create a veth pair (iproute2 or veth module missing)");
    }
    ok
}

#[test]
fn interface_routes_and_neighbours_in_a_private_netns() {
    if !in_private_netns() {
        return;
    }
    let want = Interface {
        name: "eth0".into(),
        hw_addr: "02:00:00:00:00:01".into(),
        mtu: 1400,
        addresses: vec![IpNet::parse("10.88.0.5/24").expect("addr")],
    };
    let got = update_interface(&want).expect("update interface");
    assert_eq!(got.name, "eth0");
    assert_eq!(got.mtu, 1400);
    assert!(got.addresses.contains(&want.addresses[0]), "{got:?}");

    // Addresses are replaced, not accumulated.
    let again = Interface {
        addresses: vec![IpNet::parse("10.88.0.6/24").expect("addr")],
        ..want.clone()
    };
    let got = update_interface(&again).expect("update again");
    assert!(!got.addresses.contains(&want.addresses[0]), "{got:?}");

    let gw: IpAddr = "10.88.0.1".parse().expect("ip");
    let routes = vec![
        Route {
            dest: None,
            gateway: Some(gw),
            device: "eth0".into(),
            ..Default::default()
        },
        Route {
            dest: Some(IpNet::parse("192.168.7.0/24").expect("net")),
            device: "eth0".into(),
            ..Default::default()
        },
    ];
    let listed = update_routes(&routes).expect("update routes");
    assert!(
        listed
            .iter()
            .any(|r| r.dest.is_none() && r.gateway == Some(gw) && r.device == "eth0"),
        "{listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|r| r.dest.map(|d| d.to_string()).as_deref() == Some("192.168.7.0/24")),
        "{listed:?}"
    );

    add_neighbors(&[Neighbor {
        ip: "10.88.0.9".parse().expect("ip"),
        device: "eth0".into(),
        lladdr: "02:00:00:00:00:09".into(),
        state: 0,
        flags: 0,
    }])
    .expect("add neighbour");
    let out = Command::new("ip")
        .args(["neigh", "show", "dev", "eth0"])
        .output()
        .expect("ip neigh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("10.88.0.9") && text.contains("02:00:00:00:00:09"),
        "{text}"
    );

    let missing = Interface {
        hw_addr: "02:00:00:00:00:ff".into(),
        name: String::new(),
        ..want
    };
    assert!(matches!(
        update_interface(&missing),
        Err(AgentError::NotFound(_))
    ));
}
