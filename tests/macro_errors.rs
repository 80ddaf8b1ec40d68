//! `einsum!`'s compile errors, pinned by trybuild: each file under
//! `tests/compile_fail/` must fail to compile with exactly its `.stderr`.
//!
//! After a deliberate change: `TRYBUILD=overwrite cargo test --test
//! macro_errors`, then review the `.stderr` diffs by eye before committing.

#[test]
fn compile_errors() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}
