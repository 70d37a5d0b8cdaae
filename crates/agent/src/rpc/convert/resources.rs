//! `grpc.LinuxResources` to the JSON shape of OCI `linux.resources` (zero means unset).

use kata_protocols::oci as pb;
use serde_json::{json, Map, Value};

use super::spec::put_str;

pub fn resources_json(r: &pb::LinuxResources) -> Value {
    let mut m = Map::new();
    if !r.Devices.is_empty() {
        m.insert(
            "devices".into(),
            Value::Array(
                r.Devices
                    .iter()
                    .map(|d| {
                        let mut o = Map::new();
                        o.insert("allow".into(), json!(d.Allow));
                        put_str(&mut o, "type", &d.Type);
                        if d.Major >= 0 && !(d.Major == 0 && d.Type.is_empty()) {
                            o.insert("major".into(), json!(d.Major));
                        }
                        if d.Minor >= 0 && !(d.Minor == 0 && d.Type.is_empty()) {
                            o.insert("minor".into(), json!(d.Minor));
                        }
                        put_str(&mut o, "access", &d.Access);
                        Value::Object(o)
                    })
                    .collect(),
            ),
        );
    }
    if let Some(mem) = r.Memory.as_ref() {
        let mut o = Map::new();
        put_nonzero(&mut o, "limit", mem.Limit);
        put_nonzero(&mut o, "reservation", mem.Reservation);
        put_nonzero(&mut o, "swap", mem.Swap);
        if mem.Swappiness != 0 {
            o.insert("swappiness".into(), json!(mem.Swappiness));
        }
        if mem.DisableOOMKiller {
            o.insert("disableOOMKiller".into(), json!(true));
        }
        m.insert("memory".into(), Value::Object(o));
    }
    if let Some(cpu) = r.CPU.as_ref() {
        let mut o = Map::new();
        if cpu.Shares != 0 {
            o.insert("shares".into(), json!(cpu.Shares));
        }
        put_nonzero(&mut o, "quota", cpu.Quota);
        if cpu.Period != 0 {
            o.insert("period".into(), json!(cpu.Period));
        }
        put_nonzero(&mut o, "realtimeRuntime", cpu.RealtimeRuntime);
        if cpu.RealtimePeriod != 0 {
            o.insert("realtimePeriod".into(), json!(cpu.RealtimePeriod));
        }
        put_str(&mut o, "cpus", &cpu.Cpus);
        put_str(&mut o, "mems", &cpu.Mems);
        m.insert("cpu".into(), Value::Object(o));
    }
    if let Some(p) = r.Pids.as_ref() {
        if p.Limit != 0 {
            m.insert("pids".into(), json!({ "limit": p.Limit }));
        }
    }
    if let Some(b) = r.BlockIO.as_ref() {
        let mut o = Map::new();
        if b.Weight != 0 {
            o.insert("weight".into(), json!(b.Weight));
        }
        let throttle = |v: &[pb::LinuxThrottleDevice]| -> Value {
            Value::Array(
                v.iter()
                    .map(|t| json!({ "major": t.Major, "minor": t.Minor, "rate": t.Rate }))
                    .collect(),
            )
        };
        for (key, list) in [
            ("throttleReadBpsDevice", &b.ThrottleReadBpsDevice),
            ("throttleWriteBpsDevice", &b.ThrottleWriteBpsDevice),
            ("throttleReadIOPSDevice", &b.ThrottleReadIOPSDevice),
            ("throttleWriteIOPSDevice", &b.ThrottleWriteIOPSDevice),
        ] {
            if !list.is_empty() {
                o.insert(key.into(), throttle(list));
            }
        }
        if !o.is_empty() {
            m.insert("blockIO".into(), Value::Object(o));
        }
    }
    if !r.HugepageLimits.is_empty() {
        m.insert(
            "hugepageLimits".into(),
            Value::Array(
                r.HugepageLimits
                    .iter()
                    .map(|h| json!({ "pageSize": h.Pagesize, "limit": h.Limit }))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

fn put_nonzero(m: &mut Map<String, Value>, key: &str, v: i64) {
    if v != 0 {
        m.insert(key.into(), json!(v));
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::resources_from_grpc;
    use super::*;

    #[test]
    fn memory_cpu_pids_convert_and_zero_is_unset() {
        let mut r = pb::LinuxResources::new();
        let mut mem = pb::LinuxMemory::new();
        mem.Limit = 256 << 20;
        r.Memory = Some(mem).into();
        let mut cpu = pb::LinuxCPU::new();
        cpu.Quota = 50_000;
        cpu.Period = 100_000;
        cpu.Cpus = "0-1".into();
        r.CPU = Some(cpu).into();
        let mut pids = pb::LinuxPids::new();
        pids.Limit = 64;
        r.Pids = Some(pids).into();
        let res = resources_from_grpc(&r).expect("convert");
        let mem = res.memory().as_ref().expect("memory");
        assert_eq!(mem.limit(), Some(256 << 20));
        assert_eq!(mem.swap(), None);
        let cpu = res.cpu().as_ref().expect("cpu");
        assert_eq!(
            (cpu.quota(), cpu.period(), cpu.cpus().as_deref()),
            (Some(50_000), Some(100_000), Some("0-1"))
        );
        assert_eq!(cpu.shares(), None);
        assert_eq!(res.pids().as_ref().map(|p| p.limit()), Some(64));
    }

    #[test]
    fn device_rules_convert() {
        let mut r = pb::LinuxResources::new();
        let mut d = pb::LinuxDeviceCgroup::new();
        d.Allow = false;
        d.Access = "rwm".into();
        r.Devices = vec![d];
        let res = resources_from_grpc(&r).expect("convert");
        let dev = &res.devices().as_ref().expect("devices")[0];
        assert!(!dev.allow());
        assert_eq!(dev.access().as_deref(), Some("rwm"));
    }
}
