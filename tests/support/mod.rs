//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)] // each test binary uses its own subset of the helpers

pub mod corpus;
pub mod npy;
pub mod reference;
