//! How much parallelism a run may use.

/// Parallelism for a run: serial, or rayon with a number of threads.
///
/// Below a size threshold every kernel runs serially whatever this says, so
/// small problems pay nothing for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Par {
    /// One thread.
    Seq,
    /// At most `n` threads of the current rayon pool at once (0: as many as
    /// the pool has). A cap, not a request: a pool of fewer threads runs
    /// fewer; a kernel splits its work into at most `n` parts and tells
    /// `gemm` the same bound.
    Rayon(usize),
    /// As many threads as rayon's pool has.
    #[default]
    Auto,
}

impl Par {
    /// How many threads this allows.
    pub fn threads(self) -> usize {
        match self {
            Par::Seq => 1,
            Par::Rayon(0) | Par::Auto => rayon::current_num_threads().max(1),
            Par::Rayon(n) => n,
        }
    }
}

/// Which matrix-product steps run on the GEMM kernels (the rest run on the
/// strided loops, which give the same results).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GemmPolicy {
    /// Those of more than 16³ multiply-adds, where the GEMM kernels' set-up
    /// (packing, dispatch) costs less than the arithmetic (a 4x4 product
    /// takes 0.8 µs through `gemm`, 0.3 µs looped).
    #[default]
    Auto,
    /// None: strided loops only (for testing and comparison).
    Never,
    /// Those of at least `n` multiply-adds (0: every one, even tiny ones;
    /// tests use it to cover the kernel on small shapes).
    MinWork(usize),
}

impl GemmPolicy {
    /// Whether a matrix-product step of `points` multiply-adds uses GEMM.
    pub fn uses_gemm(self, points: usize) -> bool {
        match self {
            GemmPolicy::Auto => points > TINY_GEMM,
            GemmPolicy::Never => false,
            GemmPolicy::MinWork(n) => points >= n,
        }
    }
}

/// Multiply-adds up to which [`GemmPolicy::Auto`] keeps a product on the
/// strided loops.
const TINY_GEMM: usize = 16 * 16 * 16;

/// Whether a result is written over or added to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Accum {
    /// `out = result`.
    #[default]
    Replace,
    /// `out += result`.
    Add,
}
