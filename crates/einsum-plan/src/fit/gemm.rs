//! Lowering a matrix-product step onto a GEMM call: each loop's role, the
//! copies that make every role one stride when that pays, and which loops
//! become GEMM's m, n and k.
//!
//! Each loop carries its role ([`crate::kernel::classify`]: batch in both
//! inputs and the result, M in the left and the result, N in the right and
//! the result, K in both inputs only); nothing here classifies again. GEMM takes one stride per role; when a role
//! spans several loops that no stride can join (`abcd,dcfe->abef`: K is `cd`
//! in one operand and `dc` in the other), the step would loop over many
//! small products. When the work is large enough to pay for it, the fewest
//! elements (inputs, or the result through a buffer) are copied into C-order
//! buffers with one axis order per role, so that every role is one loop.

use crate::kernel::Role;

use super::loops::{Loop, Loops};

/// Multiply-adds per copied element below which a step keeps its loop of
/// smaller products instead of copying.
const WORTH: usize = 32;

/// The three tensors of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tensor {
    /// The left input.
    Left,
    /// The right input.
    Right,
    /// The result.
    Result,
}

impl Tensor {
    fn index(self) -> usize {
        self as usize
    }
}

/// A copy a GEMM step makes before (inputs) or after (result) its call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CopyPlan {
    pub tensor: Tensor,
    /// The copy's loops: for an input, its strides as `a` and the buffer's
    /// as `out`; for the result, the buffer's as `a` and the result's as
    /// `out`.
    pub loops: Loops,
    /// Elements copied (the buffer's length).
    pub len: usize,
    /// The role groups that are not one stride in this tensor.
    pub because: Vec<Role>,
}

/// A GEMM step, lowered.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct GemmPlan {
    pub copies: Vec<CopyPlan>,
    pub m: Loop,
    pub n: Loop,
    pub k: Loop,
    pub outer: Vec<Loop>,
    pub k_rest: Vec<Loop>,
}

fn stride(d: &Loop, t: Tensor) -> isize {
    match t {
        Tensor::Left => d.a,
        Tensor::Right => d.b,
        Tensor::Result => d.out,
    }
}

fn holders(role: Role) -> &'static [Tensor] {
    match role {
        Role::Batch => &[Tensor::Result, Tensor::Left, Tensor::Right],
        Role::M => &[Tensor::Result, Tensor::Left],
        Role::N => &[Tensor::Result, Tensor::Right],
        Role::K | Role::Sum => &[Tensor::Left, Tensor::Right],
    }
}

const ROLES: [Role; 4] = [Role::Batch, Role::M, Role::N, Role::K];

/// Whether `dims`, in this order, are one stride in tensor `t`.
fn fuses(dims: &[Loop], t: Tensor) -> bool {
    dims.windows(2)
        .all(|w| stride(&w[0], t) == stride(&w[1], t).wrapping_mul(w[1].extent as isize))
}

/// `dims` in tensor `t`'s memory order (largest stride first).
fn order_in(dims: &[Loop], t: Tensor) -> Vec<Loop> {
    let mut v = dims.to_vec();
    v.sort_by_key(|d| std::cmp::Reverse(stride(d, t).unsigned_abs()));
    v
}

/// The same loop (identified by extent and strides).
fn same(x: &Loop, d: &Loop) -> bool {
    x == d
}

/// Lowers a two-input step's loops onto one GEMM call per outer index.
pub(crate) fn lower(loops: &Loops) -> GemmPlan {
    match repack(loops) {
        Some((copies, repacked)) => roles(copies, &repacked),
        None => roles(Vec::new(), loops),
    }
}

/// m, n and k: the longest M, N and K loops, with whatever strides they
/// have (GEMM takes any signed strides, so transposed and reversed operands
/// cost no copy); every other loop goes around the call, the K ones
/// accumulating.
fn roles(copies: Vec<CopyPlan>, loops: &Loops) -> GemmPlan {
    let longest = |dims: Vec<Loop>| -> (Loop, Vec<Loop>) {
        let Some(best) = (0..dims.len()).max_by_key(|&i| (dims[i].extent, std::cmp::Reverse(i)))
        else {
            return (Loop::ONE, dims);
        };
        let mut rest = dims;
        let chosen = rest.remove(best);
        (chosen, rest)
    };
    let kept = |keep: fn(&Loop) -> bool| -> Vec<Loop> {
        loops.kept.iter().copied().filter(keep).collect()
    };
    let (m, m_rest) = longest(kept(|d| d.role == Role::M));
    let (n, n_rest) = longest(kept(|d| d.role == Role::N));
    let (k, k_rest) = longest(loops.summed.clone());
    // Batch loops, and any the inputs both broadcast, go around the calls.
    let mut outer = kept(|d| d.role != Role::M && d.role != Role::N);
    outer.extend(m_rest);
    outer.extend(n_rest);
    GemmPlan {
        copies,
        m,
        n,
        k,
        outer,
        k_rest,
    }
}

/// Each role's loops in the order chosen for it (batch, M, N, K).
type Orders = [Vec<Loop>; 4];

/// The copies that make every role of a GEMM step one loop, if some role
/// is split and copying pays, with the step's loops over the buffers.
fn repack(loops: &Loops) -> Option<(Vec<CopyPlan>, Loops)> {
    let mut groups: [Vec<Loop>; 4] = Default::default();
    for d in loops.kept.iter().chain(&loops.summed) {
        let group = match d.role {
            Role::Batch => 0,
            Role::M => 1,
            Role::N => 2,
            Role::K => 3,
            // Held by one input only, or by neither: not a GEMM shape this
            // handles.
            Role::Sum => return None,
        };
        groups[group].push(*d);
    }
    // Loops are told apart by their extent and strides; two that agree on
    // all of them (inputs viewed with repeated strides) are left alone.
    let all: Vec<Loop> = loops.kept.iter().chain(&loops.summed).copied().collect();
    if all
        .iter()
        .enumerate()
        .any(|(i, x)| all[..i].iter().any(|y| same(x, y)))
    {
        return None;
    }
    if groups[1..].iter().all(|g| g.len() <= 1) {
        return None;
    }
    let size = |t: Tensor| -> usize {
        ROLES
            .iter()
            .enumerate()
            .filter(|(_, r)| holders(**r).contains(&t))
            .flat_map(|(r, _)| groups[r].iter())
            .fold(1usize, |n, d| n.saturating_mul(d.extent))
    };
    // Each role's order is that of one of its holders; try them all and
    // keep the cheapest (the result's copy counts twice: written, then
    // copied out).
    let mut best: Option<(usize, Orders, [Vec<Role>; 3])> = None;
    for choice in (0..24).map(|c| [c / 8, (c / 4) % 2, (c / 2) % 2, c % 2]) {
        let orders: Orders =
            std::array::from_fn(|r| order_in(&groups[r], holders(ROLES[r])[choice[r]]));
        let mut because: [Vec<Role>; 3] = Default::default();
        for (r, &role) in ROLES.iter().enumerate() {
            for &t in holders(role) {
                if !fuses(&orders[r], t) {
                    because[t.index()].push(role);
                }
            }
        }
        let copied = |t: Tensor| usize::from(!because[t.index()].is_empty());
        let cost = size(Tensor::Left)
            .saturating_mul(copied(Tensor::Left))
            .saturating_add(size(Tensor::Right).saturating_mul(copied(Tensor::Right)))
            .saturating_add(
                size(Tensor::Result)
                    .saturating_mul(2)
                    .saturating_mul(copied(Tensor::Result)),
            );
        if best.as_ref().is_none_or(|(c, _, _)| cost < *c) {
            best = Some((cost, orders, because));
        }
    }
    let (cost, orders, because) = best?;
    if cost == 0 || loops.points() / cost < WORTH {
        return None;
    }
    // Buffer layouts: left [batch, M, K], right [batch, K, N], result
    // [batch, M, N], each role in its chosen order, C order.
    let layout = |t: Tensor| -> Vec<Loop> {
        let seq: &[usize] = match t {
            Tensor::Left => &[0, 1, 3],
            Tensor::Right => &[0, 3, 2],
            Tensor::Result => &[0, 1, 2],
        };
        seq.iter()
            .flat_map(|&r| orders[r].iter().copied())
            .collect()
    };
    // The GEMM's loops: (as found, with the buffers' strides, summed).
    let mut gemm: Vec<(Loop, Loop, bool)> = Vec::new();
    for (r, order) in orders.iter().enumerate() {
        for d in order {
            gemm.push((*d, *d, r == 3));
        }
    }
    let mut copies = Vec::new();
    for t in [Tensor::Left, Tensor::Right, Tensor::Result] {
        if because[t.index()].is_empty() {
            continue;
        }
        let dims = layout(t);
        // C-order strides of the buffer, per loop.
        let mut next = 1isize;
        let mut buffer = vec![0isize; dims.len()];
        for (i, d) in dims.iter().enumerate().rev() {
            buffer[i] = next;
            next = next.wrapping_mul(d.extent as isize);
        }
        for (found, d, _) in gemm.iter_mut() {
            if let Some(i) = dims.iter().position(|x| same(x, found)) {
                match t {
                    Tensor::Left => d.a = buffer[i],
                    Tensor::Right => d.b = buffer[i],
                    Tensor::Result => d.out = buffer[i],
                }
            }
        }
        // The copy: from the tensor's strides to the buffer's (the other
        // way for the result, which is copied out of its buffer).
        let kept: Vec<Loop> = dims
            .iter()
            .zip(&buffer)
            .map(|(d, &b)| {
                let s = stride(d, t);
                let (from, to) = if t == Tensor::Result { (b, s) } else { (s, b) };
                Loop {
                    extent: d.extent,
                    a: from,
                    b: 0,
                    out: to,
                    role: d.role,
                }
            })
            .collect();
        copies.push(CopyPlan {
            tensor: t,
            loops: Loops::new(kept, Vec::new(), true),
            len: size(t),
            because: because[t.index()].clone(),
        });
    }
    let kept = gemm.iter().filter(|g| !g.2).map(|g| g.1).collect();
    let summed = gemm.iter().filter(|g| g.2).map(|g| g.1).collect();
    Some((copies, Loops::new(kept, summed, false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loop, its role read off which tensors it strides (as the
    /// planner's classification gives it for these tests' steps).
    fn d(extent: usize, a: isize, b: isize, out: isize) -> Loop {
        let role = match (a != 0, b != 0, out != 0) {
            (true, true, true) => Role::Batch,
            (true, false, true) => Role::M,
            (false, true, true) => Role::N,
            (true, true, false) => Role::K,
            _ => Role::Sum,
        };
        Loop {
            extent,
            a,
            b,
            out,
            role,
        }
    }

    fn loops(kept: Vec<Loop>, summed: Vec<Loop>) -> Loops {
        Loops::new(kept, summed, false)
    }

    #[test]
    fn k_in_opposite_orders_copies_the_right_operand() {
        // abcd,dcfe->abef at 24: M = ab fused, N = e, f; K = c, d.
        let l = loops(
            vec![d(576, 576, 0, 576), d(24, 0, 1, 24), d(24, 0, 24, 1)],
            vec![d(24, 24, 576, 0), d(24, 1, 13824, 0)],
        );
        let g = lower(&l);
        assert_eq!(g.copies.len(), 1);
        assert_eq!(g.copies[0].tensor, Tensor::Right);
        assert_eq!(g.copies[0].len, 24usize.pow(4));
        assert!(g.copies[0].because.contains(&Role::K));
        assert!(g.outer.is_empty(), "M and N one loop each: {g:?}");
        assert!(g.k_rest.is_empty(), "K one loop");
        assert_eq!((g.m.extent, g.n.extent, g.k.extent), (576, 576, 576));
    }

    #[test]
    fn m_split_around_n_copies_left_and_result() {
        // aijb,jk->aikb at 2x3x100x3, 100x100, C order: M = ai (fused), b.
        let l = loops(
            vec![d(6, 300, 0, 300), d(100, 0, 1, 3), d(3, 1, 0, 1)],
            vec![d(100, 3, 100, 0)],
        );
        let g = lower(&l);
        let copied: Vec<Tensor> = g.copies.iter().map(|c| c.tensor).collect();
        assert_eq!(copied, [Tensor::Left, Tensor::Result]);
        // M is one loop of 18 rows of 100 in the left buffer and the
        // result's buffer.
        assert_eq!(g.m, d(18, 100, 0, 100));
        assert_eq!(g.k, d(100, 1, 100, 0));
        assert!(g.outer.is_empty() && g.k_rest.is_empty());
    }

    #[test]
    fn fused_roles_copy_nothing() {
        let l = loops(
            vec![d(64, 64, 0, 64), d(64, 0, 1, 1)],
            vec![d(64, 1, 64, 0)],
        );
        let g = lower(&l);
        assert!(g.copies.is_empty());
        assert_eq!(g.m, d(64, 64, 0, 64));
        assert_eq!(g.n, d(64, 0, 1, 1));
    }

    #[test]
    fn small_work_keeps_the_loop() {
        let l = loops(
            vec![d(2, 2, 0, 2), d(2, 0, 1, 1)],
            vec![d(2, 1, 4, 0), d(2, 4, 2, 0)],
        );
        let g = lower(&l);
        assert!(g.copies.is_empty());
        assert_eq!(g.k_rest.len(), 1, "one K loop goes around the call");
    }
}
