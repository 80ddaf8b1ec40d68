//! A step as loops: every axis it touches, with the element strides of its
//! inputs and result along it, sorted and fused; and the loop order the
//! strided engine walks them in.

use crate::axis::AxisId;
use crate::bind::Bound;
use crate::kernel::{self, Role};
use crate::plan::Arg;

/// One loop dimension of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Loop {
    /// Its extent.
    pub extent: usize,
    /// Element stride in the left input (0 where the input does not vary).
    pub a: isize,
    /// Element stride in the right input (0 where it does not vary, or for
    /// a one-input step).
    pub b: isize,
    /// Element stride in the result (0 for a summed axis).
    pub out: isize,
    /// Its axes' role in the step ([`kernel::classify`], from which
    /// tensors hold them: the one classification the planner makes).
    pub role: Role,
}

impl Loop {
    /// A loop of one iteration: what a missing role stands for.
    pub const ONE: Loop = Loop {
        extent: 1,
        a: 0,
        b: 0,
        out: 0,
        role: Role::Batch,
    };
}

/// The order the strided engine walks a step's loops in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Order {
    /// Each result element is one pairwise-accumulated dot or sum over the
    /// summed loops (the cheapest loop to walk is summed: `ij,ij->i`).
    InnerSum,
    /// The result is zeroed if anything is summed, then rows along its
    /// innermost loop are added in (`ij->j`, elementwise, outer products).
    Accumulate,
    /// A one-input copy whose input and result run along different loops:
    /// square tiles of loops `kept[x]` (the input's fastest) and
    /// `kept[inner]` (the result's), so both sides touch whole cache lines.
    Transpose {
        /// The kept loop the input walks fastest.
        x: usize,
        /// The result's innermost kept loop.
        inner: usize,
    },
}

/// Side of the square tiles a transposing copy moves through: 32x32 of the
/// largest element (16 bytes) is 16 KiB, within L1.
pub const TILE: usize = 32;

/// A step's loops: those that index the result, those summed over, and the
/// order to walk them in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Loops {
    /// Loops of the result, outermost first.
    pub kept: Vec<Loop>,
    /// Loops summed over, outermost first.
    pub summed: Vec<Loop>,
    /// How the strided engine walks them.
    pub order: Order,
}

impl Loops {
    /// Loops `kept` and `summed`, sorted (kept by result stride, summed by
    /// input stride, largest first), contiguous neighbours fused, and the
    /// walking order chosen from the strides.
    pub(crate) fn new(mut kept: Vec<Loop>, mut summed: Vec<Loop>, one_input: bool) -> Loops {
        kept.sort_by_key(|d| std::cmp::Reverse(d.out.unsigned_abs()));
        // A summed loop no input moves along (every stride 0: a broadcast
        // operand) goes outermost: innermost, it would re-read one element
        // in a scalar loop (`ij->` on `broadcast_to(row, (n, n))` ran 1.6x
        // slower than numpy).
        summed.sort_by_key(|d| match d.a.unsigned_abs().max(d.b.unsigned_abs()) {
            0 => std::cmp::Reverse(usize::MAX),
            walk => std::cmp::Reverse(walk),
        });
        let (kept, summed) = (fuse(kept), fuse(summed));
        let order = order(&kept, &summed, one_input);
        Loops {
            kept,
            summed,
            order,
        }
    }

    /// Iterations of the whole nest (saturating).
    pub fn points(&self) -> usize {
        self.kept
            .iter()
            .chain(&self.summed)
            .fold(1usize, |n, d| n.saturating_mul(d.extent))
    }
}

/// The strided engine's walking order for these loops: the innermost
/// loop is the summed one when it walks the inputs no further per step
/// than the result's innermost loop walks inputs and result together
/// (accumulating reads and writes the result on every pass; a sum keeps
/// its accumulator in registers). Counting the result matters where an
/// input is broadcast along the kept loop (stride 0): `ij->i` on
/// `broadcast_to(row, (n, n))` ran 2x slower than numpy as n passes over
/// the result.
fn order(kept: &[Loop], summed: &[Loop], one_input: bool) -> Order {
    let walk = |d: &Loop| d.a.unsigned_abs().saturating_add(d.b.unsigned_abs());
    let inner_sum = match (summed.last(), kept.last()) {
        (Some(s), Some(k)) => walk(s) <= walk(k).saturating_add(k.out.unsigned_abs()),
        (Some(_), None) => true,
        (None, _) => false,
    };
    if inner_sum {
        return Order::InnerSum;
    }
    if summed.is_empty()
        && one_input
        && let Some((x, inner)) = transpose_pair(kept)
    {
        return Order::Transpose { x, inner };
    }
    Order::Accumulate
}

/// For a copy whose innermost result loop is not the input's innermost
/// (`ijk->kji`): the kept loop the input walks fastest and the result's
/// innermost, by position in `kept`, when both are long enough to tile.
fn transpose_pair(kept: &[Loop]) -> Option<(usize, usize)> {
    let inner = kept.len().checked_sub(1)?;
    let walk = |d: &Loop| d.a.unsigned_abs();
    let x = (0..inner)
        .filter(|&i| kept[i].a != 0)
        .min_by_key(|&i| walk(&kept[i]))?;
    let transposing = walk(&kept[x]) < walk(&kept[inner])
        && kept[x].extent >= TILE / 4
        && kept[inner].extent >= TILE / 4;
    transposing.then_some((x, inner))
}

/// Each axis's element stride in a tensor read through `arg.dims` with
/// `strides`: diagonals add their strides, broadcast dimensions (extent not
/// the axis size) contribute nothing.
pub(crate) fn axis_strides(bound: &Bound, arg: &Arg, strides: &[isize]) -> Vec<isize> {
    let mut per_axis = vec![0isize; bound.axes().len()];
    for (dim, &stride) in arg.dims.iter().zip(strides) {
        if dim.extent == bound.axis(dim.axis).size {
            per_axis[dim.axis.index()] = per_axis[dim.axis.index()].wrapping_add(stride);
        }
    }
    per_axis
}

/// The axes an input reads at full extent (not broadcast).
pub(crate) fn held(bound: &Bound, arg: &Arg) -> Vec<AxisId> {
    let mut axes: Vec<AxisId> = Vec::new();
    for dim in &arg.dims {
        if dim.extent == bound.axis(dim.axis).size && !axes.contains(&dim.axis) {
            axes.push(dim.axis);
        }
    }
    axes
}

/// C-order element strides for extents.
pub(crate) fn c_strides(extents: impl DoubleEndedIterator<Item = usize>) -> Vec<isize> {
    let mut strides: Vec<isize> = Vec::new();
    let mut next = 1isize;
    for e in extents.rev() {
        strides.push(next);
        next = next.wrapping_mul(e as isize);
    }
    strides.reverse();
    strides
}

/// The loops of a step over the axes its inputs hold (`left`, `right`:
/// read at full extent; a zero stride does not mean absent, a broadcast
/// input is still summed over) or its result holds, from each tensor's
/// per-axis strides, each with its role. Axes of extent 1 are dropped;
/// loops of one role contiguous in all three tensors are fused.
pub(crate) fn step_loops(
    bound: &Bound,
    (left, a): (&[AxisId], &[isize]),
    right: Option<(&[AxisId], &[isize])>,
    out: &[isize],
    out_axes: &[AxisId],
) -> Loops {
    let mut kept = Vec::new();
    let mut summed = Vec::new();
    let right_axes = right.map_or(&[][..], |(axes, _)| axes);
    // The axes the step touches, in the network's axis order (visiting
    // every axis of the network per step made planning quadratic in the
    // number of tensors).
    let mut touched: Vec<AxisId> = left
        .iter()
        .chain(right_axes)
        .chain(out_axes)
        .copied()
        .collect();
    touched.sort_unstable_by_key(|a| a.index());
    touched.dedup();
    for id in touched {
        let i = id.index();
        let axis = bound.axis(id);
        if axis.size == 1 {
            continue;
        }
        let dim = Loop {
            extent: axis.size,
            a: a[i],
            b: right.map_or(0, |(_, b)| b[i]),
            out: out[i],
            role: kernel::classify(id, left, right_axes, out_axes),
        };
        if out_axes.contains(&AxisId::new(i)) {
            kept.push(dim);
        } else {
            summed.push(dim);
        }
    }
    // Zero-extent axes make the step empty; they are kept so callers see it.
    Loops::new(kept, summed, right.is_none())
}

/// Fuses neighbours (outer first) that are contiguous in every tensor.
pub(crate) fn fuse(dims: Vec<Loop>) -> Vec<Loop> {
    let mut out: Vec<Loop> = Vec::with_capacity(dims.len());
    for d in dims {
        if let Some(last) = out.last_mut() {
            let e = d.extent as isize;
            // Extents past `usize` (a plan too large to run, fitted for its
            // report) are left unfused.
            let joins = last.extent > 0
                && d.extent > 0
                && last.role == d.role
                && last.extent.checked_mul(d.extent).is_some()
                && last.a == d.a.wrapping_mul(e)
                && last.b == d.b.wrapping_mul(e)
                && last.out == d.out.wrapping_mul(e);
            if joins {
                last.extent *= d.extent;
                last.a = d.a;
                last.b = d.b;
                last.out = d.out;
                continue;
            }
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(extent: usize, a: isize, b: isize, out: isize) -> Loop {
        Loop {
            extent,
            a,
            b,
            out,
            role: Role::M,
        }
    }

    #[test]
    fn c_order_strides() {
        assert_eq!(c_strides([2usize, 3, 4].into_iter()), [12, 4, 1]);
        assert_eq!(c_strides(std::iter::empty()), Vec::<isize>::new());
    }

    #[test]
    fn contiguous_loops_fuse() {
        assert_eq!(
            fuse(vec![d(2, 12, 0, 12), d(3, 4, 0, 4), d(4, 1, 0, 1)]),
            vec![d(24, 1, 0, 1)]
        );
        assert_eq!(fuse(vec![d(2, 1, 0, 3), d(3, 2, 0, 1)]).len(), 2);
    }

    #[test]
    fn the_cheapest_loop_decides_the_order() {
        // ij,ij->i in C order: j is summed and unit-stride.
        let rows = Loops::new(vec![d(100, 50, 50, 1)], vec![d(50, 1, 1, 0)], false);
        assert_eq!(rows.order, Order::InnerSum);
        // ij->j: the kept j is unit-stride, i summed.
        let cols = Loops::new(vec![d(50, 1, 0, 1)], vec![d(100, 50, 0, 0)], true);
        assert_eq!(cols.order, Order::Accumulate);
        // ij->ji at 64x64: a tiled transpose.
        let t = Loops::new(vec![d(64, 1, 0, 64), d(64, 64, 0, 1)], vec![], true);
        assert_eq!(t.order, Order::Transpose { x: 0, inner: 1 });
    }
}
