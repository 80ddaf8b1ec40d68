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

/// Whether a result is written over or added to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Accum {
    /// `out = result`.
    #[default]
    Replace,
    /// `out += result`.
    Add,
}
