//! Running a sliced plan: each slice's windows of the arrays, the slices one
//! after another or several at once, and their sum in the plan's order.
//!
//! A slice fixes every sliced axis to one chunk of consecutive indices (the
//! plan's [`Slices::chunks`], often one index). Its operands are windows of
//! the caller's arrays (the chunk's extent along each sliced axis an operand
//! holds, the same strides), so the one checked program of the plan runs
//! every slice. Slices that differ in a stacked axis (one the output holds) write
//! different blocks of the output; slices that differ only in summed axes
//! add into the same block.
//!
//! The order of the additions is fixed by the plan, never by the threads
//! ([`Slices::groups`]): the summed slices are split into that many runs of
//! consecutive slices, each summed in order into its own partial sum (the
//! first into the output itself), and the partial sums are added into the
//! output in order. Any number of lanes (slices at once, each with its own
//! workspace) computes the same bits.

use std::sync::Mutex;

use einsum_plan::fit::{Fitted, fit};
use einsum_plan::{AxisId, Plan};
use rayon::prelude::*;

use crate::check::Checked;
use crate::element::Element;
use crate::error::ExecError;
use crate::kernels::{self, Event};
use crate::memory::{Allocation, try_zeroed};
use crate::par::Accum;
use crate::run::StepClock;
use crate::view::{StridedView, StridedViewMut};
use crate::workspace::Workspace;

/// Most output blocks a parallel sliced run holds windows of at once.
const WAVE_WINDOWS: usize = 4096;

/// How a checked program's slices are laid out over the arrays.
#[derive(Debug)]
pub(crate) struct SliceLayout {
    /// Per sliced axis, in the plan's order: how many slices run along it
    /// (its size over its chunk), and its chunk (indices per slice).
    counts: Vec<usize>,
    chunks: Vec<usize>,
    /// The sliced axes the output holds (indices into `counts`), and those
    /// it does not.
    stacked: Vec<usize>,
    summed: Vec<usize>,
    /// Per operand, per dimension: the sliced axis it runs along, if any
    /// (a broadcast dimension does not: it has extent 1 already).
    operand_dims: Vec<Vec<Option<usize>>>,
    /// Per operand: a slice's extents.
    operand_shapes: Vec<Vec<usize>>,
    /// Per output dimension: the sliced axis it runs along, if any.
    out_dims: Vec<Option<usize>>,
    out_shape: Vec<usize>,
    /// Stacked blocks, and summed slices per block.
    blocks: usize,
    per_block: usize,
    /// The plan's partial sums ([`Slices::groups`]).
    groups: usize,
    /// Elements the lanes may hold together: the plan's memory limit (no
    /// limit for blocks).
    limit: usize,
    /// The program of a partial sum: the plan fitted to the same operands
    /// and a C-order buffer of the output's shape (when `groups > 1`).
    partial: Option<Box<Checked>>,
}

impl SliceLayout {
    /// The layout of `plan`'s slices for a fit of it; `None` when it is not
    /// sliced.
    pub(crate) fn new(plan: &Plan, fitted: &Fitted) -> Result<Option<SliceLayout>, ExecError> {
        let Some(mut layout) = SliceLayout::unfitted(plan)? else {
            return Ok(None);
        };
        if layout.groups > 1 {
            let strides: Vec<&[isize]> = fitted.input_strides().iter().map(Vec::as_slice).collect();
            let c_order = c_strides(&layout.out_shape);
            let partial_fit =
                fit(plan, &strides, &c_order, fitted.target()).expect("the fit's own strides fit");
            layout.partial = Some(Box::new(Checked::new_unsliced(plan, partial_fit)?));
        }
        Ok(Some(layout))
    }

    /// The layout alone, for where slices go (`None`: not sliced, or more
    /// slices than a `usize` counts).
    pub(crate) fn for_positions(plan: &Plan) -> Option<SliceLayout> {
        SliceLayout::unfitted(plan).ok().flatten()
    }

    /// The layout, with no program for partial sums yet.
    fn unfitted(plan: &Plan) -> Result<Option<SliceLayout>, ExecError> {
        // Slices for memory or blocks for the cache: run the same way.
        let Some(slices) = plan.partition() else {
            return Ok(None);
        };
        let too_many = || ExecError::SlicesTooMany {
            slices: slices.count_exact().to_string(),
        };
        let axes: &[AxisId] = slices.axes();
        let full = plan.bound();
        let sizes: Vec<usize> = axes.iter().map(|&a| full.axis(a).size).collect();
        let chunks = slices.chunks().to_vec();
        let counts: Vec<usize> = sizes.iter().zip(&chunks).map(|(s, c)| s / c).collect();
        let (stacked, summed): (Vec<usize>, Vec<usize>) =
            (0..axes.len()).partition(|&i| full.output().contains(&axes[i]));
        let product = |which: &[usize]| {
            which
                .iter()
                .try_fold(1usize, |n, &i| n.checked_mul(counts[i]))
                .ok_or_else(too_many)
        };
        let blocks = product(&stacked)?;
        let per_block = product(&summed)?;
        blocks.checked_mul(per_block).ok_or_else(too_many)?;
        let along = |axis: AxisId, extent: usize| {
            axes.iter()
                .position(|&a| a == axis)
                .filter(|&i| extent == sizes[i])
        };
        let operand_dims = full
            .operands()
            .iter()
            .map(|dims| dims.iter().map(|d| along(d.axis, d.extent)).collect())
            .collect();
        let operand_shapes = slices
            .bound()
            .operands()
            .iter()
            .map(|dims| dims.iter().map(|d| d.extent).collect())
            .collect();
        let out_dims = full
            .output()
            .iter()
            .map(|&a| along(a, full.axis(a).size))
            .collect();
        let out_shape = slices.bound().output_shape();
        let groups = slices.groups();
        Ok(Some(SliceLayout {
            counts,
            chunks,
            stacked,
            summed,
            operand_dims,
            operand_shapes,
            out_dims,
            out_shape,
            blocks,
            per_block,
            groups,
            // Blocks for the cache come with no memory limit: as many
            // lanes as threads.
            limit: if plan.blocks().is_some() {
                usize::MAX
            } else {
                slices.limit()
            },
            partial: None,
        }))
    }

    /// How many slices run at once on `threads` threads for a program whose
    /// slices each need `workspace` elements: as many as the threads allow
    /// while their workspaces (and partial sums) together stay within the
    /// plan's memory limit; at least one.
    pub(crate) fn lanes(&self, threads: usize, workspace: usize) -> usize {
        let units = if self.stacked.is_empty() {
            self.groups
        } else {
            self.blocks
        };
        let partial = if self.groups > 1 {
            self.out_shape.iter().product::<usize>()
        } else {
            0
        };
        let per_lane = workspace.saturating_add(partial).max(1);
        threads.min(units).min(self.limit / per_lane).max(1)
    }

    /// How many slices.
    pub(crate) fn count(&self) -> usize {
        self.blocks * self.per_block
    }

    /// Runs slice `slice` alone into `out` (one slice's result: the
    /// output's shape with extent 1 along each stacked axis), with
    /// `program`, which was fitted to `out`'s strides.
    pub(crate) fn run_one<T: Element>(
        &self,
        program: &Checked,
        slice: usize,
        inputs: &[StridedView<'_, T>],
        out: &mut StridedViewMut<'_, T>,
        (accum, threads): (Accum, usize),
        workspace: &mut Workspace<T>,
    ) -> Result<(), ExecError> {
        if slice >= self.count() {
            return Err(ExecError::SliceOutOfRange {
                slice,
                slices: self.count(),
            });
        }
        let (block, summed) = (slice / self.per_block, slice % self.per_block);
        self.execute(
            program,
            (block, summed),
            inputs,
            out,
            (accum, threads),
            workspace,
            &mut |_| Ok(()),
        )
    }

    /// Runs the slice at `(block, summed)` with `program` into `out`.
    #[allow(clippy::too_many_arguments)] // reason: one slice's parts, each used once
    fn execute<T: Element>(
        &self,
        program: &Checked,
        (block, summed): (usize, usize),
        inputs: &[StridedView<'_, T>],
        out: &mut StridedViewMut<'_, T>,
        (accum, threads): (Accum, usize),
        workspace: &mut Workspace<T>,
        observe: &mut dyn FnMut(Event) -> Result<(), ExecError>,
    ) -> Result<(), ExecError> {
        let inputs = self.operands(inputs, &self.index(block, summed));
        workspace.prepare(program.fitted().buffers())?;
        kernels::execute(
            program,
            &inputs,
            out,
            workspace.buffers_mut(),
            accum,
            threads,
            observe,
        )
    }

    /// Where slice `slice`'s result lies in the output: its start index
    /// per output dimension (0 but along stacked axes).
    pub(crate) fn out_position(&self, slice: usize) -> Vec<usize> {
        self.out_start(&self.index(slice / self.per_block, slice % self.per_block))
    }

    /// Elements a run on `threads` threads holds at its peak, for slices
    /// of `workspace` elements each: every lane's workspace, and a partial
    /// sum per lane when there are partial sums.
    pub(crate) fn peak_elements(&self, threads: usize, workspace: usize) -> usize {
        let lanes = self.lanes(threads, workspace);
        let partials = if self.partials_at_once(lanes, workspace) {
            self.groups - 1
        } else if self.groups > 1 {
            lanes.min(self.groups)
        } else {
            0
        };
        let out_len: usize = self.out_shape.iter().product();
        lanes
            .saturating_mul(workspace)
            .saturating_add(partials.saturating_mul(out_len))
    }

    /// Whether a run on `lanes` lanes, slices of `workspace` elements each,
    /// fills every partial sum at once (one parallel region, each lane a
    /// run of groups), rather than `lanes` at a time (a region per wave):
    /// when there are lanes and partial sums, and all the partial sums fit
    /// the limit with the lanes' workspaces. Either way the partial sums
    /// are the plan's and are added in order: the same bits.
    pub(crate) fn partials_at_once(&self, lanes: usize, workspace: usize) -> bool {
        let out_len: usize = self.out_shape.iter().product();
        lanes > 1
            && self.groups > 1
            && (self.groups - 1)
                .saturating_mul(out_len)
                .saturating_add(lanes.saturating_mul(workspace))
                <= self.limit
    }

    /// Where each sliced axis's chunk starts in slice `block`, `summed`
    /// (the slices in C order over the stacked axes, then over the summed
    /// ones).
    fn index(&self, block: usize, summed: usize) -> Vec<usize> {
        let mut index = vec![0; self.counts.len()];
        for (which, mut rest) in [(&self.stacked, block), (&self.summed, summed)] {
            for &i in which.iter().rev() {
                index[i] = (rest % self.counts[i]) * self.chunks[i];
                rest /= self.counts[i];
            }
        }
        index
    }

    /// The operands' windows for a slice.
    fn operands<'a, T>(
        &self,
        inputs: &[StridedView<'a, T>],
        index: &[usize],
    ) -> Vec<StridedView<'a, T>> {
        inputs
            .iter()
            .zip(&self.operand_dims)
            .zip(&self.operand_shapes)
            .map(|((view, dims), shape)| {
                let start: Vec<usize> = dims.iter().map(|d| d.map_or(0, |i| index[i])).collect();
                view.window(&start, shape)
            })
            .collect()
    }

    /// Where a block of the output starts.
    fn out_start(&self, index: &[usize]) -> Vec<usize> {
        self.out_dims
            .iter()
            .map(|d| d.map_or(0, |i| index[i]))
            .collect()
    }
}

/// What one run of a sliced program needs.
pub(crate) struct SliceRun<'r, 'a, T> {
    pub(crate) program: &'r Checked,
    pub(crate) layout: &'r SliceLayout,
    pub(crate) inputs: &'r [StridedView<'a, T>],
    pub(crate) accum: Accum,
    pub(crate) threads: usize,
    /// Where slices run at once add what their steps took (a profiled
    /// run); `None`: not timed.
    pub(crate) clock: Option<&'r Mutex<StepClock>>,
}

impl<T: Element> SliceRun<'_, '_, T> {
    /// Runs `work` on a lane (one of the slices run at once), with an
    /// observer that times its steps into [`clock`](Self::clock) when the
    /// run is profiled.
    fn in_lane(
        &self,
        work: impl FnOnce(&mut dyn FnMut(Event) -> Result<(), ExecError>) -> Result<(), ExecError>,
    ) -> Result<(), ExecError> {
        let Some(shared) = self.clock else {
            return work(&mut |_| Ok(()));
        };
        let mut own = StepClock::new(self.program.fitted().steps().len());
        let result = work(&mut |event| {
            own.observe(event);
            Ok(())
        });
        shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .merge(&own);
        result
    }
    /// Runs every slice into `out`. `lanes` slices run at once, each on one
    /// thread with its own workspace; with one lane, every slice runs on
    /// all the threads, and `observe` sees every step of every slice.
    pub(crate) fn run(
        &self,
        out: &mut StridedViewMut<'_, T>,
        workspace: &mut Workspace<T>,
        lanes: usize,
        mut observe: impl FnMut(Event) -> Result<(), ExecError>,
    ) -> Result<(), ExecError> {
        let layout = self.layout;
        let buffers = self.program.fitted().buffers();
        let lanes = lanes.max(1);
        let workspaces = workspace.lanes(lanes);
        for w in workspaces.iter_mut() {
            w.prepare(buffers)?;
        }
        if !layout.stacked.is_empty() {
            // Blocks of the output, each block's slices summed in order. On
            // one lane, one block after another; on several, waves of
            // blocks, each lane taking a run of consecutive blocks of the
            // wave (a few thousand windows at most at once).
            if lanes == 1 {
                for block in 0..layout.blocks {
                    let index = layout.index(block, 0);
                    let mut window = out.window_mut(&layout.out_start(&index), &layout.out_shape);
                    self.sum(
                        block,
                        0..layout.per_block,
                        self.program,
                        &mut window,
                        self.accum,
                        &mut workspaces[0],
                        self.threads,
                        &mut observe,
                    )?;
                }
                return Ok(());
            }
            let wave_len = layout.blocks.min(WAVE_WINDOWS.max(lanes));
            for first in (0..layout.blocks).step_by(wave_len) {
                let wave: Vec<usize> = (first..(first + wave_len).min(layout.blocks)).collect();
                // A check between waves (the lanes report nothing).
                observe(Event::Check)?;
                let starts: Vec<Vec<usize>> = wave
                    .iter()
                    .map(|&b| layout.out_start(&layout.index(b, 0)))
                    .collect();
                let mut windows = out.windows_mut(&starts, &layout.out_shape);
                let per_lane = wave.len().div_ceil(lanes);
                windows
                    .par_chunks_mut(per_lane)
                    .zip(wave.par_chunks(per_lane))
                    .zip(workspaces.par_iter_mut())
                    .try_for_each(|((windows, blocks), w)| {
                        self.in_lane(|observe| {
                            for (window, &block) in windows.iter_mut().zip(blocks) {
                                self.sum(
                                    block,
                                    0..layout.per_block,
                                    self.program,
                                    window,
                                    self.accum,
                                    w,
                                    1,
                                    observe,
                                )?;
                            }
                            Ok(())
                        })
                    })?;
            }
            return Ok(());
        }
        // Summed slices only: the plan's partial sums, `lanes` at a time;
        // the first into the output, the others into buffers added into the
        // output in order.
        let groups = layout.groups;
        let partial_len: usize = layout.out_shape.iter().product();
        let mut partials: Vec<Vec<T>> = Vec::new();
        let at_once = layout.partials_at_once(lanes, buffers.iter().sum());
        let count = if at_once {
            groups - 1
        } else if groups > 1 {
            lanes.min(groups)
        } else {
            0
        };
        for _ in 0..count {
            partials.push(try_zeroed(partial_len, Allocation::Workspace)?);
        }
        if at_once {
            // One parallel region: each lane sums a run of consecutive
            // groups, each into its own buffer (group 0 into the output);
            // then the partial sums are added in order.
            observe(Event::Check)?;
            let mut jobs: Vec<Job<'_, '_, T>> = Vec::with_capacity(lanes);
            let mut rest: &mut [Vec<T>] = &mut partials;
            let mut out_slot = Some(&mut *out);
            for (k, w) in workspaces.iter_mut().enumerate() {
                let range = (k * groups / lanes)..((k + 1) * groups / lanes);
                let own = range.len() - usize::from(range.start == 0);
                let (mine, others) = std::mem::take(&mut rest).split_at_mut(own);
                rest = others;
                let out = if range.start == 0 {
                    out_slot.take()
                } else {
                    None
                };
                jobs.push((range, out, mine, w));
            }
            jobs.into_par_iter()
                .try_for_each(|(range, mut out, mine, w)| {
                    self.in_lane(|observe| {
                        let mut buffers = mine.iter_mut();
                        for g in range {
                            let target = match (g, out.as_deref_mut()) {
                                (0, Some(out)) => Target::Out(out),
                                _ => Target::Partial(buffers.next().expect("a buffer per group")),
                            };
                            self.group(g, target, w, 1, observe)?;
                        }
                        Ok(())
                    })
                })?;
            for partial in &partials {
                add_partial(out, partial, &layout.out_shape)?;
            }
            return Ok(());
        }
        for first in (0..groups).step_by(lanes) {
            let wave: Vec<usize> = (first..(first + lanes).min(groups)).collect();
            if wave.len() == 1 || lanes == 1 {
                for &g in &wave {
                    let target = if g == 0 {
                        Target::Out(&mut *out)
                    } else {
                        Target::Partial(&mut partials[0])
                    };
                    self.group(g, target, &mut workspaces[0], self.threads, &mut observe)?;
                    if g != 0 {
                        add_partial(out, &partials[0], &layout.out_shape)?;
                    }
                }
                continue;
            }
            // A check between waves (the lanes report nothing).
            observe(Event::Check)?;
            // Group 0, when in this wave, writes the output; the others
            // their partial buffers, added below in order.
            let mut out_slot = Some(&mut *out);
            let mut free = partials.iter_mut();
            let jobs: Vec<(usize, Target<'_, '_, T>, &mut Workspace<T>)> = wave
                .iter()
                .zip(workspaces.iter_mut())
                .map(|(&g, w)| {
                    let target = match out_slot.take().filter(|_| g == 0) {
                        Some(out) => Target::Out(out),
                        None => Target::Partial(free.next().expect("a partial buffer per lane")),
                    };
                    (g, target, w)
                })
                .collect();
            jobs.into_par_iter().try_for_each(|(g, target, w)| {
                self.in_lane(|observe| self.group(g, target, w, 1, observe))
            })?;
            let summed = wave.iter().filter(|&&g| g != 0).count();
            for partial in &partials[..summed] {
                add_partial(out, partial, &layout.out_shape)?;
            }
        }
        Ok(())
    }

    /// Sums partial group `g` of the summed slices into `target`.
    fn group(
        &self,
        g: usize,
        target: Target<'_, '_, T>,
        workspace: &mut Workspace<T>,
        threads: usize,
        observe: &mut dyn FnMut(Event) -> Result<(), ExecError>,
    ) -> Result<(), ExecError> {
        let layout = self.layout;
        let (n, groups) = (layout.per_block, layout.groups);
        let range = (g * n / groups)..((g + 1) * n / groups);
        match target {
            Target::Out(out) => self.sum(
                0,
                range,
                self.program,
                out,
                self.accum,
                workspace,
                threads,
                observe,
            ),
            Target::Partial(buffer) => {
                let program = layout
                    .partial
                    .as_deref()
                    .expect("a program for partial sums");
                let strides = c_strides(&layout.out_shape);
                let mut view = StridedViewMut::new(buffer, 0, layout.out_shape.clone(), strides)?;
                self.sum(
                    0,
                    range,
                    program,
                    &mut view,
                    Accum::Replace,
                    workspace,
                    threads,
                    observe,
                )
            }
        }
    }

    /// Sums the slices `range` of `block` into `out` with `program`, the
    /// first with `accum`, the rest added.
    #[allow(clippy::too_many_arguments)] // reason: one call's parts, each used once
    fn sum(
        &self,
        block: usize,
        range: std::ops::Range<usize>,
        program: &Checked,
        out: &mut StridedViewMut<'_, T>,
        accum: Accum,
        workspace: &mut Workspace<T>,
        threads: usize,
        observe: &mut dyn FnMut(Event) -> Result<(), ExecError>,
    ) -> Result<(), ExecError> {
        let layout = self.layout;
        for s in range.clone() {
            let accum = if s == range.start { accum } else { Accum::Add };
            layout.execute(
                program,
                (block, s),
                self.inputs,
                out,
                (accum, threads),
                workspace,
                observe,
            )?;
        }
        Ok(())
    }
}

/// One lane's share of the partial sums run at once: its groups, the
/// output (the lane with group 0), a buffer for each of its other groups,
/// its workspace.
type Job<'j, 'v, T> = (
    std::ops::Range<usize>,
    Option<&'j mut StridedViewMut<'v, T>>,
    &'j mut [Vec<T>],
    &'j mut Workspace<T>,
);

/// Where a partial group of summed slices goes.
enum Target<'o, 'v, T> {
    /// The output (group 0).
    Out(&'o mut StridedViewMut<'v, T>),
    /// A partial-sum buffer of the output's shape, C order.
    Partial(&'o mut Vec<T>),
}

/// `out += partial`, the partial sum a C-order buffer of `shape`.
fn add_partial<T: Element>(
    out: &mut StridedViewMut<'_, T>,
    partial: &[T],
    shape: &[usize],
) -> Result<(), ExecError> {
    let view = StridedView::new(partial, 0, shape.to_vec(), c_strides(shape))?;
    kernels::add_into(out, &view);
    Ok(())
}

/// C-order strides of `shape`.
pub(crate) fn c_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut next = 1isize;
    for (s, &e) in strides.iter_mut().zip(shape).rev() {
        *s = next;
        next = next.saturating_mul(e.max(1) as isize);
    }
    strides
}
