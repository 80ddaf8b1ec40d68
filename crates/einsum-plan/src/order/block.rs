//! Blocking for the cache: when a chain of memory-bound steps writes a
//! temporary too large for the cache, run the chain block by block along
//! one axis, so that each block's temporaries stay in cache.
//!
//! A pairwise order moves every temporary through memory twice (written by
//! one step, read by the next). For memory-bound steps that is most of the
//! cost: `ij,ij,ij->i` as `(ab)c` writes and re-reads a fourth matrix, five
//! passes where one fused loop over the three operands makes three. Cutting
//! the chain along an axis every step holds (here `i`) into blocks whose
//! temporaries fit in cache leaves only the operands and the result to
//! travel, as the fused loop's, with no FLOP repeated, and the steps keep
//! their own kernels. The executor runs blocks as it runs slices
//! ([`Plan::blocks`](crate::Plan::blocks)).
//!
//! The choice is costed in elements moved: blocks are cut only where the
//! temporaries they keep in cache are at least a quarter of the chain's
//! traffic, net of operands a block has to read again.

use super::ContractionTree;

/// Temporaries larger than this many elements spill from a core's cache
/// (512 KiB of float64, an L2 cache's size): a chain that writes one is
/// worth blocking.
pub(crate) const BLOCK_ABOVE: usize = 1 << 16;

/// The most elements any temporary of one block holds: 128 KiB of float64,
/// so a block's temporaries and its parts of the operands share an L2
/// cache.
pub(crate) const BLOCK_TEMP: usize = 1 << 14;

/// Blocks whose largest temporary is smaller than this cost more to set up
/// than they save (each block runs every step's set-up once).
const BLOCK_MIN: usize = 1 << 10;

/// A step doing more multiply-adds than this per element it reads and
/// writes is compute-bound (a matrix product): it gains nothing from
/// blocking and loses its kernel's large tiles, so chains with one are
/// left whole.
const MEMORY_BOUND_FLOPS_PER_ELEMENT: u128 = 2;

/// Which memory order blocks are chosen for: a block along an axis that
/// is the innermost of some operand reads a few elements of every row (or
/// column), so the axis is chosen among the others, outermost first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum MemoryOrder {
    /// C order: an operand's last axis is its innermost.
    #[default]
    C,
    /// Fortran order: its first.
    F,
}

/// The axis to cut `tree`'s contraction along, and how many of its
/// indices one block takes (a divisor of its size), when blocking pays
/// (see the module's text); `None` otherwise. `temp_inputs` marks the
/// leaves that are temporaries themselves (operands summed on their own
/// first); `sizes` are the axes' sizes; `operands` each operand's axes in
/// the order its subscripts name them (those of size one left out), and
/// `order` the memory order to suit.
pub(crate) fn cache_blocks(
    tree: &dyn ContractionTree,
    temp_inputs: &[bool],
    sizes: &[usize],
    operands: &[Vec<usize>],
    order: MemoryOrder,
) -> Option<(usize, usize)> {
    let len = |axes: &[usize]| {
        axes.iter()
            .fold(1u128, |n, &a| n.saturating_mul(sizes[a] as u128))
    };
    let leaves: Vec<Vec<usize>> = (0..tree.leaves()).map(|k| tree.axes(k)).collect();
    let is_temp_input = |k: usize| temp_inputs.get(k).copied().unwrap_or(false);
    // Every step's span (the axes its loops run over) and the temporaries.
    let mut spans: Vec<Vec<usize>> = Vec::new();
    let mut temps: Vec<Vec<usize>> = (0..tree.leaves())
        .filter(|&k| is_temp_input(k))
        .map(|k| leaves[k].clone())
        .collect();
    let mut moved = temps.iter().map(|t| len(t)).sum::<u128>();
    for node in tree.post_order() {
        let (a, b) = tree.children(node)?;
        let (left, right, result) = (tree.axes(a), tree.axes(b), tree.axes(node));
        let step_moved = len(&left)
            .saturating_add(len(&right))
            .saturating_add(len(&result));
        let mut span = left;
        for x in right {
            if !span.contains(&x) {
                span.push(x);
            }
        }
        let points = len(&span);
        if points > step_moved.saturating_mul(MEMORY_BOUND_FLOPS_PER_ELEMENT) {
            return None;
        }
        moved = moved.saturating_add(step_moved);
        spans.push(span);
        if node != tree.root() {
            temps.push(result);
        }
    }
    let largest = temps.iter().map(|t| len(t)).max()?;
    if largest <= BLOCK_ABOVE as u128 {
        return None;
    }
    // Axes every step spans (no step is repeated per block) and every
    // temporary input holds (none is summed again per block), none an
    // operand's innermost in `order` (`ijk,ijk,k->ij` blocked along `k`
    // ran 7x slower than whole in C order), outermost first: in the order
    // the subscripts name them for C order, the reverse for Fortran's.
    let innermost = |axes: &Vec<usize>| match order {
        MemoryOrder::C => axes.last().copied(),
        MemoryOrder::F => axes.first().copied(),
    };
    let mut candidates: Vec<usize> = (0..sizes.len())
        .filter(|&a| sizes[a] > 1)
        .filter(|a| spans.iter().all(|s| s.contains(a)))
        .filter(|a| (0..tree.leaves()).all(|k| !is_temp_input(k) || leaves[k].contains(a)))
        .filter(|&a| {
            operands
                .iter()
                .all(|axes| axes.len() < 2 || innermost(axes) != Some(a))
        })
        .collect();
    if order == MemoryOrder::F {
        candidates.reverse();
    }
    for axis in candidates {
        // Each temporary per index of `axis`; one that does not hold it
        // keeps its size in every block.
        let per_index = |t: &Vec<usize>| {
            if t.contains(&axis) {
                len(t) / sizes[axis] as u128
            } else {
                len(t)
            }
        };
        // One index may hold up to twice `BLOCK_TEMP` (still half an L2
        // cache of float64): `ijk,ijk,k->ij` at 128x128x256 is blocked
        // along `i`, 32768 elements a block.
        let widest = temps.iter().map(per_index).max().unwrap_or(0).max(1);
        let Ok(most) = usize::try_from(
            (BLOCK_TEMP as u128 / widest).max(u128::from(widest <= 2 * BLOCK_TEMP as u128)),
        ) else {
            continue;
        };
        let Some(chunk) = (1..=most.min(sizes[axis]))
            .rev()
            .find(|&c| sizes[axis].is_multiple_of(c))
        else {
            continue;
        };
        let block_largest = temps
            .iter()
            .map(|t| {
                if t.contains(&axis) {
                    per_index(t) * chunk as u128
                } else {
                    len(t)
                }
            })
            .max()
            .unwrap_or(0);
        if block_largest < BLOCK_MIN as u128 || chunk == sizes[axis] {
            continue;
        }
        // What stays in cache: every temporary written and read once, that
        // would not have fitted; what is read again: each operand without
        // `axis`, once per block after the first.
        let kept: u128 = temps
            .iter()
            .map(|t| len(t))
            .filter(|&l| l > BLOCK_TEMP as u128)
            .map(|l| 2 * l)
            .sum();
        let blocks = (sizes[axis] / chunk) as u128;
        let again: u128 = (0..tree.leaves())
            .filter(|&k| !leaves[k].contains(&axis))
            .map(|k| len(&leaves[k]).saturating_mul(blocks - 1))
            .sum();
        if kept.saturating_sub(again).saturating_mul(4) >= moved {
            return Some((axis, chunk));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{Optimize, find};

    fn blocks(inputs: &[&[usize]], output: &[usize], sizes: &[usize]) -> Option<(usize, usize)> {
        blocks_for(inputs, output, sizes, MemoryOrder::C)
    }

    fn blocks_for(
        inputs: &[&[usize]],
        output: &[usize],
        sizes: &[usize],
        order: MemoryOrder,
    ) -> Option<(usize, usize)> {
        let inputs: Vec<Vec<usize>> = inputs.iter().map(|i| i.to_vec()).collect();
        let tree = find(
            &inputs,
            output,
            sizes,
            None,
            Default::default(),
            &Optimize::Optimal,
        )
        .unwrap();
        cache_blocks(&*tree, &[], sizes, &inputs, order)
    }

    #[test]
    fn memory_bound_chains_with_large_temporaries_are_blocked() {
        // ij,ij,ij->i at 2048x2048: along i (the output's), 8 rows a
        // block (a 16384-element temporary).
        assert_eq!(
            blocks(&[&[0, 1], &[0, 1], &[0, 1]], &[0], &[2048, 2048]),
            Some((0, 8))
        );
        // i,i,i-> at 2^20: along the summed i.
        assert_eq!(
            blocks(&[&[0], &[0], &[0]], &[], &[1 << 20]),
            Some((0, 1 << 14))
        );
        // ij,ij,ij->ij: along the first axis, in rows.
        assert_eq!(
            blocks(&[&[0, 1], &[0, 1], &[0, 1]], &[0, 1], &[512, 1024]),
            Some((0, 16))
        );
        // ijk,ijk,k->ij at 128x128x256: 32768 elements per index of i.
        assert_eq!(
            blocks(&[&[0, 1, 2], &[0, 1, 2], &[2]], &[0, 1], &[128, 128, 256]),
            Some((0, 1))
        );
        // In Fortran order, along the last axis named.
        assert_eq!(
            blocks_for(
                &[&[0, 1], &[0, 1], &[0, 1]],
                &[0],
                &[2048, 2048],
                MemoryOrder::F
            ),
            Some((1, 8))
        );
        // A transposed operand: in C order, `ji`'s innermost is i.
        assert_eq!(
            blocks(&[&[0, 1], &[0, 1], &[1, 0]], &[0, 1], &[2048, 2048]),
            None
        );
        // ij,ij,ij->j: along the summed i, in rows.
        assert_eq!(
            blocks(&[&[0, 1], &[0, 1], &[0, 1]], &[1], &[1024, 1024]),
            Some((0, 16))
        );
    }

    #[test]
    fn small_chains_and_matrix_products_are_not() {
        // Temporaries within the cache.
        assert_eq!(
            blocks(&[&[0, 1], &[0, 1], &[0, 1]], &[0], &[128, 128]),
            None
        );
        // A chain of matrix products: compute-bound.
        assert_eq!(
            blocks(&[&[0, 1], &[1, 2], &[2, 3]], &[0, 3], &[512, 512, 512, 512]),
            None
        );
        // One step: no temporary.
        assert_eq!(blocks(&[&[0, 1], &[0, 1]], &[0], &[4096, 4096]), None);
        // i,ij,j->: its temporary (a vector) fits.
        assert_eq!(blocks(&[&[0], &[0, 1], &[1]], &[], &[4096, 4096]), None);
        // A prime size has no block between one index and all of them.
        assert_eq!(blocks(&[&[0], &[0], &[0]], &[], &[1_000_003]), None);
        // Never along an operand's innermost axis.
        assert_eq!(
            blocks(&[&[0, 1, 2], &[0, 1, 2], &[2]], &[0, 1], &[256, 256, 256]),
            None
        );
    }
}
