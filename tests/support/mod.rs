//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)] // each test binary uses its own subset of the helpers

pub mod corpus;
pub mod npy;
pub mod reference;
pub mod strategies;

/// The variant name of an error kind (`DimensionMismatch` for
/// `DimensionMismatch { .. }`), as the corpus files write expected kinds.
pub fn variant_name(kind: &impl std::fmt::Debug) -> String {
    format!("{kind:?}")
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}
