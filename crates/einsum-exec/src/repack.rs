//! Copies that turn a GEMM step with split role groups into one GEMM.
//!
//! A GEMM step's loop dimensions have roles: batch (in both inputs and the
//! result), M (left and result), N (right and result), K (both inputs,
//! summed). GEMM takes one stride per role; when a role spans several loop
//! dimensions that no stride can join (`abcd,dcfe->abef`: K is `cd` in one
//! operand and `dc` in the other), the kernel would loop over many small
//! products. Here, when the work is large enough to pay for it, the step
//! copies the fewest elements (inputs, or the result through a buffer) into
//! C-order buffers in one axis order per role, so that every role is one
//! dimension. The decision is made once per program, from the real strides.

use smallvec::SmallVec;

use crate::step::{Dim, Loops, fuse};

/// Multiply-adds per copied element below which a step keeps its loop of
/// smaller products instead of copying.
const WORTH: usize = 32;

/// The three tensors of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tensor {
    /// The left input.
    Left,
    /// The right input.
    Right,
    /// The result.
    Out,
}

/// A step's copies and the loops of its GEMM over the copies.
#[derive(Clone, Debug)]
pub(crate) struct Repacked {
    /// Each copy: which tensor, and the copy's loops (input strides as `a`,
    /// buffer strides as `out`; for the result, the other way round).
    pub copies: SmallVec<[(Tensor, Loops, usize); 3]>,
    /// The GEMM's loops, reading and writing the buffers.
    pub gemm: Loops,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Batch,
    M,
    N,
    K,
}

fn stride(d: &Dim, t: Tensor) -> isize {
    match t {
        Tensor::Left => d.a,
        Tensor::Right => d.b,
        Tensor::Out => d.out,
    }
}

fn holders(role: Role) -> &'static [Tensor] {
    match role {
        Role::Batch => &[Tensor::Out, Tensor::Left, Tensor::Right],
        Role::M => &[Tensor::Out, Tensor::Left],
        Role::N => &[Tensor::Out, Tensor::Right],
        Role::K => &[Tensor::Left, Tensor::Right],
    }
}

/// Whether `dims`, in this order, are one stride in tensor `t`.
fn fuses(dims: &[Dim], t: Tensor) -> bool {
    dims.windows(2)
        .all(|w| stride(&w[0], t) == stride(&w[1], t).wrapping_mul(w[1].extent as isize))
}

/// `dims` in tensor `t`'s memory order (largest stride first).
fn order_in(dims: &[Dim], t: Tensor) -> SmallVec<[Dim; 4]> {
    let mut v: SmallVec<[Dim; 4]> = SmallVec::from_slice(dims);
    v.sort_by_key(|d| std::cmp::Reverse(stride(d, t).unsigned_abs()));
    v
}

/// Each role's dimensions in the order chosen for it (batch, M, N, K).
type Orders = [SmallVec<[Dim; 4]>; 4];

/// The copies that make every role of a GEMM step one dimension, if any
/// role is split and copying pays; `None` to run the step as it is.
pub(crate) fn plan(loops: &Loops) -> Option<Repacked> {
    let mut groups: [SmallVec<[Dim; 4]>; 4] = Default::default();
    for d in &loops.kept {
        let role = match (d.a != 0, d.b != 0) {
            (true, true) => Role::Batch,
            (true, false) => Role::M,
            (false, true) => Role::N,
            // Broadcast in both inputs: not a GEMM shape this handles.
            (false, false) => return None,
        };
        groups[role as usize].push(*d);
    }
    for d in &loops.summed {
        if d.a == 0 || d.b == 0 {
            return None;
        }
        groups[Role::K as usize].push(*d);
    }
    let roles = [Role::Batch, Role::M, Role::N, Role::K];
    // Dimensions are told apart by their extent and strides; two that agree
    // on all of them (inputs viewed with repeated strides) are left alone.
    let all: SmallVec<[Dim; 8]> = loops.kept.iter().chain(&loops.summed).copied().collect();
    if all
        .iter()
        .enumerate()
        .any(|(i, x)| all[..i].iter().any(|y| same(x, y)))
    {
        return None;
    }
    if [Role::M, Role::N, Role::K]
        .iter()
        .all(|&r| groups[r as usize].len() <= 1)
    {
        return None;
    }
    let size = |t: Tensor| -> usize {
        roles
            .iter()
            .filter(|r| holders(**r).contains(&t))
            .flat_map(|&r| groups[r as usize].iter())
            .fold(1usize, |n, d| n.saturating_mul(d.extent))
    };
    // Each role's order is that of one of its holders; try them all and
    // keep the cheapest (the result's copy counts twice: written, then
    // copied out).
    let mut best: Option<(usize, Orders, [bool; 3])> = None;
    let choices: Vec<[usize; 4]> = (0..3)
        .flat_map(|b| {
            (0..2).flat_map(move |m| (0..2).flat_map(move |n| (0..2).map(move |k| [b, m, n, k])))
        })
        .collect();
    for choice in choices {
        let orders: Orders =
            std::array::from_fn(|r| order_in(&groups[r], holders(roles[r])[choice[r]]));
        let mut copy = [false; 3];
        for (r, &role) in roles.iter().enumerate() {
            for &t in holders(role) {
                if !fuses(&orders[r], t) {
                    copy[t as usize] = true;
                }
            }
        }
        let cost = size(Tensor::Left) * usize::from(copy[0])
            + size(Tensor::Right) * usize::from(copy[1])
            + 2 * size(Tensor::Out) * usize::from(copy[2]);
        if best.as_ref().is_none_or(|(c, _, _)| cost < *c) {
            best = Some((cost, orders, copy));
        }
    }
    let (cost, orders, copy) = best?;
    let points = loops
        .kept
        .iter()
        .chain(&loops.summed)
        .fold(1usize, |n, d| n.saturating_mul(d.extent));
    if cost == 0 || points / cost < WORTH {
        return None;
    }
    // Buffer layouts: left [batch, M, K], right [batch, K, N], result
    // [batch, M, N], each role in its chosen order, C order.
    let layout = |t: Tensor| -> SmallVec<[Dim; 8]> {
        let seq: &[Role] = match t {
            Tensor::Left => &[Role::Batch, Role::M, Role::K],
            Tensor::Right => &[Role::Batch, Role::K, Role::N],
            Tensor::Out => &[Role::Batch, Role::M, Role::N],
        };
        seq.iter()
            .flat_map(|&r| orders[r as usize].iter().copied())
            .collect()
    };
    // The GEMM's dimensions: (as found, with the buffers' strides).
    let mut gemm: SmallVec<[(Dim, Dim, bool); 8]> = SmallVec::new();
    for (r, &role) in roles.iter().enumerate() {
        for d in &orders[r] {
            gemm.push((*d, *d, role == Role::K));
        }
    }
    let mut copies = SmallVec::new();
    for t in [Tensor::Left, Tensor::Right, Tensor::Out] {
        if !copy[t as usize] {
            continue;
        }
        let dims = layout(t);
        // C-order strides of the buffer, per loop dimension.
        let mut next = 1isize;
        let mut buffer: SmallVec<[isize; 8]> = SmallVec::from_elem(0, dims.len());
        for (i, d) in dims.iter().enumerate().rev() {
            buffer[i] = next;
            next = next.wrapping_mul(d.extent as isize);
        }
        for (found, d, _) in gemm.iter_mut() {
            if let Some(i) = dims.iter().position(|x| same(x, found)) {
                match t {
                    Tensor::Left => d.a = buffer[i],
                    Tensor::Right => d.b = buffer[i],
                    Tensor::Out => d.out = buffer[i],
                }
            }
        }
        // The copy: from the tensor's strides to the buffer's (reversed
        // for the result, which is copied out of its buffer).
        let kept: Vec<Dim> = dims
            .iter()
            .zip(&buffer)
            .map(|(d, &b)| {
                let s = stride(d, t);
                let (from, to) = if t == Tensor::Out { (b, s) } else { (s, b) };
                Dim {
                    extent: d.extent,
                    a: from,
                    b: 0,
                    out: to,
                }
            })
            .collect();
        copies.push((t, copy_loops(kept), size(t)));
    }
    let kept = gemm.iter().filter(|g| !g.2).map(|g| g.1).collect();
    let summed = gemm.iter().filter(|g| g.2).map(|g| g.1).collect();
    let repacked = Repacked {
        copies,
        gemm: gemm_loops(kept, summed),
    };
    // The kernels index the buffers unchecked: every offset the copies and
    // the GEMM reach in a buffer must lie inside it.
    for (t, copy, len) in &repacked.copies {
        let side = if *t == Tensor::Out {
            Tensor::Left
        } else {
            Tensor::Out
        };
        assert!(
            inside(copy, side, *len) && inside(&repacked.gemm, *t, *len),
            "a repack's strides leave its buffer"
        );
    }
    Some(repacked)
}

/// Whether every offset `loops` reach in tensor `t` lies in `0..len`.
fn inside(loops: &Loops, t: Tensor, len: usize) -> bool {
    let (mut lo, mut hi) = (0isize, 0isize);
    for d in loops.kept.iter().chain(&loops.summed) {
        let span = stride(d, t).saturating_mul(d.extent as isize - 1);
        if span < 0 {
            lo = lo.saturating_add(span);
        } else {
            hi = hi.saturating_add(span);
        }
    }
    lo >= 0 && (hi as usize) < len.max(1)
}

/// The same loop dimension (identified by extent and original strides).
fn same(x: &Dim, d: &Dim) -> bool {
    x.extent == d.extent && x.a == d.a && x.b == d.b && x.out == d.out
}

/// A copy's loops: sorted by destination stride, contiguous runs fused.
fn copy_loops(mut kept: Vec<Dim>) -> Loops {
    kept.sort_by_key(|d| std::cmp::Reverse(d.out.unsigned_abs()));
    Loops {
        kept: fuse(kept),
        summed: Vec::new(),
    }
}

/// The GEMM's loops over the buffers, sorted and fused as `step::loops` does.
fn gemm_loops(mut kept: Vec<Dim>, mut summed: Vec<Dim>) -> Loops {
    kept.sort_by_key(|d| std::cmp::Reverse(d.out.unsigned_abs()));
    summed.sort_by_key(|d| std::cmp::Reverse(d.a.unsigned_abs().max(d.b.unsigned_abs())));
    Loops {
        kept: fuse(kept),
        summed: fuse(summed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(extent: usize, a: isize, b: isize, out: isize) -> Dim {
        Dim { extent, a, b, out }
    }

    #[test]
    fn k_in_opposite_orders_copies_the_right_operand() {
        // abcd,dcfe->abef at 24: M = ab fused, N = e, f; K = c, d.
        let loops = Loops {
            kept: vec![d(576, 576, 0, 576), d(24, 0, 1, 24), d(24, 0, 24, 1)],
            summed: vec![d(24, 24, 576, 0), d(24, 1, 13824, 0)],
        };
        let r = plan(&loops).expect("worth copying");
        assert_eq!(r.copies.len(), 1);
        assert_eq!(r.copies[0].0, Tensor::Right);
        assert_eq!(r.gemm.kept.len(), 2, "M and N one dimension each");
        assert_eq!(r.gemm.summed.len(), 1, "K one dimension");
    }

    #[test]
    fn m_split_around_n_copies_left_and_result() {
        // aijb,jk->aikb at 2x3x100x3, 100x100, C order: M = ai (fused), b.
        let loops = Loops {
            kept: vec![d(6, 300, 0, 300), d(100, 0, 1, 3), d(3, 1, 0, 1)],
            summed: vec![d(100, 3, 100, 0)],
        };
        let r = plan(&loops).expect("worth copying");
        let copied: Vec<Tensor> = r.copies.iter().map(|c| c.0).collect();
        assert_eq!(copied, [Tensor::Left, Tensor::Out]);
        // Both buffers' strides reach the GEMM: M one dimension of 18 rows
        // of 100 in the left buffer and in the result's buffer.
        assert!(r.gemm.kept.contains(&d(18, 100, 0, 100)), "{:?}", r.gemm);
        assert_eq!(r.gemm.kept.len(), 2);
        assert_eq!(r.gemm.summed, vec![d(100, 1, 100, 0)]);
    }

    #[test]
    fn fused_roles_copy_nothing() {
        let loops = Loops {
            kept: vec![d(64, 64, 0, 64), d(64, 0, 1, 1)],
            summed: vec![d(64, 1, 64, 0)],
        };
        assert!(plan(&loops).is_none());
    }

    #[test]
    fn small_work_keeps_the_loop() {
        let loops = Loops {
            kept: vec![d(2, 2, 0, 2), d(2, 0, 1, 1)],
            summed: vec![d(2, 1, 4, 0), d(2, 4, 2, 0)],
        };
        assert!(plan(&loops).is_none());
    }
}
