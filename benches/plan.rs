//! Planning time: every workload of `../shared/workloads.toml`, and random
//! 3-regular networks of 10 to 200 tensors with each optimizer that finishes.
//!
//! Run: `cargo bench --bench plan`. `benches/compare_planning.py` runs this
//! and opt_einsum on the same networks and prints the ratios.

mod support;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use einsum::plan::{Optimize, PlanOptions, bind, plan};

fn workloads(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan_workload");
    for w in support::workloads() {
        let expr = einsum::parse(&w.subscripts).expect("workload parses");
        let options = PlanOptions::new();
        // Binding and planning, from the lowered expression: what a compiled
        // expression pays once per new shape.
        group.bench_function(&w.name, |b| {
            b.iter(|| plan(&bind(&expr, black_box(&w.shapes)).unwrap(), &options).unwrap())
        });
    }
    group.finish();
}

/// The optimizers to time at each network size: those that finish in
/// benchmark time.
fn optimizers(n: usize) -> Vec<(&'static str, Optimize)> {
    let mut list = vec![
        ("greedy", Optimize::Greedy),
        (
            "random-greedy-32",
            Optimize::RandomGreedy {
                trials: 32,
                seed: 0,
            },
        ),
        (
            "reconfigure-8",
            Optimize::Reconfigure {
                trials: 8,
                subtree: 8,
                seed: 0,
            },
        ),
        ("auto", Optimize::Auto),
    ];
    // Branch and bound is exponential in the worst case: at 50 tensors
    // branch-2 did not finish in 15 minutes (as opt_einsum's, it is meant
    // for small networks).
    if n <= 20 {
        list.push(("branch-2", Optimize::Branch(2)));
        list.push(("dp", Optimize::Dp));
    }
    if n <= 10 {
        list.push(("optimal", Optimize::Optimal));
    }
    list
}

fn networks(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan_network");
    group.sample_size(20);
    for net in support::networks() {
        let expr = einsum::parse(&net.subscripts).expect("network parses");
        let bound = bind(&expr, &net.shapes).expect("network binds");
        for (name, optimize) in optimizers(net.n) {
            let options = PlanOptions::new().optimize(optimize);
            group.bench_with_input(BenchmarkId::new(name, net.n), &bound, |b, bound| {
                b.iter(|| plan(black_box(bound), &options).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, workloads, networks);
criterion_main!(benches);
