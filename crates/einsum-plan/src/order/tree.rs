//! The contraction tree: the one form of an order after the search. Every
//! optimizer's path becomes one (by a replay of the path), reconfigure
//! rewrites trees in place and hands out the one it kept, and the plan
//! builder walks the tree `find` returns, through [`ContractionTree`],
//! which does not depend on the bitset width.
//!
//! Nodes `0..n` are the operands; the contractions follow, numbered in the
//! order they run, so that a node's id is its id in SSA form: node `n + k`
//! is the `k`-th pair of [`ContractionTree::path`]. A tree built from a path
//! keeps the path's order. Reconfigure's rewrites reuse slots out of that
//! order; [`Tree::renumber`] restores it, depth first from the root, left
//! before right.

use std::ops::Range;

use super::{Search, SsaPath};
use crate::axis_set::AxisSet;
use crate::cost::Cost;

/// A contraction tree as the plan builder reads it. Nodes are numbered as
/// in SSA form: the operands `0..leaves()`, then the contractions in the
/// order they run.
pub(crate) trait ContractionTree {
    /// How many operands: the nodes `0..leaves()`.
    fn leaves(&self) -> usize;

    /// How many nodes: the operands and every contraction.
    fn nodes(&self) -> usize;

    /// The root: the last contraction, whose result is the output (the
    /// operand itself when there is one operand).
    fn root(&self) -> usize;

    /// A contraction's two children, left and right; `None` for an operand.
    fn children(&self, node: usize) -> Option<(usize, usize)>;

    /// The axes of `node`'s result (of an operand, its own), ascending.
    fn axes(&self, node: usize) -> Vec<usize>;

    /// The contractions in the order they run: children before parents,
    /// the root last. They are numbered in this order, from `leaves()` on.
    fn post_order(&self) -> Range<usize>;

    /// The order in SSA form: each contraction's children, in the order
    /// the contractions run.
    fn path(&self) -> SsaPath {
        self.post_order()
            .map(|node| self.children(node).expect("a contraction has children"))
            .collect()
    }
}

/// A node of the contraction tree: an operand (no children) or a contraction.
#[derive(Clone, Copy, Debug)]
pub(super) struct Node<const W: usize> {
    pub(super) set: AxisSet<W>,
    pub(super) children: Option<(usize, usize)>,
    /// This contraction's FLOPs and its result's element count (0 and the
    /// operand's size for operands).
    pub(super) flops: Cost,
    pub(super) size: Cost,
}

/// A contraction tree over a search's operands, with each node's axes and
/// costs, the score of the whole, and parent links (for reconfigure).
#[derive(Clone, Debug)]
pub(crate) struct Tree<const W: usize> {
    pub(super) nodes: Vec<Node<W>>,
    /// The score of the whole order, kept up to date.
    pub(super) total: Cost,
    /// Each node's parent; `None` for the root.
    pub(super) parent: Vec<Option<usize>>,
    pub(super) operands: usize,
    pub(super) root: usize,
}

impl<const W: usize> Tree<W> {
    /// The tree of a complete `path`, from one replay of it; `None` if it
    /// is not one.
    pub(crate) fn new(search: &Search<'_, W>, path: &[(usize, usize)]) -> Option<Self> {
        let n = search.inputs.len();
        let mut nodes: Vec<Node<W>> = search
            .inputs
            .iter()
            .map(|&set| Node {
                set,
                children: None,
                flops: Cost::ZERO,
                size: set.size(search.sizes),
            })
            .collect();
        let left = search.replay(path, |_, a, b, pair| {
            nodes.push(Node {
                set: pair.result,
                children: Some((a, b)),
                flops: pair.flops,
                size: pair.size,
            });
        })?;
        if left != 1 {
            return None;
        }
        let mut tree = Tree {
            root: nodes.len() - 1,
            total: Cost::ZERO,
            parent: parents(&nodes),
            nodes,
            operands: n,
        };
        tree.total = tree.score(search);
        Some(tree)
    }

    /// The score of the whole order, summed over the contractions in id
    /// order (in the order they run, unless rewrites are pending a
    /// [`renumber`](Self::renumber)): as [`Search::score`] scores the path.
    pub(super) fn score(&self, search: &Search<'_, W>) -> Cost {
        self.internal().fold(Cost::ZERO, |acc, n| {
            let node = &self.nodes[n];
            let size = if n == self.root {
                Cost::ZERO
            } else {
                node.size
            };
            search.objective.add(acc, node.flops, size)
        })
    }

    /// The largest intermediate: the largest result but the root's.
    pub(super) fn largest(&self) -> Cost {
        self.internal()
            .filter(|&n| n != self.root)
            .map(|n| self.nodes[n].size)
            .fold(Cost::ZERO, Cost::max)
    }

    /// The contractions' ids.
    pub(super) fn internal(&self) -> Range<usize> {
        self.operands..self.nodes.len()
    }

    /// Renumbers the contractions in depth-first post-order from the root,
    /// left before right, and rescores the whole in that order: after
    /// rewrites, which reuse slots out of order, the ids are again the
    /// order the contractions run in.
    pub(super) fn renumber(&mut self, search: &Search<'_, W>) {
        let mut order = Vec::with_capacity(self.nodes.len() - self.operands);
        // Iterative post-order from the root.
        let mut stack = vec![(self.root, false)];
        while let Some((node, expanded)) = stack.pop() {
            let Some((a, b)) = self.nodes[node].children else {
                continue;
            };
            if expanded {
                order.push(node);
            } else {
                stack.push((node, true));
                stack.push((b, false));
                stack.push((a, false));
            }
        }
        debug_assert_eq!(order.len(), self.nodes.len() - self.operands);
        let mut id: Vec<usize> = (0..self.nodes.len()).collect();
        for (k, &old) in order.iter().enumerate() {
            id[old] = self.operands + k;
        }
        let mut nodes = self.nodes[..self.operands].to_vec();
        nodes.extend(order.iter().map(|&old| Node {
            children: self.nodes[old].children.map(|(a, b)| (id[a], id[b])),
            ..self.nodes[old]
        }));
        self.root = id[self.root];
        self.parent = parents(&nodes);
        self.nodes = nodes;
        self.total = self.score(search);
    }

    /// Whether every contraction's children come before it.
    fn in_order(&self) -> bool {
        self.internal()
            .all(|n| self.nodes[n].children.is_some_and(|(a, b)| a < n && b < n))
    }
}

/// Each node's parent; `None` for the root.
fn parents<const W: usize>(nodes: &[Node<W>]) -> Vec<Option<usize>> {
    let mut parent = vec![None; nodes.len()];
    for (node, n) in nodes.iter().enumerate() {
        if let Some((a, b)) = n.children {
            parent[a] = Some(node);
            parent[b] = Some(node);
        }
    }
    parent
}

impl<const W: usize> ContractionTree for Tree<W> {
    fn leaves(&self) -> usize {
        self.operands
    }

    fn nodes(&self) -> usize {
        self.nodes.len()
    }

    fn root(&self) -> usize {
        self.root
    }

    fn children(&self, node: usize) -> Option<(usize, usize)> {
        self.nodes[node].children
    }

    fn axes(&self, node: usize) -> Vec<usize> {
        self.nodes[node].set.iter().collect()
    }

    fn post_order(&self) -> Range<usize> {
        debug_assert!(self.in_order(), "rewritten and not renumbered");
        self.internal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{problem, search_of};

    #[test]
    fn a_tree_keeps_its_path_and_the_replays_results() {
        // Two independent pairs, the later one on the left of the root:
        // the tree keeps the path's order, not a depth-first one.
        let sizes = [('a', 2), ('b', 3), ('c', 4), ('d', 5), ('e', 6)];
        let (inputs, output, sizes) = problem("ab,bc,cd,de->ae", &sizes);
        let search = search_of(&inputs, &output, &sizes, None);
        let path = vec![(0, 1), (2, 3), (5, 4)];
        let tree = Tree::new(&search, &path).unwrap();
        assert_eq!(tree.leaves(), 4);
        assert_eq!(tree.nodes(), 7);
        assert_eq!(tree.root(), 6);
        assert_eq!(tree.post_order(), 4..7);
        assert_eq!(tree.path(), path);
        assert_eq!(tree.children(1), None);
        assert_eq!(tree.children(6), Some((5, 4)));
        let mut results = Vec::new();
        search.replay(&path, |_, _, _, pair| {
            results.push(pair.result.iter().collect::<Vec<_>>())
        });
        let axes: Vec<Vec<usize>> = tree.post_order().map(|n| tree.axes(n)).collect();
        assert_eq!(axes, results);
        assert_eq!(tree.axes(4), vec![0, 2]);
        let (score, largest) = search.score(&path).unwrap();
        assert_eq!((tree.total, tree.largest()), (score, largest));
        assert!(Tree::new(&search, &path[..2]).is_none());
        assert!(Tree::new(&search, &[(0, 0)]).is_none());
    }

    #[test]
    fn renumbering_runs_depth_first_left_before_right() {
        let sizes = [('a', 2), ('b', 3), ('c', 4), ('d', 5), ('e', 6)];
        let (inputs, output, sizes) = problem("ab,bc,cd,de->ae", &sizes);
        let search = search_of(&inputs, &output, &sizes, None);
        let mut tree = Tree::new(&search, &[(0, 1), (2, 3), (5, 4)]).unwrap();
        tree.renumber(&search);
        assert_eq!(tree.path(), vec![(2, 3), (0, 1), (4, 5)]);
        assert_eq!(tree.root(), 6);
        assert_eq!(tree.parent[4], Some(6));
        assert_eq!(tree.parent[2], Some(4));
        assert_eq!(tree.axes(4), vec![2, 4]);
        let (score, largest) = search.score(&tree.path()).unwrap();
        assert_eq!((tree.total, tree.largest()), (score, largest));
    }

    #[test]
    fn one_operand_is_its_own_root() {
        let (inputs, output, sizes) = problem("ab->a", &[('a', 2), ('b', 3)]);
        let search = search_of(&inputs, &output, &sizes, None);
        let tree = Tree::new(&search, &[]).unwrap();
        assert_eq!((tree.leaves(), tree.nodes(), tree.root()), (1, 1, 0));
        assert!(tree.post_order().is_empty());
        assert_eq!(tree.axes(0), vec![0, 1]);
    }
}
