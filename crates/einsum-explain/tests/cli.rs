//! The `einsum-explain` binary: outputs, errors and exit statuses, `.npy`
//! round trips, `--analyze`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The machine limits the tests' `--analyze` runs compare with: fixed
/// figures for this machine's CPU (so no test measures, and none writes
/// the user's cache), in a file of their own.
fn limits_cache() -> PathBuf {
    use einsum::exec::limits::Caches;
    use einsum_explain::limits::{AtThreads, Limits, PerLevel, cpu_model};
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let at = AtThreads {
            fma_f32: 64.0,
            fma_f64: 32.0,
            read: PerLevel {
                l2: 64.0,
                l3: 32.0,
                dram: 16.0,
            },
            copy: PerLevel {
                l2: 48.0,
                l3: 24.0,
                dram: 12.0,
            },
        };
        let limits = Limits {
            cpu: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            caches: Caches::of_this_cpu(),
            at: [(1, at)].into_iter().collect(),
        };
        let path = temp_dir("limits").join("limits.json");
        std::fs::write(&path, limits.to_json()).expect("limits cache");
        path
    })
    .clone()
}

fn explain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_einsum-explain"))
        .args(args)
        .env("EINSUM_LIMITS_CACHE", limits_cache())
        .output()
        .expect("the binary runs")
}

fn stdout(args: &[&str]) -> String {
    let out = explain(args);
    assert!(
        out.status.success(),
        "{args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("einsum-explain-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The dozen expressions whose three renderings are snapshotted.
const EXPRESSIONS: &[&[&str]] = &[
    &["ij,ij->i", "1000x1000", "1000x1000"],
    &["ik,kj->ij", "1024x1024", "1024x1024"],
    &["ki,kj->ij", "2048x2048", "2048x2048"],
    &["bij,bjk->bik", "256x64x64", "256x64x64"],
    &["bhqd,bhkd->bhqk", "4x8x512x64", "4x8x512x64"],
    &["abcd,dcfe->abef", "24x24x24x24", "24x24x24x24"],
    &[
        "ij,jk,kl,lm->im",
        "1000x1000",
        "1000x10",
        "10x1000",
        "1000x1000",
    ],
    &[
        "pq,qr,rs,st,tu->pu",
        "1000x20",
        "20x1000",
        "1000x1000",
        "1000x20",
        "20x1000",
    ],
    &["ii->", "4000x4000"],
    &["...ij,...jk->...ik", "8x8x64x64", "8x8x64x64"],
    &["i,j->ij", "4000", "4000"],
    &["ij,j->ij", "3x1", "4"],
    &["i,->i", "5", "scalar"],
];

#[test]
fn text_json_and_dot_renderings() {
    let mut text = String::new();
    let mut json = String::new();
    let mut dot = String::new();
    for args in EXPRESSIONS {
        text.push_str(&format!(
            "$ einsum-explain {}\n{}\n",
            args.join(" "),
            stdout(args)
        ));
        let mut with = args.to_vec();
        with.extend(["--format", "json"]);
        json.push_str(&format!(
            "$ einsum-explain {}\n{}\n",
            with.join(" "),
            stdout(&with)
        ));
        let mut with = args.to_vec();
        with.extend(["--format", "dot"]);
        dot.push_str(&format!(
            "$ einsum-explain {}\n{}\n",
            with.join(" "),
            stdout(&with)
        ));
    }
    insta::assert_snapshot!("text", text);
    insta::assert_snapshot!("json", json);
    insta::assert_snapshot!("dot", dot);
}

#[test]
fn errors_go_to_stderr_with_status_2() {
    let cases: &[&[&str]] = &[
        &["ij,jk->ik", "2x3", "4x5"],
        &["ij,j#", "2x3", "3"],
        &["ij,jk", "2x3"],
        &["ij", "2x3", "--optimize", "fastest"],
        &["ij", "2x3x"],
        &["ij,jk->ik", "2x3", "missing.npy"],
        &["ij,jk->ik", "2x3", "3x4", "-o", "never-written.npy"],
        &[
            "ij,jk,kl->il",
            "100x2",
            "2x100",
            "100x100",
            "--memory-limit",
            "100",
            "--no-slice",
        ],
        &["ij", "2x3", "--analyze", "--repeat", "0"],
    ];
    let mut report = String::new();
    for args in cases {
        let out = explain(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        // clap's own usage errors end with a usage line naming the binary.
        report.push_str(&format!("$ einsum-explain {}\n{err}\n", args.join(" ")));
    }
    assert!(!Path::new("never-written.npy").exists());
    insta::assert_snapshot!("errors", report);
}

/// Writes a float64 .npy (C order).
fn write_f64(path: &Path, shape: &[usize], data: &[f64]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    header.push_str(&" ".repeat((64 - (11 + header.len()) % 64) % 64));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for x in data {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write");
}

fn read_f64(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(path).expect("read");
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + len]).expect("header");
    assert!(
        header.contains("'descr': '<f8'") && header.contains("'fortran_order': False"),
        "{header}"
    );
    let shape_text = &header[header.find("'shape': (").expect("shape") + 10..];
    let shape = shape_text[..shape_text.find(')').expect(")")]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|d| d.parse().expect("dim"))
        .collect();
    let data = bytes[10 + len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
        .collect();
    (shape, data)
}

#[test]
fn npy_in_npy_out_matches_the_library() {
    let dir = temp_dir("roundtrip");
    let a: Vec<f64> = (0..12).map(|i| i as f64 * 0.5 - 2.0).collect();
    let b: Vec<f64> = (0..20).map(|i| (i as f64).sin()).collect();
    write_f64(&dir.join("a.npy"), &[3, 4], &a);
    write_f64(&dir.join("b.npy"), &[4, 5], &b);
    let out = dir.join("c.npy");
    let status = explain(&[
        "ij,jk->ik",
        dir.join("a.npy").to_str().unwrap(),
        dir.join("b.npy").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let (shape, got) = read_f64(&out);
    let a = ndarray::Array2::from_shape_vec((3, 4), a).unwrap();
    let b = ndarray::Array2::from_shape_vec((4, 5), b).unwrap();
    let want = einsum::einsum("ij,jk->ik", &[&a, &b]).unwrap();
    assert_eq!(shape, [3, 5]);
    assert_eq!(got, want.iter().copied().collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn json_keeps_flop_counts_beyond_64_bits_exact() {
    // 18 labels of size 16 on one operand and a second one: the naive count
    // is 2 * 16^18 = 2^73, past u64.
    let big = "16x".repeat(17) + "16";
    let out = stdout(&["abcdefghijklmnopqr,r->", &big, "16", "--format", "json"]);
    assert!(
        out.contains("\"naive_flops\": 9444732965739290427392"),
        "{out}"
    );
    let value: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(value.get("error").is_none());
}

#[test]
fn analyze_reports_the_promised_json_keys() {
    let out = stdout(&[
        "ij,jk,kl->il",
        "20x30",
        "30x4",
        "4x50",
        "--analyze",
        "--repeat",
        "3",
        "--format",
        "json",
        "--threads",
        "1",
    ]);
    let value: serde_json::Value = serde_json::from_str(&out).expect("json");
    for key in [
        "subscripts",
        "output_shape",
        "naive_flops",
        "optimized_flops",
        "largest_intermediate",
        "steps",
        "analyze",
    ] {
        assert!(value.get(key).is_some(), "{key} missing");
    }
    let analyze = &value["analyze"];
    assert_eq!(analyze["repeat"], 3);
    assert!(analyze["median_seconds"].as_f64().expect("number") > 0.0);
    assert!(
        analyze["min_seconds"].as_f64().expect("number")
            <= analyze["median_seconds"].as_f64().expect("number")
    );
    let steps = analyze["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), value["steps"].as_array().expect("steps").len());
    assert!(steps.iter().all(|s| s["median_seconds"].as_f64().is_some()));
    // The roofline: the cached limits (see `limits_cache`), each step's
    // fraction of the lower of the FMA peak and what the bandwidth of its
    // data's level feeds (these steps' few kilobytes stay in the L2 cache).
    assert_eq!(analyze["limits"]["fma_peak_gflops"], 32.0);
    assert_eq!(
        analyze["limits"]["read_gbytes_per_second"],
        serde_json::json!({"L2": 64.0, "L3": 32.0, "DRAM": 16.0})
    );
    for (step, measured) in value["steps"].as_array().expect("steps").iter().zip(steps) {
        let seconds = measured["median_seconds"].as_f64().expect("seconds");
        let flops = step["flops"].as_f64().expect("flops");
        let gflops = flops / seconds / 1e9;
        let gbs = measured["gbytes_per_second"].as_f64().expect("GB/s");
        let bytes_per_flop = gbs / gflops;
        assert_eq!(measured["roof_level"], "L2");
        let roof = 32.0f64.min(64.0 / bytes_per_flop);
        let want = gflops / roof;
        let got = measured["roof_fraction"].as_f64().expect("fraction");
        assert!(
            (got - want).abs() <= 1e-9 * want.max(1.0),
            "{got} vs {want}"
        );
    }
    for step in value["steps"].as_array().expect("steps") {
        for key in ["subscripts", "kernel", "flops", "output_shape"] {
            assert!(step.get(key).is_some(), "step {key} missing");
        }
    }
}

#[test]
fn analyze_copies_and_allocates_what_the_report_prints() {
    // aijb,jk->aikb: M (a, i, b) is not one stride, and the work pays for
    // copying the left operand and the result; a chain with temporaries.
    for args in [
        &["aijb,jk->aikb", "2x2x128x2", "128x64"][..],
        &["ij,jk,kl->il", "20x30", "30x4", "4x50"][..],
    ] {
        for threads in ["1", "2"] {
            let mut all = args.to_vec();
            all.extend(["--analyze", "--format", "json", "--threads", threads]);
            let value: serde_json::Value = serde_json::from_str(&stdout(&all)).expect("json");
            let analyze = &value["analyze"];
            assert_eq!(
                analyze["workspace_elements"], value["workspace_elements"],
                "{args:?}: allocated vs reported"
            );
            let printed: Vec<u64> = value["steps"]
                .as_array()
                .expect("steps")
                .iter()
                .map(|s| {
                    s["copies"]
                        .as_array()
                        .expect("copies")
                        .iter()
                        .map(|c| c["elements"].as_u64().expect("elements"))
                        .sum()
                })
                .collect();
            let copied: Vec<u64> = analyze["steps"]
                .as_array()
                .expect("steps")
                .iter()
                .map(|s| s["copied_elements"].as_u64().expect("copied"))
                .collect();
            assert_eq!(copied, printed, "{args:?}: copied vs reported");
        }
    }
    // The first does copy (so the comparison above compares something).
    let value: serde_json::Value = serde_json::from_str(&stdout(&[
        "aijb,jk->aikb",
        "2x2x128x2",
        "128x64",
        "--format",
        "json",
    ]))
    .expect("json");
    assert_eq!(
        value["steps"][0]["copies"]
            .as_array()
            .expect("copies")
            .len(),
        2
    );
}

/// Runs `args`, expecting exit status 2 and `needle` in the error.
fn fails_with(args: &[&str], needle: &str) {
    let out = explain(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
}

#[test]
fn runs_too_large_for_memory_exit_2_before_allocating() {
    // Two 80 GB operands and an 80 GB result: the sum is checked first.
    fails_with(
        &["ij,jk->ik", "100000x100000", "100000x100000", "--analyze"],
        "cannot allocate 240000000000 bytes (223.5 GiB) for the run",
    );
    fails_with(
        &["i->", "9223372036854775807", "--analyze"],
        "operand 0 would have shape [9223372036854775807]: too large for one array",
    );
    // No elements, but a shape no array can have (numpy: "array is too big").
    fails_with(
        &["ij->ij", "0x18446744073709551615", "--analyze"],
        "operand 0 would have shape [0, 18446744073709551615]: too large for one array",
    );
    // 52 labels of size 2: 2^52 elements.
    let labels: String = ('a'..='z').chain('A'..='Z').collect();
    let shape = vec!["2"; 52].join("x");
    fails_with(
        &[&format!("{labels}->"), &shape, "--analyze"],
        "cannot allocate 36028797018963976 bytes (32.0 PiB) for the run",
    );
}

#[test]
fn flags_that_could_run_away_are_bounded() {
    fails_with(
        &["ij->", "2x2", "--analyze", "--threads", "100000"],
        "--threads 100000 is more than",
    );
    fails_with(
        &["ij->", "2x2", "--repeat", "3"],
        "--repeat times runs: it needs --analyze",
    );
    fails_with(
        &["ij->", "2x2", "--analyze", "--repeat", "0"],
        "--repeat must be at least 1",
    );
}

#[test]
fn shape_errors_name_the_files() {
    let dir = temp_dir("shape-names");
    let a = dir.join("a.npy");
    let b = dir.join("b.npy");
    let (a_text, b_text) = (a.to_str().unwrap(), b.to_str().unwrap());
    write_f64(&a, &[2, 3], &[0.0; 6]);
    write_f64(&b, &[4, 5], &[0.0; 20]);
    fails_with(
        &["ij,jk->ik", a_text, b_text],
        &format!("operand 0 is '{a_text}' (shape 2x3)\noperand 1 is '{b_text}' (shape 4x5)"),
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_empty_file_with_a_huge_result_exits_2() {
    // numpy writes np.zeros((0, 2**40)) as a valid file; its sum over the
    // first axis is 8 TiB of zeros (numpy raises MemoryError).
    let dir = temp_dir("huge-result");
    let z = dir.join("z.npy");
    let out = dir.join("out.npy");
    write_f64(&z, &[0, 1 << 40], &[]);
    fails_with(
        &["ij->j", z.to_str().unwrap(), "-o", out.to_str().unwrap()],
        "cannot allocate 8796093022208 bytes (8.0 TiB)",
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("z.npy")],
        "nothing else left behind"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn hyper_takes_a_time_budget_or_a_trial_count() {
    // A ring of 24 matrices: past dp's range, so hyper runs trials.
    let labels: Vec<char> = ('a'..='x').collect();
    let terms: Vec<String> = (0..24)
        .map(|i| format!("{}{}", labels[i], labels[(i + 1) % 24]))
        .collect();
    let text = format!("{}->", terms.join(","));
    let mut args: Vec<&str> = vec![&text];
    args.extend(std::iter::repeat_n("3x3", 24));
    let run = |extra: &[&str]| {
        let mut all = args.clone();
        all.extend_from_slice(&["--format", "json", "--optimize", "hyper"]);
        all.extend_from_slice(extra);
        stdout(&all)
    };
    let timed = run(&["--time-budget", "50ms"]);
    assert!(timed.contains("\"hyper (50ms)\""), "{timed}");
    // A trial count gives the same order every time.
    assert_eq!(run(&["--trials", "5"]), run(&["--trials", "5"]));
    let mut both = args.clone();
    both.extend_from_slice(&[
        "--optimize",
        "hyper",
        "--trials",
        "5",
        "--time-budget",
        "1s",
    ]);
    fails_with(&both, "hyper takes --trials or --time-budget, not both");
    fails_with(
        &["ij->", "2x2", "--time-budget", "1s"],
        "--time-budget is for --optimize hyper",
    );
    fails_with(
        &["ij->", "2x2", "--optimize", "hyper", "--time-budget", "12"],
        "has no unit",
    );
    fails_with(
        &["ij->", "2x2", "--optimize", "hyper", "--time-budget", "1h"],
        "unknown unit",
    );
}
