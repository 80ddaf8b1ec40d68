//! Slicing: which axes to fix, one index at a time, so that every
//! temporary of the contraction fits a memory limit.
//!
//! A sliced axis is fixed to each of its indices in turn: every slice is
//! the same contraction with that axis at size 1, and the slices' results
//! are summed (a summed axis) or stacked (an output axis). Each slice's
//! temporaries shrink by the sliced axes' sizes; the work grows, because
//! every step that did not span a sliced axis is repeated for each slice.
//! The total is `slices x (FLOPs of one slice)`, what this search
//! minimises.
//!
//! The method is cotengra's `SliceFinder` followed by re-planning, written
//! for our trees:
//!
//! 1. Find the best order with no limit.
//! 2. Greedily slice: while some temporary is over the limit, fix the axis
//!    (of the temporaries over it) whose slicing costs least in total
//!    FLOPs; the first trial takes the best, later ones draw with Gumbel
//!    noise, for diversity.
//! 3. Re-plan the order for the sliced network (sliced axes at size 1,
//!    the limit imposed on the search), keep it if cheaper, then drop every
//!    sliced axis the new order no longer needs. Repeat while it helps.
//!
//! The cheapest trial wins; an order that fits with no slice at all (the
//! search under the limit) competes on the same total.

use super::random_greedy::SplitMix64;
use super::{ContractionTree, Optimize, OrderError, Path, find};
use crate::cost::Objective;
use crate::count::Count;
use crate::fit::BufferId;
use crate::fit::buffers::Pool;

/// Slicing trials: one greedy per ranking, then each again with noise.
const TRIALS: usize = 2 * Rank::ALL.len();

/// How the next axis to slice is chosen, among which axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rank {
    /// Of the axes of the temporaries over the limit, the one whose slicing
    /// leaves the least total work (all slices').
    Total,
    /// Of those axes, the one that leaves one slice the least work
    /// (cotengra's `SliceFinder` rule).
    Slice,
    /// Of every axis a contraction spans, the one that leaves one slice the
    /// least work (cotengra's pool: an axis that saves much work may shrink
    /// what later axes leave over the limit).
    AnySlice,
}

impl Rank {
    const ALL: [Rank; 3] = [Rank::Total, Rank::Slice, Rank::AnySlice];
}

/// Rounds of re-planning per trial.
const ROUNDS: usize = 3;

/// Noise scale of later trials, in log2 of total FLOPs.
const TEMPERATURE: f64 = 0.5;

/// Passes of the local search over the best trial's slices, at most (each
/// pass stops at its first improvement).
const IMPROVE_PASSES: usize = 16;

/// An order and the axes its slices fix.
pub(crate) struct Sliced {
    /// The order each slice runs.
    pub(crate) tree: Box<dyn ContractionTree>,
    /// The sliced axes, ascending (empty: no slicing needed).
    pub(crate) axes: Vec<usize>,
    /// FLOPs of the best order found with no limit and no slicing, exactly:
    /// what the slices' total is compared with.
    pub(crate) unsliced_flops: Count,
}

/// The search's problem, as the order search takes it.
pub(crate) struct Problem<'a> {
    pub(crate) inputs: &'a [Vec<usize>],
    pub(crate) output: &'a [usize],
    pub(crate) sizes: &'a [usize],
    /// Whether each input is a temporary (an operand after a sum of its
    /// own), which the limit bounds as any other.
    pub(crate) temp_inputs: &'a [bool],
    pub(crate) objective: Objective,
}

/// Finds an order and the axes to slice so that every temporary of every
/// slice holds at most `limit` elements, minimising the total FLOPs.
pub(crate) fn find_sliced(
    problem: &Problem<'_>,
    limit: usize,
    optimize: &Optimize,
) -> Result<Sliced, OrderError> {
    let unsliced = find(
        problem.inputs,
        problem.output,
        problem.sizes,
        None,
        problem.objective,
        optimize,
    )?;
    let shape = Shape::of(&*unsliced, problem.temp_inputs);
    let unsliced_flops = shape.exact_flops(problem.sizes);
    let log_limit = (limit.max(1) as f64).log2();
    if shape.largest_log2(problem.sizes) <= log_limit {
        return Ok(Sliced {
            tree: unsliced,
            axes: Vec::new(),
            unsliced_flops,
        });
    }
    // A given path is kept as it is: only the slices are chosen.
    let replan = !matches!(optimize, Optimize::Path(_));
    let unsliced_order = Optimize::Path(Path::from_ssa(unsliced.leaves(), &unsliced.path()));
    // The search runs many times below: a budgeted one (whose budget is
    // for one search) re-plans as reconfigure from its starts.
    let optimize = &match optimize {
        Optimize::Hyper { seed, .. } => Optimize::Reconfigure {
            trials: 3,
            subtree: 8,
            seed: *seed,
        },
        other => other.clone(),
    };
    let mut best: Option<(f64, Sliced)> = None;
    let mut rng = SplitMix64(0x5EED_5119);
    let rounds = if replan { ROUNDS } else { 0 };
    // With the order fixed, a trial costs no search: more of them.
    let trials = if replan { TRIALS } else { 4 * TRIALS };
    for trial in 0..trials {
        // Each ranking in turn, first without noise.
        let rank = Rank::ALL[trial % Rank::ALL.len()];
        let noise = if trial < Rank::ALL.len() {
            0.0
        } else {
            TEMPERATURE
        };
        let Some(mut axes) = shape.greedy(problem.sizes, log_limit, rank, noise, &mut rng) else {
            continue;
        };
        let mut total = shape.total_log2(problem.sizes, &axes);
        // `None`: the unsliced order.
        let mut tree: Option<Box<dyn ContractionTree>> = None;
        for _ in 0..rounds {
            let sizes = sliced_sizes(problem.sizes, &axes);
            let Ok(next) = find(
                problem.inputs,
                problem.output,
                &sizes,
                Some(limit),
                problem.objective,
                optimize,
            ) else {
                break;
            };
            let next_shape = Shape::of(&*next, problem.temp_inputs);
            let next_axes = next_shape.unslice(problem.sizes, log_limit, &axes);
            let next_total = next_shape.total_log2(problem.sizes, &next_axes);
            if next_total >= total - 1e-9 {
                break;
            }
            (tree, axes, total) = (Some(next), next_axes, next_total);
        }
        if best.as_ref().is_none_or(|(t, _)| total < *t - 1e-9) {
            let tree = match tree {
                Some(tree) => tree,
                // The unsliced order, with slices: a copy of it, replayed.
                None => find(
                    problem.inputs,
                    problem.output,
                    problem.sizes,
                    None,
                    problem.objective,
                    &unsliced_order,
                )?,
            };
            best = Some((total, sliced_with(tree, axes, &unsliced_flops)));
        }
    }
    // Gradual trials (as cotengra's slice-and-reconfigure): one axis at a
    // time, the order re-planned for the sliced network after each, so the
    // order adapts to the slices as they come.
    if replan {
        for rank in Rank::ALL {
            let mut axes: Vec<usize> = Vec::new();
            let mut tree: Option<Box<dyn ContractionTree>> = None;
            let mut tree_shape = Shape::of(&*unsliced, problem.temp_inputs);
            let mut stuck = false;
            loop {
                match tree_shape.pick(problem.sizes, log_limit, &axes, None, rank, 0.0, &mut rng) {
                    None => {
                        stuck = true;
                        break;
                    }
                    Some(None) => break,
                    Some(Some(c)) => axes.push(c),
                }
                let Ok(next) = find(
                    problem.inputs,
                    problem.output,
                    &sliced_sizes(problem.sizes, &axes),
                    None,
                    problem.objective,
                    optimize,
                ) else {
                    stuck = true;
                    break;
                };
                tree_shape = Shape::of(&*next, problem.temp_inputs);
                tree = Some(next);
            }
            let Some(tree) = tree.filter(|_| !stuck) else {
                continue;
            };
            axes = tree_shape.unslice(problem.sizes, log_limit, &axes);
            let total = tree_shape.total_log2(problem.sizes, &axes);
            if best.as_ref().is_none_or(|(t, _)| total < *t - 1e-9) {
                best = Some((total, sliced_with(tree, axes, &unsliced_flops)));
            }
        }
    }
    // The best trial's slices, improved on its order by local search.
    if let Some((total, sliced)) = best.as_mut() {
        let shape = Shape::of(&*sliced.tree, problem.temp_inputs);
        let axes = shape.improve(problem.sizes, log_limit, &sliced.axes);
        let next = shape.total_log2(problem.sizes, &axes);
        if next < *total - 1e-9 {
            (*total, sliced.axes) = (next, axes);
        }
    }
    // The best trial, with each sliced axis dropped in turn where an order
    // re-planned for the rest fits: slices chosen for one order can be
    // more than another order needs (a ring needs one cut, not the two its
    // unsliced order's temporaries ask for).
    if replan && let Some((total, sliced)) = best.as_mut() {
        let mut improved = true;
        while improved && !sliced.axes.is_empty() {
            improved = false;
            for x in sliced.axes.clone() {
                let rest: Vec<usize> = sliced.axes.iter().copied().filter(|&a| a != x).collect();
                let Ok(tree) = find(
                    problem.inputs,
                    problem.output,
                    &sliced_sizes(problem.sizes, &rest),
                    Some(limit),
                    problem.objective,
                    optimize,
                ) else {
                    continue;
                };
                let shape = Shape::of(&*tree, problem.temp_inputs);
                let rest = shape.unslice(problem.sizes, log_limit, &rest);
                let fits = shape.largest_log2_with(problem.sizes, &rest) <= log_limit + 1e-9;
                let next = shape.total_log2(problem.sizes, &rest);
                if fits && next < *total - 1e-9 {
                    (*total, sliced.tree, sliced.axes) = (next, tree, rest);
                    improved = true;
                    break;
                }
            }
        }
    }
    // An order that fits without slicing competes on the same total.
    if let Ok(fits) = find(
        problem.inputs,
        problem.output,
        problem.sizes,
        Some(limit),
        problem.objective,
        optimize,
    ) {
        let shape = Shape::of(&*fits, problem.temp_inputs);
        let total = shape.total_log2(problem.sizes, &[]);
        let fits_inputs = shape.largest_log2(problem.sizes) <= log_limit + 1e-9;
        if fits_inputs && best.as_ref().is_none_or(|(t, _)| total <= *t + 1e-9) {
            return Ok(Sliced {
                tree: fits,
                axes: Vec::new(),
                unsliced_flops,
            });
        }
    }
    best.map(|(_, sliced)| sliced)
        .ok_or(OrderError::MemoryLimit { needed: None })
}

/// How many indices of each sliced axis one slice takes (a divisor of the
/// axis's size, see [`next_chunk`]), for `tree` sliced along `axes` under
/// `limit`: one each,
/// then grown while all the slice's temporaries together still fit, the
/// growth that leaves the least total work first. A chunk of several indices repeats less of the
/// work that does not span the axis, and keeps a matrix product a matrix
/// product rather than a matrix-vector one. An axis whose chunk reaches its
/// size is not sliced at all: its chunk is its size.
pub(crate) fn slice_chunks(
    tree: &dyn ContractionTree,
    temp_inputs: &[bool],
    sizes: &[usize],
    axes: &[usize],
    limit: usize,
) -> Vec<usize> {
    let shape = Shape::of(tree, temp_inputs);
    let mut chunks = vec![1; axes.len()];
    let mut current = shape.total_log2_chunked(sizes, axes, &chunks);
    let log_limit = (limit.max(1) as f64).log2();
    // What one index per slice holds already (its temporaries each fit, but
    // may together exceed the limit).
    let memory_of = |chunks: &[usize]| {
        let eff = chunked_sizes(sizes, axes, chunks);
        shape.workspace(&eff) + shape.result_len(&eff)
    };
    let held = memory_of(&chunks).max(limit as f64);
    // First the growth that saves work, then the growth that only makes
    // the kernels larger; the latter is kept only when it multiplies the
    // chunks by `FREE_GROWTH_MIN` at least (a chunk of two or four indices
    // turns a matrix-vector product into a matrix product too thin to run
    // faster, measured slower on small rings).
    for free in [false, true] {
        let before = chunks.clone();
        loop {
            let mut choice: Option<(f64, usize, usize)> = None;
            for (i, &a) in axes.iter().enumerate() {
                // One step at a time, so that the axes share what the
                // limit leaves.
                let Some(next) = next_chunk(sizes[a], chunks[i]) else {
                    continue;
                };
                let mut trial = chunks.clone();
                trial[i] = next;
                // Every temporary still within the limit, and the slice's
                // workspace for them with a partial sum of its result no
                // more than the limit (or than one index per slice holds
                // already): a chunk grows only into memory the run would
                // not use. A growth that saves no work takes at most half
                // the limit, so that two slices still run at once.
                let eff = chunked_sizes(sizes, axes, &trial);
                if shape.largest_log2(&eff) > log_limit + 1e-9 {
                    continue;
                }
                let memory = memory_of(&trial);
                let total = shape.total_log2_chunked(sizes, axes, &trial);
                let saves = total < current - 1e-9;
                if memory > held || (!saves && (!free || memory > (limit / 2) as f64)) {
                    continue;
                }
                if choice.is_none_or(|(t, _, _)| total < t - 1e-9) {
                    choice = Some((total, i, next));
                }
            }
            let Some((total, i, next)) = choice else {
                break;
            };
            (chunks[i], current) = (next, total);
        }
        let grown: usize = chunks.iter().zip(&before).map(|(c, b)| c / b).product();
        if free && grown < FREE_GROWTH_MIN {
            return before;
        }
    }
    chunks
}

/// The least factor by which growth that saves no work must multiply the
/// chunks to be kept: a matrix product's microkernel takes 4 to 8 rows at
/// once, so fewer rows than 8 gain little over a matrix-vector product.
const FREE_GROWTH_MIN: usize = 8;

/// `sizes` with each sliced axis at its chunk: the problem of one slice.
pub(crate) fn chunked_sizes(sizes: &[usize], axes: &[usize], chunks: &[usize]) -> Vec<usize> {
    let mut sizes = sizes.to_vec();
    for (&a, &c) in axes.iter().zip(chunks) {
        sizes[a] = c;
    }
    sizes
}

/// The next chunk of an axis of `size` after `chunk` (which divides it):
/// the smallest multiple of `chunk` by a small prime that divides `size`.
/// Sizes made of small primes (powers of two, most tensor dimensions) reach
/// every such divisor; an axis whose size is a large prime keeps one index
/// per slice. Constant time, whatever the size.
fn next_chunk(size: usize, chunk: usize) -> Option<usize> {
    const PRIMES: [usize; 11] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31];
    PRIMES
        .iter()
        .filter_map(|&p| chunk.checked_mul(p))
        .filter(|&c| c <= size && size.is_multiple_of(c))
        .min()
}

/// `tree` sliced along `axes`, against `unsliced_flops`.
fn sliced_with(tree: Box<dyn ContractionTree>, axes: Vec<usize>, unsliced_flops: &Count) -> Sliced {
    Sliced {
        tree,
        axes,
        unsliced_flops: unsliced_flops.clone(),
    }
}

/// FLOPs of `tree`'s contractions with no slice, exactly.
pub(crate) fn tree_flops(tree: &dyn ContractionTree, sizes: &[usize]) -> Count {
    Shape::of(tree, &[]).exact_flops(sizes)
}

/// `sizes` with the sliced axes at 1: the problem of one slice.
pub(crate) fn sliced_sizes(sizes: &[usize], axes: &[usize]) -> Vec<usize> {
    let mut sizes = sizes.to_vec();
    for &a in axes {
        sizes[a] = 1;
    }
    sizes
}

/// What the slice search needs of a tree: per contraction the axes it
/// spans and whether it sums, per temporary its axes.
struct Shape {
    /// Per contraction: the union of its children's axes, and whether it
    /// sums some of them away.
    steps: Vec<(Vec<usize>, bool)>,
    /// Every temporary's axes: the contractions' results but the root's,
    /// and the inputs that are temporaries.
    temps: Vec<Vec<usize>>,
    /// How many of `temps` are inputs (they come first); the rest are the
    /// contractions' results, in the order the steps write them.
    temp_inputs: usize,
    /// Per contraction: the temporaries it reads (indices into `temps`).
    reads: Vec<[Option<usize>; 2]>,
    /// The result's axes.
    result: Vec<usize>,
}

impl Shape {
    fn of(tree: &dyn ContractionTree, temp_inputs: &[bool]) -> Shape {
        let mut steps = Vec::new();
        // Each node's temporary, by index into `temps`, if it is one.
        let mut temp_of: Vec<Option<usize>> = vec![None; tree.nodes()];
        let mut temps: Vec<Vec<usize>> = Vec::new();
        for (k, slot) in temp_of.iter_mut().enumerate().take(tree.leaves()) {
            if temp_inputs.get(k).copied().unwrap_or(false) {
                *slot = Some(temps.len());
                temps.push(tree.axes(k));
            }
        }
        let inputs = temps.len();
        let mut reads = Vec::new();
        for node in tree.post_order() {
            let (a, b) = tree.children(node).expect("a contraction has children");
            let mut union = tree.axes(a);
            for x in tree.axes(b) {
                if !union.contains(&x) {
                    union.push(x);
                }
            }
            let result = tree.axes(node);
            let sums = union.len() != result.len();
            steps.push((union, sums));
            reads.push([temp_of[a], temp_of[b]]);
            if node != tree.root() {
                temp_of[node] = Some(temps.len());
                temps.push(result);
            }
        }
        Shape {
            steps,
            temps,
            temp_inputs: inputs,
            reads,
            result: tree.axes(tree.root()),
        }
    }

    /// Elements of the buffers a run of one slice holds for its
    /// temporaries under these sizes, as the fit hands them out (by
    /// liveness, [`Pool`]: a temporary takes a free buffer when written and
    /// gives it back once read), copies not included.
    fn workspace(&self, sizes: &[usize]) -> f64 {
        let len = |t: usize| Count::product(self.temps[t].iter().map(|&a| sizes[a]));
        let mut pool = Pool::default();
        let mut held: Vec<Option<BufferId>> = vec![None; self.temps.len()];
        for (t, slot) in held.iter_mut().enumerate().take(self.temp_inputs) {
            *slot = Some(pool.take(len(t)));
        }
        // Contraction results are numbered after the temporary inputs, in
        // the order the steps write them.
        let mut next = self.temp_inputs;
        for read in &self.reads {
            if next < self.temps.len() {
                held[next] = Some(pool.take(len(next)));
                next += 1;
            }
            for t in read.iter().flatten() {
                if let Some(id) = held[*t].take() {
                    pool.give_back(id);
                }
            }
        }
        pool.into_lens()
            .iter()
            .map(|len| len.saturating_u128() as f64)
            .sum()
    }

    /// log2 of the total FLOPs of all slices when `sliced` are fixed.
    fn total_log2(&self, sizes: &[usize], sliced: &[usize]) -> f64 {
        let log = |a: usize| {
            if sliced.contains(&a) {
                0.0
            } else {
                (sizes[a].max(1) as f64).log2()
            }
        };
        let slices: f64 = sliced
            .iter()
            .map(|&a| (sizes[a].max(1) as f64).log2())
            .sum();
        let per_step: Vec<f64> = self
            .steps
            .iter()
            .map(|(union, sums)| union.iter().map(|&a| log(a)).sum::<f64>() + f64::from(*sums))
            .collect();
        slices + log2_sum(&per_step)
    }

    /// log2 of the total FLOPs of all slices when each of `sliced` is cut
    /// into chunks of `chunks` indices (dividing its size).
    fn total_log2_chunked(&self, sizes: &[usize], sliced: &[usize], chunks: &[usize]) -> f64 {
        let eff = chunked_sizes(sizes, sliced, chunks);
        let slices: f64 = sliced
            .iter()
            .zip(chunks)
            .map(|(&a, &c)| ((sizes[a] / c.max(1)).max(1) as f64).log2())
            .sum();
        let per_step: Vec<f64> = self
            .steps
            .iter()
            .map(|(union, sums)| {
                union
                    .iter()
                    .map(|&a| (eff[a].max(1) as f64).log2())
                    .sum::<f64>()
                    + f64::from(*sums)
            })
            .collect();
        slices + log2_sum(&per_step)
    }

    /// log2 of the largest temporary's elements when `sliced` are fixed.
    fn largest_log2_with(&self, sizes: &[usize], sliced: &[usize]) -> f64 {
        self.temps
            .iter()
            .map(|axes| {
                axes.iter()
                    .filter(|a| !sliced.contains(a))
                    .map(|&a| (sizes[a].max(1) as f64).log2())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    }

    /// Elements of the result under these sizes.
    fn result_len(&self, sizes: &[usize]) -> f64 {
        self.result.iter().map(|&a| sizes[a] as f64).product()
    }

    fn largest_log2(&self, sizes: &[usize]) -> f64 {
        self.largest_log2_with(sizes, &[])
    }

    /// Adds axes to `sliced` until every temporary fits, each chosen by
    /// [`pick`](Self::pick); `None` when some temporary cannot shrink
    /// enough.
    fn greedy(
        &self,
        sizes: &[usize],
        log_limit: f64,
        rank: Rank,
        noise: f64,
        rng: &mut SplitMix64,
    ) -> Option<Vec<usize>> {
        let mut sliced = Vec::new();
        while let Some(c) = self.pick(sizes, log_limit, &sliced, None, rank, noise, rng)? {
            sliced.push(c);
        }
        sliced.sort_unstable();
        Some(sliced)
    }

    /// `sliced` improved by local search on this tree: each sliced axis in
    /// turn taken out and the slicing completed again greedily without it
    /// (under each ranking), kept when the total drops, until no change
    /// helps. A greedy choice made early (when most temporaries were over
    /// the limit) is revisited once the later ones are known.
    fn improve(&self, sizes: &[usize], log_limit: f64, sliced: &[usize]) -> Vec<usize> {
        let mut best = self.unslice(sizes, log_limit, sliced);
        let mut best_total = self.total_log2(sizes, &best);
        // Deterministic: no noise is drawn.
        let mut rng = SplitMix64(0);
        for _ in 0..IMPROVE_PASSES {
            let mut improved = false;
            for x in best.clone() {
                let rest: Vec<usize> = best.iter().copied().filter(|&a| a != x).collect();
                for rank in Rank::ALL {
                    let mut axes = rest.clone();
                    let done = loop {
                        match self.pick(sizes, log_limit, &axes, Some(x), rank, 0.0, &mut rng) {
                            None => break false,
                            Some(None) => break true,
                            Some(Some(c)) => axes.push(c),
                        }
                    };
                    if !done {
                        continue;
                    }
                    let axes = self.unslice(sizes, log_limit, &axes);
                    let total = self.total_log2(sizes, &axes);
                    if total < best_total - 1e-9 {
                        (best, best_total, improved) = (axes, total, true);
                        break;
                    }
                }
                if improved {
                    break;
                }
            }
            if !improved {
                break;
            }
        }
        best
    }

    /// The next axis to slice besides `sliced` (and never `banned`), the
    /// cheapest by `rank` (perturbed by Gumbel noise of scale `noise`).
    /// `Some(None)` when every temporary fits; `None` when some cannot
    /// shrink enough.
    #[allow(clippy::too_many_arguments)] // the search's state, passed as it is
    fn pick(
        &self,
        sizes: &[usize],
        log_limit: f64,
        sliced: &[usize],
        banned: Option<usize>,
        rank: Rank,
        noise: f64,
        rng: &mut SplitMix64,
    ) -> Option<Option<usize>> {
        let fits = |axes: &[usize]| {
            axes.iter()
                .filter(|a| !sliced.contains(a))
                .map(|&a| (sizes[a].max(1) as f64).log2())
                .sum::<f64>()
                <= log_limit + 1e-9
        };
        if self.temps.iter().all(|axes| fits(axes)) {
            return Some(None);
        }
        let pool: Vec<&Vec<usize>> = if rank == Rank::AnySlice {
            self.steps.iter().map(|(union, _)| union).collect()
        } else {
            self.temps.iter().filter(|axes| !fits(axes)).collect()
        };
        let mut candidates: Vec<usize> = pool
            .into_iter()
            .flat_map(|axes| axes.iter().copied())
            .filter(|&a| sizes[a] > 1 && !sliced.contains(&a) && Some(a) != banned)
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut with = sliced.to_vec();
        let mut choice: Option<(f64, usize)> = None;
        for &c in &candidates {
            with.push(c);
            let mut score = self.total_log2(sizes, &with);
            if rank != Rank::Total {
                score -= with
                    .iter()
                    .map(|&a| (sizes[a].max(1) as f64).log2())
                    .sum::<f64>();
            }
            with.pop();
            if noise > 0.0 {
                // Gumbel noise: -log(-log(u)), u in (0, 1).
                let u = rng.next_f64().clamp(1e-12, 1.0 - 1e-12);
                score -= noise * -(-u.ln()).ln();
            }
            if choice.is_none_or(|(s, _)| score < s) {
                choice = Some((score, c));
            }
        }
        Some(Some(choice?.1))
    }

    /// `sliced` without the axes this tree does not need to fit: each
    /// dropped in turn, the largest first, while every temporary still fits.
    fn unslice(&self, sizes: &[usize], log_limit: f64, sliced: &[usize]) -> Vec<usize> {
        let mut kept = sliced.to_vec();
        let mut order = sliced.to_vec();
        order.sort_by_key(|&a| std::cmp::Reverse(sizes[a]));
        for a in order {
            let without: Vec<usize> = kept.iter().copied().filter(|&x| x != a).collect();
            if self.largest_log2_with(sizes, &without) <= log_limit + 1e-9 {
                kept = without;
            }
        }
        kept.sort_unstable();
        kept
    }

    /// The unsliced order's FLOPs, exactly, in the plan's convention.
    fn exact_flops(&self, sizes: &[usize]) -> Count {
        self.steps
            .iter()
            .map(|(union, sums)| {
                let points = Count::product(union.iter().map(|&a| sizes[a]));
                if *sums { points.times(2) } else { points }
            })
            .sum()
    }
}

/// log2 of the sum of `2^x` over `xs` (0 terms: minus infinity).
fn log2_sum(xs: &[f64]) -> f64 {
    let top = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if top == f64::NEG_INFINITY {
        return top;
    }
    top + xs.iter().map(|&x| (x - top).exp2()).sum::<f64>().log2()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::random_regular;

    fn problem_of<'a>(
        inputs: &'a [Vec<usize>],
        output: &'a [usize],
        sizes: &'a [usize],
        temps: &'a [bool],
    ) -> Problem<'a> {
        Problem {
            inputs,
            output,
            sizes,
            temp_inputs: temps,
            objective: Objective::Flops,
        }
    }

    /// Greedy's order of a network with no output and no limit.
    fn greedy_tree(inputs: &[Vec<usize>], sizes: &[usize]) -> Box<dyn ContractionTree> {
        find(
            inputs,
            &[],
            sizes,
            None,
            Objective::Flops,
            &Optimize::Greedy,
        )
        .unwrap()
    }

    /// The largest temporary of a tree under these sizes, in elements.
    fn largest(tree: &dyn ContractionTree, sizes: &[usize]) -> f64 {
        Shape::of(tree, &[]).largest_log2(sizes).exp2()
    }

    #[test]
    fn a_network_that_fits_is_not_sliced() {
        // A matrix chain: the temporaries are 10x10.
        let inputs = vec![vec![0, 1], vec![1, 2], vec![2, 3]];
        let sizes = [10, 10, 10, 10];
        let p = problem_of(&inputs, &[0, 3], &sizes, &[false; 3]);
        let sliced = find_sliced(&p, 100, &Optimize::Greedy).unwrap();
        assert!(sliced.axes.is_empty());
    }

    #[test]
    fn every_temporary_of_every_slice_fits_and_the_total_is_not_far_off() {
        // Random 3-regular networks of 60 tensors, bonds 2 to 4: their
        // largest temporaries are some 2^14 to 2^16 elements.
        for seed in 0..6 {
            let (inputs, sizes) = random_regular(60, 3, seed, |r| 2 + (r.next_u64() % 3) as usize);
            let temps = vec![false; inputs.len()];
            let p = problem_of(&inputs, &[], &sizes, &temps);
            let free = greedy_tree(&inputs, &sizes);
            let peak = largest(&*free, &sizes);
            let limit = (peak / 8.0) as usize;
            let sliced = find_sliced(&p, limit, &Optimize::Greedy).unwrap();
            let per_slice = sliced_sizes(&sizes, &sliced.axes);
            let fitted = largest(&*sliced.tree, &per_slice);
            assert!(
                fitted <= limit as f64 + 0.5,
                "seed {seed}: {fitted} > {limit}"
            );
            // 8x less memory for (measured) 0.1x to 1.9x greedy's FLOPs:
            // never the 8x of slicing one temporary's worth of axes.
            let shape = Shape::of(&*sliced.tree, &temps);
            let total = shape.total_log2(&sizes, &sliced.axes).exp2();
            let base = Shape::of(&*free, &temps).total_log2(&sizes, &[]).exp2();
            assert!(total < 3.0 * base, "seed {seed}: overhead {}", total / base);
        }
    }

    #[test]
    fn local_search_keeps_the_slices_fitting_and_never_costs_more() {
        // Every greedy trial's slicing of random networks, improved: it
        // still fits, costs no more, and somewhere costs less (the greedy's
        // early choices are not always the ones the finished slicing needs).
        let mut better = 0;
        for seed in 0..8 {
            let (inputs, sizes) = random_regular(40, 3, seed, |r| 2 + (r.next_u64() % 3) as usize);
            let tree = greedy_tree(&inputs, &sizes);
            let shape = Shape::of(&*tree, &[]);
            let log_limit = shape.largest_log2(&sizes) - 4.0;
            let mut rng = SplitMix64(seed);
            for rank in Rank::ALL {
                let greedy = shape
                    .greedy(&sizes, log_limit, rank, TEMPERATURE, &mut rng)
                    .unwrap();
                let improved = shape.improve(&sizes, log_limit, &greedy);
                assert!(shape.largest_log2_with(&sizes, &improved) <= log_limit + 1e-9);
                let (before, after) = (
                    shape.total_log2(&sizes, &greedy),
                    shape.total_log2(&sizes, &improved),
                );
                assert!(after <= before + 1e-9, "seed {seed}: {after} > {before}");
                better += usize::from(after < before - 1e-9);
            }
        }
        assert!(better > 0, "the local search never helped");
    }

    #[test]
    fn output_axes_may_be_sliced() {
        // An outer product's result is the output: nothing to slice. A
        // chain whose middle temporary holds the output's axes must slice
        // them or its bond.
        let inputs = vec![vec![0], vec![1], vec![0, 1, 2], vec![2]];
        let sizes = [50, 50, 2];
        let temps = vec![false; 4];
        let p = problem_of(&inputs, &[0, 1], &sizes, &temps);
        let sliced = find_sliced(&p, 60, &Optimize::Optimal).unwrap();
        let per_slice = sliced_sizes(&sizes, &sliced.axes);
        assert!(largest(&*sliced.tree, &per_slice) <= 60.0);
    }

    #[test]
    fn a_temporary_input_counts() {
        // Input 0 is a temporary of 100 elements: over a limit of 10, so
        // one of its axes is sliced even though no contraction is too big.
        let inputs = vec![vec![0, 1], vec![1]];
        let sizes = [10, 10];
        let p = problem_of(&inputs, &[0], &sizes, &[true, false]);
        let sliced = find_sliced(&p, 10, &Optimize::Greedy).unwrap();
        assert_eq!(sliced.axes.len(), 1);
    }

    #[test]
    fn chunks_grow_by_small_primes() {
        assert_eq!(next_chunk(4096, 1), Some(2));
        assert_eq!(next_chunk(4096, 2048), Some(4096));
        assert_eq!(next_chunk(4096, 4096), None);
        assert_eq!(next_chunk(90, 6), Some(18));
        assert_eq!(next_chunk(97, 1), None);
        assert_eq!(next_chunk(usize::MAX, 1), Some(3));
        assert_eq!(next_chunk(1 << 63, 1 << 62), Some(1 << 63));
    }

    #[test]
    fn log2_sums() {
        assert!((log2_sum(&[3.0, 3.0]) - 4.0).abs() < 1e-12);
        assert_eq!(log2_sum(&[]), f64::NEG_INFINITY);
    }
}
