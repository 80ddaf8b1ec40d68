//! The one table of strategies every test that loops over them uses: each
//! `Optimize`, each GEMM policy, each parallelism. A new strategy goes here
//! and every such test covers it.

use einsum::exec::{GemmPolicy, Par};
use einsum::plan::{Budget, Optimize};

/// Every order search, with small settings where it has any.
pub fn optimizers() -> Vec<Optimize> {
    vec![
        Optimize::Auto,
        Optimize::Optimal,
        Optimize::Dp,
        Optimize::Greedy,
        Optimize::Branch(0),
        Optimize::Branch(1),
        Optimize::RandomGreedy { trials: 4, seed: 9 },
        Optimize::Reconfigure {
            trials: 2,
            subtree: 4,
            seed: 3,
        },
        Optimize::Hyper {
            budget: Budget::Trials(3),
            seed: 5,
        },
        Optimize::Naive,
    ]
}

/// Every GEMM policy: GEMM for every matrix product (even tiny ones), by
/// size (the default), and never.
pub const GEMM_POLICIES: [GemmPolicy; 3] =
    [GemmPolicy::MinWork(0), GemmPolicy::Auto, GemmPolicy::Never];

/// One thread, and two (the parallel kernels split their work).
pub const PARS: [Par; 2] = [Par::Seq, Par::Rayon(2)];
