use super::*;

#[test]
fn loadavg_gives_loads_and_task_counts() {
    let l = loadavg("0.50 0.25 0.10 2/123 4567\n").expect("parsed");
    assert_eq!(
        l,
        LoadAvg {
            load1: 0.5,
            load5: 0.25,
            load15: 0.1,
            running: 2,
            total: 123
        }
    );
    assert_eq!(loadavg("0.5 0.2"), None);
    assert_eq!(loadavg("a b c 1/2 3"), None);
}

#[test]
fn stat_gives_the_total_and_each_cpu() {
    let text = "cpu  10 1 5 100 2 0 3 0 0 0\ncpu0 6 1 3 50 1 0 2 0 0 0\ncpu1 4 0 2 50 1 0 1\n\
                intr 12345 1 2\nctxt 999\n";
    let cpus = cpu_times(text);
    assert_eq!(cpus.len(), 3);
    assert_eq!(
        cpus[0],
        ("total".into(), vec![10, 1, 5, 100, 2, 0, 3, 0, 0, 0])
    );
    assert_eq!(cpus[1].0, "0");
    assert_eq!(cpus[2], ("1".into(), vec![4, 0, 2, 50, 1, 0, 1]));
}

#[test]
fn meminfo_is_in_bytes_with_snake_case_items() {
    let text = "MemTotal:         497852 kB\nSReclaimable:      1000 kB\nActive(anon):  4 kB\n\
                HugePages_Total:       0\nDirectMap4k:       12 kB\nNFS_Unstable:   0 kB\nbad line\n";
    let m = meminfo(text);
    let names: Vec<_> = m.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "mem_total",
            "s_reclaimable",
            "active_anon",
            "hugepages_total",
            "direct_map_4k",
            "nfs_unstable"
        ]
    );
    assert_eq!(m[0].1, 497852.0 * 1024.0);
    assert_eq!(m[3].1, 0.0);
}

#[test]
fn netdev_reads_every_interface_after_the_headers() {
    let text = "Inter-|   Receive                                                |  Transmit\n \
face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n\
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n\
  eth0:1500 10 1 0 0 0 0 3 900 8 0 0 0 0 0 0\n";
    let devs = netdev(text);
    assert_eq!(devs.len(), 2);
    assert_eq!(devs[0].0, "lo");
    assert_eq!(devs[1].0, "eth0");
    assert_eq!(devs[1].1[0], 1500);
    assert_eq!(devs[1].1[8], 900);
}

#[test]
fn vmstat_reads_key_value_pairs() {
    let v = vmstat("nr_free_pages 1234\npgfault 99\nweird\n");
    assert_eq!(
        v,
        vec![("nr_free_pages".into(), 1234.0), ("pgfault".into(), 99.0)]
    );
}
