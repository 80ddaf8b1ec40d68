//! Left to right: `((a b) c) d`. The reference every optimizer must beat.

use super::{Search, SsaPath};
use crate::cost::Cost;

/// `None` when an intermediate exceeds the memory limit.
pub(crate) fn search<const W: usize>(search: &Search<'_, W>) -> Option<SsaPath> {
    scored(search).map(|(path, _)| path)
}

/// The left-to-right order with its score.
pub(crate) fn scored<const W: usize>(search: &Search<'_, W>) -> Option<(SsaPath, Cost)> {
    let n = search.inputs.len();
    let path: SsaPath = (1..n)
        .map(|k| (if k == 1 { 0 } else { n + k - 2 }, k))
        .collect();
    let (score, largest) = search.score(&path)?;
    (largest <= search.limit).then_some((path, score))
}

/// [`scored`], unless its score reaches `bound`: then `Err` with a score
/// the order is known to reach (the replay stops there). `Ok(None)` when
/// an intermediate exceeds the memory limit.
#[allow(clippy::type_complexity)]
pub(crate) fn scored_below<const W: usize>(
    search: &Search<'_, W>,
    bound: Option<Cost>,
) -> Result<Option<(SsaPath, Cost)>, Cost> {
    let n = search.inputs.len();
    let path: SsaPath = (1..n)
        .map(|k| (if k == 1 { 0 } else { n + k - 2 }, k))
        .collect();
    let mut score = Cost::ZERO;
    let mut largest = Cost::ZERO;
    let mut reached = false;
    let left = search.replay_while(&path, |step, _, _, pair| {
        let last = step + 1 == path.len();
        if !last {
            largest = largest.max(pair.size);
        }
        score = search
            .objective
            .add(score, pair.flops, if last { Cost::ZERO } else { pair.size });
        reached = bound.is_some_and(|b| score >= b);
        !reached && largest <= search.limit
    });
    if largest > search.limit {
        return Ok(None);
    }
    if reached {
        return Err(score);
    }
    Ok(left.filter(|&l| l == 1).map(|_| (path, score)))
}
