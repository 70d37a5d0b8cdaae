//! Readers of the guest's `/proc` files that `GetMetrics` reports. Each takes the file's text;
//! a line that does not fit is skipped (the kernel's format is trusted, not assumed complete).

/// `/proc/loadavg`: load averages and task counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadAvg {
    pub load1: f64,
    pub load5: f64,
    pub load15: f64,
    /// Runnable tasks (the `cur` of `cur/max`).
    pub running: u64,
    /// Tasks in the system (the `max` of `cur/max`).
    pub total: u64,
}

/// `0.50 0.25 0.10 2/123 4567`; `None` when the text has another shape.
pub fn loadavg(text: &str) -> Option<LoadAvg> {
    let mut fields = text.split_whitespace();
    let load1 = fields.next()?.parse().ok()?;
    let load5 = fields.next()?.parse().ok()?;
    let load15 = fields.next()?.parse().ok()?;
    let (running, total) = fields.next()?.split_once('/')?;
    Some(LoadAvg {
        load1,
        load5,
        load15,
        running: running.parse().ok()?,
        total: total.parse().ok()?,
    })
}

/// Names of the `/proc/stat` CPU columns, in file order (values in USER_HZ ticks).
pub const CPU_ITEMS: [&str; 10] = [
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
];

/// The CPU lines of `/proc/stat`: (`total` for the `cpu` line or the CPU number, its columns
/// in ticks; older kernels give fewer columns).
pub fn cpu_times(text: &str) -> Vec<(String, Vec<u64>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(head) = fields.next() else { continue };
        let Some(which) = head.strip_prefix("cpu") else {
            continue;
        };
        let cpu = if which.is_empty() {
            "total".to_owned()
        } else if which.bytes().all(|b| b.is_ascii_digit()) {
            which.to_owned()
        } else {
            continue;
        };
        let values: Option<Vec<u64>> = fields
            .take(CPU_ITEMS.len())
            .map(|f| f.parse().ok())
            .collect();
        if let Some(values) = values.filter(|v| !v.is_empty()) {
            out.push((cpu, values));
        }
    }
    out
}

/// `/proc/meminfo` as (item, value): a `kB` value in bytes, a count as is. Items are the keys in
/// snake case (`MemTotal` -> `mem_total`, `Active(anon)` -> `active_anon`).
pub fn meminfo(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let Some(Ok(value)) = fields.next().map(str::parse::<u64>) else {
            continue;
        };
        let value = match fields.next() {
            Some("kB") => value.saturating_mul(1024),
            None => value,
            Some(_) => continue,
        };
        out.push((snake_case(key.trim()), value as f64));
    }
    out
}

/// `MemTotal` -> `mem_total`, `SReclaimable` -> `s_reclaimable`, `HugePages_Free` ->
/// `hugepages_free`, `DirectMap4k` -> `direct_map_4k`, `Active(anon)` -> `active_anon`.
fn snake_case(key: &str) -> String {
    let key = key.replace("HugePages", "Hugepages");
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let boundary = match prev {
            Some(p) if p.is_ascii_alphabetic() && c.is_ascii_digit() => true,
            Some(p) if c.is_ascii_uppercase() && p.is_ascii_lowercase() => true,
            Some(p) => {
                c.is_ascii_uppercase()
                    && p.is_ascii_uppercase()
                    && next.is_some_and(|n| n.is_ascii_lowercase())
            }
            None => false,
        };
        if boundary && !out.ends_with('_') {
            out.push('_');
        }
        match c {
            '(' | ' ' | '-' => {
                if !out.ends_with('_') {
                    out.push('_')
                }
            }
            ')' => {}
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out.trim_matches('_').to_owned()
}

/// Names of the `/proc/net/dev` columns, in file order.
pub const NETDEV_ITEMS: [&str; 16] = [
    "recv_bytes",
    "recv_packets",
    "recv_errs",
    "recv_drop",
    "recv_fifo",
    "recv_frame",
    "recv_compressed",
    "recv_multicast",
    "sent_bytes",
    "sent_packets",
    "sent_errs",
    "sent_drop",
    "sent_fifo",
    "sent_colls",
    "sent_carrier",
    "sent_compressed",
];

/// `/proc/net/dev`: each interface with its 16 counters (after the two header lines).
pub fn netdev(text: &str) -> Vec<(String, Vec<u64>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains('|') {
            continue;
        }
        let values: Option<Vec<u64>> = rest.split_whitespace().map(|f| f.parse().ok()).collect();
        if let Some(values) = values.filter(|v| v.len() == NETDEV_ITEMS.len()) {
            out.push((name.to_owned(), values));
        }
    }
    out
}

/// `/proc/vmstat`: `key value` pairs.
pub fn vmstat(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(' ')?;
            Some((key.to_owned(), value.trim().parse::<u64>().ok()? as f64))
        })
        .collect()
}

#[cfg(test)]
#[path = "proc_files_tests.rs"]
mod tests;
