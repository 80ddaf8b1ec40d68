//! A fixed-width bitset of axes, `Copy` so the order search never allocates
//! for set algebra.

use crate::cost::Cost;
use crate::count::Count;

/// A set of axis indices below `64 * W`.
///
/// The order search is generic over `W` and dispatched on the problem's axis
/// count (see [`crate::order`]), so small problems use one machine word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct AxisSet<const W: usize>([u64; W]);

impl<const W: usize> Default for AxisSet<W> {
    fn default() -> Self {
        AxisSet([0; W])
    }
}

impl<const W: usize> AxisSet<W> {
    pub(crate) fn from_indices(indices: impl IntoIterator<Item = usize>) -> Self {
        let mut set = Self::default();
        for i in indices {
            set.insert(i);
        }
        set
    }

    pub(crate) fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    pub(crate) fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    pub(crate) fn union(&self, other: &Self) -> Self {
        AxisSet(std::array::from_fn(|w| self.0[w] | other.0[w]))
    }

    pub(crate) fn intersection(&self, other: &Self) -> Self {
        AxisSet(std::array::from_fn(|w| self.0[w] & other.0[w]))
    }

    pub(crate) fn difference(&self, other: &Self) -> Self {
        AxisSet(std::array::from_fn(|w| self.0[w] & !other.0[w]))
    }

    pub(crate) fn intersects(&self, other: &Self) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// The indices in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    w * 64 + b
                })
            })
        })
    }

    /// The product of the sizes of the axes in the set, as the search ranks
    /// it (exact while it fits).
    #[inline(always)]
    pub(crate) fn size(&self, sizes: &[usize]) -> Cost {
        Cost::product(self.iter().map(|i| sizes[i]))
    }

    /// The same product, exactly.
    pub(crate) fn count(&self, sizes: &[usize]) -> Count {
        Count::product(self.iter().map(|i| sizes[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_algebra() {
        let a = AxisSet::<2>::from_indices([0, 5, 64, 127]);
        let b = AxisSet::<2>::from_indices([5, 70]);
        assert_eq!(a.union(&b).iter().collect::<Vec<_>>(), [0, 5, 64, 70, 127]);
        assert_eq!(a.intersection(&b).iter().collect::<Vec<_>>(), [5]);
        assert_eq!(a.difference(&b).iter().count(), 3);
        assert!(a.intersects(&b) && !a.difference(&b).intersects(&b));
        assert!(AxisSet::<2>::default().is_empty());
    }

    #[test]
    fn sizes_never_saturate() {
        let sizes = vec![usize::MAX; 4];
        let all = AxisSet::<1>::from_indices(0..4);
        assert!(all.size(&sizes) > AxisSet::<1>::from_indices(0..3).size(&sizes));
        assert_eq!(all.count(&sizes), Count::product(sizes.iter().copied()));
        assert_eq!(AxisSet::<1>::from_indices([1]).size(&[3, 4]), Cost::new(4));
    }
}
