//! Building a plan: single-operand sums, the order search, layouts chosen
//! from the result back, then every step emitted once.

use crate::axis::{Axis, AxisId};
use crate::bind::{Bound, Dim};
use crate::cost::{naive_flops, pair_flops_exact};
use crate::count::Count;
use crate::error::{PlanError, PlanErrorKind};
use crate::kernel::{self, Kernel};
use crate::order::{self, Optimize, OrderError, Path};
use crate::plan::{
    Arg, Dest, LazyFit, OperandId, Plan, PlanOptions, Slices, Slicing, Source, Step, TempId,
    optimize_name,
};

/// Plans a bound problem.
///
/// ```
/// use einsum_plan::{PlanOptions, bind, plan};
///
/// let expr = einsum_syntax::parse("ij,jk,kl,lm->im").unwrap().lower();
/// let shapes: [&[usize]; 4] = [&[1000, 1000], &[1000, 10], &[10, 1000], &[1000, 1000]];
/// let plan = plan(&bind(&expr, &shapes)?, &PlanOptions::new())?;
/// assert_eq!(plan.optimized_flops(), 60_000_000);
/// # Ok::<(), einsum_plan::PlanError>(())
/// ```
pub fn plan(bound: &Bound, options: &PlanOptions) -> Result<Plan, PlanError> {
    let axes = bound.axes();
    let size = |a: AxisId| axes[a.index()].size;
    let output = bound.output();
    let n = bound.operands().len();

    // Each operand's distinct axes once diagonals and broadcasts are views.
    let effective: Vec<Vec<AxisId>> = bound
        .operands()
        .iter()
        .map(|dims| {
            let mut seen = Vec::with_capacity(dims.len());
            for d in dims {
                if !d.broadcasts(axes) && !seen.contains(&d.axis) {
                    seen.push(d.axis);
                }
            }
            seen
        })
        .collect();
    let mut holders = vec![0usize; axes.len()];
    for eff in &effective {
        for a in eff {
            holders[a.index()] += 1;
        }
    }

    if n == 1 {
        let mut builder = Builder::new(axes);
        let summed: Vec<AxisId> = effective[0]
            .iter()
            .copied()
            .filter(|a| !output.contains(a))
            .collect();
        let len = saturating_product(output, size);
        let kernel = if summed.is_empty() {
            Kernel::Copy { len }
        } else {
            Kernel::Reduce {
                len,
                sum: saturating_product(&summed, size),
            }
        };
        let flops = if summed.is_empty() {
            Count::ZERO
        } else {
            product(&effective[0], size)
        };
        let raw = Arg {
            source: Source::Operand(OperandId(0)),
            dims: bound.operands()[0].clone(),
        };
        builder.push(
            Step {
                args: vec![raw],
                out: Dest::Output,
                out_axes: output.to_vec(),
                kernel,
                flops: 0,
                moved: 0,
            },
            flops,
        );
        return Ok(builder.finish(bound, None, Path(Vec::new()), options, None));
    }

    // Axes only one operand holds are summed away first, in a step of their
    // own, before the order search.
    let presum: Vec<Option<(Vec<AxisId>, Vec<AxisId>)>> = effective
        .iter()
        .map(|eff| {
            let (summed, kept): (Vec<AxisId>, Vec<AxisId>) = eff
                .iter()
                .partition(|a| holders[a.index()] == 1 && !output.contains(a));
            (!summed.is_empty()).then_some((kept, summed))
        })
        .collect();
    let search_inputs: Vec<Vec<usize>> = effective
        .iter()
        .zip(&presum)
        .map(|(eff, pre)| {
            let kept = pre.as_ref().map_or(eff, |(kept, _)| kept);
            kept.iter().map(|a| a.index()).collect()
        })
        .collect();

    let sizes: Vec<usize> = axes.iter().map(|a| a.size).collect();
    let text = bound.expr().text();
    let out_indices: Vec<usize> = output.iter().map(|a| a.index()).collect();
    let resolved = order::resolve(&options.optimize, n);
    let failed = |e| order_error(e, options.memory_limit, &resolved, text);
    let temp_inputs: Vec<bool> = presum.iter().map(Option::is_some).collect();
    // The slices of `tree` along `axes`, each axis in the largest chunks
    // the limit allows (an axis whose chunk is its whole size is not
    // sliced); with no limit, one index per slice.
    let slices_of = |tree: &dyn order::ContractionTree,
                     axes: Vec<usize>,
                     unsliced_flops: Count,
                     limit: Option<usize>| {
        let chunks = match limit {
            Some(limit) => order::slice_chunks(tree, &temp_inputs, &sizes, &axes, limit),
            None => vec![1; axes.len()],
        };
        let (axes, chunks): (Vec<AxisId>, Vec<usize>) = axes
            .into_iter()
            .zip(chunks)
            .filter(|&(a, c)| c < sizes[a])
            .map(|(a, c)| (AxisId::new(a), c))
            .unzip();
        (!axes.is_empty()).then(|| Slices {
            bound: bound.sliced(&axes, &chunks),
            count: Count::product(axes.iter().zip(&chunks).map(|(&a, &c)| size(a) / c)),
            axes,
            chunks,
            unsliced_flops,
            limit: limit.unwrap_or(usize::MAX),
            for_cache: false,
        })
    };
    let (tree, slices) = match (options.memory_limit, &options.slicing) {
        (limit, Slicing::Given(labels)) => {
            let mut given = Vec::with_capacity(labels.len());
            for &label in labels {
                let Some(a) = axes.iter().position(|a| a.name == label) else {
                    let reason = format!("the sliced label '{label}' is not the expression's");
                    return Err(failed(OrderError::PathInvalid(reason)));
                };
                if axes[a].size > 1 && !given.contains(&a) {
                    given.push(a);
                }
            }
            given.sort_unstable();
            let tree = order::find(
                &search_inputs,
                &out_indices,
                &sizes,
                None,
                options.objective,
                &resolved,
            )
            .map_err(failed)?;
            let unsliced_flops = order::tree_flops(&*tree, &sizes);
            // With a limit, the chunks the planner that chose these axes
            // found: the same order, axes and limit give the same chunks.
            let slices = slices_of(&*tree, given, unsliced_flops, limit);
            (tree, slices)
        }
        (Some(limit), Slicing::WhenNeeded) => {
            let problem = order::Problem {
                inputs: &search_inputs,
                output: &out_indices,
                sizes: &sizes,
                temp_inputs: &temp_inputs,
                objective: options.objective,
            };
            let sliced = order::find_sliced(&problem, limit, &resolved).map_err(failed)?;
            let slices = slices_of(
                &*sliced.tree,
                sliced.axes,
                sliced.unsliced_flops,
                Some(limit),
            );
            (sliced.tree, slices)
        }
        _ => {
            let tree = order::find(
                &search_inputs,
                &out_indices,
                &sizes,
                options.memory_limit,
                options.objective,
                &resolved,
            )
            .map_err(failed)?;
            // With no memory limit, a memory-bound chain whose temporaries
            // would spill from the cache runs in blocks.
            let blocking = options.memory_limit.is_none() && options.slicing == Slicing::WhenNeeded;
            let blocks = blocking
                .then(|| {
                    let operands: Vec<Vec<usize>> = bound
                        .operands()
                        .iter()
                        .map(|dims| {
                            let mut axes: Vec<usize> = Vec::new();
                            for d in dims.iter().filter(|d| d.extent > 1) {
                                if !axes.contains(&d.axis.index()) {
                                    axes.push(d.axis.index());
                                }
                            }
                            axes
                        })
                        .collect();
                    order::cache_blocks(&*tree, &temp_inputs, &sizes, &operands, options.blocks_for)
                })
                .flatten()
                .map(|(axis, chunk)| {
                    let axis_id = AxisId::new(axis);
                    Slices {
                        bound: bound.sliced(&[axis_id], &[chunk]),
                        count: Count::product([sizes[axis] / chunk]),
                        axes: vec![axis_id],
                        chunks: vec![chunk],
                        unsliced_flops: order::tree_flops(&*tree, &sizes),
                        limit: order::BLOCK_TEMP,
                        for_cache: true,
                    }
                });
            (tree, blocks)
        }
    };
    // From here on, the problem one slice computes (the whole problem when
    // nothing is sliced): the steps are built over it.
    let full = bound;
    let step_bound = slices.as_ref().map(|s| s.bound.clone());
    let bound = step_bound.as_ref().unwrap_or(full);
    let axes = bound.axes();
    let size = |a: AxisId| axes[a.index()].size;
    let mut builder = Builder::new(axes);
    let raw = |k: usize| Arg {
        source: Source::Operand(OperandId(k)),
        dims: bound.operands()[k].clone(),
    };
    let root = tree.root();
    let children = |node: usize| tree.children(node).expect("a contraction has two children");

    // Every node's axes: an operand's after any sum of its own, a
    // contraction's in the order its children meet them (its left's, then
    // its right's), which is the order a K group takes when neither side's
    // memory is fixed. Nodes are numbered as in SSA form: the operands,
    // then the contractions in the order they run.
    let mut sets: Vec<Vec<AxisId>> = vec![Vec::new(); tree.nodes()];
    for (set, input) in sets.iter_mut().zip(&search_inputs) {
        *set = input.iter().map(|&i| AxisId::new(i)).collect();
    }
    for node in tree.post_order() {
        let (a, b) = children(node);
        let result = tree.axes(node);
        let mut axes: Vec<AxisId> = Vec::with_capacity(result.len());
        for &axis in sets[a].iter().chain(&sets[b]) {
            if result.contains(&axis.index()) && !axes.contains(&axis) {
                axes.push(axis);
            }
        }
        sets[node] = axes;
    }
    // Every node but the root is read by exactly one contraction, so its
    // layout is its reader's choice: from the root down (each result's
    // layout known before its producer is reached), each pair puts its
    // left input first (the one holding the result's first free axis, so
    // the result is row-major in GEMM's m, n), and lays out each input it
    // reads from the workspace as batch axes in the result's order, then
    // its free axes likewise, then the summed axes in the order of the
    // other input (when that is an operand, whose memory is fixed), K last
    // in the left input and first in the right. A GEMM then reads each
    // group as one stride.
    let in_workspace = |v: usize| v >= tree.leaves() || presum[v].is_some();
    let mut layouts: Vec<Option<Vec<AxisId>>> = vec![None; sets.len()];
    let mut pairs: Vec<(usize, usize, usize, Vec<AxisId>, Kernel)> =
        Vec::with_capacity(tree.post_order().len());
    for node in tree.post_order().rev() {
        let (a, b) = children(node);
        let out = if node == root {
            output.to_vec()
        } else {
            layouts[node].clone().unwrap_or_else(|| sets[node].clone())
        };
        let first_free = out
            .iter()
            .find(|x| !(sets[a].contains(x) && sets[b].contains(x)));
        let (l, r) = if first_free.is_some_and(|x| sets[b].contains(x)) {
            (b, a)
        } else {
            (a, b)
        };
        let (left, right) = (&sets[l], &sets[r]);
        let by = |order: &[AxisId], keep: &dyn Fn(&AxisId) -> bool| -> Vec<AxisId> {
            order.iter().copied().filter(|x| keep(x)).collect()
        };
        let shared = |x: &AxisId| left.contains(x) && right.contains(x) && !out.contains(x);
        let k_order = if !in_workspace(r) {
            by(right, &shared)
        } else {
            by(left, &shared)
        };
        let batch = by(&out, &|x: &AxisId| left.contains(x) && right.contains(x));
        for (v, own, k_first) in [(l, left, false), (r, right, true)] {
            if !in_workspace(v) {
                continue;
            }
            let free = by(&out, &|x: &AxisId| own.contains(x) && !batch.contains(x));
            let mut layout = batch.clone();
            if k_first {
                layout.extend(k_order.iter().copied());
                layout.extend(free);
            } else {
                layout.extend(free);
                layout.extend(k_order.iter().copied());
            }
            debug_assert_eq!(layout.len(), own.len());
            layouts[v] = Some(layout);
        }
        let kernel = kernel::pairwise(left, right, &out, size);
        pairs.push((node, l, r, out, kernel));
    }
    pairs.reverse();

    // The steps, in execution order, each emitted once with its layout;
    // `current[v]` is how a step reads node `v`.
    let mut current: Vec<Option<Arg>> = vec![None; sets.len()];
    for (k, pre) in presum.iter().enumerate() {
        let Some((kept, summed)) = pre else {
            current[k] = Some(raw(k));
            continue;
        };
        let layout = layouts[k].clone().unwrap_or_else(|| kept.clone());
        let t = builder.temp(layout.clone());
        builder.push(
            Step {
                args: vec![raw(k)],
                out: Dest::Temp(t),
                out_axes: layout,
                kernel: Kernel::Reduce {
                    len: saturating_product(kept, size),
                    sum: saturating_product(summed, size),
                },
                flops: 0,
                moved: 0,
            },
            product(&effective[k], size),
        );
        current[k] = Some(builder.arg(t));
    }
    let read = |current: &[Option<Arg>], v: usize| {
        current[v]
            .clone()
            .expect("a node is computed before it is read")
    };
    for (node, l, r, out_axes, kernel) in pairs {
        let union: Vec<AxisId> = {
            let mut u = sets[l].clone();
            u.extend(sets[r].iter().filter(|x| !sets[l].contains(x)));
            u
        };
        let sums = union.len() != sets[node].len();
        let flops = pair_flops_exact(product(&union, size), sums);
        let out = if node == root {
            Dest::Output
        } else {
            Dest::Temp(builder.temp(out_axes.clone()))
        };
        builder.push(
            Step {
                args: vec![read(&current, l), read(&current, r)],
                out,
                out_axes,
                kernel,
                flops: 0,
                moved: 0,
            },
            flops,
        );
        // The last step writes the output, which nothing reads.
        if let Dest::Temp(t) = out {
            current[node] = Some(builder.arg(t));
        }
    }
    let path = Path::from_ssa(tree.leaves(), &tree.path());
    let mut plan = builder.finish(full, slices, path, options, Some(resolved));
    if plan.blocks().is_some() && options.blocks_for == order::MemoryOrder::C {
        // The same order in blocks for Fortran order, then whole, for
        // operands whose layout the blocks would cut across
        // (`Plan::for_layout`).
        let same_order = options.clone().optimize(Optimize::Path(plan.path.clone()));
        let fortran = PlanOptions {
            blocks_for: order::MemoryOrder::F,
            ..same_order.clone()
        };
        let whole = same_order.slicing(Slicing::Never);
        for variant_options in [fortran, whole] {
            let mut variant = self::plan(full, &variant_options)?;
            if variant.blocks().is_none() && variant_options.slicing != Slicing::Never {
                // No blocks suit Fortran order: the plan whole serves it.
                continue;
            }
            variant.optimize = plan.optimize.clone();
            variant.resolved = plan.resolved.clone();
            plan.variants.push(std::sync::Arc::new(variant));
        }
    }
    Ok(plan)
}

/// Elements a step reads (each input through its distinct axes: a diagonal
/// or broadcast reads less than its shape) and writes.
fn moved(axes: &[Axis], step: &Step) -> Count {
    let mut total = Count::ZERO;
    for arg in &step.args {
        let mut read: Vec<AxisId> = arg
            .dims
            .iter()
            .filter(|d| d.extent == axes[d.axis.index()].size)
            .map(|d| d.axis)
            .collect();
        read.sort_unstable();
        read.dedup();
        total += &product(&read, |a| axes[a.index()].size);
    }
    &total + &product(&step.out_axes, |a| axes[a.index()].size)
}

fn order_error(
    error: OrderError,
    memory_limit: Option<usize>,
    optimize: &Optimize,
    text: &str,
) -> PlanError {
    let whole = einsum_syntax::Span::new(0, text.len());
    let kind = match error {
        OrderError::MemoryLimit { needed } => PlanErrorKind::MemoryLimitExceeded {
            limit: memory_limit.map_or(u128::MAX, |l| l as u128),
            needed,
        },
        OrderError::OperandsTooMany { operands, limit } => PlanErrorKind::OperandsTooMany {
            optimizer: optimize_name(optimize),
            operands,
            limit,
        },
        OrderError::PathInvalid(reason) => PlanErrorKind::PathInvalid { reason },
        OrderError::AxesTooMany(axes) => PlanErrorKind::AxesTooMany { axes },
    };
    PlanError::new(kind, text, vec![whole])
}

/// A kernel's extent: temporaries are not bounded by binding, so a product
/// can pass `usize`; it saturates (such a plan cannot run, but it can be
/// reported, and the executor fails to allocate it with an error).
fn saturating_product(axes: &[AxisId], size: impl Fn(AxisId) -> usize) -> usize {
    axes.iter()
        .fold(1usize, |acc, &a| acc.saturating_mul(size(a)))
}

/// The product of the axes' sizes, exactly.
fn product(axes: &[AxisId], size: impl Fn(AxisId) -> usize) -> Count {
    Count::product(axes.iter().map(|&a| size(a)))
}

struct Builder<'a> {
    axes: &'a [Axis],
    steps: Vec<Step>,
    /// Each step's FLOPs, exactly.
    flops: Vec<Count>,
    temps: Vec<Vec<AxisId>>,
}

impl<'a> Builder<'a> {
    fn new(axes: &'a [Axis]) -> Self {
        Builder {
            axes,
            steps: Vec::new(),
            flops: Vec::new(),
            temps: Vec::new(),
        }
    }

    /// Appends `step`, which does `flops` FLOPs.
    fn push(&mut self, mut step: Step, flops: Count) {
        step.flops = flops.saturating_u128();
        self.steps.push(step);
        self.flops.push(flops);
    }

    fn temp(&mut self, axes: Vec<AxisId>) -> TempId {
        self.temps.push(axes);
        TempId(self.temps.len() - 1)
    }

    fn arg(&self, t: TempId) -> Arg {
        let dims = self.temps[t.0]
            .iter()
            .map(|&axis| Dim {
                axis,
                extent: self.axes[axis.index()].size,
            })
            .collect();
        Arg {
            source: Source::Temp(t),
            dims,
        }
    }

    /// The plan of these steps for `bound`, the whole problem; the steps
    /// compute one slice of it when it is sliced.
    fn finish(
        mut self,
        bound: &Bound,
        slices: Option<Slices>,
        path: Path,
        options: &PlanOptions,
        resolved: Option<Optimize>,
    ) -> Plan {
        let axes = self.axes;
        let step_moved: Vec<Count> = self.steps.iter().map(|step| moved(axes, step)).collect();
        for (step, moved) in self.steps.iter_mut().zip(&step_moved) {
            step.moved = moved.saturating_u128();
        }
        // Per slice: the step's sizes.
        let size = |a: AxisId| self.axes[a.index()].size;
        let temp_len: Vec<Count> = self.temps.iter().map(|t| product(t, size)).collect();
        let largest_temporary = temp_len.iter().max().cloned().unwrap_or(Count::ZERO);
        let output_len = product(bound.output(), size);
        let largest_intermediate = largest_temporary.clone().max(output_len);
        // The whole problem's.
        let full_size = |a: AxisId| bound.axis(a).size;
        let all: Vec<AxisId> = (0..bound.axes().len()).map(AxisId::new).collect();
        let sums = all.iter().any(|a| !bound.output().contains(a));
        let points = product(&all, full_size);
        let per_slice: Count = self.flops.iter().cloned().sum();
        let optimized_flops = match &slices {
            Some(s) => per_slice.mul(&s.count),
            None => per_slice,
        };
        Plan {
            bound: bound.clone(),
            slices,
            naive_flops: naive_flops(points, bound.operands().len(), sums),
            optimized_flops,
            steps: self.steps,
            temps: self.temps,
            gemm: options.gemm,
            c_order: LazyFit::default(),
            path,
            optimize: options.optimize.clone(),
            resolved,
            largest_intermediate,
            largest_temporary,
            step_flops: self.flops,
            step_moved,
            variants: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind;
    use crate::fit::{self, Fitted, Target};

    fn plan_of(text: &str, shapes: &[&[usize]], optimize: Optimize) -> Plan {
        let expr = einsum_syntax::parse(text).unwrap().lower();
        let bound = bind(&expr, shapes).unwrap();
        plan(&bound, &PlanOptions::new().optimize(optimize)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn numpy_style_scientific_numbers() {
        let sci = |v: u128| Count::from(v).sci();
        assert_eq!(sci(40_000_000_000_000), "4.000e+13");
        assert_eq!(sci(0), "0.000e+00");
        assert_eq!(sci(1234), "1.234e+03");
    }

    #[test]
    fn seed_example_is_one_batched_dot() {
        let plan = plan_of("ij,ij->i", &[&[1000, 1000], &[1000, 1000]], Optimize::Auto);
        assert_eq!(plan.steps().len(), 1);
        assert_eq!(
            plan.steps()[0].kernel,
            Kernel::Dot {
                batch: 1000,
                k: 1000
            }
        );
        assert_eq!(plan.naive_flops(), 2_000_000);
        assert_eq!(plan.optimized_flops(), 2_000_000);
    }

    #[test]
    fn single_operand_sums_come_first() {
        let plan = plan_of("ij,jk->k", &[&[3, 4], &[4, 5]], Optimize::Auto);
        assert_eq!(plan.steps()[0].kernel, Kernel::Reduce { len: 4, sum: 3 });
        assert_eq!(plan.step_subscripts(&plan.steps()[0]), "ij->j");
        // The matrix is put on the left: its free axis k leads the result.
        assert_eq!(plan.step_subscripts(&plan.steps()[1]), "jk,j->k");
        assert_eq!(
            plan.steps()[1].kernel,
            Kernel::Gemv {
                batch: 1,
                m: 5,
                k: 4,
                matrix: crate::kernel::Side::Left
            }
        );
    }

    #[test]
    fn intermediates_are_laid_out_for_their_reader() {
        // t0 = ij,jk->ik is read by ik,kl->il as the left matrix: [i, k].
        let plan = plan_of(
            "ij,jk,kl->il",
            &[&[2, 30], &[30, 4], &[4, 50]],
            Optimize::Greedy,
        );
        let step = &plan.steps()[1];
        assert_eq!(plan.step_subscripts(step), "ik,kl->il");
    }

    #[test]
    fn real_strides_decide_repacks() {
        // abcd,dcfe->abef copies its right operand in C order (K is cd in
        // one operand, dc in the other); with the right operand's strides
        // saying its K axes run c-major, it copies nothing.
        let expr = einsum_syntax::parse("abcd,dcfe->abef").unwrap().lower();
        let shapes: [&[usize]; 2] = [&[8, 8, 8, 8], &[8, 8, 8, 8]];
        let plan = plan(&bind(&expr, &shapes).unwrap(), &PlanOptions::new()).unwrap();
        let repacks = |fitted: &Fitted| match &fitted.steps()[0].lowered {
            fit::Lowered::Gemm(g) => g.repacks.len(),
            other => panic!("not a GEMM: {other:?}"),
        };
        assert_eq!(repacks(plan.c_order()), 1, "{plan}");
        assert_eq!(plan.workspace_elements(), 8 * 8 * 8 * 8);
        // Right operand dims d, c, f, e with strides making c outer to d and
        // e outer to f: memory order c, d, e, f.
        let real = fit::fit(
            &plan,
            &[&[512, 64, 8, 1], &[64, 512, 1, 8]],
            &[512, 64, 8, 1],
            Target::BLAS,
        )
        .unwrap();
        assert_eq!(repacks(&real), 0, "{}", plan.display_fitted(&real));
        assert_eq!(real.workspace_elements(), 0);
    }

    #[test]
    fn steps_count_the_elements_they_move() {
        let plan = plan_of("ij,jk->ik", &[&[2, 3], &[3, 4]], Optimize::Auto);
        assert_eq!(plan.steps()[0].moved, 6 + 12 + 8);
        // A diagonal reads n elements, not n*n.
        let plan = plan_of("ii->i", &[&[5, 5]], Optimize::Auto);
        assert_eq!(plan.moved_elements(), 5 + 5);
    }

    /// `2^k` in decimal, by doubling digits: independent of `Count`.
    pub(crate) fn pow2_decimal(k: u32) -> String {
        let mut digits = vec![1u8]; // least significant first
        for _ in 0..k {
            let mut carry = 0;
            for d in &mut digits {
                let v = *d * 2 + carry;
                *d = v % 10;
                carry = v / 10;
            }
            if carry > 0 {
                digits.push(carry);
            }
        }
        digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
    }

    /// `a + b` for decimal strings.
    pub(crate) fn add_decimal(a: &str, b: &str) -> String {
        let (a, b): (Vec<u8>, Vec<u8>) = (
            a.bytes().rev().map(|c| c - b'0').collect(),
            b.bytes().rev().map(|c| c - b'0').collect(),
        );
        let mut out = Vec::new();
        let mut carry = 0;
        for i in 0..a.len().max(b.len()) {
            let v = a.get(i).unwrap_or(&0) + b.get(i).unwrap_or(&0) + carry;
            out.push(v % 10);
            carry = v / 10;
        }
        if carry > 0 {
            out.push(carry);
        }
        out.iter().rev().map(|d| char::from(b'0' + d)).collect()
    }

    #[test]
    fn figures_past_u128_are_exact() {
        // ij,jk,ki-> with i = k = 2^40 and j = 2^60, ij and jk first: that
        // step does 2 * 2^140 FLOPs into a temporary of 2^80 elements, the
        // next 2 * 2^80; numpy's naive count is 3 * 2^140.
        let (i, j) = (1usize << 40, 1usize << 60);
        let path = Optimize::Path(Path(vec![(0, 1), (0, 1)]));
        let plan = plan_of("ij,jk,ki->", &[&[i, j], &[j, i], &[i, i]], path);
        let report = plan.report();
        let flops = add_decimal(&pow2_decimal(141), &pow2_decimal(81));
        assert_eq!(report.optimized_flops.to_string(), flops);
        let naive = add_decimal(&pow2_decimal(141), &pow2_decimal(140));
        assert_eq!(report.naive_flops.to_string(), naive);
        assert_eq!(report.steps[0].flops.to_string(), pow2_decimal(141));
        let temp = pow2_decimal(80);
        assert_eq!(report.largest_temporary.to_string(), temp);
        assert_eq!(report.largest_intermediate.to_string(), temp);
        assert_eq!(report.workspace_elements.to_string(), temp);
        // Read 2^100 twice and write 2^80, then read 2^80 twice, write 1.
        let moved = [101, 80, 80, 80].iter().fold("1".to_owned(), |acc, &k| {
            add_decimal(&acc, &pow2_decimal(k))
        });
        assert_eq!(report.moved_elements.to_string(), moved);
        assert_eq!(report.speedup, 1.5);
        // The text report: numpy's format, from the exact figures.
        let text = plan.to_string();
        for line in [
            "      Naive FLOP count:  4.181e+42",
            "  Optimized FLOP count:  2.788e+42",
            &format!("     Largest temporary:  {temp} elements"),
            &format!("             Workspace:  {temp} elements"),
            "        Elements moved:  2.535e+30",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
        // The u128 getters saturate, as documented.
        assert_eq!(plan.optimized_flops(), u128::MAX);
        assert_eq!(plan.largest_temporary(), usize::MAX);
    }

    #[test]
    fn no_shape_makes_the_planner_panic() {
        let big = usize::MAX;
        let half = 1usize << 63;
        // 64 labels of size 2^63: 2^4032 index points.
        let term: String = ('a'..='z')
            .chain('A'..='Z')
            .chain((0..12).filter_map(|i| char::from_u32(0x3b1 + i)))
            .collect();
        let wide = format!("{term},{term}->");
        let many: Vec<usize> = vec![half; 64];
        let cases: [(&str, Vec<Vec<usize>>); 6] = [
            ("i->", vec![vec![(1 << 63) - 1]]),
            ("ij->ij", vec![vec![0, big]]),
            ("ij->", vec![vec![big, big]]),
            ("ij,jk->", vec![vec![big, big], vec![big, big]]),
            ("ij,jk,kl,li->", vec![vec![half, half]; 4]),
            (&wide, vec![many.clone(), many]),
        ];
        for (text, shapes) in cases {
            let expr = einsum_syntax::parse(text).unwrap().lower();
            let shapes: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
            let bound = bind(&expr, &shapes).unwrap();
            for optimize in [
                Optimize::Auto,
                Optimize::Optimal,
                Optimize::Dp,
                Optimize::Greedy,
                Optimize::Branch(0),
                Optimize::RandomGreedy { trials: 4, seed: 1 },
                Optimize::Reconfigure {
                    trials: 3,
                    subtree: 10,
                    seed: 0,
                },
                Optimize::Naive,
            ] {
                for limit in [None, Some(big), Some(1000)] {
                    let options = PlanOptions::new()
                        .optimize(optimize.clone())
                        .memory_limit(limit);
                    match plan(&bound, &options) {
                        Ok(p) => {
                            let _ = (p.to_string(), p.report());
                        }
                        Err(e) => assert!(
                            matches!(e.kind(), PlanErrorKind::MemoryLimitExceeded { .. }),
                            "{text} {optimize:?}: {e}"
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn a_sliced_plan_is_made_again_from_its_path_and_slices() {
        let expr = einsum_syntax::parse("ab,bc,cd,de,ea->").unwrap().lower();
        let shapes: [&[usize]; 5] = [&[30, 30]; 5];
        let bound = bind(&expr, &shapes).unwrap();
        let sliced = plan(&bound, &PlanOptions::new().memory_limit(Some(100))).unwrap();
        let slices = sliced.slices().expect("no order fits 100");
        let labels: Vec<char> = slices.axes().iter().map(|&a| bound.axis(a).name).collect();
        let again = plan(
            &bound,
            &PlanOptions::new()
                .optimize(Optimize::Path(sliced.path().clone()))
                .memory_limit(Some(100))
                .slicing(Slicing::Given(labels)),
        )
        .unwrap();
        assert_eq!(again.steps(), sliced.steps());
        assert_eq!(again.slices().unwrap().axes(), slices.axes());
        assert_eq!(again.slices().unwrap().chunks(), slices.chunks());
        assert_eq!(again.optimized_flops(), sliced.optimized_flops());
        let unknown = PlanOptions::new().slicing(Slicing::Given(vec!['z']));
        assert!(matches!(
            plan(&bound, &unknown).unwrap_err().kind(),
            PlanErrorKind::PathInvalid { .. }
        ));
    }

    #[test]
    fn slices_take_chunks_the_limit_leaves_room_for() {
        // A ring of 256x256 matrices at 16,384 elements: one index of 'a'
        // per slice leaves two 256-element temporaries; chunks of 8 use
        // half the limit (a growth that saves no work leaves room for two
        // slices at once), and keep the matrix products products.
        let expr = einsum_syntax::parse("ab,bc,cd,da->").unwrap().lower();
        let shapes: [&[usize]; 4] = [&[256, 256]; 4];
        let bound = bind(&expr, &shapes).unwrap();
        let ring = plan(&bound, &PlanOptions::new().memory_limit(Some(16384))).unwrap();
        let slices = ring.slices().unwrap();
        assert_eq!(slices.chunks(), [8]);
        assert_eq!(slices.count(), 32);
        assert!(2 * ring.largest_temporary() < 16384 / 2 + 1);
        assert!(
            ring.to_string()
                .contains("a (256 in chunks of 8): 32 slices")
        );
        // At 4,096 the same growth would reach chunks of 2 only: too thin
        // to pay, so one index per slice.
        let thin = plan(&bound, &PlanOptions::new().memory_limit(Some(4096))).unwrap();
        assert_eq!(thin.slices().unwrap().chunks(), [1]);
        // Random networks: chunks divide their axes, every temporary fits,
        // and the total work is never more than one index per slice gives
        // on the same order and axes. (Sliced to 1/16 of their largest
        // temporary, these rarely leave room for chunks at all: their
        // temporaries fill the limit one index at a time.)
        for seed in 0..12 {
            // Bonds of 4, 8 or 16 (chunks of 2 and more), 16 to 32 tensors.
            let (inputs, sizes) =
                crate::order::tests::random_regular(16 + 2 * seed as usize, 3, seed, |r| {
                    4 << (r.next_u64() % 3)
                });
            let names: Vec<char> = (0..sizes.len())
                .map(|i| char::from_u32(0x4e00 + i as u32).unwrap())
                .collect();
            let text = inputs
                .iter()
                .map(|t| t.iter().map(|&a| names[a]).collect::<String>())
                .collect::<Vec<_>>()
                .join(",")
                + "->";
            let expr = einsum_syntax::parse(&text).unwrap().lower();
            let shapes: Vec<Vec<usize>> = inputs
                .iter()
                .map(|t| t.iter().map(|&a| sizes[a]).collect())
                .collect();
            let bound = bind(&expr, &shapes).unwrap();
            let free = plan(&bound, &PlanOptions::new()).unwrap();
            let limit = (free.largest_temporary() / 16).max(1);
            let sliced = plan(&bound, &PlanOptions::new().memory_limit(Some(limit))).unwrap();
            let Some(slices) = sliced.slices() else {
                continue;
            };
            assert!(sliced.largest_temporary() <= limit, "seed {seed}");
            for (&a, &c) in slices.axes().iter().zip(slices.chunks()) {
                assert!(c >= 1 && bound.axis(a).size.is_multiple_of(c) && c < bound.axis(a).size);
            }
            let labels: Vec<char> = slices.axes().iter().map(|&a| bound.axis(a).name).collect();
            let single = plan(
                &bound,
                &PlanOptions::new()
                    .optimize(Optimize::Path(sliced.path().clone()))
                    .slicing(Slicing::Given(labels)),
            )
            .unwrap();
            assert!(single.slices().unwrap().chunks().iter().all(|&c| c == 1));
            assert!(
                sliced.optimized_flops() <= single.optimized_flops(),
                "seed {seed}: chunks cost more work"
            );
        }
    }

    #[test]
    fn memory_limit_is_respected_or_refused() {
        let expr = einsum_syntax::parse("ij,jk,kl->il").unwrap().lower();
        let shapes: [&[usize]; 3] = [&[100, 2], &[2, 100], &[100, 100]];
        let bound = bind(&expr, &shapes).unwrap();
        for optimize in [
            Optimize::Optimal,
            Optimize::Dp,
            Optimize::Greedy,
            Optimize::Branch(1),
            Optimize::Naive,
        ] {
            // ij,jk first needs 100x100; jk,kl first needs 2x100.
            let ok = plan(
                &bound,
                &PlanOptions::new()
                    .optimize(optimize.clone())
                    .memory_limit(Some(200))
                    .slicing(Slicing::Never),
            );
            match (&optimize, ok) {
                (Optimize::Naive, Err(e)) => {
                    assert!(
                        matches!(e.kind(), PlanErrorKind::MemoryLimitExceeded { .. }),
                        "{e}"
                    )
                }
                (_, Ok(p)) => assert!(p.largest_temporary() <= 200, "{optimize:?}"),
                (_, Err(e)) => panic!("{optimize:?}: {e}"),
            }
            // Unsliced, no order fits 100; sliced, every one does.
            let limited = PlanOptions::new()
                .optimize(optimize.clone())
                .memory_limit(Some(100));
            let refused = plan(&bound, &limited.clone().slicing(Slicing::Never));
            assert!(refused.is_err(), "{optimize:?}");
            let sliced = plan(&bound, &limited).unwrap_or_else(|e| panic!("{optimize:?}: {e}"));
            assert!(sliced.slices().is_some(), "{optimize:?}");
            assert!(sliced.largest_temporary() <= 100, "{optimize:?}");
        }
    }
}
