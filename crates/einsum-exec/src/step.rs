//! A plan step as loops: every axis it touches, with the element strides
//! of its inputs and result along it.

use einsum_plan::{Arg, AxisId, Bound};

/// One loop dimension of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dim {
    /// Its extent.
    pub extent: usize,
    /// Element stride in the left input (0 where the input does not vary).
    pub a: isize,
    /// Element stride in the right input (0 where it does not vary, or for
    /// a one-input step).
    pub b: isize,
    /// Element stride in the result (0 for a summed axis).
    pub out: isize,
}

/// A step's loops: those that index the result, and those summed over.
#[derive(Clone, Debug, Default)]
pub(crate) struct Loops {
    /// Axes of the result, outermost first.
    pub kept: Vec<Dim>,
    /// Axes summed over, outermost first.
    pub summed: Vec<Dim>,
}

/// Each axis's element stride in a tensor read through `dims` with
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

/// Which axes a step touches: those its inputs read at full extent (not
/// broadcast) and those its result holds.
pub(crate) fn present(bound: &Bound, args: &[Arg], out_axes: &[AxisId]) -> Vec<bool> {
    let mut present = vec![false; bound.axes().len()];
    for arg in args {
        for dim in &arg.dims {
            if dim.extent == bound.axis(dim.axis).size {
                present[dim.axis.index()] = true;
            }
        }
    }
    for axis in out_axes {
        present[axis.index()] = true;
    }
    present
}

/// C-order strides for extents.
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

/// The loops of a step over the axes in `present` (those its inputs or
/// result hold: a zero stride does not mean absent, a broadcast input is
/// still summed over), from each tensor's per-axis strides. Axes of extent 1
/// are dropped; dimensions contiguous in all three tensors are fused.
pub(crate) fn loops(
    bound: &Bound,
    present: &[bool],
    a: &[isize],
    b: Option<&[isize]>,
    out: &[isize],
    out_axes: &[AxisId],
) -> Loops {
    let mut kept = Vec::new();
    let mut summed = Vec::new();
    for (i, axis) in bound.axes().iter().enumerate() {
        let da = a[i];
        let db = b.map_or(0, |b| b[i]);
        if !present[i] || axis.size == 1 {
            continue;
        }
        let dim = Dim {
            extent: axis.size,
            a: da,
            b: db,
            out: out[i],
        };
        if out_axes.contains(&AxisId::new(i)) {
            kept.push(dim);
        } else {
            summed.push(dim);
        }
    }
    // Zero-extent axes make the step empty; keep them so callers see it.
    kept.sort_by_key(|d| std::cmp::Reverse(d.out.unsigned_abs()));
    summed.sort_by_key(|d| std::cmp::Reverse(d.a.unsigned_abs().max(d.b.unsigned_abs())));
    Loops {
        kept: fuse(kept),
        summed: fuse(summed),
    }
}

/// Fuses neighbours (outer first) that are contiguous in every tensor.
pub(crate) fn fuse(dims: Vec<Dim>) -> Vec<Dim> {
    let mut out: Vec<Dim> = Vec::with_capacity(dims.len());
    for d in dims {
        if let Some(last) = out.last_mut() {
            let e = d.extent as isize;
            let joins = last.extent > 0
                && d.extent > 0
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

    #[test]
    fn c_order_strides() {
        assert_eq!(c_strides([2usize, 3, 4].into_iter()), [12, 4, 1]);
        assert_eq!(c_strides(std::iter::empty()), Vec::<isize>::new());
    }

    #[test]
    fn contiguous_dims_fuse() {
        let d = |extent, a, b, out| Dim { extent, a, b, out };
        assert_eq!(
            fuse(vec![d(2, 12, 0, 12), d(3, 4, 0, 4), d(4, 1, 0, 1)]),
            vec![d(24, 1, 0, 1)]
        );
        assert_eq!(fuse(vec![d(2, 1, 0, 3), d(3, 2, 0, 1)]).len(), 2);
    }
}
