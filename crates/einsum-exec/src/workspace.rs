//! Buffers for a plan's temporaries, kept between runs.

use einsum_plan::Plan;

use crate::element::Element;
use crate::error::ExecError;
use crate::memory::{Allocation, bytes_of, check_bytes, machine_bytes, try_zeroed};

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
    ///
    /// Every size is checked, and their total against the machine, before
    /// any buffer is allocated or touched: a plan whose last temporary cannot
    /// be had fails without zero-filling the first ones. Allocates nothing
    /// when the buffers are already large enough.
    pub(crate) fn prepare(&mut self, plan: &Plan) -> Result<(), ExecError> {
        let bound = plan.bound();
        let len = |axes: &Vec<einsum_plan::AxisId>| -> Result<usize, ExecError> {
            let elements = axes
                .iter()
                .try_fold(1u128, |acc, &a| acc.checked_mul(bound.axis(a).size as u128));
            elements
                .and_then(|e| usize::try_from(e).ok())
                .ok_or_else(|| ExecError::OutOfMemory {
                    bytes: elements.and_then(bytes_of::<T>),
                    what: Allocation::Workspace,
                    machine: machine_bytes(),
                })
        };
        if self.buffers.len() < plan.temps().len() {
            self.buffers.resize_with(plan.temps().len(), Vec::new);
        }
        let mut growth = Some(0u128);
        for (buffer, axes) in self.buffers.iter().zip(plan.temps()) {
            let len = len(axes)?;
            if buffer.len() < len {
                growth = growth.and_then(|g| g.checked_add(bytes_of::<T>(len as u128)?));
            }
        }
        check_bytes(growth, Allocation::Workspace)?;
        for (buffer, axes) in self.buffers.iter_mut().zip(plan.temps()) {
            grow(buffer, len(axes)?)?;
        }
        Ok(())
    }

    /// Grows the scratch buffers to at least these lengths.
    pub(crate) fn prepare_scratch(&mut self, lens: [usize; 3]) -> Result<(), ExecError> {
        let growth = self
            .scratch
            .iter()
            .zip(lens)
            .filter(|(buffer, len)| buffer.len() < *len)
            .try_fold(0u128, |sum, (_, len)| {
                sum.checked_add(bytes_of::<T>(len as u128)?)
            });
        check_bytes(growth, Allocation::Workspace)?;
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

/// Bytes one run of `plan` on elements of `element_bytes` bytes allocates
/// for a new result and for its temporaries (one buffer each), exactly;
/// `None` beyond `u128`. A caller that makes its operands too (`einsum-explain`) adds
/// theirs and checks the total with [`crate::check_bytes`] before
/// allocating anything.
pub fn bytes_needed(plan: &Plan, element_bytes: usize) -> Option<u128> {
    let bound = plan.bound();
    let elements = |axes: &[einsum_plan::AxisId]| {
        axes.iter()
            .try_fold(1u128, |n, &a| n.checked_mul(bound.axis(a).size as u128))
    };
    plan.temps()
        .iter()
        .map(|axes| elements(axes))
        .chain([elements(bound.output())])
        .try_fold(0u128, |sum, e| {
            sum.checked_add(e?.checked_mul(element_bytes as u128)?)
        })
}

/// Makes `buffer` hold at least `len` elements. A buffer's old contents
/// are scratch, so a growing buffer is replaced by a fresh one (freed first,
/// so old and new never hold memory together).
fn grow<T: Element>(buffer: &mut Vec<T>, len: usize) -> Result<(), ExecError> {
    if buffer.len() < len {
        *buffer = Vec::new();
        *buffer = try_zeroed(len, Allocation::Workspace)?;
    }
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
