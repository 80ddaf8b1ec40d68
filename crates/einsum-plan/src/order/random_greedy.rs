//! Random greedy: greedy runs in which each step takes one of the best few
//! candidates at random, weighted towards the best (a Boltzmann choice); the
//! best of all runs wins. The first run is plain greedy, so it is never
//! worse than greedy; the same seed gives the same order.

use super::greedy::{self, CHOICES};
use super::{Search, SsaPath};

/// Sharpness of the choice: the weight of a candidate whose cost is worse
/// than the best by the best's own magnitude is `exp(-1 / TEMPERATURE)`.
const TEMPERATURE: f64 = 0.3;

/// `None` when every order needs an intermediate above the memory limit.
pub(crate) fn search<const W: usize>(
    search: &Search<'_, W>,
    trials: usize,
    seed: u64,
) -> Option<SsaPath> {
    let mut best: Option<(u128, SsaPath)> = None;
    let mut rng = SplitMix64(seed);
    for trial in 0..trials.max(1) {
        let path = if trial == 0 {
            greedy::search(search, None)
        } else {
            randomized(search, &mut rng)
        };
        let Some(path) = path else { continue };
        let Some((score, _)) = search.score(&path) else {
            continue;
        };
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, path));
        }
    }
    best.map(|(_, path)| path)
}

/// One greedy run with its choices drawn from `rng`.
pub(crate) fn randomized<const W: usize>(
    search: &Search<'_, W>,
    rng: &mut SplitMix64,
) -> Option<SsaPath> {
    let mut choose = |costs: &[i128]| boltzmann(costs, rng.next_f64());
    greedy::search(search, Some(&mut choose))
}

/// Index drawn from `costs` (increasing) with weights `exp(-(c - c0) / (T |c0|))`,
/// using the uniform draw `u` in `[0, 1)`.
fn boltzmann(costs: &[i128], u: f64) -> usize {
    debug_assert!(costs.len() <= CHOICES);
    let best = costs[0] as f64;
    let scale = TEMPERATURE * best.abs().max(1.0);
    let weights: Vec<f64> = costs
        .iter()
        .map(|&c| (-(c as f64 - best) / scale).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut target = u * total;
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    costs.len() - 1
}

/// SplitMix64: a tiny, well-mixed generator; enough for choosing among four.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Optimize;
    use crate::order::tests::cost;

    #[test]
    fn never_worse_than_greedy_and_deterministic_per_seed() {
        let sizes = [('a', 2), ('b', 3), ('c', 40), ('d', 5), ('e', 60), ('f', 7)];
        let text = "ab,bc,cd,de,ef,fa->";
        let greedy = cost(text, &sizes, &Optimize::Greedy);
        let rg = |seed| cost(text, &sizes, &Optimize::RandomGreedy { trials: 16, seed });
        assert!(rg(1) <= greedy);
        assert_eq!(rg(7), rg(7));
    }

    #[test]
    fn boltzmann_prefers_the_best() {
        assert_eq!(boltzmann(&[-100, 0, 100], 0.0), 0);
        assert_eq!(boltzmann(&[5], 0.99), 0);
        assert!(boltzmann(&[-100, -99, -98, -97], 0.999) >= 1);
    }
}
