//! The executor's own check of a fitted plan, before anything runs.
//!
//! The kernels dereference raw pointers at offsets the fitted plan's loops
//! produce. The plan comes from another crate, and a hand-made one can say
//! anything, so nothing in it is trusted: [`Checked::new`] verifies, for
//! every step, that every offset each loop nest reaches lies inside the
//! tensor it reads or writes (operands and the output through the shapes
//! and strides the program was fitted to, buffers through the lengths the
//! workspace will have), that no two indices write one element, and that
//! no step writes a buffer it also reads. The kernels take only a
//! [`Checked`] program; that is the claim their `SAFETY` comments rest on.

use einsum_plan::Plan;
use einsum_plan::fit::{Dest, FitStep, Fitted, Gemm, Loop, Loops, Lowered, Order, Source, Tensor};

use crate::error::{ExecError, ProgramProblem};
use crate::slices::SliceLayout;

/// A fitted plan the executor has checked, with the shapes and strides it
/// was checked for.
#[derive(Debug)]
pub(crate) struct Checked {
    fitted: Fitted,
    input_shapes: Vec<Vec<usize>>,
    out_shape: Vec<usize>,
    /// Whether some step runs on GEMM.
    gemm: bool,
    /// How a sliced plan's slices lie over the arrays (`None`: unsliced).
    slices: Option<Box<SliceLayout>>,
}

/// Offsets `lo..=hi` a tensor holds (`None`: it holds nothing).
type Range = Option<(i128, i128)>;

/// The offsets `dims` reach through `stride` (`None` when some extent is 0:
/// the loops run no iteration). `Err` on overflow.
fn reach(dims: &[Loop], stride: impl Fn(&Loop) -> isize) -> Result<Range, ()> {
    if dims.iter().any(|d| d.extent == 0) {
        return Ok(None);
    }
    let (mut lo, mut hi) = (0i128, 0i128);
    for d in dims {
        let span = (stride(d) as i128)
            .checked_mul(i128::try_from(d.extent - 1).map_err(|_| ())?)
            .ok_or(())?;
        if span < 0 {
            lo = lo.checked_add(span).ok_or(())?;
        } else {
            hi = hi.checked_add(span).ok_or(())?;
        }
    }
    Ok(Some((lo, hi)))
}

/// Whether distinct indices of `dims` reach distinct offsets through
/// `stride` (the output views' rule: sorted by stride, each stride beyond
/// everything the smaller ones reach).
fn unaliased(dims: &[Loop], stride: impl Fn(&Loop) -> isize) -> bool {
    if dims.iter().any(|d| d.extent == 0) {
        return true;
    }
    let mut by_stride: Vec<(u128, u128)> = dims
        .iter()
        .filter(|d| d.extent > 1)
        .map(|d| (stride(d).unsigned_abs() as u128, d.extent as u128))
        .collect();
    by_stride.sort_unstable();
    let mut reached = 0u128;
    for (stride, extent) in by_stride {
        if stride <= reached {
            return false;
        }
        match stride
            .checked_mul(extent - 1)
            .and_then(|s| s.checked_add(reached))
        {
            Some(r) => reached = r,
            None => return false,
        }
    }
    true
}

/// The offsets a view of `shape` and `strides` holds.
fn view_range(shape: &[usize], strides: &[isize]) -> Range {
    let dims: Vec<Loop> = shape
        .iter()
        .zip(strides)
        .map(|(&extent, &a)| Loop {
            extent,
            a,
            ..Loop::ONE
        })
        .collect();
    // A view's own construction checked that its offsets do not overflow.
    reach(&dims, |d| d.a).ok().flatten()
}

/// One tensor a step touches: its name (for errors) and what it holds.
struct Place {
    name: String,
    holds: Range,
}

impl Place {
    fn check(&self, step: usize, reached: Result<Range, ()>) -> Result<(), ExecError> {
        let inside = match (reached, self.holds) {
            (Ok(None), _) => true,
            (Ok(Some((lo, hi))), Some((first, last))) => lo >= first && hi <= last,
            _ => false,
        };
        if inside {
            return Ok(());
        }
        let (lo, hi) = match reached {
            Ok(Some(r)) => r,
            _ => (i128::MIN, i128::MAX),
        };
        Err(ExecError::ProgramInvalid {
            step,
            problem: ProgramProblem::ReachesOutside {
                tensor: self.name.clone(),
                lo,
                hi,
                holds: match self.holds {
                    Some((first, last)) => format!("offsets {first}..={last}"),
                    None => "nothing".into(),
                },
            },
        })
    }

    fn check_writes(
        &self,
        step: usize,
        dims: &[Loop],
        stride: impl Fn(&Loop) -> isize + Copy,
    ) -> Result<(), ExecError> {
        self.check(step, reach(dims, stride))?;
        if unaliased(dims, stride) {
            Ok(())
        } else {
            Err(ExecError::ProgramInvalid {
                step,
                problem: ProgramProblem::WritesTwice(self.name.clone()),
            })
        }
    }
}

impl Checked {
    /// Checks `fitted`, a fit of `plan`, before it may run; with the layout
    /// of its slices when the plan is sliced.
    pub(crate) fn new(plan: &Plan, fitted: Fitted) -> Result<Checked, ExecError> {
        let slices = SliceLayout::new(plan, &fitted)?;
        let mut checked = Checked::new_unsliced(plan, fitted)?;
        checked.slices = slices.map(Box::new);
        Ok(checked)
    }

    /// Checks `fitted` as the program of one slice (of the whole problem
    /// when the plan is not sliced): the shapes it runs on are the step
    /// problem's.
    pub(crate) fn new_unsliced(plan: &Plan, fitted: Fitted) -> Result<Checked, ExecError> {
        let bound = plan.step_bound();
        let input_shapes: Vec<Vec<usize>> = bound
            .operands()
            .iter()
            .map(|dims| dims.iter().map(|d| d.extent).collect())
            .collect();
        let out_shape = bound.output_shape();
        if fitted.input_strides().len() != input_shapes.len() {
            return Err(ExecError::OperandCountMismatch {
                expected: input_shapes.len(),
                got: fitted.input_strides().len(),
            });
        }
        let shapes = input_shapes.iter().chain([&out_shape]);
        let strides = fitted
            .input_strides()
            .iter()
            .map(Vec::as_slice)
            .chain([fitted.out_strides()]);
        for (shape, strides) in shapes.zip(strides) {
            if shape.len() != strides.len() {
                return Err(ExecError::RankMismatch {
                    shape: shape.clone(),
                    strides: strides.to_vec(),
                });
            }
        }
        let checker = Checker {
            fitted: &fitted,
            input_shapes: &input_shapes,
            out_shape: &out_shape,
        };
        let mut gemm = false;
        for (i, step) in fitted.steps().iter().enumerate() {
            checker.step(i, step)?;
            gemm |= matches!(step.lowered, Lowered::Gemm(_));
        }
        Ok(Checked {
            fitted,
            input_shapes,
            out_shape,
            gemm,
            slices: None,
        })
    }

    /// How its slices lie over the arrays, when the plan is sliced.
    pub(crate) fn slices(&self) -> Option<&SliceLayout> {
        self.slices.as_deref()
    }

    /// The fitted plan.
    pub(crate) fn fitted(&self) -> &Fitted {
        &self.fitted
    }

    /// The operands' shapes it was checked for.
    pub(crate) fn input_shapes(&self) -> &[Vec<usize>] {
        &self.input_shapes
    }

    /// The output's shape it was checked for.
    pub(crate) fn out_shape(&self) -> &[usize] {
        &self.out_shape
    }

    /// Whether some step runs on GEMM.
    pub(crate) fn uses_gemm(&self) -> bool {
        self.gemm
    }
}

struct Checker<'a> {
    fitted: &'a Fitted,
    input_shapes: &'a [Vec<usize>],
    out_shape: &'a [usize],
}

impl Checker<'_> {
    fn invalid(step: usize, problem: ProgramProblem) -> ExecError {
        ExecError::ProgramInvalid { step, problem }
    }

    fn buffer(&self, step: usize, b: usize) -> Result<Place, ExecError> {
        let len = *self
            .fitted
            .buffers()
            .get(b)
            .ok_or_else(|| Self::invalid(step, ProgramProblem::NoSuchBuffer(b)))?;
        Ok(Place {
            name: format!("buffer b{b}"),
            holds: (len > 0).then(|| (0, len as i128 - 1)),
        })
    }

    fn source(&self, step: usize, source: Source) -> Result<Place, ExecError> {
        match source {
            Source::Operand(k) => {
                let shape = self
                    .input_shapes
                    .get(k)
                    .ok_or_else(|| Self::invalid(step, ProgramProblem::NoSuchOperand(k)))?;
                Ok(Place {
                    name: format!("operand {k}"),
                    holds: view_range(shape, &self.fitted.input_strides()[k]),
                })
            }
            Source::Buffer(b) => self.buffer(step, b.0),
        }
    }

    fn dest(&self, step: usize, dest: Dest) -> Result<Place, ExecError> {
        match dest {
            Dest::Output => Ok(Place {
                name: "the output".into(),
                holds: view_range(self.out_shape, self.fitted.out_strides()),
            }),
            Dest::Buffer(b) => self.buffer(step, b.0),
        }
    }

    fn step(&self, i: usize, step: &FitStep) -> Result<(), ExecError> {
        let n = step.inputs.len();
        let needs = if matches!(step.lowered, Lowered::Gemm(_)) {
            2..=2
        } else {
            1..=2
        };
        if !needs.contains(&n) {
            return Err(Self::invalid(i, ProgramProblem::InputCount(n)));
        }
        // Buffers written must be read or written by nothing else here.
        let mut written: Vec<usize> = Vec::new();
        if let Dest::Buffer(b) = step.output {
            written.push(b.0);
        }
        if let Lowered::Gemm(g) = &step.lowered {
            written.extend(g.repacks.iter().map(|r| r.buffer.0));
        }
        let read = step.inputs.iter().filter_map(|s| match s {
            Source::Buffer(b) => Some(b.0),
            Source::Operand(_) => None,
        });
        let mut seen: Vec<usize> = Vec::new();
        for b in written.iter().copied().chain(read) {
            if written.contains(&b) && seen.contains(&b) {
                return Err(Self::invalid(i, ProgramProblem::BufferShared(b)));
            }
            seen.push(b);
        }
        let left = self.source(i, step.inputs[0])?;
        let right = step.inputs.get(1).map(|&s| self.source(i, s)).transpose()?;
        let out = self.dest(i, step.output)?;
        match &step.lowered {
            Lowered::Loops(loops) => self.loops(i, loops, &left, right.as_ref(), &out),
            Lowered::Gemm(g) => {
                let right = right.ok_or_else(|| Self::invalid(i, ProgramProblem::InputCount(1)))?;
                self.gemm(i, g, left, right, out)
            }
        }
    }

    fn loops(
        &self,
        i: usize,
        loops: &Loops,
        left: &Place,
        right: Option<&Place>,
        out: &Place,
    ) -> Result<(), ExecError> {
        let all: Vec<Loop> = loops.kept.iter().chain(&loops.summed).copied().collect();
        left.check(i, reach(&all, |d| d.a))?;
        if let Some(right) = right {
            right.check(i, reach(&all, |d| d.b))?;
        }
        out.check_writes(i, &loops.kept, |d| d.out)?;
        if let Order::Transpose { x, inner } = loops.order {
            let fits = x != inner
                && x < loops.kept.len()
                && inner < loops.kept.len()
                && loops.summed.is_empty()
                && right.is_none();
            if !fits {
                return Err(Self::invalid(i, ProgramProblem::TransposeLoops));
            }
        }
        Ok(())
    }

    fn gemm(
        &self,
        i: usize,
        g: &Gemm,
        mut left: Place,
        mut right: Place,
        out: Place,
    ) -> Result<(), ExecError> {
        let mut result = None;
        for repack in &g.repacks {
            let buffer = self.buffer(i, repack.buffer.0)?;
            let kept = &repack.loops.kept;
            if !repack.loops.summed.is_empty() {
                return Err(Self::invalid(
                    i,
                    ProgramProblem::ReachesOutside {
                        tensor: format!("buffer {}", repack.buffer),
                        lo: 0,
                        hi: 0,
                        holds: "a copy, which sums nothing".into(),
                    },
                ));
            }
            match repack.tensor {
                Tensor::Left | Tensor::Right => {
                    let source = if repack.tensor == Tensor::Left {
                        &left
                    } else {
                        &right
                    };
                    source.check(i, reach(kept, |d| d.a))?;
                    buffer.check_writes(i, kept, |d| d.out)?;
                    if repack.tensor == Tensor::Left {
                        left = buffer;
                    } else {
                        right = buffer;
                    }
                }
                Tensor::Result => {
                    buffer.check(i, reach(kept, |d| d.a))?;
                    out.check_writes(i, kept, |d| d.out)?;
                    result = Some(buffer);
                }
            }
            if let Order::Transpose { x, inner } = repack.loops.order
                && (x == inner || x >= kept.len() || inner >= kept.len())
            {
                return Err(Self::invalid(i, ProgramProblem::TransposeLoops));
            }
        }
        let result = result.unwrap_or(out);
        let reads: Vec<Loop> = [g.m, g.n, g.k]
            .into_iter()
            .chain(g.outer.iter().copied())
            .chain(g.k_rest.iter().copied())
            .collect();
        // The left matrix is read along m and k, the right along k and n;
        // a stride a tensor does not have along a loop is not followed.
        let left_dims: Vec<Loop> = reads
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != 1)
            .map(|(_, d)| *d)
            .collect();
        let right_dims: Vec<Loop> = reads
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != 0)
            .map(|(_, d)| *d)
            .collect();
        left.check(i, reach(&left_dims, |d| d.a))?;
        right.check(i, reach(&right_dims, |d| d.b))?;
        let writes: Vec<Loop> = [g.m, g.n]
            .into_iter()
            .chain(g.outer.iter().copied())
            .collect();
        result.check_writes(i, &writes, |d| d.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(extent: usize, a: isize) -> Loop {
        Loop {
            extent,
            a,
            out: a,
            ..Loop::ONE
        }
    }

    #[test]
    fn reach_spans_negative_and_positive_strides() {
        assert_eq!(reach(&[d(3, 4), d(2, -1)], |l| l.a), Ok(Some((-1, 8))));
        assert_eq!(reach(&[d(0, 4)], |l| l.a), Ok(None));
        assert!(
            reach(
                &[d(usize::MAX, isize::MAX), d(usize::MAX, isize::MAX)],
                |l| l.a
            )
            .is_err()
        );
    }

    #[test]
    fn overlapping_writes_are_found() {
        assert!(unaliased(&[d(2, 3), d(3, 1)], |l| l.out));
        assert!(!unaliased(&[d(2, 2), d(3, 1)], |l| l.out));
        assert!(!unaliased(&[d(2, 0)], |l| l.out));
    }
}
