//! What the management socket is told: nothing before the boot, the VM's pid and channel while it
//! runs, no agent once the VM died.

use super::*;

#[tokio::test]
async fn monitor_info_follows_the_vm() {
    let Some(r) = rig(false) else { return };
    let before = r.handle.monitor_info().await.expect("monitor info");
    assert_eq!(before.sandbox_id, "sb1");
    assert!(before.channel.is_none() && before.agent.is_none());

    r.handle.boot(BootRequest::default()).await.expect("boot");
    let running = r.handle.monitor_info().await.expect("monitor info");
    let channel = running.channel.expect("a channel once booted");
    assert_eq!(channel.agent_url, "hvsock:///fake/kata.hvsock:1024");
    assert_eq!(channel.debug_console_vport, Some(1026));
    assert!(running.hypervisor_pid.is_some());
    let agent = running.agent.expect("the agent once booted");
    let metrics = agent
        .get_metrics()
        .await
        .expect_err("the fake has no metrics");
    assert_eq!(metrics.kind, ErrorKind::Unimplemented);

    r.dead.send_replace(true);
    for _ in 0..50 {
        let info = r.handle.monitor_info().await.expect("monitor info");
        if info.agent.is_none() {
            assert!(info.channel.is_none(), "no channel to a dead VM");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the agent of a dead VM is still offered");
}
