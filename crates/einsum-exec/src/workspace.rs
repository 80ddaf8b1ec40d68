//! Buffers for a program's temporaries and copies, kept between runs.

use std::any::{Any, TypeId};

use einsum_plan::Plan;
use einsum_plan::fit::Fitted;

use crate::element::Element;
use crate::error::ExecError;
use crate::memory::{Allocation, bytes_of, check_bytes, try_zeroed};

/// The buffers a fitted plan's temporaries and copies live in
/// ([`Fitted::buffers`]: temporaries share a buffer once dead).
///
/// A workspace grows to what the programs run with it need and is then
/// reused: running the same program again allocates nothing. A fresh
/// workspace run once holds exactly [`Fitted::workspace_elements`].
#[derive(Debug, Default)]
pub struct Workspace<T> {
    buffers: Vec<Vec<T>>,
    /// The workspaces of a sliced run's lanes (slices running at once).
    lanes: Vec<Workspace<T>>,
}

impl<T: Element> Workspace<T> {
    /// An empty workspace.
    pub fn new() -> Self {
        Workspace {
            buffers: Vec::new(),
            lanes: Vec::new(),
        }
    }

    /// `n` workspaces for the lanes of a sliced run, kept for later runs.
    pub(crate) fn lanes(&mut self, n: usize) -> &mut [Workspace<T>] {
        if self.lanes.len() < n {
            self.lanes.resize_with(n, Workspace::new);
        }
        &mut self.lanes[..n]
    }

    /// Grows buffer `i` to at least `lens[i]` elements, for every `i`.
    ///
    /// Every size is checked, and their total against the machine, before
    /// any buffer is allocated or touched: a program whose last buffer
    /// cannot be had fails without zero-filling the first ones. Allocates
    /// nothing when the buffers are already large enough.
    pub(crate) fn prepare(&mut self, lens: &[usize]) -> Result<(), ExecError> {
        if self.buffers.len() < lens.len() {
            self.buffers.resize_with(lens.len(), Vec::new);
        }
        let growth = self
            .buffers
            .iter()
            .zip(lens)
            .filter(|(buffer, len)| buffer.len() < **len)
            .try_fold(0u128, |sum, (_, &len)| {
                sum.checked_add(bytes_of::<T>(len as u128)?)
            });
        check_bytes(growth, Allocation::Workspace)?;
        for (buffer, &len) in self.buffers.iter_mut().zip(lens) {
            if buffer.len() < len {
                // A buffer's old contents are scratch: freed first, so old
                // and new never hold memory together.
                *buffer = Vec::new();
                *buffer = try_zeroed(len, Allocation::Workspace)?;
            }
        }
        Ok(())
    }

    /// Grows the workspace to what `program` uses (what its first run would
    /// allocate), so that running it allocates nothing.
    ///
    /// # Errors
    /// If the buffers do not fit in this machine's memory.
    pub fn reserve(&mut self, program: &crate::Program) -> Result<(), ExecError> {
        self.prepare(program.fitted().buffers())
    }

    /// The buffers, for the kernels.
    pub(crate) fn buffers_mut(&mut self) -> &mut [Vec<T>] {
        &mut self.buffers
    }

    /// Elements held, over all buffers (a sliced run's lanes' included).
    pub fn len(&self) -> usize {
        self.buffers.iter().map(Vec::len).sum::<usize>()
            + self.lanes.iter().map(Workspace::len).sum::<usize>()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Bytes one run of `plan`, fitted as `fitted`, allocates on elements of
/// `element_bytes` bytes for a new result and its workspace, exactly;
/// `None` beyond `u128`. A caller that makes its operands too
/// (`einsum-explain`) adds theirs and checks the total with
/// [`crate::check_bytes`] before allocating anything.
pub fn bytes_needed(plan: &Plan, fitted: &Fitted, element_bytes: usize) -> Option<u128> {
    let output = plan
        .output_shape()
        .iter()
        .try_fold(1u128, |n, &e| n.checked_mul(e as u128))?;
    fitted
        .buffers()
        .iter()
        .map(|&len| len as u128)
        .chain([output])
        .try_fold(0u128, |sum, e| {
            sum.checked_add(e.checked_mul(element_bytes as u128)?)
        })
}

/// One [`Workspace`] per element type, for callers that run plans of any
/// type (a compiled expression): [`Workspaces::of`] picks the right one.
#[derive(Debug, Default)]
pub struct Workspaces {
    /// A `Workspace<T>` per type `T` used so far.
    by_type: Vec<(TypeId, Box<dyn Any + Send>)>,
}

impl Workspaces {
    /// Empty workspaces.
    pub fn new() -> Self {
        Self::default()
    }

    /// The workspace for `T` (made empty on first use).
    pub fn of<T: Element>(&mut self) -> &mut Workspace<T> {
        let id = TypeId::of::<T>();
        let i = match self.by_type.iter().position(|(t, _)| *t == id) {
            Some(i) => i,
            None => {
                self.by_type.push((id, Box::new(Workspace::<T>::new())));
                self.by_type.len() - 1
            }
        };
        // The entry under `T`'s id holds a `Workspace<T>`, by construction
        // above; a fresh one stands in should that ever not hold.
        if !self.by_type[i].1.is::<Workspace<T>>() {
            self.by_type[i].1 = Box::new(Workspace::<T>::new());
        }
        self.by_type[i]
            .1
            .downcast_mut::<Workspace<T>>()
            .expect("replaced above when of another type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_prepare_of_the_same_lengths_reuses_the_buffers() {
        let mut all = Workspaces::new();
        all.of::<f64>().prepare(&[100, 30]).unwrap();
        let first = all.of::<f64>().buffers_mut()[0].as_ptr();
        assert_eq!(all.of::<f64>().len(), 130);
        all.of::<f64>().prepare(&[50, 30]).unwrap();
        assert_eq!(all.of::<f64>().buffers_mut()[0].as_ptr(), first);
        assert_eq!(all.of::<f64>().len(), 130);
        assert!(all.of::<i32>().is_empty(), "each type has its own");
    }
}
