//! A compiled expression: the facade's `Einsum` (parsed once, planned once
//! per operand shapes) behind a Python class, and the calls that run it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use einsum::exec::{Accum, Par, RunOptions};
use einsum::{Einsum, Operand, Options};
use ndarray::ArrayViewD;
use numpy::{
    PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use smallvec::SmallVec;

use crate::element::{Elem, WithElem};
use crate::error::{guarded, to_py};
use crate::operand::{elem_of, readable, viewable};
use crate::optimize::{Strategy, strategy};

/// A parsed expression with its order search: plans are made per operand
/// shapes and kept, so a second call with the same shapes neither parses
/// nor plans.
#[pyclass(module = "einsumc._einsumc", frozen)]
pub(crate) struct Expression {
    pub(crate) subscripts: String,
    /// `optimize=` as given, for pickling.
    spec: Py<PyAny>,
    /// The compiled expression: plans per operand shapes and fitted
    /// programs per strides, cached; threads are set per call.
    einsum: Arc<Einsum>,
    /// order='K' result layouts by plan and operand byte strides, newest
    /// last (a loop over arrays of one layout works it out once).
    layouts: Mutex<Vec<KLayout>>,
}

/// One cached order='K' layout: the plan, its operands' byte strides (all
/// operands' in a row: a plan fixes each operand's rank) and the order.
struct KLayout {
    plan: Arc<einsum::Plan>,
    strides: SmallVec<[isize; 8]>,
    order: SmallVec<[usize; 8]>,
}

/// Layouts an expression keeps.
const LAYOUTS: usize = 8;

/// The memory order of a new result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Row-major.
    C,
    /// Column-major.
    F,
    /// As numpy's iterator lays out an allocated output for order='K':
    /// following the operands' strides.
    K,
}

impl Layout {
    fn parse(order: &str) -> PyResult<Layout> {
        match order {
            "C" | "c" => Ok(Layout::C),
            "F" | "f" => Ok(Layout::F),
            "K" | "k" => Ok(Layout::K),
            other => Err(PyValueError::new_err(format!(
                "order must be 'C', 'F' or 'K' here, got {other:?}"
            ))),
        }
    }
}

/// numpy's axis order for an output allocated with order='K'
/// (`npyiter_find_best_axis_ordering`): the iterator's axes are the
/// output's, then the summed ones in label order; a stable insertion sort
/// from the fastest-varying axis moves an axis outward when, in the first
/// operand where both have non-zero strides, its stride is larger. Returns
/// the output's dimensions outermost first.
pub(crate) fn k_order(plan: &einsum::Plan, strides: &[&[isize]]) -> SmallVec<[usize; 8]> {
    let bound = plan.bound();
    let output = bound.output();
    let mut summed: SmallVec<[_; 8]> = bound
        .operands()
        .iter()
        .flat_map(|dims| dims.iter().map(|d| d.axis))
        .filter(|a| !output.contains(a))
        .collect();
    summed.sort_by_key(|&a| (bound.axis(a).name, a));
    summed.dedup();
    let axes: SmallVec<[_; 16]> = output.iter().copied().chain(summed).collect();
    // Per iterator axis, each operand's byte stride along it (diagonals
    // add up; a dimension of extent 1 contributes nothing), row by row.
    let m = strides.len();
    let mut table: SmallVec<[isize; 64]> = SmallVec::from_elem(0, axes.len() * m);
    for (k, (dims, st)) in bound.operands().iter().zip(strides).enumerate() {
        for (d, &s) in dims.iter().zip(st.iter()) {
            if d.extent != 1
                && let Some(i) = axes.iter().position(|&a| a == d.axis)
            {
                table[i * m + k] += s;
            }
        }
    }
    let row = |i: usize| &table[i * m..(i + 1) * m];
    let n = axes.len();
    let mut perm: SmallVec<[usize; 16]> = (0..n).rev().collect(); // fastest first
    for i0 in 1..n {
        let j0 = perm[i0];
        let mut pos = i0;
        for i1 in (0..i0).rev() {
            let (mut ambiguous, mut swap) = (true, false);
            for (&s0, &s1) in row(j0).iter().zip(row(perm[i1])) {
                if s0 != 0 && s1 != 0 {
                    if s1.unsigned_abs() <= s0.unsigned_abs() {
                        swap = false;
                    } else if ambiguous {
                        swap = true;
                    }
                    ambiguous = false;
                }
            }
            if !ambiguous {
                if swap {
                    pos = i1;
                } else {
                    break;
                }
            }
        }
        if pos != i0 {
            perm.remove(i0);
            perm.insert(pos, j0);
        }
    }
    perm.into_iter()
        .rev()
        .filter(|&p| p < output.len())
        .collect()
}

/// The process-wide thread count for calls that pass no `threads=`
/// (0: every core rayon has).
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// `threads=` as the executor's parallelism: `None` for the process-wide
/// setting ([`set_num_threads`]).
pub(crate) fn par(threads: Option<i64>) -> PyResult<Par> {
    match threads {
        None => Ok(match THREADS.load(Ordering::Relaxed) {
            0 => Par::Auto,
            1 => Par::Seq,
            n => Par::Rayon(n),
        }),
        Some(1) => Ok(Par::Seq),
        Some(n) if n > 1 => Ok(Par::Rayon(usize::try_from(n).unwrap_or(usize::MAX))),
        Some(n) => Err(PyValueError::new_err(format!(
            "threads must be at least 1, got {n}"
        ))),
    }
}

/// Sets how many threads calls without `threads=` use, for the whole
/// process; `None` restores the default, every core.
#[pyfunction]
#[pyo3(signature = (threads=None))]
pub(crate) fn set_num_threads(threads: Option<i64>) -> PyResult<()> {
    let n = match threads {
        None => 0,
        Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
        Some(n) => {
            return Err(PyValueError::new_err(format!(
                "threads must be at least 1, got {n}"
            )));
        }
    };
    THREADS.store(n, Ordering::Relaxed);
    Ok(())
}

/// How many threads calls without `threads=` use.
#[pyfunction]
pub(crate) fn get_num_threads() -> usize {
    match par(None) {
        Ok(p) => p.threads(),
        Err(_) => 1,
    }
}

/// Work (the plan's FLOPs) below which a run keeps the GIL: releasing and
/// taking it back costs more than such a run takes, and it ends too soon
/// for another Python thread to gain anything.
const HOLD_GIL_FLOPS: u128 = 1 << 15;

/// Work (the plan's FLOPs) from which a run checks for Ctrl-C between its
/// steps. Each check takes the GIL back, which can wait for another Python
/// thread's switch interval (5 ms): worth it only when the run takes far
/// longer.
const CHECK_SIGNALS_FLOPS: u128 = 100_000_000;

/// Input terms in `subscripts`, counted without parsing (for `auto-hq`,
/// which chooses by operand count; a malformed text fails to parse later).
fn terms(subscripts: &str) -> usize {
    let inputs = subscripts.split("->").next().unwrap_or("");
    inputs.matches(',').count() + 1
}

impl Expression {
    fn compile(subscripts: &str, strategy: Strategy, spec: Py<PyAny>) -> PyResult<Expression> {
        let expr = einsum::parse(subscripts).map_err(to_py)?;
        // numpy's and opt_einsum's memory limits choose a path or fail
        // (the compatibility layer then falls back as they do); ours
        // (`memory_limit=` of `einsum` and `contract`) slice. With no limit
        // nothing is sliced, and long memory-bound chains run in blocks
        // for the cache.
        let slicing = match (&strategy.given, strategy.slicing, strategy.memory_limit) {
            (Some(labels), _, _) => einsum::Slicing::Given(labels.chars().collect()),
            (None, true, _) | (None, false, None) => einsum::Slicing::WhenNeeded,
            (None, false, Some(_)) => einsum::Slicing::Never,
        };
        let options = Options::new()
            .optimize(strategy.optimize.clone())
            .memory_limit(strategy.memory_limit)
            .slicing(slicing);
        Ok(Expression {
            subscripts: subscripts.to_owned(),
            einsum: Arc::new(Einsum::from_expr(expr, options)),
            layouts: Mutex::new(Vec::new()),
            spec,
        })
    }

    /// [`k_order`] for `plan` and these byte strides, from the cache when it
    /// has them.
    fn k_layout(&self, plan: &Arc<einsum::Plan>, strides: &[&[isize]]) -> SmallVec<[usize; 8]> {
        let flat = || strides.iter().flat_map(|s| s.iter().copied());
        let mut layouts = self.layouts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = layouts
            .iter()
            .rev()
            .find(|l| Arc::ptr_eq(&l.plan, plan) && l.strides.iter().copied().eq(flat()))
        {
            return hit.order.clone();
        }
        let order = k_order(plan, strides);
        if layouts.len() == LAYOUTS {
            layouts.remove(0);
        }
        layouts.push(KLayout {
            plan: plan.clone(),
            strides: flat().collect(),
            order: order.clone(),
        });
        order
    }

    /// The plan for `shapes`: from the cache, or made with the GIL released.
    pub(crate) fn plan<S: AsRef<[usize]> + Sync>(
        &self,
        py: Python<'_>,
        shapes: &[S],
    ) -> PyResult<Arc<einsum::Plan>> {
        if let Some(plan) = self.einsum.planned(shapes) {
            return Ok(plan);
        }
        let einsum = &self.einsum;
        py.detach(|| guarded(|| einsum.plan(shapes).map_err(to_py)))
    }

    /// Runs on `arrays` (numpy arrays of one supported dtype) into `out`
    /// or a new array laid out as `layout` says; by `plan` when the caller
    /// holds it (a compiled expression for fixed shapes).
    pub(crate) fn run_arrays<'py>(
        &self,
        py: Python<'py>,
        arrays: Vec<Bound<'py, PyUntypedArray>>,
        out: Option<Bound<'py, PyUntypedArray>>,
        par: Par,
        layout: Layout,
        plan: Option<&Arc<einsum::Plan>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (elem, readables) = readable_arrays(arrays)?;
        elem.with(Run {
            py,
            expression: self,
            plan,
            arrays: &readables,
            out,
            layout,
            run: RunOptions::new().par(par).accum(Accum::Replace),
        })
    }
}

/// `arrays` if they share one supported dtype (the Python layer has made
/// them so), each readable by the executor (a native, aligned copy where
/// one is not), with that dtype.
fn readable_arrays(
    arrays: Vec<Bound<'_, PyUntypedArray>>,
) -> PyResult<(Elem, Vec<Bound<'_, PyUntypedArray>>)> {
    let Some(first) = arrays.first() else {
        return Err(PyValueError::new_err("einsum needs at least one operand"));
    };
    let elem = elem_of(first)?;
    let mut readables = Vec::with_capacity(arrays.len());
    for array in arrays {
        if elem_of(&array)? != elem {
            return Err(PyRuntimeError::new_err(
                "einsumc internal error: operands of different dtypes reached the executor",
            ));
        }
        readables.push(readable(array)?);
    }
    Ok((elem, readables))
}

/// `arrays` as arrays of `T` (the dtype the table chose for them).
fn typed<'py, T: numpy::Element>(
    arrays: &[Bound<'py, PyUntypedArray>],
) -> PyResult<SmallVec<[Bound<'py, PyArrayDyn<T>>; 4]>> {
    Ok(arrays
        .iter()
        .map(|a| a.clone().cast_into::<PyArrayDyn<T>>())
        .collect::<Result<_, _>>()?)
}

/// Shared borrows of `typed`, checked by the numpy crate.
fn read_guards<'py, T: numpy::Element>(
    typed: &[Bound<'py, PyArrayDyn<T>>],
) -> PyResult<SmallVec<[numpy::PyReadonlyArrayDyn<'py, T>; 4]>> {
    typed
        .iter()
        .map(|a| a.try_readonly())
        .collect::<Result<_, _>>()
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// One run, generic over the element type the table chose.
struct Run<'a, 'py> {
    py: Python<'py>,
    expression: &'a Expression,
    plan: Option<&'a Arc<einsum::Plan>>,
    arrays: &'a [Bound<'py, PyUntypedArray>],
    out: Option<Bound<'py, PyUntypedArray>>,
    layout: Layout,
    run: RunOptions,
}

impl<'py> WithElem for Run<'_, 'py> {
    type Out = PyResult<Bound<'py, PyAny>>;

    fn call<T: einsum::Element + numpy::Element + Send + Sync>(self) -> Self::Out {
        let py = self.py;
        let typed = typed::<T>(self.arrays)?;
        let guards = read_guards(&typed)?;
        let views: SmallVec<[ArrayViewD<'_, T>; 4]> = guards.iter().map(|g| g.as_array()).collect();
        let plan = match self.plan {
            Some(plan) => plan.clone(),
            None => {
                let shapes: SmallVec<[&[usize]; 4]> = typed.iter().map(|a| a.shape()).collect();
                self.expression.plan(py, &shapes)?
            }
        };
        let einsum = &*self.expression.einsum;
        let options = self.run;
        let small = plan.optimized_flops() < HOLD_GIL_FLOPS;
        let interruptible = plan.optimized_flops() >= CHECK_SIGNALS_FLOPS;
        let run = |target: &Bound<'py, PyArrayDyn<T>>| -> PyResult<()> {
            let mut write = target
                .try_readwrite()
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            let out = write.as_array_mut();
            let go = || {
                guarded(|| {
                    let operands: SmallVec<[&dyn Operand<T>; 4]> =
                        views.iter().map(|v| v as &dyn Operand<T>).collect();
                    // Ctrl-C between the steps of a long run: Python's
                    // signal handlers run (with the GIL taken back for the
                    // check), and a KeyboardInterrupt stops the run there.
                    let mut raised = None;
                    let result = einsum.run_plan_into_interruptible(
                        &plan,
                        &operands,
                        out,
                        options,
                        |step| {
                            if !interruptible || step == 0 {
                                return true;
                            }
                            match Python::attach(|py| py.check_signals()) {
                                Ok(()) => true,
                                Err(err) => {
                                    raised = Some(err);
                                    false
                                }
                            }
                        },
                    );
                    match (result, raised) {
                        (Err(_), Some(err)) => Err(err),
                        (result, _) => result.map_err(to_py),
                    }
                })
            };
            if small { go() } else { py.detach(go) }
        };
        let fresh = |layout: Layout| -> PyResult<Bound<'py, PyArrayDyn<T>>> {
            let shape = plan.output_shape();
            let order = match layout {
                Layout::C => return result_array(py, &shape, false),
                Layout::F => return result_array(py, &shape, true),
                Layout::K if shape.len() < 2 => return result_array(py, &shape, false),
                Layout::K => {
                    let strides: SmallVec<[&[isize]; 4]> =
                        typed.iter().map(|a| a.strides()).collect();
                    self.expression.k_layout(&plan, &strides)
                }
            };
            let n = order.len();
            if order.iter().enumerate().all(|(i, &p)| p == i) {
                return result_array(py, &shape, false);
            }
            if order.iter().enumerate().all(|(i, &p)| p == n - 1 - i) {
                return result_array(py, &shape, true);
            }
            // Allocated in the order's memory layout, then viewed with the
            // result's axes.
            let memory: Vec<usize> = order.iter().map(|&p| shape[p]).collect();
            let mut inverse = vec![0; n];
            for (i, &p) in order.iter().enumerate() {
                inverse[p] = i;
            }
            result_array::<T>(py, &memory, false)?.permute(Some(inverse))
        };
        match self.out {
            None => {
                let result = fresh(self.layout)?;
                run(&result)?;
                Ok(result.into_any())
            }
            Some(out) => {
                // In place when the executor can write `out` directly: same
                // element type, native and aligned, writeable, overlapping
                // no operand (the numpy crate's borrow check says which).
                let direct = if viewable(&out) && elem_of(&out).ok() == Elem::of(&typed[0].dtype())
                {
                    out.clone()
                        .cast_into::<PyArrayDyn<T>>()
                        .ok()
                        .filter(|o| o.try_readwrite().is_ok())
                } else {
                    None
                };
                if let Some(target) = direct {
                    run(&target)?;
                } else {
                    // Through a temporary, cast by numpy (the Python layer
                    // has checked the casting rule already).
                    let result = fresh(if out.is_fortran_contiguous() && !out.is_c_contiguous() {
                        Layout::F
                    } else {
                        Layout::C
                    })?;
                    run(&result)?;
                    py.import(intern!(py, "numpy"))?.call_method(
                        intern!(py, "copyto"),
                        (&out, &result),
                        Some(&[("casting", "unsafe")].into_py_dict_bound(py)?),
                    )?;
                }
                Ok(out.into_any())
            }
        }
    }
}

/// Bytes of a result below which [`result_array`] zeroes it (numpy keeps
/// small blocks, and zeroing them costs less than a call to
/// `numpy.empty`).
const ZEROED_BYTES: usize = 1 << 14;

/// A new array of `shape` (C order, or F) for a result the executor writes
/// whole: a run with `Accum::Replace` writes every element (temporaries
/// reuse unzeroed buffers on the same rule; the executor's tests run into
/// NaN-filled results). So it is `numpy.empty`'s memory, not zeroed first:
/// zeroing an 8 MiB result took 30% of a `ij,ij->ij` call. Small results
/// and bool's (whose bytes other than 0 and 1 are not values) are zeroed.
fn result_array<'py, T: einsum::Element + numpy::Element>(
    py: Python<'py>,
    shape: &[usize],
    fortran: bool,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let dtype = T::get_dtype(py);
    let bytes = shape
        .iter()
        .try_fold(dtype.itemsize(), |n, &e| n.checked_mul(e));
    if dtype.kind() == b'b' || bytes.is_some_and(|b| b < ZEROED_BYTES) {
        return Ok(PyArrayDyn::<T>::zeros(py, shape, fortran));
    }
    // Allocation failures are numpy's MemoryError.
    let kwargs = PyDict::new(py);
    kwargs.set_item(intern!(py, "dtype"), dtype)?;
    kwargs.set_item(intern!(py, "order"), if fortran { "F" } else { "C" })?;
    Ok(py
        .import(intern!(py, "numpy"))?
        .call_method(intern!(py, "empty"), (shape,), Some(&kwargs))?
        .cast_into::<PyArrayDyn<T>>()?)
}

/// One slice's run, generic over the element type the table chose.
struct RunSlice<'a, 'py> {
    py: Python<'py>,
    expression: &'a Expression,
    arrays: &'a [Bound<'py, PyUntypedArray>],
    slice: usize,
    par: Par,
}

impl<'py> WithElem for RunSlice<'_, 'py> {
    type Out = PyResult<Bound<'py, PyAny>>;

    fn call<T: einsum::Element + numpy::Element + Send + Sync>(self) -> Self::Out {
        let py = self.py;
        let typed = typed::<T>(self.arrays)?;
        let guards = read_guards(&typed)?;
        let views: SmallVec<[ArrayViewD<'_, T>; 4]> = guards.iter().map(|g| g.as_array()).collect();
        let shapes: SmallVec<[&[usize]; 4]> = typed.iter().map(|a| a.shape()).collect();
        let plan = self.expression.plan(py, &shapes)?;
        let einsum = &*self.expression.einsum;
        let (slice, par) = (self.slice, self.par);
        let result = py.detach(|| {
            guarded(|| {
                let operands: SmallVec<[&dyn Operand<T>; 4]> =
                    views.iter().map(|v| v as &dyn Operand<T>).collect();
                einsum
                    .run_slice_with(&plan, slice, &operands, RunOptions::new().par(par))
                    .map_err(to_py)
            })
        })?;
        Ok(PyArrayDyn::from_owned_array(py, result).into_any())
    }
}

trait IntoDict<'py> {
    fn into_py_dict_bound(self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>>;
}

impl<'py> IntoDict<'py> for &[(&str, &str)] {
    fn into_py_dict_bound(self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (k, v) in self {
            dict.set_item(k, v)?;
        }
        Ok(dict)
    }
}

#[pymethods]
impl Expression {
    /// Parses `subscripts` to run with `optimize` (see `einsumc.einsum`).
    #[new]
    #[pyo3(signature = (subscripts, optimize=None))]
    fn new(
        py: Python<'_>,
        subscripts: &Bound<'_, PyString>,
        optimize: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Expression> {
        let text = subscripts.to_str()?;
        let spec = optimize.unwrap_or_else(|| py.None().into_bound(py));
        let strategy = strategy(&spec, terms(text))?;
        Expression::compile(text, strategy, spec.unbind())
    }

    /// The subscripts as given.
    #[getter]
    fn subscripts(&self) -> &str {
        &self.subscripts
    }

    /// The expression with its output made explicit (`ij,jk->ik`).
    #[getter]
    fn canonical(&self) -> String {
        self.einsum.expr().to_string()
    }

    /// Input terms.
    #[getter]
    fn operands(&self) -> usize {
        self.einsum.expr().inputs().len()
    }

    /// How many plans this expression has made (one per operand shapes and
    /// thread setting: a loop whose count grows is re-planning).
    #[getter]
    fn plans_made(&self) -> usize {
        self.einsum.plans_made()
    }

    /// Runs on `operands`, numpy arrays of one supported dtype, into `out`
    /// (written in place, any strides) or a new array.
    /// `order` ('C', 'F' or 'K') lays out a new result.
    #[pyo3(signature = (operands, out=None, threads=None, order="K"))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        operands: &Bound<'py, PyTuple>,
        out: Option<Bound<'py, PyAny>>,
        threads: Option<i64>,
        order: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let arrays = operands
            .iter()
            .map(|o| o.cast_into::<PyUntypedArray>().map_err(PyErr::from))
            .collect::<PyResult<Vec<_>>>()?;
        let out = out
            .map(|o| o.cast_into::<PyUntypedArray>().map_err(PyErr::from))
            .transpose()?;
        self.run_arrays(py, arrays, out, par(threads)?, Layout::parse(order)?, None)
    }

    /// The plan's figures for operands of `shapes`: `path` (numpy's linear
    /// format), `naive_flops`, `optimized_flops`, `largest_intermediate`,
    /// `output_shape`, `optimizer`, `steps` (subscripts, kernel, flops) and
    /// `report` (the einsum-explain text).
    fn plan_info<'py>(
        &self,
        py: Python<'py>,
        shapes: Vec<Vec<usize>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let plan = self.plan(py, &shapes)?;
        let info = PyDict::new(py);
        let path: Vec<(usize, usize)> = plan.path().0.clone();
        info.set_item("path", PyList::new(py, path)?)?;
        info.set_item("naive_flops", plan.naive_flops())?;
        info.set_item("optimized_flops", plan.optimized_flops())?;
        info.set_item("largest_intermediate", plan.largest_intermediate())?;
        info.set_item("output_shape", plan.output_shape())?;
        info.set_item("optimizer", plan.optimizer_name())?;
        let steps = PyList::empty(py);
        for step in plan.steps() {
            steps.append((
                plan.step_subscripts(step),
                step.kernel.to_string(),
                step.flops,
            ))?;
        }
        info.set_item("steps", steps)?;
        info.set_item("report", plan.to_string())?;
        Ok(info)
    }

    /// How the plan for operands of `shapes` is sliced: `None`, or a dict
    /// of `slices` (how many), `axes` (names), `sizes`, `stacked` (which
    /// the output holds), `slice_shape` (one slice's result), `overhead`
    /// (sliced FLOPs over unsliced), `limit` (elements) and `summary`.
    fn slicing<'py>(
        &self,
        py: Python<'py>,
        shapes: Vec<Vec<usize>>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let plan = self.plan(py, &shapes)?;
        let Some(slices) = plan.slices() else {
            return Ok(None);
        };
        let bound = plan.bound();
        let info = PyDict::new(py);
        info.set_item("slices", slices.count())?;
        let axes: Vec<String> = slices
            .axes()
            .iter()
            .map(|&a| bound.axis(a).name.to_string())
            .collect();
        info.set_item("axes", axes)?;
        let sizes: Vec<usize> = slices.axes().iter().map(|&a| bound.axis(a).size).collect();
        info.set_item("sizes", sizes)?;
        info.set_item("chunks", slices.chunks().to_vec())?;
        let stacked: Vec<bool> = slices
            .axes()
            .iter()
            .map(|a| bound.output().contains(a))
            .collect();
        info.set_item("stacked", stacked)?;
        info.set_item("slice_shape", slices.bound().output_shape())?;
        info.set_item("overhead", plan.slicing_overhead())?;
        info.set_item("limit", slices.limit())?;
        info.set_item("summary", plan.slicing_summary())?;
        Ok(Some(info))
    }

    /// Where slice `slice` of the plan for `shapes` lies in the output: its
    /// start index per output dimension.
    fn slice_position(
        &self,
        py: Python<'_>,
        shapes: Vec<Vec<usize>>,
        slice: usize,
    ) -> PyResult<Vec<usize>> {
        let plan = self.plan(py, &shapes)?;
        einsum::exec::slice_position(&plan, slice).ok_or_else(|| {
            let slices = plan.slices().map_or(1, |s| s.count());
            PyValueError::new_err(format!("slice {slice} of a plan of {slices} slices"))
        })
    }

    /// Runs slice `slice` alone on `operands` (numpy arrays of one
    /// supported dtype), returning its result (see `slicing`'s
    /// `slice_shape`), with the GIL released.
    #[pyo3(signature = (operands, slice, threads=None))]
    fn run_slice<'py>(
        &self,
        py: Python<'py>,
        operands: &Bound<'py, PyTuple>,
        slice: usize,
        threads: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let arrays = operands
            .iter()
            .map(|o| o.cast_into::<PyUntypedArray>().map_err(PyErr::from))
            .collect::<PyResult<Vec<_>>>()?;
        let (elem, readables) = readable_arrays(arrays)?;
        elem.with(RunSlice {
            py,
            expression: self,
            arrays: &readables,
            slice,
            par: par(threads)?,
        })
    }

    /// The result's shape for operands of `shapes` (plans them).
    fn output_shape(&self, py: Python<'_>, shapes: Vec<Vec<usize>>) -> PyResult<Vec<usize>> {
        Ok(self.plan(py, &shapes)?.output_shape())
    }

    /// For one operand whose every axis reaches the output (a transpose, a
    /// diagonal, a pass-through), the view of it numpy's einsum returns (a
    /// scalar for a 0-d result); otherwise `None`.
    fn view<'py>(&self, array: &Bound<'py, PyUntypedArray>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let plan = self.plan(array.py(), &[array.shape()])?;
        view_positions(&plan)
            .map(|positions| view_of(array, &positions))
            .transpose()
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let cls = py
            .import(intern!(py, "einsumc._einsumc"))?
            .getattr(intern!(py, "Expression"))?;
        PyTuple::new(
            py,
            [
                cls,
                PyTuple::new(
                    py,
                    [
                        PyString::new(py, &self.subscripts).into_any(),
                        self.spec.bind(py).clone(),
                    ],
                )?
                .into_any(),
            ],
        )
    }

    fn __repr__(&self) -> String {
        format!("Expression({:?})", self.subscripts)
    }
}

/// Compiled expressions by subscripts and order search, so that
/// `einsumc.einsum` in a loop parses and plans once.
type Cache = HashMap<String, Vec<(Strategy, Py<Expression>)>>;

/// Most subscripts the cache holds before it starts again.
const CACHE_SUBSCRIPTS: usize = 512;

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The compiled expression for `subscripts` and `optimize`, from the
/// cache when it has it.
#[pyfunction]
#[pyo3(signature = (subscripts, optimize=None))]
pub(crate) fn compiled<'py>(
    py: Python<'py>,
    subscripts: &Bound<'py, PyString>,
    optimize: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, Expression>> {
    let text = subscripts.to_str()?;
    let spec = optimize.unwrap_or_else(|| py.None().into_bound(py));
    let strategy = strategy(&spec, terms(text))?;
    lookup(py, text, strategy, spec)
}

fn lookup<'py>(
    py: Python<'py>,
    text: &str,
    strategy: Strategy,
    spec: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, Expression>> {
    {
        let cache = cache().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = cache
            .get(text)
            .and_then(|v| v.iter().find(|(s, _)| *s == strategy))
        {
            return Ok(hit.1.bind(py).clone());
        }
    }
    let expression = Bound::new(
        py,
        Expression::compile(text, strategy.clone(), spec.unbind())?,
    )?;
    let mut cache = cache().lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= CACHE_SUBSCRIPTS {
        cache.clear();
    }
    cache
        .entry(text.to_owned())
        .or_default()
        .push((strategy, expression.clone().unbind()));
    Ok(expression)
}

/// The Python functions that take every call the Rust entry points do not
/// (`_numpy._einsum`): fetched once.
static SLOW_EINSUM: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Whether `value` is absent or equals the default `text` (a keyword
/// argument passed explicitly with its default value).
fn default_str(value: Option<&Bound<'_, PyAny>>, text: &str) -> bool {
    match value {
        None => true,
        Some(v) => v
            .cast::<PyString>()
            .is_ok_and(|s| s.to_str().ok() == Some(text)),
    }
}

/// The operands as arrays of one supported dtype, or `None` when any is
/// not a numpy array or the dtypes differ or are unsupported (the Python
/// layer then converts, promotes or explains).
fn same_dtype_arrays<'py>(
    operands: impl Iterator<Item = Bound<'py, PyAny>>,
) -> Option<Vec<Bound<'py, PyUntypedArray>>> {
    let mut arrays = Vec::with_capacity(4);
    let mut elem = None;
    for operand in operands {
        let array = operand.cast_into::<PyUntypedArray>().ok()?;
        let this = Elem::of(&array.dtype())?;
        if elem.is_some_and(|e| e != this) {
            return None;
        }
        elem = Some(this);
        arrays.push(array);
    }
    Some(arrays)
}

/// For a one-operand plan whose every output axis comes from the operand
/// (a transpose, a diagonal, a pass-through: numpy returns a view), the
/// output position of each of the operand's dimensions; otherwise `None`.
fn view_positions(plan: &einsum::Plan) -> Option<Vec<usize>> {
    let bound = plan.bound();
    let output = bound.output();
    let [dims] = bound.operands() else {
        return None;
    };
    let positions: Option<Vec<usize>> = dims
        .iter()
        .map(|d| output.iter().position(|&a| a == d.axis))
        .collect();
    // Every output axis comes from the operand (nothing broadcast in).
    positions.filter(|p| (0..output.len()).all(|k| p.contains(&k)))
}

/// `array` viewed with its dimension k at output position `positions[k]`,
/// repeated positions taken as diagonals: the view numpy's einsum returns,
/// writeable when `array` is.
fn view_of<'py>(
    array: &Bound<'py, PyUntypedArray>,
    positions: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    let py = array.py();
    let mut labels = positions.to_vec();
    let mut view = array.clone().into_any();
    while let Some((i, j)) = (0..labels.len())
        .flat_map(|i| (i + 1..labels.len()).map(move |j| (i, j)))
        .find(|&(i, j)| labels[i] == labels[j])
    {
        view = view.call_method1(intern!(py, "diagonal"), (0, i, j))?;
        let label = labels[i];
        labels.remove(j);
        labels.remove(i);
        labels.push(label);
    }
    let mut axes: Vec<usize> = (0..labels.len()).collect();
    axes.sort_by_key(|&k| labels[k]);
    if axes.iter().enumerate().any(|(i, &a)| i != a) {
        view = view.call_method1(intern!(py, "transpose"), (axes,))?;
    }
    let writeable = intern!(py, "writeable");
    let flags = intern!(py, "flags");
    if array.getattr(flags)?.getattr(writeable)?.is_truthy()?
        && !view.getattr(flags)?.getattr(writeable)?.is_truthy()?
    {
        view.getattr(flags)?.setattr(writeable, true)?;
    }
    if labels.is_empty() {
        return view.get_item(PyTuple::empty(py));
    }
    Ok(view)
}

/// numpy returns a scalar for a 0-d result.
fn unwrap_0d<'py>(result: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let array = result.cast::<PyUntypedArray>()?;
    if array.ndim() == 0 {
        return result.get_item(PyTuple::empty(result.py()));
    }
    Ok(result)
}

/// numpy.einsum, computed by the einsum compiler.
///
/// Same arguments and results as `numpy.einsum` (numpy 2.x), plus
/// `threads=` (ours): how many threads the run may use (default: every
/// core, or what `einsumc.set_num_threads` set). `optimize` takes numpy's
/// and opt_einsum's forms: a bool, an optimizer name, an explicit path
/// `['einsum_path', (0, 1), ...]` or `(name, memory_limit)`.
///
/// The common call (a subscripts string and numpy arrays of one supported
/// dtype (one array: as a view where numpy returns one), no `out`/`dtype`, default `order` and `casting`,
/// `optimize` a bool, a name or None) runs here without a Python frame;
/// every other call goes to the Python layer (`einsumc._numpy._einsum`),
/// which decides it in numpy's words.
#[pyfunction(name = "einsum")]
#[pyo3(signature = (*operands, out=None, dtype=None, order=None, casting=None, optimize=None, threads=None, memory_limit=None))]
#[allow(clippy::too_many_arguments)] // numpy's signature, and ours
pub(crate) fn numpy_einsum<'py>(
    py: Python<'py>,
    operands: &Bound<'py, PyTuple>,
    out: Option<Bound<'py, PyAny>>,
    dtype: Option<Bound<'py, PyAny>>,
    order: Option<Bound<'py, PyAny>>,
    casting: Option<Bound<'py, PyAny>>,
    optimize: Option<Bound<'py, PyAny>>,
    threads: Option<i64>,
    memory_limit: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    // numpy's default is optimize=True (its greedy search).
    let mut spec =
        optimize.unwrap_or_else(|| pyo3::types::PyBool::new(py, true).to_owned().into_any());
    let plain = spec.cast::<PyList>().is_err() && spec.cast::<PyTuple>().is_err();
    let common = out.is_none()
        && dtype.is_none()
        && default_str(order.as_ref(), "K")
        && default_str(casting.as_ref(), "safe")
        && operands.len() >= 2
        && plain;
    let memory_limit = memory_limit.filter(|l| !l.is_none());
    if let Some(limit) = &memory_limit {
        // Checked now (a bad unit is a ValueError whatever the operands);
        // a size in bytes becomes elements once the element type is known.
        crate::optimize::memory_limit_elements(limit, 1)?;
    }
    // Ours: a limit met by slicing, whatever the order search.
    let sliced = |spec: Bound<'py, PyAny>, limit: Bound<'py, PyAny>| {
        PyTuple::new(py, [spec, limit, PyString::new(py, "slice").into_any()]).map(Bound::into_any)
    };
    if common
        && let Ok(subscripts) = operands.get_item(0)?.cast_into::<PyString>()
        && let Some(arrays) = same_dtype_arrays(operands.iter().skip(1))
    {
        if let Some(limit) = memory_limit {
            let elements =
                crate::optimize::memory_limit_elements(&limit, arrays[0].dtype().itemsize())?;
            spec = sliced(spec, elements.into_pyobject(py)?.into_any())?;
        }
        let text = subscripts.to_str()?;
        let strategy = strategy(&spec, terms(text))?;
        let expression = lookup(py, text, strategy, spec)?;
        if let [array] = arrays.as_slice() {
            let plan = expression.get().plan(py, &[array.shape()])?;
            if let Some(positions) = view_positions(&plan) {
                return view_of(array, &positions);
            }
        }
        let result =
            expression
                .get()
                .run_arrays(py, arrays, None, par(threads)?, Layout::K, None)?;
        return unwrap_0d(result);
    }
    let slow = SLOW_EINSUM.get_or_try_init(py, || {
        py.import(intern!(py, "einsumc._numpy"))?
            .getattr(intern!(py, "_einsum"))
            .map(Bound::unbind)
    })?;
    if let Some(limit) = memory_limit {
        // The Python layer makes a size in bytes elements of the type it
        // computes in.
        spec = sliced(spec, limit)?;
    }
    let none = || py.None().into_bound(py);
    slow.bind(py).call1((
        operands,
        out.unwrap_or_else(none),
        dtype.unwrap_or_else(none),
        order.unwrap_or_else(|| PyString::new(py, "K").into_any()),
        casting.unwrap_or_else(|| PyString::new(py, "safe").into_any()),
        spec,
        threads,
    ))
}

/// What a compiled contraction is fixed to: its expression and plan, the
/// operand shapes, and the constant operands at their positions.
struct Fixed {
    expression: Py<Expression>,
    plan: Arc<einsum::Plan>,
    shapes: Vec<Vec<usize>>,
    /// Per operand position: the constant array there, if any.
    constants: Vec<Option<Py<PyAny>>>,
    /// How many arrays a call passes (the positions without a constant).
    args: usize,
    /// With a memory limit in bytes: the widest elements it was counted in
    /// (a call in wider ones goes to the Python layer, which refuses it).
    max_element_bytes: Option<usize>,
}

/// A contraction compiled for fixed operand shapes (the base of
/// `einsumc.ContractExpression`): parsed and planned once, so a call only
/// checks its arrays and runs. The common call (arrays of one supported
/// dtype and the fixed shapes, no `out=`) runs here without a Python
/// frame; any other call goes to the subclass's `_call_slow`.
#[pyclass(module = "einsumc._einsumc", subclass, frozen)]
pub(crate) struct Compiled {
    fixed: OnceLock<Fixed>,
}

#[pymethods]
impl Compiled {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Compiled {
        Compiled {
            fixed: OnceLock::new(),
        }
    }

    /// Fixes this contraction to `expression` for operands of `shapes`
    /// (planned now), with `constants` (position -> array) held, and, for a
    /// memory limit in bytes, the widest elements it was counted in. Once
    /// only.
    #[pyo3(signature = (expression, shapes, constants, max_element_bytes=None))]
    fn _fix(
        &self,
        py: Python<'_>,
        expression: Py<Expression>,
        shapes: Vec<Vec<usize>>,
        constants: &Bound<'_, PyDict>,
        max_element_bytes: Option<usize>,
    ) -> PyResult<()> {
        let plan = expression.get().plan(py, &shapes)?;
        let mut held: Vec<Option<Py<PyAny>>> = (0..shapes.len()).map(|_| None).collect();
        for (position, array) in constants.iter() {
            let position: usize = position.extract()?;
            let slot = held.get_mut(position).ok_or_else(|| {
                PyValueError::new_err(format!("constant position {position} is out of range"))
            })?;
            *slot = Some(array.unbind());
        }
        let args = held.iter().filter(|c| c.is_none()).count();
        self.fixed
            .set(Fixed {
                expression,
                plan,
                shapes,
                constants: held,
                args,
                max_element_bytes,
            })
            .map_err(|_| PyRuntimeError::new_err("a compiled contraction is fixed once"))
    }

    /// The compiled expression.
    #[getter]
    fn expression(&self, py: Python<'_>) -> PyResult<Py<Expression>> {
        Ok(self.fixed()?.expression.clone_ref(py))
    }

    #[pyo3(signature = (*arrays, out=None, backend=None, evaluate_constants=false, threads=None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        arrays: &Bound<'py, PyTuple>,
        out: Option<Bound<'py, PyAny>>,
        backend: Option<Bound<'py, PyAny>>,
        evaluate_constants: bool,
        threads: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let fixed = slf.get().fixed()?;
        let common = out.is_none()
            && !evaluate_constants
            && (backend.is_none() || default_str(backend.as_ref(), "auto"))
            && arrays.len() == fixed.args;
        if common {
            let mut given = arrays.iter();
            let full = fixed.constants.iter().map(|c| match c {
                Some(array) => Some(array.bind(py).clone()),
                None => given.next(),
            });
            if let Some(full) = full.collect::<Option<Vec<_>>>()
                && let Some(arrays) = same_dtype_arrays(full.into_iter())
                && arrays
                    .iter()
                    .zip(&fixed.shapes)
                    .all(|(a, s)| a.shape() == s.as_slice())
                && fixed
                    .max_element_bytes
                    .is_none_or(|max| arrays[0].dtype().itemsize() <= max)
            {
                let result = fixed.expression.get().run_arrays(
                    py,
                    arrays,
                    None,
                    par(threads)?,
                    Layout::K,
                    Some(&fixed.plan),
                )?;
                return unwrap_0d(result);
            }
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item(intern!(py, "out"), out)?;
        kwargs.set_item(intern!(py, "backend"), backend)?;
        kwargs.set_item(intern!(py, "evaluate_constants"), evaluate_constants)?;
        kwargs.set_item(intern!(py, "threads"), threads)?;
        slf.call_method(intern!(py, "_call_slow"), arrays, Some(&kwargs))
    }
}

impl Compiled {
    fn fixed(&self) -> PyResult<&Fixed> {
        self.fixed
            .get()
            .ok_or_else(|| PyRuntimeError::new_err("this compiled contraction was never fixed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_counts_input_terms() {
        assert_eq!(terms("ij,jk->ik"), 2);
        assert_eq!(terms("i"), 1);
        assert_eq!(terms(",i,->i"), 3);
    }

    #[test]
    fn k_order_follows_the_operands_strides() {
        let shapes: [&[usize]; 2] = [&[3, 4], &[4, 5]];
        let plan = |text: &str| einsum::explain(text, &shapes, &Default::default()).unwrap();
        // C-contiguous float64 operands (byte strides).
        let strides: [&[isize]; 2] = [&[32, 8], &[40, 8]];
        // numpy lays 'ij,jk->ik' out in C order and 'ij,jk->ki' in F order.
        assert_eq!(k_order(&plan("ij,jk->ik"), &strides).as_slice(), [0, 1]);
        assert_eq!(k_order(&plan("ij,jk->ki"), &strides).as_slice(), [1, 0]);
    }
}
