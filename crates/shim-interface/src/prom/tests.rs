use super::*;

const SHIM: &str = "\
# HELP kata_shim_process_open_fds Number of open file descriptors.
# TYPE kata_shim_process_open_fds gauge
kata_shim_process_open_fds 12
# HELP kata_guest_load Guest system load.
# TYPE kata_guest_load gauge
kata_guest_load{item=\"load1\"} 0.5
kata_guest_load{item=\"load5\"} 0.25
# HELP h A histogram.
# TYPE h histogram
h_bucket{le=\"1\"} 1
h_bucket{le=\"+Inf\"} 2
h_sum 3.5
h_count 2
";

#[test]
fn samples_with_labels_escapes_values_and_timestamps_are_read() {
    let Ok(Line::Sample(s)) = parse_line(r#"m{a="x\"y\\z\n",b="2"} -1.5e3 1700000000000"#) else {
        panic!("not a sample");
    };
    assert_eq!(s.name, "m");
    assert_eq!(s.label("a").as_deref(), Some("x\"y\\z\n"));
    assert_eq!(s.number(), -1500.0);
    assert_eq!(s.timestamp.as_deref(), Some("1700000000000"));
    assert_eq!(s.render(), r#"m{a="x\"y\\z\n",b="2"} -1.5e3 1700000000000"#);
    for v in ["+Inf", "-Inf", "NaN", "0", "3.25"] {
        assert!(
            matches!(parse_line(&format!("m {v}")), Ok(Line::Sample(_))),
            "{v}"
        );
    }
    assert!(matches!(parse_line("m{} 1"), Ok(Line::Sample(s)) if s.labels.is_empty()));
    assert!(matches!(parse_line("m{a=\"1\",} 1"), Ok(Line::Sample(_))));
}

#[test]
fn malformed_lines_are_refused() {
    for bad in [
        "1m 1",
        "m",
        "m one",
        "m 1 2 3",
        "m 1 1.5",
        "m{a=1} 1",
        "m{a=\"1\" 1",
        "m{a=\"1\"b=\"2\"} 1",
        "m{a=\"1\",a=\"2\"} 1",
        "m{a=\"\\x\"} 1",
        "m{1a=\"1\"} 1",
        "# TYPE m gaugeish",
        "# HELP 9m text",
    ] {
        assert!(parse_line(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(parse_line("# any comment"), Ok(Line::Comment));
    assert_eq!(parse_line("   "), Ok(Line::Blank));
}

#[test]
fn a_text_is_read_into_families() {
    let families = parse(SHIM).expect("valid");
    let names: Vec<_> = families.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["kata_shim_process_open_fds", "kata_guest_load", "h"]
    );
    assert_eq!(families[1].samples.len(), 2);
    assert_eq!(
        families[2].samples.len(),
        4,
        "bucket, sum and count are h's"
    );
    let err = parse("a 1\n# TYPE a gauge\n").expect_err("TYPE after samples");
    assert_eq!(err.line, 2);
    assert!(parse("# TYPE a gauge\n# TYPE a gauge\n").is_err());
    let err = parse("a 1\nb{ 2\n").expect_err("bad line");
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn a_label_goes_on_every_sample_and_comments_stay() {
    let text = add_label(SHIM, "sandbox_id", "pod\"1").expect("valid");
    for line in text.lines() {
        if !line.starts_with('#') {
            assert!(line.contains(r#"sandbox_id="pod\"1""#), "{line}");
        }
    }
    assert!(text.contains("# TYPE kata_guest_load gauge\n"));
    assert!(text.contains("kata_guest_load{sandbox_id=\"pod\\\"1\",item=\"load1\"} 0.5\n"));
    // What was written is read back the same.
    assert_eq!(add_label(&text, "sandbox_id", "pod\"1"), Ok(text));
}

#[test]
fn aggregated_pods_keep_one_help_and_type_per_family() {
    let mut a = Aggregate::new();
    a.add_text(SHIM, Some(("sandbox_id", "a"))).expect("a");
    a.add_text(SHIM, Some(("sandbox_id", "b"))).expect("b");
    let text = a.render();
    assert_eq!(text.matches("# TYPE kata_guest_load gauge").count(), 1);
    assert_eq!(text.matches("# HELP kata_guest_load ").count(), 1);
    assert_eq!(text.matches("kata_guest_load{").count(), 4);
    // Grouped: both pods' samples of a family follow its TYPE line, so the result parses.
    let again = parse(&text).expect("aggregate is valid");
    assert_eq!(again.len(), 3);
    assert_eq!(again[0].samples.len(), 2);
    assert!(a.add_text("broken{", None).is_err());
    assert_eq!(a.families().len(), 3, "a bad text adds nothing");
}
