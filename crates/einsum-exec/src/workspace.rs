//! Buffers for a plan's temporaries, kept between runs.

use einsum_plan::Plan;

use crate::element::Element;
use crate::error::ExecError;

/// The temporaries a plan writes between its steps.
///
/// A workspace grows to what the plans run with it need and is then reused:
/// running the same plan again allocates nothing.
#[derive(Debug, Default)]
pub struct Workspace<T> {
    buffers: Vec<Vec<T>>,
    /// Copies GEMM steps make of their operands and results (left, right,
    /// result), reused by every step.
    scratch: [Vec<T>; 3],
}

impl<T: Element> Workspace<T> {
    /// An empty workspace.
    pub fn new() -> Self {
        Workspace {
            buffers: Vec::new(),
            scratch: Default::default(),
        }
    }

    /// Makes a buffer of the right size for each of `plan`'s temporaries.
    pub(crate) fn prepare(&mut self, plan: &Plan) -> Result<(), ExecError> {
        let bound = plan.bound();
        if self.buffers.len() < plan.temps().len() {
            self.buffers.resize_with(plan.temps().len(), Vec::new);
        }
        for (buffer, axes) in self.buffers.iter_mut().zip(plan.temps()) {
            let len = axes
                .iter()
                .try_fold(1usize, |acc, &a| acc.checked_mul(bound.axis(a).size))
                .ok_or(ExecError::WorkspaceTooLarge {
                    elements: usize::MAX,
                })?;
            grow(buffer, len)?;
        }
        Ok(())
    }

    /// Grows the scratch buffers to at least these lengths.
    pub(crate) fn prepare_scratch(&mut self, lens: [usize; 3]) -> Result<(), ExecError> {
        for (buffer, len) in self.scratch.iter_mut().zip(lens) {
            grow(buffer, len)?;
        }
        Ok(())
    }

    /// Scratch buffer `i` (0 left, 1 right, 2 result).
    pub(crate) fn scratch(&mut self, i: usize) -> &mut [T] {
        &mut self.scratch[i]
    }

    pub(crate) fn buffer(&mut self, t: usize) -> &mut [T] {
        &mut self.buffers[t]
    }

    /// Elements held, over all buffers.
    pub fn len(&self) -> usize {
        self.buffers.iter().chain(&self.scratch).map(Vec::len).sum()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes `buffer` hold at least `len` elements. A buffer's old contents are
/// scratch, so a growing buffer is replaced by a fresh allocation, advised
/// for huge pages before anything is written to it.
fn grow<T: Element>(buffer: &mut Vec<T>, len: usize) -> Result<(), ExecError> {
    if buffer.len() >= len {
        return Ok(());
    }
    let mut fresh: Vec<T> = Vec::new();
    fresh
        .try_reserve_exact(len)
        .map_err(|_| ExecError::WorkspaceTooLarge { elements: len })?;
    crate::advise_huge_pages(fresh.spare_capacity_mut());
    fresh.resize(len, T::ZERO);
    *buffer = fresh;
    Ok(())
}

/// One [`Workspace`] per element type, for callers that run plans of any
/// type (a compiled expression): [`Workspaces::of`] picks the right one.
#[derive(Debug, Default)]
pub struct Workspaces {
    pub(crate) f32: Workspace<f32>,
    pub(crate) f64: Workspace<f64>,
    pub(crate) c64: Workspace<num_complex::Complex<f32>>,
    pub(crate) c128: Workspace<num_complex::Complex<f64>>,
    pub(crate) i32: Workspace<i32>,
    pub(crate) i64: Workspace<i64>,
}

impl Workspaces {
    /// Empty workspaces.
    pub fn new() -> Self {
        Self::default()
    }

    /// The workspace for `T`.
    pub fn of<T: Element>(&mut self) -> &mut Workspace<T> {
        T::workspace(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_of_the_same_plan_reuses_the_buffers() {
        let expr = einsum_syntax::parse("ij,jk,kl->il").unwrap().lower();
        let bound = einsum_plan::bind(&expr, &[&[2, 30][..], &[30, 4], &[4, 50]]).unwrap();
        let plan = einsum_plan::plan(&bound, &Default::default()).unwrap();
        let mut all = Workspaces::new();
        all.of::<f64>().prepare(&plan).unwrap();
        let first = all.of::<f64>().buffer(0).as_ptr();
        let len = all.of::<f64>().len();
        assert!(len > 0);
        all.of::<f64>().prepare(&plan).unwrap();
        assert_eq!(all.of::<f64>().buffer(0).as_ptr(), first);
        assert_eq!(all.of::<f64>().len(), len);
        assert!(all.of::<i32>().is_empty(), "each type has its own");
    }
}
