//! Which vector instructions the memory-bound loops run with, decided once
//! per process from what the CPU reports.
//!
//! The crate is compiled for the baseline of its target (x86-64: SSE2), so
//! that one build runs on every machine. The innermost loops of sums, dots
//! and row updates (the leaves of [`super::reduce`] and
//! [`super::strided`]'s rows) are compiled a second time with AVX2 and FMA
//! enabled; [`detected`] picks that version when the CPU has both. Both are
//! the same source with the same order of operations (the same explicit
//! accumulators), so they give the same bits; only the vector width differs.
//! `EINSUM_ISA=baseline` in the environment forces the baseline loops (to
//! compare the two; the test suite runs both).

use std::sync::OnceLock;

/// A version of the innermost loops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// The target's baseline (x86-64: SSE2), on every CPU.
    Baseline,
    /// AVX2 and FMA, on x86-64 CPUs that report both.
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

/// The best version this CPU runs, unless `EINSUM_ISA=baseline` asks for
/// the baseline. Read once.
pub(crate) fn detected() -> Isa {
    static CHOSEN: OnceLock<Isa> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        if std::env::var("EINSUM_ISA").is_ok_and(|v| v.eq_ignore_ascii_case("baseline")) {
            return Isa::Baseline;
        }
        best()
    })
}

/// The best version the CPU supports (no environment override).
pub(crate) fn best() -> Isa {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        return Isa::Avx2;
    }
    Isa::Baseline
}

/// Defines `$name::<T>(isa)`, the version of the `#[inline(always)]`
/// function `$body` compiled for `isa`, as an `unsafe fn` pointer of type
/// `$ty`. The AVX2 version may only be called on a CPU that has AVX2 and
/// FMA: [`best`] returns [`Isa::Avx2`] only then, and callers take `isa`
/// from [`detected`] (or, in tests, from [`best`]).
macro_rules! versions {
    ($name:ident, $body:ident, $ty:ty, ($($arg:ident: $argty:ty),*) -> $ret:ty) => {
        pub(crate) fn $name<T: crate::element::Element>(isa: super::isa::Isa) -> $ty {
            unsafe fn baseline<T: crate::element::Element>($($arg: $argty),*) -> $ret {
                // SAFETY: the caller's contract is `$body`'s.
                unsafe { $body($($arg),*) }
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<T: crate::element::Element>($($arg: $argty),*) -> $ret {
                // SAFETY: the caller's contract is `$body`'s (this
                // version is only handed out for a CPU with AVX2 and FMA).
                unsafe { $body($($arg),*) }
            }
            match isa {
                super::isa::Isa::Baseline => baseline::<T>,
                #[cfg(target_arch = "x86_64")]
                super::isa::Isa::Avx2 => avx2::<T>,
            }
        }
    };
}
pub(crate) use versions;
