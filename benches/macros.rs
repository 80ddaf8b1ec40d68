//! `einsum!` in a loop against the compiled library API (`Einsum::run`,
//! planned once outside the loop) and a hand-written ndarray equivalent, on
//! the seed expression `ij,ij->i` (row dots) and on `ij,jk->ik`, at 4x4,
//! 64x64 and 1000x1000. All three return a new array each call.
//!
//! Run: `cargo bench --bench macros`. The figures are in docs/performance.md.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use einsum::{Einsum, einsum};
use ndarray::{Array1, Array2, Axis, Zip};

fn matrix(n: usize, seed: f64) -> Array2<f64> {
    Array2::from_shape_fn((n, n), |(i, j)| ((i * n + j) as f64 * 0.618 + seed).sin())
}

fn rowdot(c: &mut Criterion) {
    let mut group = c.benchmark_group("macro_rowdot");
    for n in [4, 64, 1000] {
        let d = matrix(n, 0.3);
        group.bench_with_input(BenchmarkId::new("einsum!", n), &d, |b, d| {
            b.iter(|| -> Array1<f64> { einsum!("ij,ij->i", black_box(d), d) })
        });
        let compiled = Einsum::new("ij,ij->i").unwrap();
        compiled.run(&[&d, &d]).unwrap();
        group.bench_with_input(BenchmarkId::new("Einsum::run", n), &d, |b, d| {
            b.iter(|| compiled.run(&[black_box(d), d]).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("ndarray", n), &d, |b, d| {
            b.iter(|| {
                let mut out = Array1::zeros(d.nrows());
                Zip::from(&mut out)
                    .and(black_box(d).rows())
                    .for_each(|o, row| *o = row.dot(&row));
                out
            })
        });
    }
    group.finish();
}

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("macro_matmul");
    group.sample_size(20);
    for n in [4, 64, 1000] {
        let a = matrix(n, 0.1);
        let bm = matrix(n, 0.7);
        let pair = (a, bm);
        group.bench_with_input(BenchmarkId::new("einsum!", n), &pair, |b, (a, bm)| {
            b.iter(|| -> Array2<f64> { einsum!("ij,jk->ik", black_box(a), bm) })
        });
        let compiled = Einsum::new("ij,jk->ik").unwrap();
        compiled.run(&[&pair.0, &pair.1]).unwrap();
        group.bench_with_input(BenchmarkId::new("Einsum::run", n), &pair, |b, (a, bm)| {
            b.iter(|| compiled.run(&[black_box(a), bm]).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("ndarray", n), &pair, |b, (a, bm)| {
            b.iter(|| black_box(a).dot(bm))
        });
    }
    group.finish();
}

/// The same loop as `rowdot` by another road, for the sum over rows:
/// `ndarray`'s own `sum_axis` of the squares (allocates a temporary).
fn rowdot_sum_axis(c: &mut Criterion) {
    let mut group = c.benchmark_group("macro_rowdot_sum_axis");
    for n in [4, 64, 1000] {
        let d = matrix(n, 0.3);
        group.bench_with_input(BenchmarkId::new("ndarray", n), &d, |b, d| {
            b.iter(|| (black_box(d) * d).sum_axis(Axis(1)))
        });
    }
    group.finish();
}

criterion_group!(benches, rowdot, matmul, rowdot_sum_axis);
criterion_main!(benches);
