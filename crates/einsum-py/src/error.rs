//! Errors as Python exceptions: numpy's classes, our caret-rendered text;
//! and no Rust panic reaching Python.

use std::panic::{AssertUnwindSafe, catch_unwind};

use einsum::exec::ExecError;
use einsum::plan::PlanErrorKind;
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    _einsumc,
    MemoryLimitError,
    PyValueError,
    "No contraction order keeps every temporary within the memory limit."
);

/// `err` as the exception numpy raises for the same failure: `ValueError`
/// for subscripts and shapes (and for a memory limit no order meets: the
/// `MemoryLimitError` subclass), `RuntimeError` for an invalid explicit
/// path (as numpy), `MemoryError` when the machine lacks the memory.
pub(crate) fn to_py(err: einsum::Error) -> PyErr {
    let text = err.to_string();
    match &err {
        einsum::Error::Plan(plan) => match plan.kind() {
            PlanErrorKind::MemoryLimitExceeded { .. } => MemoryLimitError::new_err(text),
            PlanErrorKind::PathInvalid { .. } => {
                PyRuntimeError::new_err(format!("Invalid einsum_path is specified: {text}"))
            }
            _ => PyValueError::new_err(text),
        },
        einsum::Error::Exec(ExecError::OutOfMemory { .. }) => PyMemoryError::new_err(text),
        _ => PyValueError::new_err(text),
    }
}

/// Runs `f`, turning a panic into a `RuntimeError` (PyO3 would raise
/// `PanicException`, a `BaseException` that `except Exception` misses).
pub(crate) fn guarded<R>(f: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(PyRuntimeError::new_err(format!(
                "einsumc internal error (please report): {what}"
            )))
        }
    }
}
