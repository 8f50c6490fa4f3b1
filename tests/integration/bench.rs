//! `matchwell bench score` on raw inputs in the peer's format.

use std::path::Path;

use cli::bench;
use scoring::Options;

/// Writes inputs in the format of `shared/bench/peer_numpy.py --save-inputs`.
fn write_inputs(dir: &Path, n: usize, q: usize, k: usize, ans: &[i8], acc: &[u8], imp: &[u16]) {
    std::fs::write(dir.join("meta.json"), format!(r#"{{"N": {n}, "Q": {q}, "K": {k}}}"#)).expect("meta");
    std::fs::write(dir.join("ans.i8"), ans.iter().map(|a| *a as u8).collect::<Vec<_>>()).expect("ans");
    std::fs::write(dir.join("acc.u8"), acc).expect("acc");
    std::fs::write(dir.join("imp.u16"), imp.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<_>>()).expect("imp");
}

/// Three organisations, two questions of three options (worked by hand in the test below).
fn three_orgs(dir: &Path) {
    #[rustfmt::skip]
    let acc = [
        1, 1, 0,   0, 1, 0, // org 0 accepts {0, 1} then {1}
        0, 1, 0,   1, 1, 0, // org 1 accepts {1} then {0, 1}
        0, 0, 1,   0, 0, 0, // org 2 accepts {2}, did not answer question 2
    ];
    write_inputs(dir, 3, 2, 3, &[0, 1, 1, 1, 2, -1], &acc, &[50, 10, 10, 250, 1, 0]);
}

#[test]
fn bench_score_computes_the_plain_reciprocal_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_orgs(dir.path());
    let report = bench::score(dir.path(), 2, &Options::default(), 0).expect("valid inputs");
    // s(0,1) = 60/60; s(1,0) = 250/260 (org 0's answer 0 is not acceptable to org 1 on
    // question 1); every pair with org 2 scores 0 (its only answer is not acceptable).
    let pair01 = (250.0f64 / 260.0).sqrt();
    assert_eq!(report.k, 2);
    assert!((report.checksum - 2.0 * pair01).abs() < 1e-6, "checksum {}", report.checksum);
    assert!((report.mean_top1 - 2.0 * pair01 / 3.0).abs() < 1e-6);
    let printed = report.to_string();
    assert!(printed.contains("elapsed_s="), "{printed}");
    assert!(printed.contains(&format!("checksum={:.6}", report.checksum)), "{printed}");
}

#[test]
fn bench_score_can_weigh_shared_standards_as_the_service_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_orgs(dir.path());
    let plain = bench::score(dir.path(), 2, &Options::default(), 0).expect("valid inputs");
    let same = bench::score_with(dir.path(), 2, &Options::default(), 0, 0.0).expect("valid inputs");
    assert_eq!(plain.checksum, same.checksum);
    // Orgs 0 and 1 judge 4 of their 6 options alike, each accepting half of its options: kappa
    // 1/3, less twice its spread by chance over 6 options (0.82), is 0. The score halves.
    let weighed = bench::score_with(dir.path(), 2, &Options::default(), 0, 1.0).expect("valid inputs");
    assert!((weighed.checksum - plain.checksum / 2.0).abs() < 1e-6, "{} vs {}", weighed.checksum, plain.checksum);
    let refused = bench::score_with(dir.path(), 2, &Options::default(), 0, f32::NAN);
    assert!(refused.is_err());
}

#[test]
fn bench_score_with_incremental_updates_reports_timings() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_orgs(dir.path());
    let report = bench::score(dir.path(), 2, &Options::default(), 4).expect("valid inputs");
    let incremental = report.incremental.expect("asked for");
    assert_eq!(incremental.rescored, 4);
    assert!(incremental.max_ms >= incremental.median_ms);
}

#[test]
fn bench_score_explains_bad_inputs() {
    type Setup = fn(&Path);
    let cases: [(&str, Setup, &str); 6] = [
        ("missing directory", |_| {}, "failed to read"),
        (
            "meta.json not JSON",
            |d| std::fs::write(d.join("meta.json"), "N=3").expect("write"),
            "is not {\"N\", \"Q\", \"K\"}",
        ),
        (
            "truncated answers",
            |d| {
                three_orgs(d);
                std::fs::write(d.join("ans.i8"), [0u8; 5]).expect("write");
            },
            "ans.i8 has 5 bytes; meta.json implies 6",
        ),
        ("option out of range", |d| write_inputs(d, 1, 1, 3, &[3], &[1, 0, 0], &[10]), "option 3 >= K"),
        (
            "unknown importance",
            |d| write_inputs(d, 1, 1, 3, &[0], &[1, 0, 0], &[7]),
            "7 is not one of 0, 1, 10, 50, 250",
        ),
        ("acceptable not 0/1", |d| write_inputs(d, 1, 1, 3, &[0], &[2, 0, 0], &[10]), "2 is not 0 or 1"),
    ];
    for (name, setup, expected) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let inputs = if name == "missing directory" { dir.path().join("absent") } else { dir.path().to_owned() };
        setup(&inputs);
        let error = bench::score(&inputs, 2, &Options::default(), 0).expect_err(name);
        let message = format!("{error:#}");
        assert!(message.contains(expected), "{name}: {message}");
    }
}
