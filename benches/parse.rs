//! Parsing cost: short expressions and a 200-operand network.
//!
//! Run: `cargo bench --bench parse`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// The `k`-th label: ASCII letters first, then CJK ideographs (all alphabetic),
/// so networks with hundreds of indices can be written as text.
fn label(k: usize) -> char {
    const ASCII: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    match ASCII.get(k) {
        Some(&b) => b as char,
        None => char::from_u32(0x4E00 + (k - ASCII.len()) as u32).expect("CJK block"),
    }
}

/// A 3-regular ring-with-chords network of `n` (even) tensors, two open
/// indices, written explicitly: `n` operands, `3n/2 + 2` labels.
fn network(n: usize) -> String {
    let mut terms: Vec<String> = vec![String::new(); n];
    let mut next = 0;
    let mut edge = |a: usize, b: usize, terms: &mut Vec<String>| {
        let l = label(next);
        next += 1;
        terms[a].push(l);
        terms[b].push(l);
    };
    for i in 0..n {
        edge(i, (i + 1) % n, &mut terms);
    }
    for i in 0..n / 2 {
        edge(i, i + n / 2, &mut terms);
    }
    let (open_a, open_b) = (label(next), label(next + 1));
    terms[0].push(open_a);
    terms[1].push(open_b);
    format!("{}->{open_a}{open_b}", terms.join(","))
}

fn short(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for text in [
        "ij,ij->i",
        "bhqd,bhkd->bhqk",
        "...ij,...jk->...ik",
        "ij,jk,kl,lm->im",
    ] {
        group.bench_function(text, |b| {
            b.iter(|| einsum::syntax::parse(black_box(text)).unwrap())
        });
        group.bench_function(format!("{text} +lower"), |b| {
            b.iter(|| einsum::parse(black_box(text)).unwrap())
        });
    }
    group.finish();
}

fn networks(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_network");
    for n in [10, 200] {
        let text = network(n);
        assert!(einsum::syntax::parse(&text).is_ok(), "{text}");
        group.bench_function(format!("{n} operands"), |b| {
            b.iter(|| einsum::syntax::parse(black_box(&text)).unwrap())
        });
        group.bench_function(format!("{n} operands +lower"), |b| {
            b.iter(|| einsum::parse(black_box(&text)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, short, networks);
criterion_main!(benches);
