//! Exact counts for reports: FLOPs and element counts of any size.
//!
//! A plan over many large axes can need more FLOPs than a `u128` holds (64
//! axes of size 2^63 multiply to 2^4032), and a report must never print a
//! saturated figure as if it were the count. [`Count`] is an unsigned
//! integer of any size: a `u128` while the value fits (no allocation: the
//! common case), 64-bit limbs beyond. It multiplies by sizes, adds,
//! subtracts, compares and prints; the planner's totals need nothing more.
//! The order search does not use it: it ranks with `Cost` (see `cost.rs`),
//! which is exact while it fits a `u128` and logarithmic beyond, and fast.

use std::cmp::Ordering;
use std::fmt;

/// A non-negative integer of any size: a FLOP or element count.
///
/// Exact at any magnitude; `Display` prints every digit. With the `serde`
/// feature it serializes as an integer: `u64` or `u128` when it fits, and
/// beyond as a JSON number of any length (serde_json's arbitrary-precision
/// `Number`; other formats see that type's own encoding).
///
/// ```
/// use einsum_plan::Count;
///
/// let mut n = Count::from(1u128 << 100);
/// n = n.times(1 << 40);
/// assert_eq!(n.to_u128(), None);
/// assert_eq!(n.to_string(), "1393796574908163946345982392040522594123776"); // 2^140
/// assert_eq!(n.bits(), 141);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Count(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// Every value that fits in a `u128`.
    Small(u128),
    /// Every larger value: little-endian limbs, at least three, the top one
    /// non-zero (so each value has one representation and `==` is derived).
    Big(Vec<u64>),
}

/// The largest power of ten in a `u64`: printing divides by it.
const TEN_19: u64 = 10_000_000_000_000_000_000;

impl Count {
    /// Zero.
    pub const ZERO: Count = Count(Repr::Small(0));

    /// The product of `factors` (1 for none).
    pub fn product(factors: impl IntoIterator<Item = usize>) -> Count {
        factors
            .into_iter()
            .fold(Count::from(1u8), |acc, f| acc.times(f as u64))
    }

    /// `self * other`.
    #[must_use]
    pub fn mul(&self, other: &Count) -> Count {
        if let (Repr::Small(a), Repr::Small(b)) = (&self.0, &other.0)
            && let Some(p) = a.checked_mul(*b)
        {
            return Count(Repr::Small(p));
        }
        let (a, b) = (self.limbs(), other.limbs());
        let mut limbs = vec![0u64; a.len() + b.len()];
        for (i, &x) in a.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &y) in b.iter().enumerate() {
                let t = u128::from(x) * u128::from(y) + u128::from(limbs[i + j]) + carry;
                limbs[i + j] = t as u64;
                carry = t >> 64;
            }
            limbs[i + b.len()] = carry as u64;
        }
        Count::from_limbs(limbs)
    }

    /// `self * factor`.
    #[must_use]
    pub fn times(self, factor: u64) -> Count {
        match self.0 {
            Repr::Small(v) => match v.checked_mul(u128::from(factor)) {
                Some(p) => Count(Repr::Small(p)),
                None => {
                    let mut limbs = small_limbs(v);
                    mul_limbs(&mut limbs, factor);
                    Count::from_limbs(limbs)
                }
            },
            Repr::Big(mut limbs) => {
                mul_limbs(&mut limbs, factor);
                Count::from_limbs(limbs)
            }
        }
    }

    /// `self - other`, or zero when `other` is larger.
    #[must_use]
    pub fn saturating_sub(&self, other: &Count) -> Count {
        match (&self.0, &other.0) {
            (Repr::Small(a), Repr::Small(b)) => Count(Repr::Small(a.saturating_sub(*b))),
            _ if self <= other => Count::ZERO,
            _ => {
                let mut limbs = self.limbs();
                let mut borrow = false;
                let theirs = other.limbs();
                for (i, limb) in limbs.iter_mut().enumerate() {
                    let b = theirs.get(i).copied().unwrap_or(0);
                    let (d, o1) = limb.overflowing_sub(b);
                    let (d, o2) = d.overflowing_sub(u64::from(borrow));
                    *limb = d;
                    borrow = o1 || o2;
                }
                Count::from_limbs(limbs)
            }
        }
    }

    /// The value, when it fits in a `u128`.
    pub fn to_u128(&self) -> Option<u128> {
        match self.0 {
            Repr::Small(v) => Some(v),
            Repr::Big(_) => None,
        }
    }

    /// The value, or `u128::MAX` when it does not fit.
    pub fn saturating_u128(&self) -> u128 {
        self.to_u128().unwrap_or(u128::MAX)
    }

    /// The value, or `usize::MAX` when it does not fit.
    pub fn saturating_usize(&self) -> usize {
        self.to_u128()
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(usize::MAX)
    }

    /// Bits needed to write the value (0 for zero).
    pub fn bits(&self) -> u64 {
        match &self.0 {
            Repr::Small(v) => u64::from(128 - v.leading_zeros()),
            Repr::Big(limbs) => {
                let top = limbs[limbs.len() - 1];
                64 * (limbs.len() as u64 - 1) + u64::from(64 - top.leading_zeros())
            }
        }
    }

    /// `self / other` as a float (1 when both are zero, infinity when only
    /// `other` is), to a float's precision.
    pub fn ratio(&self, other: &Count) -> f64 {
        match (&self.0, &other.0) {
            (_, Repr::Small(0)) if *self == Count::ZERO => 1.0,
            (Repr::Small(a), Repr::Small(b)) => *a as f64 / *b as f64,
            _ => {
                let ((a, ea), (b, eb)) = (self.top(), other.top());
                let shift =
                    i32::try_from(ea - eb).unwrap_or(if ea > eb { i32::MAX } else { i32::MIN });
                a / b * 2f64.powi(shift)
            }
        }
    }

    /// The value as `m * 2^e` with `m` a float below `2^128`: the top 128
    /// bits carry all a float can hold.
    fn top(&self) -> (f64, i64) {
        match &self.0 {
            Repr::Small(v) => (*v as f64, 0),
            Repr::Big(limbs) => {
                let k = limbs.len();
                let top = (u128::from(limbs[k - 1]) << 64) | u128::from(limbs[k - 2]);
                (top as f64, 64 * (k as i64 - 2))
            }
        }
    }

    /// Four significant digits in numpy's style: `1.234e+05`. Rounded half
    /// to even from the exact value, as `format!("{:.3e}")` rounds a float;
    /// a value that fits in a `u128` goes through `f64` as it always has,
    /// so reports of such values read as before.
    pub(crate) fn sci(&self) -> String {
        let (mantissa, exponent) = match self.0 {
            Repr::Small(v) => {
                let s = format!("{:.3e}", v as f64);
                match s.split_once('e') {
                    Some((m, e)) => (m.to_owned(), e.parse::<i64>().unwrap_or(0)),
                    None => (s, 0),
                }
            }
            Repr::Big(_) => {
                let digits = self.to_string().into_bytes();
                let exponent = digits.len() as i64 - 1;
                let lead = |i: usize| u32::from(digits[i] - b'0');
                let mut kept = (0..4).fold(0u32, |acc, i| acc * 10 + lead(i));
                let rest_zero = digits[5..].iter().all(|&d| d == b'0');
                let up = match lead(4) {
                    5 if rest_zero => kept % 2 == 1,
                    d => d >= 5,
                };
                let mut exponent = exponent;
                if up {
                    kept += 1;
                    if kept == 10_000 {
                        kept = 1000;
                        exponent += 1;
                    }
                }
                (format!("{}.{:03}", kept / 1000, kept % 1000), exponent)
            }
        };
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    }

    /// The limbs, little-endian, without leading zeros.
    fn limbs(&self) -> Vec<u64> {
        match &self.0 {
            Repr::Small(v) => small_limbs(*v),
            Repr::Big(limbs) => limbs.clone(),
        }
    }

    /// The count of `limbs` (little-endian, leading zeros allowed).
    fn from_limbs(mut limbs: Vec<u64>) -> Count {
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
        if limbs.len() <= 2 {
            let lo = limbs.first().copied().unwrap_or(0);
            let hi = limbs.get(1).copied().unwrap_or(0);
            Count(Repr::Small((u128::from(hi) << 64) | u128::from(lo)))
        } else {
            Count(Repr::Big(limbs))
        }
    }
}

fn small_limbs(v: u128) -> Vec<u64> {
    let mut limbs = vec![v as u64, (v >> 64) as u64];
    while limbs.last() == Some(&0) {
        limbs.pop();
    }
    limbs
}

fn mul_limbs(limbs: &mut Vec<u64>, factor: u64) {
    let mut carry = 0u128;
    for limb in limbs.iter_mut() {
        let p = u128::from(*limb) * u128::from(factor) + carry;
        *limb = p as u64;
        carry = p >> 64;
    }
    if carry != 0 {
        limbs.push(carry as u64);
    }
}

impl From<u128> for Count {
    fn from(v: u128) -> Count {
        Count(Repr::Small(v))
    }
}

impl From<u64> for Count {
    fn from(v: u64) -> Count {
        Count(Repr::Small(u128::from(v)))
    }
}

impl From<u8> for Count {
    fn from(v: u8) -> Count {
        Count(Repr::Small(u128::from(v)))
    }
}

impl From<usize> for Count {
    fn from(v: usize) -> Count {
        Count(Repr::Small(v as u128))
    }
}

impl PartialEq<u128> for Count {
    fn eq(&self, other: &u128) -> bool {
        self.to_u128() == Some(*other)
    }
}

impl std::ops::Add<&Count> for &Count {
    type Output = Count;

    fn add(self, other: &Count) -> Count {
        if let (Repr::Small(a), Repr::Small(b)) = (&self.0, &other.0)
            && let Some(sum) = a.checked_add(*b)
        {
            return Count(Repr::Small(sum));
        }
        let (a, b) = (self.limbs(), other.limbs());
        let (mut long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
        let mut carry = false;
        for (i, limb) in long.iter_mut().enumerate() {
            let b = short.get(i).copied().unwrap_or(0);
            let (s, o1) = limb.overflowing_add(b);
            let (s, o2) = s.overflowing_add(u64::from(carry));
            *limb = s;
            carry = o1 || o2;
        }
        if carry {
            long.push(1);
        }
        Count::from_limbs(long)
    }
}

impl std::ops::AddAssign<&Count> for Count {
    fn add_assign(&mut self, other: &Count) {
        *self = &*self + other;
    }
}

impl std::iter::Sum for Count {
    fn sum<I: Iterator<Item = Count>>(iter: I) -> Count {
        iter.fold(Count::ZERO, |acc, c| &acc + &c)
    }
}

impl Ord for Count {
    fn cmp(&self, other: &Count) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Small(a), Repr::Small(b)) => a.cmp(b),
            (Repr::Small(_), Repr::Big(_)) => Ordering::Less,
            (Repr::Big(_), Repr::Small(_)) => Ordering::Greater,
            (Repr::Big(a), Repr::Big(b)) => a
                .len()
                .cmp(&b.len())
                .then_with(|| a.iter().rev().cmp(b.iter().rev())),
        }
    }
}

impl PartialOrd for Count {
    fn partial_cmp(&self, other: &Count) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Small(v) => fmt::Display::fmt(v, f),
            Repr::Big(limbs) => {
                // Base 10^19 digits, least significant first, by long
                // division of the limbs.
                let mut limbs = limbs.clone();
                let mut chunks = Vec::new();
                while !limbs.is_empty() {
                    let mut rem = 0u128;
                    for limb in limbs.iter_mut().rev() {
                        let cur = (rem << 64) | u128::from(*limb);
                        *limb = (cur / u128::from(TEN_19)) as u64;
                        rem = cur % u128::from(TEN_19);
                    }
                    chunks.push(rem as u64);
                    while limbs.last() == Some(&0) {
                        limbs.pop();
                    }
                }
                let mut text = String::with_capacity(chunks.len() * 19);
                for (i, chunk) in chunks.iter().rev().enumerate() {
                    if i == 0 {
                        text.push_str(&chunk.to_string());
                    } else {
                        text.push_str(&format!("{chunk:019}"));
                    }
                }
                f.pad_integral(true, "", &text)
            }
        }
    }
}

impl fmt::Debug for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Count {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Repr::Small(v) => match u64::try_from(v) {
                Ok(v) => serializer.serialize_u64(v),
                Err(_) => serializer.serialize_u128(v),
            },
            Repr::Big(_) => {
                // serde's data model stops at u128; serde_json's
                // arbitrary-precision number carries any integer exactly.
                let number: serde_json::Number = self
                    .to_string()
                    .parse()
                    .map_err(serde::ser::Error::custom)?;
                serde::Serialize::serialize(&number, serializer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2^k, built by doubling.
    fn pow2(k: u32) -> Count {
        (0..k).fold(Count::from(1u8), |acc, _| acc.times(2))
    }

    #[test]
    fn products_and_sums_stay_exact_past_u128() {
        assert_eq!(pow2(127).to_u128(), Some(1 << 127));
        assert_eq!(pow2(128).to_u128(), None);
        assert_eq!(
            pow2(128).to_string(),
            "340282366920938463463374607431768211456"
        );
        assert_eq!(pow2(200).bits(), 201);
        // (2^64 - 1)^3, worked out by hand as 2^192 - 3*2^128 + 3*2^64 - 1.
        let m = u64::MAX as usize;
        let cube = Count::product([m, m, m]);
        let expected = pow2(192)
            .saturating_sub(&pow2(128).times(3))
            .saturating_sub(&Count::from(1u8));
        let expected = &expected + &pow2(64).times(3);
        assert_eq!(cube, expected);
        assert_eq!(
            cube.to_string(),
            "6277101735386680762814942322444851025767571854389858533375"
        );
        assert_eq!(&pow2(128) + &pow2(128), pow2(129));
        assert_eq!(
            &Count::from(u128::MAX) + &Count::from(1u8),
            pow2(128),
            "a carry out of the small form"
        );
        assert_eq!(pow2(129).saturating_sub(&pow2(128)), pow2(128));
        assert_eq!(pow2(128).saturating_sub(&pow2(129)), Count::ZERO);
        assert_eq!(Count::product([]), 1);
        assert_eq!(Count::product([3, 0, usize::MAX]), 0);
    }

    #[test]
    fn order_follows_the_values() {
        let mut values = vec![
            pow2(300),
            Count::from(5u8),
            pow2(129),
            pow2(128),
            Count::ZERO,
        ];
        values.sort();
        assert_eq!(
            values,
            [
                Count::ZERO,
                Count::from(5u8),
                pow2(128),
                pow2(129),
                pow2(300)
            ]
        );
        assert!(&pow2(200) + &Count::from(1u8) > pow2(200));
    }

    #[test]
    fn scientific_text_rounds_half_to_even_like_floats() {
        // Values that fit print exactly as before (through f64).
        assert_eq!(Count::from(40_000_000_000_000u64).sci(), "4.000e+13");
        assert_eq!(Count::ZERO.sci(), "0.000e+00");
        assert_eq!(Count::from(12_345u64).sci(), "1.234e+04");
        assert_eq!(Count::from(u128::MAX).sci(), "3.403e+38");
        // 2^128 = 3.40282...e38, 2^4032 has 1214 digits.
        assert_eq!(pow2(128).sci(), "3.403e+38");
        assert_eq!(pow2(4032).sci(), format!("{}e+1213", &rounded(&pow2(4032))));
        // Ties: 12345 * 10^40 to even (down), 12355 * 10^40 to even (up),
        // and a carry into the exponent.
        let scaled = |v: u64| (0..40).fold(Count::from(v), |acc, _| acc.times(10));
        assert_eq!(scaled(12_345).sci(), "1.234e+44");
        assert_eq!(scaled(12_355).sci(), "1.236e+44");
        assert_eq!(scaled(99_995).sci(), "1.000e+45");
        assert_eq!((&scaled(12_345) + &Count::from(1u8)).sci(), "1.235e+44");
    }

    /// The first four digits of `c`, rounded by hand from its decimal text.
    fn rounded(c: &Count) -> String {
        let text = c.to_string();
        let head: u32 = text[..4].parse().unwrap();
        let up = text.as_bytes()[4] >= b'5';
        let kept = head + u32::from(up);
        format!("{}.{:03}", kept / 1000, kept % 1000)
    }

    #[test]
    fn products_of_counts_are_exact() {
        let big = Count::product([1 << 60, 1 << 60, 3]);
        let product = big.mul(&Count::product([1 << 62, 5]));
        assert_eq!(product, Count::product([1 << 60, 1 << 60, 3, 1 << 62, 5]));
        assert_eq!(Count::from(7u8).mul(&Count::from(6u8)), 42);
        assert_eq!(Count::ZERO.mul(&big), 0);
    }

    #[test]
    fn ratios_and_saturation() {
        assert_eq!(Count::from(10u8).ratio(&Count::from(4u8)), 2.5);
        assert_eq!(Count::ZERO.ratio(&Count::ZERO), 1.0);
        let r = pow2(300).ratio(&pow2(299));
        assert!((r - 2.0).abs() < 1e-9, "{r}");
        assert_eq!(pow2(200).saturating_u128(), u128::MAX);
        assert_eq!(pow2(70).saturating_usize(), usize::MAX);
        assert_eq!(Count::from(7u8).saturating_usize(), 7);
    }
}
