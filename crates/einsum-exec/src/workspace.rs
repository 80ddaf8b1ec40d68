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
}

impl<T: Element> Workspace<T> {
    /// An empty workspace.
    pub fn new() -> Self {
        Workspace {
            buffers: Vec::new(),
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
            if buffer.len() < len {
                buffer
                    .try_reserve_exact(len - buffer.len())
                    .map_err(|_| ExecError::WorkspaceTooLarge { elements: len })?;
                buffer.resize(len, T::ZERO);
            }
        }
        Ok(())
    }

    pub(crate) fn buffer(&mut self, t: usize) -> &mut [T] {
        &mut self.buffers[t]
    }

    /// Elements held, over all buffers.
    pub fn len(&self) -> usize {
        self.buffers.iter().map(Vec::len).sum()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
