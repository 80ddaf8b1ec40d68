//! `einsumc.explain`: the einsum-explain report of a plan fitted to the
//! caller's arrays (or to C-order arrays of given shapes), and with
//! `analyze`, the plan run and timed step by step. The renderings are
//! einsum-explain's own (`einsum_explain::render`), so the Python report and
//! the command line report are one text.

use std::sync::Arc;

use einsum::exec::{Allocation, Par, Program, RunOptions, StridedView, target};
use einsum::plan::fit::{Fitted, c_order_strides, fit};
use einsum_explain::render::{self, Analysis, ElementType};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;

use crate::element::{Elem, WithElem};
use crate::error::{guarded, to_py};
use crate::expression::{Expression, k_order, par};
use crate::operand::readable;

/// A plan's report: `str()` is the einsum-explain text, `to_dict()` its
/// JSON, `to_dot()` the Graphviz picture of the contraction tree.
#[pyclass(module = "einsumc._einsumc", frozen)]
pub(crate) struct Explanation {
    subscripts: String,
    text: String,
    json: String,
    dot: String,
}

#[pymethods]
impl Explanation {
    fn __str__(&self) -> &str {
        &self.text
    }

    fn __repr__(&self) -> String {
        format!("<einsumc.Explanation {:?}>", self.subscripts)
    }

    /// The report as JSON text (what `einsum-explain --format json` prints).
    fn to_json(&self) -> &str {
        &self.json
    }

    /// The report as a dict (the JSON, parsed).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import(intern!(py, "json"))?
            .call_method1(intern!(py, "loads"), (&self.json,))
    }

    /// The contraction tree in Graphviz's dot language.
    fn to_dot(&self) -> &str {
        &self.dot
    }
}

/// The report for `expression` on `operands`: numpy arrays of one
/// supported dtype read in place (their strides decide the fit), or shapes
/// (C-order arrays of `dtype`). With `repeat` (analyze), the operands must
/// all be arrays: the plan runs once to warm up, then `repeat` times timed.
#[pyfunction]
#[pyo3(signature = (expression, operands, dtype, repeat=None, threads=None))]
pub(crate) fn explain(
    py: Python<'_>,
    expression: &Bound<'_, Expression>,
    operands: Vec<Bound<'_, PyAny>>,
    dtype: &Bound<'_, PyAny>,
    repeat: Option<usize>,
    threads: Option<i64>,
) -> PyResult<Explanation> {
    let dtype = numpy::PyArrayDescr::new(py, dtype)?;
    let elem = Elem::of(&dtype).ok_or_else(|| crate::element::unsupported(&dtype))?;
    let mut given = Vec::with_capacity(operands.len());
    for operand in operands {
        given.push(match operand.cast_into::<PyUntypedArray>() {
            Ok(array) => Given::Array(readable(array)?),
            Err(err) => Given::Shape(err.into_inner().extract()?),
        });
    }
    if repeat == Some(0) {
        return Err(PyValueError::new_err("repeat must be at least 1"));
    }
    let par = par(threads)?;
    elem.with(Explain {
        py,
        expression: expression.get(),
        given,
        repeat,
        par,
        name: elem.name(),
    })
}

enum Given<'py> {
    Array(Bound<'py, PyUntypedArray>),
    Shape(Vec<usize>),
}

struct Explain<'a, 'py> {
    py: Python<'py>,
    expression: &'a Expression,
    given: Vec<Given<'py>>,
    repeat: Option<usize>,
    par: Par,
    /// numpy's name of the element type.
    name: &'static str,
}

impl WithElem for Explain<'_, '_> {
    type Out = PyResult<Explanation>;

    fn call<T: einsum::Element + numpy::Element + Send + Sync>(self) -> Self::Out {
        let py = self.py;
        let size = std::mem::size_of::<T>();
        let mut typed = Vec::new();
        let mut shapes = Vec::new();
        let mut strides = Vec::new();
        for given in &self.given {
            match given {
                Given::Array(array) => {
                    let array = array.clone().cast_into::<PyArrayDyn<T>>().map_err(|_| {
                        PyValueError::new_err("explain: every array must have the dtype given")
                    })?;
                    shapes.push(array.shape().to_vec());
                    strides.push(
                        array
                            .strides()
                            .iter()
                            .map(|s| s / size as isize)
                            .collect::<Vec<_>>(),
                    );
                    typed.push(array);
                }
                Given::Shape(shape) => {
                    shapes.push(shape.clone());
                    strides.push(c_order_strides(shape));
                }
            }
        }
        let plan = self.expression.plan(py, &shapes)?;
        let output = plan.output_shape();
        let strides: Vec<&[isize]> = strides.iter().map(Vec::as_slice).collect();
        // The result laid out as a call lays it out (numpy's order='K'):
        // its dimensions in `order` in memory, outermost first.
        let order: Vec<usize> = if output.len() < 2 {
            (0..output.len()).collect()
        } else {
            k_order(&plan, &strides).into_vec()
        };
        let memory: Vec<usize> = order.iter().map(|&p| output[p]).collect();
        let mut out_strides = vec![0isize; output.len()];
        for (&p, &stride) in order.iter().zip(&c_order_strides(&memory)) {
            out_strides[p] = stride;
        }
        // Blocks that would cut across these arrays: the plan's variant, as
        // the executor runs it.
        let plan = plan
            .for_layout(&strides, &out_strides)
            .cloned()
            .unwrap_or(plan);
        let fitted = fit(&plan, &strides, &out_strides, target::<T>())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let analysis = match self.repeat {
            None => None,
            Some(repeat) => {
                if typed.len() != self.given.len() {
                    return Err(PyValueError::new_err(
                        "explain(analyze=True) runs the plan: pass arrays, not shapes",
                    ));
                }
                let guards = typed
                    .iter()
                    .map(|a| a.try_readonly())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
                let views: Vec<ArrayViewD<'_, T>> = guards.iter().map(|g| g.as_array()).collect();
                let (plan, fitted, par) = (&plan, &fitted, self.par);
                let order = &order;
                let mut analysis =
                    py.detach(|| guarded(|| analyze(plan, fitted, &views, order, par, repeat)))?;
                // The roofline: this machine's limits, measured on first use
                // and cached (einsum_explain::limits says where).
                let limits = py
                    .detach(einsum_explain::limits::Limits::cached)
                    .map_err(|e| PyRuntimeError::new_err(format!("{e:#}")))?;
                analysis.roof = limits.roof(
                    analysis.threads,
                    einsum::exec::limits::Precision::of_dtype(self.name),
                );
                Some(analysis)
            }
        };
        let element = ElementType {
            name: self.name,
            size,
        };
        Ok(Explanation {
            subscripts: self.expression.subscripts.clone(),
            text: render::text(&plan, &fitted, analysis.as_ref(), element),
            json: render::json(&plan, &fitted, analysis.as_ref(), element)
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?,
            dot: render::dot(&plan, &fitted),
        })
    }
}

/// Runs `fitted` once (the result, and the warm-up), then `repeat` times
/// timed, step by step, into a result whose dimensions lie in memory in
/// `order` (outermost first), as a call's would.
fn analyze<T: einsum::Element>(
    plan: &Arc<einsum::Plan>,
    fitted: &Fitted,
    views: &[ArrayViewD<'_, T>],
    order: &[usize],
    par: Par,
    repeat: usize,
) -> PyResult<Analysis> {
    let err = |e: einsum::exec::ExecError| to_py(e.into());
    let run = RunOptions::new().par(par);
    let inputs: Vec<StridedView<'_, T>> =
        views.iter().map(|v| StridedView::from(v.clone())).collect();
    let shape = plan.output_shape();
    let memory: Vec<usize> = order.iter().map(|&p| shape[p]).collect();
    let len =
        einsum::exec::check_shape(&memory, size_of::<T>(), Allocation::Result).map_err(err)?;
    let data = einsum::exec::try_zeroed::<T>(len, Allocation::Result).map_err(err)?;
    let laid_out = ArrayD::from_shape_vec(IxDyn(&memory), data).map_err(|_| {
        err(einsum::exec::ExecError::ShapeTooLarge {
            shape: shape.clone(),
            what: Allocation::Result,
        })
    })?;
    let mut inverse = vec![0; order.len()];
    for (i, &p) in order.iter().enumerate() {
        inverse[p] = i;
    }
    let mut out = laid_out.permuted_axes(IxDyn(&inverse));
    let program = Program::from_fitted(plan.clone(), fitted.clone()).map_err(err)?;
    let analysis = render::time_runs(&program, &inputs, &mut out, &run, repeat).map_err(err)?;
    Ok(analysis)
}
