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
