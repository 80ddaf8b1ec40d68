//! `einsumc`'s native core: the einsum compiler as a Python extension
//! module (`einsumc._einsumc`), built by maturin from this crate.
//!
//! The Python package `einsumc` (in `python/einsumc/`) gives numpy's
//! `einsum`/`einsum_path` and opt_einsum's `contract`/`contract_path`/
//! `contract_expression` signatures; the argument forms that read more
//! clearly in Python (the interleaved sublist form, numpy's dtype
//! promotion and casting rules, views, report texts) live there. This
//! crate is the part that touches arrays, over the facade crate `einsum`
//! only:
//!
//! - [`expression::Expression`]: a compiled expression (one
//!   [`einsum::Einsum`], so repeated calls neither parse nor plan; threads
//!   are chosen per call), its plan's figures, and pickling by subscripts.
//! - `einsum` (numpy's signature) and `Compiled` (the base of
//!   `ContractExpression`, fixed to one plan): their common call (arrays of
//!   one supported dtype) runs without a Python frame; others go to the
//!   Python layer. `set_num_threads` sets the process-wide default.
//! - Operands are read in place (any strides, negative and zero included)
//!   after checking byte order, alignment and that byte strides are whole
//!   elements; an array that fails is copied once ([`operand`]).
//! - The element types are one table ([`element`]); others are a
//!   `TypeError` naming the dtype.
//! - The GIL is released while planning and running; errors are numpy's
//!   exception classes with the facade's caret-rendered text, and a Rust
//!   panic becomes a `RuntimeError`, never PyO3's `PanicException`
//!   ([`error`]).
//!
//! No doctest: the items only mean something inside a Python process with
//! numpy loaded. The pytest suite in `tests/` tests the package, against
//! numpy and opt_einsum and their own test suites.
#![forbid(unsafe_code)]

mod element;
mod error;
mod explain;
mod expression;
mod operand;
mod optimize;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _einsumc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<expression::Expression>()?;
    m.add_function(wrap_pyfunction!(expression::compiled, m)?)?;
    m.add_class::<expression::Compiled>()?;
    m.add_class::<explain::Explanation>()?;
    m.add_function(wrap_pyfunction!(explain::explain, m)?)?;
    m.add_function(wrap_pyfunction!(expression::numpy_einsum, m)?)?;
    m.add_function(wrap_pyfunction!(optimize::memory_limit_elements, m)?)?;
    m.add_function(wrap_pyfunction!(optimize::memory_limit_is_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(expression::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(expression::get_num_threads, m)?)?;
    m.add("SUPPORTED_DTYPES", element::NAMES.to_vec())?;
    m.add("OPTIMIZERS", optimize::NAMES.to_vec())?;
    m.add(
        "MemoryLimitError",
        m.py().get_type::<error::MemoryLimitError>(),
    )?;
    Ok(())
}
