//! What Kata does to a VM it did not boot for the sandbox (seed 002: `VM.SyncTime`,
//! `VM.ReseedRNG`, called from `assignSandbox`): the guest clock is set to the host's, and the
//! guest RNG is reseeded with 512 fresh host bytes, so that no two VMs taken from a cache or
//! cloned from one template share time or entropy.

use std::time::Duration;

use kata_agent_client::AgentClient;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Bytes of host entropy sent to the guest (Kata's `ReseedRNG`: 512).
const SEED_BYTES: usize = 512;

/// Sets the guest clock and reseeds the guest RNG. Errors name the RPC.
pub(super) async fn sync_time_and_reseed(client: &AgentClient) -> Result<(), BoxError> {
    use kata_protocols::agent as pb;
    let ctx = || ttrpc::context::with_timeout(Duration::from_secs(5).as_nanos() as i64);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut time = pb::SetGuestDateTimeRequest::new();
    time.Sec = now.as_secs() as i64;
    time.Usec = i64::from(now.subsec_micros());
    client
        .agent
        .set_guest_date_time(ctx(), &time)
        .await
        .map_err(|e| format!("SetGuestDateTime: {e}"))?;
    let mut seed = vec![0u8; SEED_BYTES];
    {
        use std::io::Read;
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut seed))
            .map_err(|e| format!("reading /dev/urandom: {e}"))?;
    }
    let mut reseed = pb::ReseedRandomDevRequest::new();
    reseed.data = seed;
    client
        .agent
        .reseed_random_dev(ctx(), &reseed)
        .await
        .map_err(|e| format!("ReseedRandomDev: {e}"))?;
    Ok(())
}
