//! The library API: einsum on ndarray arrays, once or compiled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use einsum_exec::{
    Accum, Allocation, Element, GemmPolicy, Par, Program, RunOptions, StridedView, StridedViewMut,
    Workspace, Workspaces,
};
use einsum_plan::{Optimize, Plan, PlanOptions, bind, plan};
use einsum_syntax::Expr;
use ndarray::{ArrayD, ArrayView, ArrayViewMut, Dimension, IxDyn};
use smallvec::SmallVec;

use crate::Error;

/// Anything einsum can read as an operand: ndarray arrays and views of any
/// dimension, owned or borrowed (no copy is made).
pub trait Operand<T> {
    /// The operand as a dynamic-dimensional view (no copy).
    fn as_operand(&self) -> ArrayView<'_, T, IxDyn>;
}

impl<T, S: ndarray::Data<Elem = T>, D: Dimension> Operand<T> for ndarray::ArrayBase<S, D> {
    fn as_operand(&self) -> ArrayView<'_, T, IxDyn> {
        self.view().into_dyn()
    }
}

/// A reference to an operand is one too (`einsum!` borrows what it is given,
/// so `einsum!("ij->i", &a)` passes `&&a`).
impl<T, O: Operand<T> + ?Sized> Operand<T> for &O {
    fn as_operand(&self) -> ArrayView<'_, T, IxDyn> {
        (**self).as_operand()
    }
}

/// Operands of one type (a `Vec` or slice of arrays or views) as the list
/// [`einsum()`] and [`Einsum::run`] take, with no copy: a list literal
/// (`&[&a, &b]`) mixes types and ranks freely, a `Vec` needs this.
///
/// ```
/// use ndarray::Array2;
///
/// let layers: Vec<Array2<f64>> = (0..4).map(|_| Array2::eye(3)).collect();
/// let product = einsum::einsum("ab,bc,cd,de->ae", &einsum::operands(&layers))?;
/// assert_eq!(product, Array2::<f64>::eye(3).into_dyn());
/// # Ok::<(), einsum::Error>(())
/// ```
pub fn operands<T, O: Operand<T>>(arrays: &[O]) -> SmallVec<[&dyn Operand<T>; 4]> {
    arrays.iter().map(|a| a as &dyn Operand<T>).collect()
}

/// Options for [`Einsum`]: how to plan ([`PlanOptions`]) and how to run
/// ([`RunOptions`]), each stage's own options composed, nothing copied.
/// The setters here are shortcuts into them.
///
/// ```
/// use einsum::exec::{GemmPolicy, Par, RunOptions};
/// use einsum::{Optimize, Options, PlanOptions};
///
/// let a = Options::new().optimize(Optimize::Greedy).par(Par::Seq);
/// let b = Options::new()
///     .plan(PlanOptions::new().optimize(Optimize::Greedy))
///     .run(RunOptions::new().par(Par::Seq));
/// assert_eq!(a, b);
/// assert_eq!(Options::default(), Options::new().gemm(GemmPolicy::Auto));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Options {
    plan: PlanOptions,
    /// Its `accum` is set per call (`run` replaces, `run_into` says).
    run: RunOptions,
}

impl Options {
    /// The defaults: `Optimize::Auto`, no memory limit, all threads, GEMM
    /// where it pays ([`GemmPolicy::Auto`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// How to plan.
    pub fn plan(mut self, plan: PlanOptions) -> Self {
        self.plan = plan;
        self
    }

    /// How to run (its [`Accum`] is overridden by each call).
    pub fn run(mut self, run: RunOptions) -> Self {
        self.run = run;
        self
    }

    /// The contraction-order search.
    pub fn optimize(mut self, optimize: Optimize) -> Self {
        self.plan = self.plan.optimize(optimize);
        self
    }

    /// The largest temporary allowed, in elements; a contraction that no
    /// order fits is sliced (see [`Slicing`](einsum_plan::Slicing)).
    pub fn memory_limit(mut self, elements: Option<usize>) -> Self {
        self.plan = self.plan.memory_limit(elements);
        self
    }

    /// The largest temporary allowed, in bytes of elements of type `T`.
    pub fn memory_limit_bytes<T: Element>(mut self, bytes: Option<usize>) -> Self {
        self.plan = self
            .plan
            .memory_limit_bytes(bytes, std::mem::size_of::<T>());
        self
    }

    /// Whether a memory limit may be met by slicing (by default it may).
    pub fn slicing(mut self, slicing: einsum_plan::Slicing) -> Self {
        self.plan = self.plan.slicing(slicing);
        self
    }

    /// Parallelism.
    pub fn par(mut self, par: Par) -> Self {
        self.run = self.run.par(par);
        self
    }

    /// Which matrix products use the GEMM kernels (a planning option: the
    /// plan's fit decides how each step runs).
    pub fn gemm(mut self, gemm: GemmPolicy) -> Self {
        self.plan = self.plan.gemm(gemm);
        self
    }
}

/// Plans made by every compiled expression in this process.
static PLANS_MADE: AtomicUsize = AtomicUsize::new(0);

/// How many plans every [`Einsum`] and every `einsum!` call site in this
/// process has made so far: a cache hit makes none, so a hot loop whose count
/// grows is re-planning (its shapes keep changing).
///
/// ```standalone_crate
/// use ndarray::Array2;
///
/// let a = Array2::<f64>::ones((3, 3));
/// let before = einsum::plans_made();
/// for _ in 0..10 {
///     let _ = einsum::einsum!("ij,jk->ik", a, a);
/// }
/// assert_eq!(einsum::plans_made(), before + 1); // one plan for the call site
/// ```
pub fn plans_made() -> usize {
    PLANS_MADE.load(Ordering::Relaxed)
}

/// How many distinct operand shapes a compiled expression keeps plans for.
const PLAN_CACHE: usize = 8;

/// A compiled einsum: parsed once, planned once per operand shapes, run many
/// times.
///
/// ```
/// use ndarray::array;
///
/// let matmul = einsum::Einsum::new("ij,jk->ik")?;
/// let a = array![[1.0, 2.0], [3.0, 4.0]];
/// let b = array![[0.0, 1.0], [1.0, 0.0]];
/// for _ in 0..3 {
///     let c = matmul.run(&[&a, &b])?;
///     assert_eq!(c, array![[2.0, 1.0], [4.0, 3.0]].into_dyn());
/// }
/// assert_eq!(matmul.plans_made(), 1); // planned on the first call only
/// # Ok::<(), einsum::Error>(())
/// ```
#[derive(Debug)]
pub struct Einsum {
    expr: Expr,
    options: Options,
    cache: Mutex<Cache>,
    /// Temporaries' buffers, reused by the next run (a concurrent run that
    /// finds them busy uses its own).
    workspaces: Mutex<Workspaces>,
}

#[derive(Debug, Default)]
struct Cache {
    /// Plans by operand shapes, oldest first.
    plans: Vec<(Vec<Vec<usize>>, Arc<Plan>)>,
    /// Plans fitted to the strides they ran with, oldest first.
    programs: Vec<Arc<Program>>,
    made: usize,
}

/// Operands of one call as strided views (no copy), inline for up to four.
fn strided<'a, T>(operands: &'a [&'a dyn Operand<T>]) -> SmallVec<[StridedView<'a, T>; 4]> {
    operands
        .iter()
        .map(|o| StridedView::from(o.as_operand()))
        .collect()
}

impl Einsum {
    /// Parses `subscripts` (see [`crate::syntax`] for the language).
    pub fn new(subscripts: &str) -> Result<Einsum, Error> {
        Self::with_options(subscripts, Options::new())
    }

    /// Parses `subscripts`, to plan and run with `options`.
    pub fn with_options(subscripts: &str, options: Options) -> Result<Einsum, Error> {
        Ok(Self::from_expr(crate::parse(subscripts)?, options))
    }

    /// An already-lowered expression, to plan and run with `options` (what
    /// `einsum!` does with the expression it lowered at compile time).
    pub fn from_expr(expr: Expr, options: Options) -> Einsum {
        Einsum {
            expr,
            options,
            cache: Mutex::new(Cache::default()),
            workspaces: Mutex::new(Workspaces::new()),
        }
    }

    /// The lowered expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The plan for operands of these shapes (from the cache when it has it).
    pub fn plan<S: AsRef<[usize]>>(&self, shapes: &[S]) -> Result<Arc<Plan>, Error> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let hit = cache.plans.iter().position(|(cached, _)| {
            cached.len() == shapes.len()
                && cached
                    .iter()
                    .zip(shapes)
                    .all(|(c, s)| c.as_slice() == s.as_ref())
        });
        if let Some(i) = hit {
            return Ok(cache.plans[i].1.clone());
        }
        let made = Arc::new(plan(&bind(&self.expr, shapes)?, &self.options.plan)?);
        if cache.plans.len() == PLAN_CACHE {
            cache.plans.remove(0);
        }
        let key = shapes.iter().map(|s| s.as_ref().to_vec()).collect();
        cache.plans.push((key, made.clone()));
        cache.made += 1;
        PLANS_MADE.fetch_add(1, Ordering::Relaxed);
        Ok(made)
    }

    /// The plan for operands of these shapes if it is already made (a
    /// lookup only: never plans).
    pub fn planned<S: AsRef<[usize]>>(&self, shapes: &[S]) -> Option<Arc<Plan>> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .plans
            .iter()
            .find(|(cached, _)| {
                cached.len() == shapes.len()
                    && cached
                        .iter()
                        .zip(shapes)
                        .all(|(c, s)| c.as_slice() == s.as_ref())
            })
            .map(|(_, plan)| plan.clone())
    }

    /// How many plans this expression has made (a cache hit makes none).
    pub fn plans_made(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .made
    }

    /// Runs on `operands`, returning a new array.
    pub fn run<T: Element>(&self, operands: &[&dyn Operand<T>]) -> Result<ArrayD<T>, Error> {
        let inputs = strided(operands);
        let plan = self.plan_for(&inputs)?;
        let bound = plan.bound();
        let shape: SmallVec<[usize; 6]> = bound
            .output()
            .iter()
            .map(|&axis| bound.axis(axis).size)
            .collect();
        let mut out = zeros(&shape)?;
        self.run_planned(
            plan,
            &inputs,
            out.view_mut(),
            self.options.run.accum(Accum::Replace),
            |_| true,
        )?;
        Ok(out)
    }

    /// Runs on `operands`, writing (or, with [`Accum::Add`], adding) the
    /// result into `out`, which must have the result's shape.
    pub fn run_into<T: Element, D: Dimension>(
        &self,
        operands: &[&dyn Operand<T>],
        out: ArrayViewMut<'_, T, D>,
        accum: Accum,
    ) -> Result<(), Error> {
        let inputs = strided(operands);
        let plan = self.plan_for(&inputs)?;
        self.run_planned(
            plan,
            &inputs,
            out.into_dyn(),
            self.options.run.accum(accum),
            |_| true,
        )
    }

    /// Runs `plan` (one of this expression's, from [`plan`](Self::plan)
    /// or [`planned`](Self::planned)) on `operands` into `out` with `run`'s
    /// parallelism and accumulation instead of the expression's own: the
    /// call for a caller that already holds the plan or sets threads per
    /// call.
    ///
    /// # Errors
    /// As [`run_into`](Self::run_into), and when the operands' or `out`'s
    /// shapes are not the plan's.
    pub fn run_plan_into<T: Element, D: Dimension>(
        &self,
        plan: &Arc<Plan>,
        operands: &[&dyn Operand<T>],
        out: ArrayViewMut<'_, T, D>,
        run: RunOptions,
    ) -> Result<(), Error> {
        self.run_plan_into_interruptible(plan, operands, out, run, |_| true)
    }

    /// As [`run_plan_into`](Self::run_plan_into), asking `proceed(step)`
    /// before each step of the plan: when it returns `false` the run stops
    /// there with [`ExecError::Interrupted`](crate::exec::ExecError::Interrupted),
    /// `out` holding what the earlier steps wrote (how a caller answers
    /// Ctrl-C between the steps of a long contraction).
    ///
    /// # Errors
    /// As [`run_plan_into`](Self::run_plan_into), and `Interrupted`.
    pub fn run_plan_into_interruptible<T: Element, D: Dimension>(
        &self,
        plan: &Arc<Plan>,
        operands: &[&dyn Operand<T>],
        out: ArrayViewMut<'_, T, D>,
        run: RunOptions,
        proceed: impl FnMut(usize) -> bool,
    ) -> Result<(), Error> {
        let inputs = strided(operands);
        self.run_planned(plan.clone(), &inputs, out.into_dyn(), run, proceed)
    }

    /// Runs slice `slice` of `plan` (a sliced plan for these operands'
    /// shapes) alone, returning its result: the output's shape with extent
    /// 1 along each sliced axis the output holds. Results of slices at the
    /// same [`slice_position`](einsum_exec::slice_position) add up to that
    /// part of the output: how a distributed run splits the work.
    ///
    /// ```
    /// use einsum::{Einsum, Options};
    /// use ndarray::Array2;
    ///
    /// let e = Einsum::with_options("ab,bc,cd,da->", Options::new().memory_limit(Some(8)))?;
    /// let m = Array2::<f64>::from_elem((4, 4), 0.5);
    /// let plan = e.plan(&[[4, 4]; 4])?;
    /// let slices = plan.slices().expect("no order keeps every temporary within 8");
    /// let mut total = 0.0;
    /// for slice in 0..slices.count() as usize {
    ///     total += e.run_slice(&plan, slice, &[&m, &m, &m, &m])?.sum();
    /// }
    /// assert_eq!(total, e.run(&[&m, &m, &m, &m])?.sum());
    /// # Ok::<(), einsum::Error>(())
    /// ```
    ///
    /// # Errors
    /// If the plan is not sliced or has no such slice, or is not the plan
    /// for these operands' shapes.
    pub fn run_slice<T: Element>(
        &self,
        plan: &Arc<Plan>,
        slice: usize,
        operands: &[&dyn Operand<T>],
    ) -> Result<ArrayD<T>, Error> {
        self.run_slice_with(plan, slice, operands, self.options.run)
    }

    /// As [`run_slice`](Self::run_slice), with these run options (their
    /// `accum` is ignored: the result is new).
    ///
    /// # Errors
    /// As [`run_slice`](Self::run_slice).
    pub fn run_slice_with<T: Element>(
        &self,
        plan: &Arc<Plan>,
        slice: usize,
        operands: &[&dyn Operand<T>],
        run: RunOptions,
    ) -> Result<ArrayD<T>, Error> {
        let inputs = strided(operands);
        let shape = plan
            .slices()
            .map(|s| s.bound().output_shape())
            .unwrap_or_else(|| plan.output_shape());
        let mut result = zeros::<T>(&shape)?;
        let mut out = StridedViewMut::try_from(result.view_mut())?;
        let options = run.accum(einsum_exec::Accum::Replace);
        match self.workspaces.try_lock() {
            Ok(mut workspaces) => einsum_exec::run_slice(
                plan,
                slice,
                &inputs,
                &mut out,
                &options,
                workspaces.of::<T>(),
            )?,
            Err(_) => einsum_exec::run_slice(
                plan,
                slice,
                &inputs,
                &mut out,
                &options,
                &mut Workspace::new(),
            )?,
        }
        Ok(result)
    }

    fn plan_for<T>(&self, inputs: &[StridedView<'_, T>]) -> Result<Arc<Plan>, Error> {
        let shapes: SmallVec<[&[usize]; 4]> = inputs.iter().map(|v| v.shape()).collect();
        self.plan(&shapes)
    }

    fn run_planned<T: Element>(
        &self,
        plan: Arc<Plan>,
        inputs: &[StridedView<'_, T>],
        out: ArrayViewMut<'_, T, IxDyn>,
        options: RunOptions,
        proceed: impl FnMut(usize) -> bool,
    ) -> Result<(), Error> {
        let mut out = StridedViewMut::try_from(out)?;
        let program = self.program(plan, inputs, &out)?;
        match self.workspaces.try_lock() {
            Ok(mut workspaces) => program.run_interruptible(
                inputs,
                &mut out,
                &options,
                workspaces.of::<T>(),
                proceed,
            )?,
            Err(_) => program.run_interruptible(
                inputs,
                &mut out,
                &options,
                &mut Workspace::new(),
                proceed,
            )?,
        }
        Ok(())
    }

    /// `plan` fitted to these arrays' strides (from the cache when it has
    /// it: a loop over arrays of one layout fits once).
    fn program<T: Element>(
        &self,
        plan: Arc<Plan>,
        inputs: &[StridedView<'_, T>],
        out: &StridedViewMut<'_, T>,
    ) -> Result<Arc<Program>, Error> {
        let strides: SmallVec<[&[isize]; 4]> = inputs.iter().map(|v| v.strides()).collect();
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let hit = cache.programs.iter().rev().find(|p| {
            // The program runs the plan, or its variant for arrays its
            // blocks would cut across.
            let runs = Arc::ptr_eq(p.plan(), &plan)
                || plan.variants().iter().any(|v| Arc::ptr_eq(p.plan(), v));
            runs && p.fits::<T>(&strides, out.strides())
        });
        if let Some(program) = hit {
            return Ok(program.clone());
        }
        let program = Arc::new(Program::for_arrays(plan, inputs, out)?);
        if cache.programs.len() == PLAN_CACHE {
            cache.programs.remove(0);
        }
        cache.programs.push(program.clone());
        Ok(program)
    }
}

/// A zeroed array of `shape`, allocated fallibly (sizes checked in bytes,
/// huge pages advised before anything is written).
fn zeros<T: Element>(shape: &[usize]) -> Result<ArrayD<T>, Error> {
    let len = einsum_exec::check_shape(shape, std::mem::size_of::<T>(), Allocation::Result)?;
    let data = einsum_exec::try_zeroed(len, Allocation::Result)?;
    // Cannot fail: `check_shape` applied ndarray's own rule.
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|_| {
        Error::from(einsum_exec::ExecError::ShapeTooLarge {
            shape: shape.to_vec(),
            what: Allocation::Result,
        })
    })
}

/// Evaluates an einsum once: parse, plan, run.
///
/// ```
/// use ndarray::array;
///
/// // The seed example: Euclidean distances between row pairs.
/// let p = array![[0.0, 0.0], [1.0, 1.0]];
/// let q = array![[3.0, 4.0], [1.0, 1.0]];
/// let d = &p - &q;
/// let squared = einsum::einsum("ij,ij->i", &[&d, &d])?;
/// assert_eq!(squared.mapv(f64::sqrt), array![5.0, 0.0].into_dyn());
/// # Ok::<(), einsum::Error>(())
/// ```
pub fn einsum<T: Element>(
    subscripts: &str,
    operands: &[&dyn Operand<T>],
) -> Result<ArrayD<T>, Error> {
    Einsum::new(subscripts)?.run(operands)
}

/// Evaluates an einsum once into `out` (replacing or adding to it).
///
/// ```
/// use ndarray::{Array1, array};
///
/// let a = array![[1, 2], [3, 4]];
/// let mut totals = Array1::from_elem(2, 100);
/// einsum::einsum_into("ij->j", &[&a], totals.view_mut(), einsum::exec::Accum::Add)?;
/// assert_eq!(totals, array![104, 106]);
/// # Ok::<(), einsum::Error>(())
/// ```
pub fn einsum_into<T: Element, D: Dimension>(
    subscripts: &str,
    operands: &[&dyn Operand<T>],
    out: ArrayViewMut<'_, T, D>,
    accum: Accum,
) -> Result<(), Error> {
    Einsum::new(subscripts)?.run_into(operands, out, accum)
}
