//! Contraction orders as lists of pairs: [`SsaPath`], the form every
//! optimizer returns and the tree is built from, and [`Path`], numpy's
//! linear format, which users give and plans report; with the conversions
//! between them.

/// A contraction order in single-static-assignment form: operand ids are
/// `0..n`, the `k`-th pair creates id `n + k`.
pub(crate) type SsaPath = Vec<(usize, usize)>;

/// A contraction order in numpy's linear format.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<(usize, usize)>);

impl Path {
    /// Converts an SSA path over `n` operands to the linear format.
    pub(crate) fn from_ssa(n: usize, ssa: &[(usize, usize)]) -> Path {
        // Current list: ssa ids in list order.
        let mut list: Vec<usize> = (0..n).collect();
        let mut linear = Vec::with_capacity(ssa.len());
        for (k, &(a, b)) in ssa.iter().enumerate() {
            let pa = list.iter().position(|&x| x == a).unwrap_or(0);
            let pb = list.iter().position(|&x| x == b).unwrap_or(0);
            let (lo, hi) = (pa.min(pb), pa.max(pb));
            linear.push((lo, hi));
            list.remove(hi);
            list.remove(lo);
            list.push(n + k);
        }
        Path(linear)
    }

    /// Converts to SSA form over `n` operands, checking every pair.
    pub(crate) fn to_ssa(&self, n: usize) -> Result<SsaPath, String> {
        let mut list: Vec<usize> = (0..n).collect();
        let mut ssa = Vec::with_capacity(self.0.len());
        for (k, &(a, b)) in self.0.iter().enumerate() {
            if a == b || a >= list.len() || b >= list.len() {
                return Err(format!(
                    "pair {k} ({a}, {b}) is not two distinct positions among {} operands",
                    list.len()
                ));
            }
            ssa.push((list[a], list[b]));
            let (lo, hi) = (a.min(b), a.max(b));
            list.remove(hi);
            list.remove(lo);
            list.push(n + k);
        }
        if list.len() > 1 {
            return Err(format!(
                "the path leaves {} operands uncontracted",
                list.len()
            ));
        }
        Ok(ssa)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_and_ssa_formats_convert_both_ways() {
        let ssa = vec![(1, 2), (0, 3)];
        let linear = Path::from_ssa(3, &ssa);
        assert_eq!(linear, Path(vec![(1, 2), (0, 1)]));
        assert_eq!(linear.to_ssa(3).unwrap(), ssa);
        assert!(Path(vec![(0, 0)]).to_ssa(2).is_err());
        assert!(Path(vec![(0, 1)]).to_ssa(3).is_err());
        assert!(Path(vec![(0, 5)]).to_ssa(3).is_err());
    }
}
