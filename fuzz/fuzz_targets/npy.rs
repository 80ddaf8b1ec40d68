//! Fuzz target for the `.npy` reader of `einsum-explain`.
//!
//! For every input:
//! - reading never panics, from bytes of known length (`parse`) or as a
//!   stream (`read_from` with no length), and both agree on whether the
//!   file is accepted and on the array;
//! - an accepted file written back by our writer reads back as the same
//!   array, bit for bit (written again, it gives the same bytes), and its
//!   header is numpy's: padded so the data starts at a multiple of 64;
//! - a refused file's error renders.
#![no_main]

use einsum_explain::npy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = npy::parse(data);
    let streamed = npy::read_from(data, None);
    let array = match (parsed, streamed) {
        (Ok(array), Ok(again)) => {
            assert!(same(&array, &again), "the stream reads another array");
            array
        }
        (Err(err), Err(_)) => {
            let _rendered = err.to_string();
            return;
        }
        (parsed, streamed) => panic!(
            "bytes and stream disagree: {:?} vs {:?}",
            parsed.map(|a| a.shape().to_vec()),
            streamed.map(|a| a.shape().to_vec())
        ),
    };

    let mut written = Vec::new();
    npy::write_to(&mut written, &array).expect("writing into a Vec cannot fail");
    let header_end = written.iter().position(|&b| b == b'\n').map(|n| n + 1);
    assert_eq!(
        header_end.map(|n| n % 64),
        Some(0),
        "data is not 64-byte aligned"
    );
    let back = npy::parse(&written)
        .unwrap_or_else(|err| panic!("our own file is refused: {err}\n{written:?}"));
    assert!(
        same(&array, &back),
        "the array changes through a write and read"
    );
});

/// Equal dtype, shape and element bits (`==` would call NaN unequal to
/// itself): our writer's bytes are exactly those three things.
fn same(a: &einsum_explain::dtype::Array, b: &einsum_explain::dtype::Array) -> bool {
    let bytes = |array| {
        let mut out = Vec::new();
        npy::write_to(&mut out, array).expect("writing into a Vec cannot fail");
        out
    };
    a.dtype() == b.dtype() && a.shape() == b.shape() && bytes(a) == bytes(b)
}
