//! Optimal: exhaustive depth-first search over every pair at every step.
//!
//! Two prunings keep it exact but far faster than trying every order: a
//! branch stops as soon as its score reaches the best complete order found
//! (seeded with greedy's), and a state (which operands have been merged into
//! which tensors) reached before at no higher score is not explored again.
//! Candidates are tried cheapest first so good bounds come early.

use std::collections::HashMap;

use super::{Search, SsaPath, greedy, with_merged};
use crate::axis_set::AxisSet;
use crate::cost::Cost;

/// Most operands the state memo can key (one bit each).
const MAX_OPERANDS: usize = 128;

/// `None` when every order needs an intermediate above the memory limit.
pub(crate) fn search<const W: usize>(search: &Search<'_, W>) -> Option<SsaPath> {
    let n = search.inputs.len();
    let seed = greedy::search(search, None);
    if n > MAX_OPERANDS {
        return seed;
    }
    let best = seed
        .as_ref()
        .and_then(|p| search.score(p))
        .map(|(score, largest)| (score, largest <= search.limit));
    let mut dfs = Dfs {
        search,
        best_score: match best {
            Some((score, true)) => score,
            _ => Cost::MAX,
        },
        best_path: seed.filter(|_| matches!(best, Some((_, true)))),
        memo: HashMap::new(),
        path: Vec::with_capacity(n),
    };
    let mut live: Vec<Tensor<W>> = search
        .inputs
        .iter()
        .enumerate()
        .map(|(id, &set)| Tensor {
            id,
            set,
            mask: 1 << id,
        })
        .collect();
    dfs.iterate(&mut live, n, Cost::ZERO);
    dfs.best_path
}

#[derive(Clone, Copy)]
struct Tensor<const W: usize> {
    id: usize,
    set: AxisSet<W>,
    /// Which operands it was made from.
    mask: u128,
}

struct Dfs<'s, 'a, const W: usize> {
    search: &'s Search<'a, W>,
    best_score: Cost,
    best_path: Option<SsaPath>,
    /// Lowest score at which each state was reached.
    memo: HashMap<Vec<u128>, Cost>,
    path: SsaPath,
}

impl<const W: usize> Dfs<'_, '_, W> {
    fn iterate(&mut self, live: &mut Vec<Tensor<W>>, next_id: usize, score: Cost) {
        if live.len() == 1 {
            if score < self.best_score || self.best_path.is_none() {
                self.best_score = score;
                self.best_path = Some(self.path.clone());
            }
            return;
        }
        let mut key: Vec<u128> = live.iter().map(|t| t.mask).collect();
        key.sort_unstable();
        match self.memo.get(&key) {
            Some(&seen) if seen <= score => return,
            _ => {
                self.memo.insert(key, score);
            }
        }

        let last = live.len() == 2;
        let mut candidates = Vec::with_capacity(live.len() * (live.len() - 1) / 2);
        for i in 0..live.len() {
            for j in i + 1..live.len() {
                let keep = live
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k != i && k != j)
                    .fold(self.search.output, |acc, (_, t)| acc.union(&t.set));
                let pair = self.search.pair(&live[i].set, &live[j].set, &keep);
                if !last && pair.size > self.search.limit {
                    continue;
                }
                let written = if last { Cost::ZERO } else { pair.size };
                let new_score = self.search.objective.add(score, pair.flops, written);
                if new_score >= self.best_score && self.best_path.is_some() {
                    continue;
                }
                candidates.push((new_score, i, j, pair.result));
            }
        }
        candidates.sort_by_key(|&(s, i, j, _)| (s, i, j));
        for (new_score, i, j, result) in candidates {
            if new_score >= self.best_score && self.best_path.is_some() {
                break;
            }
            let (a, b) = (live[i], live[j]);
            let merged = Tensor {
                id: next_id,
                set: result,
                mask: a.mask | b.mask,
            };
            self.path.push((a.id, b.id));
            with_merged(live, i, j, merged, |live| {
                self.iterate(live, next_id + 1, new_score)
            });
            self.path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::order::Optimize;
    use crate::order::tests::cost;

    #[test]
    fn optimal_beats_greedy_where_greedy_is_fooled() {
        // A case where the locally best first step is not globally best.
        let sizes = [('a', 2), ('b', 3), ('c', 40), ('d', 5), ('e', 60), ('f', 7)];
        let text = "ab,bc,cd,de,ef,fa->";
        let optimal = cost(text, &sizes, &Optimize::Optimal);
        assert!(optimal <= cost(text, &sizes, &Optimize::Greedy));
        assert!(optimal <= cost(text, &sizes, &Optimize::Naive));
    }
}
