//! Multilevel hypergraph bisection: the partitioner of the divisive orders
//! the hyper-optimizer starts from (`partition.rs` builds the order).
//!
//! The vertices are tensors, the edges axes (each with the tensors holding
//! it as its pins, weighted by `log2` of its size): a cut edge is an axis an
//! intermediate must keep, so a light cut makes a small intermediate. The
//! scheme is the classic multilevel one (as in hMETIS and KaHyPar, whose
//! papers describe it; the code is our own):
//!
//! 1. **Coarsening**: vertices visited in random order join the
//!    neighbouring cluster of best rating `sum w(e) / (|e| - 1)` over the
//!    edges they share, divided by the product of the two weights (heavy
//!    edges first, light clusters preferred), up to a cluster weight cap;
//!    the clusters become the vertices of a smaller hypergraph (edges with
//!    one pin left dropped, parallel edges merged), until it is small or
//!    stops shrinking.
//! 2. **Initial partition** of the coarsest hypergraph: several regions
//!    grown breadth-first from random vertices, each refined, the best kept.
//! 3. **Uncoarsening**: the partition is projected level by level back to
//!    the original vertices, and Fiduccia–Mattheyses refinement runs at
//!    every level, so moves of whole clusters (coarse) and of single
//!    tensors (fine) both get their chance.
//!
//! Balance: each side weighs at most `max(ceil(W / 2), (1 + imbalance) W / 2)`
//! of the total weight `W`. Refinement never leaves a balanced partition
//! unbalanced and, from an unbalanced one, moves vertices off the heavy
//! side: on the finest level every vertex weighs 1, so the result is
//! always balanced.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::random_greedy::SplitMix64;

/// A hypergraph: vertex weights, and each edge's pins (distinct, at least
/// two) and weight.
#[derive(Clone, Debug, Default)]
pub(crate) struct Hypergraph {
    pub weight: Vec<u32>,
    pub pins: Vec<Vec<u32>>,
    pub edge_weight: Vec<f64>,
    /// A vertex that stays on side 1 (never clustered, never moved). Not
    /// used by the orders today: the rest of the network as a fixed vertex
    /// holding the axes a part shares with it (cotengra's
    /// `fix_output_nodes`) made the hyper-optimizer's orders of random
    /// regular networks 10x to 10^6x costlier.
    pub fixed: Option<u32>,
}

/// Coarsening stops at this many vertices.
const COARSEST: usize = 24;

/// A level that shrinks the vertex count by less than this factor ends the
/// coarsening (the rest cannot be matched under the weight cap).
const MIN_SHRINK: f64 = 1.05;

/// Initial partitions tried on the coarsest hypergraph.
const INITIAL_TRIES: usize = 4;

/// FM passes per level at most; a pass that gains nothing ends them.
const PASSES: usize = 6;

/// Edges with more pins than this are ignored when rating neighbours (a
/// hyperedge over most of the network says nothing about who is close, and
/// rating through it is quadratic).
const RATING_PINS: usize = 64;

impl Hypergraph {
    /// How many vertices.
    pub(crate) fn vertices(&self) -> usize {
        self.weight.len()
    }

    /// The weight of the edges cut by `side`.
    pub(crate) fn cut(&self, side: &[u8]) -> f64 {
        self.pins
            .iter()
            .zip(&self.edge_weight)
            .filter(|(pins, _)| {
                let first = side[pins[0] as usize];
                pins.iter().any(|&v| side[v as usize] != first)
            })
            .map(|(_, w)| w)
            .sum()
    }

    /// The edges of each vertex.
    fn incidence(&self) -> Vec<Vec<u32>> {
        let mut edges = vec![Vec::new(); self.vertices()];
        for (e, pins) in self.pins.iter().enumerate() {
            for &v in pins {
                edges[v as usize].push(e as u32);
            }
        }
        edges
    }
}

/// The largest weight a side may have.
pub(crate) fn max_side(total: u64, imbalance: f64) -> u64 {
    let loose = ((1.0 + imbalance.max(0.0)) * total as f64 / 2.0).floor() as u64;
    // Never everything on one side.
    loose.min(total.saturating_sub(1)).max(total.div_ceil(2))
}

/// A bisection of `h` (a side, 0 or 1, per vertex) within `imbalance`,
/// with a light cut.
pub(crate) fn bisect(h: &Hypergraph, imbalance: f64, rng: &mut SplitMix64) -> Vec<u8> {
    let n = h.vertices();
    if n <= 1 {
        return vec![0; n];
    }
    let total: u64 = h.weight.iter().map(|&w| u64::from(w)).sum();
    let limit = max_side(total, imbalance);
    // Clusters may weigh up to what keeps the coarsest level partitionable
    // with some slack, but at least 2 so that unit-weight graphs coarsen
    // even under a tight balance (refinement restores it level by level).
    let cap = ((total / COARSEST as u64).max(2) as u32).max(((limit - total / 2) / 2) as u32);

    // Coarsening: the levels, finest first, and each level's map from its
    // vertices to the next level's.
    // Each level's incidence is built once, for clustering and refining.
    // Level 0 is `h` itself; `coarse[i]` is level `i + 1`.
    let mut coarse: Vec<Hypergraph> = Vec::new();
    let mut incidences: Vec<Vec<Vec<u32>>> = vec![h.incidence()];
    let mut maps: Vec<Vec<u32>> = Vec::new();
    while coarse.last().unwrap_or(h).vertices() > COARSEST {
        let fine = coarse.last().unwrap_or(h);
        let (map, clusters) = cluster(fine, incidences.last().expect("one level"), cap, rng);
        if (fine.vertices() as f64) < clusters as f64 * MIN_SHRINK {
            break;
        }
        let next = contract(fine, &map, clusters);
        maps.push(map);
        incidences.push(next.incidence());
        coarse.push(next);
    }

    // Initial partition of the coarsest level.
    let coarsest = coarse.last().unwrap_or(h);
    let incidence = incidences.last().expect("one level");
    let mut best: Option<(bool, f64, Vec<u8>)> = None;
    for _ in 0..INITIAL_TRIES {
        let mut side = grow(coarsest, incidence, total, rng);
        refine(coarsest, incidence, &mut side, limit);
        let cut = coarsest.cut(&side);
        let balanced = balanced(coarsest, &side, limit);
        if best
            .as_ref()
            .is_none_or(|(b, c, _)| (balanced, -cut) > (*b, -*c))
        {
            best = Some((balanced, cut, side));
        }
    }
    let mut side = best.expect("at least one try").2;

    // Uncoarsening with refinement at every level.
    for level in (0..maps.len()).rev() {
        let map = &maps[level];
        side = map.iter().map(|&c| side[c as usize]).collect();
        let fine = if level == 0 { h } else { &coarse[level - 1] };
        refine(fine, &incidences[level], &mut side, limit);
    }
    side
}

/// Whether both sides of `side` weigh at most `limit`.
fn balanced(h: &Hypergraph, side: &[u8], limit: u64) -> bool {
    let w = weights(h, side);
    w[0] <= limit && w[1] <= limit
}

/// The weight of each side.
fn weights(h: &Hypergraph, side: &[u8]) -> [u64; 2] {
    let mut w = [0u64; 2];
    for (v, &s) in side.iter().enumerate() {
        w[s as usize] += u64::from(h.weight[v]);
    }
    w
}

/// One level of coarsening: each vertex's cluster and how many clusters.
fn cluster(
    h: &Hypergraph,
    incidence: &[Vec<u32>],
    cap: u32,
    rng: &mut SplitMix64,
) -> (Vec<u32>, usize) {
    let n = h.vertices();
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    const NONE: u32 = u32::MAX;
    // Each vertex's cluster, named by its first member.
    let mut leader = vec![NONE; n];
    let mut weight = vec![0u32; n];
    let mut rating = vec![0.0f64; n];
    let mut touched: Vec<usize> = Vec::new();
    if let Some(x) = h.fixed {
        leader[x as usize] = x;
        weight[x as usize] = h.weight[x as usize];
    }
    for &v in &order {
        if leader[v] != NONE {
            continue;
        }
        for &e in &incidence[v] {
            let pins = &h.pins[e as usize];
            if pins.len() > RATING_PINS {
                continue;
            }
            let score = h.edge_weight[e as usize] / (pins.len() - 1) as f64;
            for &u in pins {
                let u = u as usize;
                if u == v || h.fixed == Some(u as u32) {
                    continue;
                }
                // A neighbour already clustered is rated as its cluster.
                let target = if leader[u] == NONE {
                    u
                } else {
                    leader[u] as usize
                };
                if rating[target] == 0.0 {
                    touched.push(target);
                }
                rating[target] += score;
            }
        }
        let mut pick: Option<(f64, usize)> = None;
        for &t in &touched {
            let tw = if leader[t] == NONE {
                h.weight[t]
            } else {
                weight[t]
            };
            if tw + h.weight[v] > cap {
                continue;
            }
            let score = rating[t] / (f64::from(tw) * f64::from(h.weight[v]));
            if pick.is_none_or(|(s, _)| score > s) {
                pick = Some((score, t));
            }
        }
        for &t in &touched {
            rating[t] = 0.0;
        }
        touched.clear();
        match pick {
            Some((_, t)) => {
                if leader[t] == NONE {
                    leader[t] = t as u32;
                    weight[t] = h.weight[t];
                }
                leader[v] = t as u32;
                weight[t] += h.weight[v];
            }
            None => {
                leader[v] = v as u32;
                weight[v] = h.weight[v];
            }
        }
    }
    // Dense cluster ids, in vertex order.
    let mut id = vec![NONE; n];
    let mut clusters = 0u32;
    let mut map = vec![0u32; n];
    for v in 0..n {
        let l = leader[v] as usize;
        if id[l] == NONE {
            id[l] = clusters;
            clusters += 1;
        }
        map[v] = id[l];
    }
    (map, clusters as usize)
}

/// The hypergraph of the clusters `map` makes: weights summed, pins
/// renamed and deduplicated, edges left with one pin dropped, parallel
/// edges merged (weights summed).
fn contract(h: &Hypergraph, map: &[u32], clusters: usize) -> Hypergraph {
    let mut weight = vec![0u32; clusters];
    for (v, &c) in map.iter().enumerate() {
        weight[c as usize] += h.weight[v];
    }
    let mut edges: Vec<(Vec<u32>, f64)> = h
        .pins
        .iter()
        .zip(&h.edge_weight)
        .filter_map(|(pins, &w)| {
            let mut p: Vec<u32> = pins.iter().map(|&v| map[v as usize]).collect();
            p.sort_unstable();
            p.dedup();
            (p.len() >= 2).then_some((p, w))
        })
        .collect();
    edges.sort_by(|a, b| a.0.cmp(&b.0));
    let mut pins: Vec<Vec<u32>> = Vec::with_capacity(edges.len());
    let mut edge_weight: Vec<f64> = Vec::with_capacity(edges.len());
    for (p, w) in edges {
        if pins.last() == Some(&p) {
            *edge_weight.last_mut().expect("a weight per edge") += w;
        } else {
            pins.push(p);
            edge_weight.push(w);
        }
    }
    Hypergraph {
        weight,
        pins,
        edge_weight,
        fixed: h.fixed.map(|x| map[x as usize]),
    }
}

/// A region grown breadth-first from a random vertex to half the weight
/// (side 0), the rest side 1; a disconnected graph continues from a random
/// vertex not yet reached.
fn grow(h: &Hypergraph, incidence: &[Vec<u32>], total: u64, rng: &mut SplitMix64) -> Vec<u8> {
    let n = h.vertices();
    let mut side = vec![1u8; n];
    let mut seen = vec![false; n];
    if let Some(x) = h.fixed {
        seen[x as usize] = true;
    }
    let mut queue = std::collections::VecDeque::new();
    let mut taken = 0u64;
    let half = total / 2;
    while taken < half {
        let v = match queue.pop_front() {
            Some(v) => v,
            None => {
                let unseen: Vec<usize> = (0..n).filter(|&v| !seen[v]).collect();
                let Some(&v) = unseen.get((rng.next_u64() % unseen.len().max(1) as u64) as usize)
                else {
                    break;
                };
                seen[v] = true;
                v
            }
        };
        side[v] = 0;
        taken += u64::from(h.weight[v]);
        for &e in &incidence[v] {
            for &u in &h.pins[e as usize] {
                let u = u as usize;
                if !seen[u] {
                    seen[u] = true;
                    queue.push_back(u);
                }
            }
        }
    }
    side
}

/// A candidate move in the FM heap: its gain, then a tie-break, then the
/// vertex.
#[derive(Clone, Copy, PartialEq)]
struct Move {
    gain: f64,
    vertex: u32,
}

impl Eq for Move {}

impl PartialOrd for Move {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Move {
    fn cmp(&self, other: &Self) -> Ordering {
        self.gain
            .total_cmp(&other.gain)
            .then(other.vertex.cmp(&self.vertex))
    }
}

/// Moves vertex `v` to the other side, keeping each edge's pin counts per
/// side (`count`) and the sides' weights (`w`) in step: a refinement move,
/// and the same move undone.
fn flip(
    h: &Hypergraph,
    incidence: &[Vec<u32>],
    v: usize,
    side: &mut [u8],
    count: &mut [[u32; 2]],
    w: &mut [u64; 2],
) {
    let from = side[v] as usize;
    let to = 1 - from;
    for &e in &incidence[v] {
        count[e as usize][from] -= 1;
        count[e as usize][to] += 1;
    }
    side[v] = to as u8;
    w[from] -= u64::from(h.weight[v]);
    w[to] += u64::from(h.weight[v]);
}

/// Fiduccia–Mattheyses refinement of `side` in place: passes of moves,
/// each the best-gain unlocked vertex that may move, rolled back to the
/// best state seen (balanced first, then the lightest cut). A move may not
/// take a side above `limit` unless it comes from a side already above it.
fn refine(h: &Hypergraph, incidence: &[Vec<u32>], side: &mut [u8], limit: u64) {
    let n = h.vertices();
    let mut count = vec![[0u32; 2]; h.pins.len()];
    for (e, pins) in h.pins.iter().enumerate() {
        for &v in pins {
            count[e][side[v as usize] as usize] += 1;
        }
    }
    let gain = |v: usize, side: &[u8], count: &[[u32; 2]]| -> f64 {
        let s = side[v] as usize;
        incidence[v]
            .iter()
            .map(|&e| {
                let [here, there] = [count[e as usize][s], count[e as usize][1 - s]];
                let w = h.edge_weight[e as usize];
                if there == 0 {
                    -w
                } else if here == 1 {
                    w
                } else {
                    0.0
                }
            })
            .sum()
    };
    let mut w = weights(h, side);
    let mut cut = h.cut(side);
    // Buffers of the passes, allocated once.
    let mut locked = vec![false; n];
    let mut current: Vec<f64> = vec![0.0; n];
    let mut heap: [BinaryHeap<Move>; 2] = [BinaryHeap::new(), BinaryHeap::new()];
    let mut moves: Vec<usize> = Vec::new();
    for _ in 0..PASSES {
        locked.fill(false);
        if let Some(x) = h.fixed {
            locked[x as usize] = true;
        }
        for (v, g) in current.iter_mut().enumerate() {
            *g = gain(v, side, &count);
        }
        heap[0].clear();
        heap[1].clear();
        moves.clear();
        for v in 0..n {
            heap[side[v] as usize].push(Move {
                gain: current[v],
                vertex: v as u32,
            });
        }
        let start = (w[0] <= limit && w[1] <= limit, -cut);
        let mut best = start;
        let mut best_len = 0;
        // Stop a pass after this many moves past the best state once it is
        // balanced: long runs of losing moves rarely climb back.
        let patience = (n / 4).max(25);
        loop {
            // The best valid move off each side.
            let mut pick: Option<(f64, usize)> = None;
            for from in 0..2 {
                while let Some(&m) = heap[from].peek() {
                    let v = m.vertex as usize;
                    if locked[v] || side[v] as usize != from || m.gain != current[v] {
                        heap[from].pop();
                        continue;
                    }
                    let to = 1 - from;
                    let vw = u64::from(h.weight[v]);
                    let fits = w[to] + vw <= limit || w[from] > limit && w[to] + vw < w[from];
                    if fits && pick.is_none_or(|(g, _)| m.gain > g) {
                        pick = Some((m.gain, v));
                    }
                    break;
                }
            }
            let Some((g, v)) = pick else { break };
            let from = side[v] as usize;
            let to = 1 - from;
            heap[from].pop();
            locked[v] = true;
            flip(h, incidence, v, side, &mut count, &mut w);
            cut -= g;
            moves.push(v);
            for &e in &incidence[v] {
                // A pin's gain through `e` depends only on whether its own
                // side holds 1 pin of `e` or more, and the other 0 or
                // more: after this move, only counts of 0 or 1 on the side
                // left and 1 or 2 on the side joined change any gain.
                let [left, joined] = [count[e as usize][from], count[e as usize][to]];
                if left > 1 && joined > 2 {
                    continue;
                }
                for &u in &h.pins[e as usize] {
                    let u = u as usize;
                    if locked[u] {
                        continue;
                    }
                    let new = gain(u, side, &count);
                    if new != current[u] {
                        current[u] = new;
                        heap[side[u] as usize].push(Move {
                            gain: new,
                            vertex: u as u32,
                        });
                    }
                }
            }
            let state = (w[0] <= limit && w[1] <= limit, -cut);
            if (state.0 && !best.0) || (state.0 == best.0 && state.1 > best.1 + 1e-9) {
                best = state;
                best_len = moves.len();
            } else if best.0 && moves.len() - best_len > patience {
                break;
            }
        }
        for &v in moves[best_len..].iter().rev() {
            flip(h, incidence, v, side, &mut count, &mut w);
        }
        // The cut recomputed, so float drift does not accumulate.
        cut = h.cut(side);
        if best_len == 0 || best == start {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `r x c` grid graph, unit weights.
    fn grid(r: usize, c: usize) -> Hypergraph {
        let mut pins = Vec::new();
        for i in 0..r {
            for j in 0..c {
                let v = (i * c + j) as u32;
                if j + 1 < c {
                    pins.push(vec![v, v + 1]);
                }
                if i + 1 < r {
                    pins.push(vec![v, v + c as u32]);
                }
            }
        }
        Hypergraph {
            weight: vec![1; r * c],
            edge_weight: vec![1.0; pins.len()],
            pins,
            fixed: None,
        }
    }

    #[test]
    fn a_long_grid_is_cut_across_its_width() {
        // 4 x 40: cutting across costs 4 edges; the trivial split of the
        // vertex list in halves (rows 0-1 against rows 2-3) costs 40.
        let h = grid(4, 40);
        let trivial: Vec<u8> = (0..160).map(|v| u8::from(v >= 80)).collect();
        assert_eq!(h.cut(&trivial), 40.0);
        for seed in 0..8 {
            let side = bisect(&h, 0.05, &mut SplitMix64(seed));
            let w = weights(&h, &side);
            assert!(w[0].max(w[1]) <= max_side(160, 0.05), "{w:?}");
            assert!(h.cut(&side) <= 6.0, "seed {seed}: cut {}", h.cut(&side));
        }
    }

    #[test]
    fn two_cliques_joined_by_one_light_edge_split_there() {
        // Two 12-cliques as hyperedges of 3 (every triple of consecutive
        // members) plus pairwise edges, joined by one light edge; vertices
        // interleaved so that the list order says nothing.
        let n = 24;
        let member = |k: usize, i: usize| (2 * i + k) as u32; // clique k, i-th
        let mut pins = Vec::new();
        let mut edge_weight = Vec::new();
        for k in 0..2 {
            for i in 0..12 {
                for j in i + 1..12 {
                    pins.push(vec![member(k, i), member(k, j)]);
                    edge_weight.push(2.0);
                }
                pins.push(vec![
                    member(k, i),
                    member(k, (i + 1) % 12),
                    member(k, (i + 2) % 12),
                ]);
                edge_weight.push(1.0);
            }
        }
        pins.push(vec![member(0, 0), member(1, 0)]);
        edge_weight.push(0.5);
        let h = Hypergraph {
            weight: vec![1; n],
            pins,
            edge_weight,
            fixed: None,
        };
        for seed in 0..8 {
            let side = bisect(&h, 0.0, &mut SplitMix64(seed));
            assert_eq!(h.cut(&side), 0.5, "seed {seed}");
        }
    }

    #[test]
    fn balance_holds_for_every_imbalance_and_weight() {
        let mut rng = SplitMix64(5);
        // A random hypergraph with vertex weights 1 to 3.
        let n = 200;
        let mut pins = Vec::new();
        for _ in 0..400 {
            let k = 2 + (rng.next_u64() % 4) as usize;
            let mut p: Vec<u32> = (0..k).map(|_| (rng.next_u64() % n as u64) as u32).collect();
            p.sort_unstable();
            p.dedup();
            if p.len() >= 2 {
                pins.push(p);
            }
        }
        let edge_weight = (0..pins.len()).map(|e| 1.0 + (e % 3) as f64).collect();
        let unit = Hypergraph {
            weight: vec![1; n],
            pins,
            edge_weight,
            fixed: None,
        };
        for imbalance in [0.0, 0.01, 0.1, 0.5, 0.9] {
            for seed in 0..4 {
                let side = bisect(&unit, imbalance, &mut SplitMix64(seed));
                let w = weights(&unit, &side);
                assert!(
                    w[0].max(w[1]) <= max_side(200, imbalance),
                    "{imbalance}: {w:?}"
                );
                // Never worse than splitting the vertex list in halves.
                let trivial: Vec<u8> = (0..n).map(|v| u8::from(v >= n / 2)).collect();
                assert!(unit.cut(&side) <= unit.cut(&trivial), "{imbalance}");
            }
        }
    }

    #[test]
    fn a_fixed_vertex_stays_and_pulls_its_edges() {
        // A 6 x 6 grid whose left column also touches a fixed vertex
        // through heavy edges: the free side is away from that column,
        // and the fixed vertex is on side 1.
        let mut h = grid(6, 6);
        let x = 36u32;
        h.weight.push(0);
        for r in 0..6u32 {
            h.pins.push(vec![r * 6, x]);
            h.edge_weight.push(3.0);
        }
        h.fixed = Some(x);
        for seed in 0..6 {
            let side = bisect(&h, 0.1, &mut SplitMix64(seed));
            assert_eq!(side[x as usize], 1);
            assert!((0..6).all(|r| side[r * 6] == 1), "seed {seed}: {side:?}");
            let w = weights(&h, &side);
            assert!(w[0].max(w[1]) <= max_side(36, 0.1), "{w:?}");
            // The best cut is straight across the grid (6 edges), none of
            // the heavy ones; a staircase (8) is a local optimum FM may
            // stop in (9 and 10 too). Splitting the vertex list in halves
            // cuts 15.
            assert!(h.cut(&side) <= 10.0, "seed {seed}: {}", h.cut(&side));
        }
    }

    #[test]
    fn tiny_graphs_are_split() {
        let h = grid(1, 2);
        let side = bisect(&h, 0.0, &mut SplitMix64(0));
        assert_ne!(side[0], side[1]);
        let one = Hypergraph {
            weight: vec![1],
            ..Default::default()
        };
        assert_eq!(bisect(&one, 0.1, &mut SplitMix64(0)), vec![0]);
    }
}
