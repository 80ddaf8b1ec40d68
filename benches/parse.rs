//! Parsing cost: short expressions and a 200-operand network.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

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

criterion_group!(benches, short);
criterion_main!(benches);
