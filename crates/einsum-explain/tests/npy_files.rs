//! The binary with malformed, truncated, overlong and streamed `.npy`
//! inputs, and `-o` failures that must leave nothing behind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn explain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_einsum-explain"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs the binary with `stdin` fed through a pipe.
fn explain_piped(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_einsum-explain"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    // The reader may stop early and close the pipe: a failed write is fine.
    let _ = pipe.write_all(stdin);
    drop(pipe);
    child.wait_with_output().expect("the binary finishes")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("einsum-npy-files-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A format 1.0 `.npy` file as numpy writes it: the header padded with
/// spaces and a newline to a multiple of 64 bytes, then `data`.
fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend(
        u16::try_from(header.len())
            .expect("short header")
            .to_le_bytes(),
    );
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

fn f64s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn dev_zero_is_refused_after_its_first_bytes() {
    let start = Instant::now();
    let out = explain(&["...->...", "/dev/zero"]);
    // Reading it all would never end; the magic string is checked first.
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: '/dev/zero' is not a supported .npy file: no .npy magic string\n"
    );
}

#[test]
fn a_file_one_byte_short_or_long_is_refused() {
    let dir = temp_dir("length");
    let good = npy("<f8", "(3,)", &f64s(&[1.0, 2.0, 3.0]));
    let path = dir.join("a.npy");
    let name = path.to_str().expect("utf-8 path");

    std::fs::write(&path, &good).expect("write");
    let out = explain(&["i->", name]);
    assert!(out.status.success(), "{}", stderr(&out));

    std::fs::write(&path, &good[..good.len() - 1]).expect("write");
    let out = explain(&["i->", name]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: '{name}' is not a supported .npy file: file has 23 bytes of data; \
             shape (3,) of float64 needs 24\n"
        )
    );

    let mut long = good.clone();
    long.push(0);
    std::fs::write(&path, &long).expect("write");
    let out = explain(&["i->", name]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: '{name}' is not a supported .npy file: file has 25 bytes of data; \
             shape (3,) of float64 needs 24\n"
        )
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_pipe_is_read_to_one_byte_past_the_data() {
    let good = npy(
        "<i4",
        "(2, 2)",
        &[1i32, 2, 3, 4].map(i32::to_le_bytes).concat(),
    );
    let out = explain_piped(&["ij->", "/dev/stdin"], &good);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut long = good.clone();
    long.extend([0; 4]);
    let out = explain_piped(&["ij->", "/dev/stdin"], &long);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: '/dev/stdin' is not a supported .npy file: \
         file has more data than shape (2, 2) of int32 needs (16 bytes)\n"
    );

    let out = explain_piped(&["ij->", "/dev/stdin"], &good[..good.len() - 3]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("file has 13 bytes of data; shape (2, 2) of int32 needs 16"));

    // 8 TiB promised through a pipe: refused when the data runs out, with
    // memory growing only as data arrives.
    let huge = npy("<f8", "(1099511627776,)", &f64s(&[1.0; 4]));
    let out = explain_piped(&["i->", "/dev/stdin"], &huge);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("file has 32 bytes of data; shape (1099511627776,) of float64"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn output_into_a_directory_fails_and_leaves_nothing() {
    let dir = temp_dir("out-dir");
    let input = dir.join("a.npy");
    std::fs::write(&input, npy("<f8", "(2,)", &f64s(&[1.0, 2.0]))).expect("write");
    let target = dir.join("target");
    std::fs::create_dir(&target).expect("dir");
    let input = input.to_str().expect("utf-8 path");
    for to in [
        format!("{}/", target.display()),
        target.display().to_string(),
    ] {
        let out = explain(&["i->i", input, "-o", &to]);
        assert_eq!(out.status.code(), Some(2), "-o {to}");
        assert!(
            stderr(&out).starts_with(&format!("error: cannot write '{to}': ")),
            "{}",
            stderr(&out)
        );
        assert_eq!(listing(&dir), ["a.npy", "target"], "-o {to}");
        assert!(listing(&target).is_empty(), "-o {to}");
    }
    // The same run into a file succeeds, with nothing else left beside it.
    let file = dir.join("c.npy");
    let out = explain(&["i->i", input, "-o", file.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(listing(&dir), ["a.npy", "c.npy", "target"]);
    assert_eq!(
        std::fs::read(&file).expect("written"),
        npy("<f8", "(2,)", &f64s(&[1.0, 2.0]))
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_empty_array_with_a_huge_axis_is_read() {
    // np.save of np.zeros((0, 2**40)) writes exactly these 128 bytes: a
    // header and no data.
    let dir = temp_dir("empty");
    let path = dir.join("z.npy");
    let bytes = npy("<f8", "(0, 1099511627776)", &[]);
    assert_eq!(bytes.len(), 128);
    assert_eq!(bytes.get(8..10), Some(&[118, 0][..]));
    std::fs::write(&path, &bytes).expect("write");
    let out = explain(&["ij->ji", path.to_str().expect("utf-8 path")]);
    let text = stderr(&out);
    assert!(!text.contains("not a supported .npy file"), "{text}");
    assert!(out.status.success(), "{text}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1099511627776"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn malformed_headers_are_refused_with_the_reason() {
    let dir = temp_dir("malformed");
    let path = dir.join("m.npy");
    let name = path.to_str().expect("utf-8 path");
    let data = f64s(&[1.0, 2.0]);
    let header = |text: &str| {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend(u16::try_from(text.len()).expect("short").to_le_bytes());
        bytes.extend(text.as_bytes());
        bytes.extend(&data);
        bytes
    };
    for (text, why) in [
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': 2, 3)))),}",
            "expected ':' at position 54, found ')'",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,,3)}",
            "unexpected ',' at position 53",
        ),
        (
            "{'descr': <f8, 'fortran_order': False, 'shape': (2,)}",
            "unexpected '<' at position 10",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}",
            "header has key 'x' (only 'descr', 'fortran_order' and 'shape' are allowed)",
        ),
        (
            "{'descr': '<u2', 'fortran_order': False, 'shape': (2,)}",
            "dtype '<u2' is not supported (float16, float32, float64, complex64, complex128, int32, int64 are)",
        ),
    ] {
        std::fs::write(&path, header(text)).expect("write");
        let out = explain(&["...->...", name]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert_eq!(
            stderr(&out),
            format!("error: '{name}' is not a supported .npy file: {why}\n"),
            "{text}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
