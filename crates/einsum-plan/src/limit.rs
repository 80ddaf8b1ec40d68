//! A memory limit as users write it: a number of elements, or a size in
//! bytes (`512MB`, `8GiB`) that becomes elements once the element type is
//! known. The CLI, the Python package and `einsum!` read limits with this one
//! parser.

use std::fmt;
use std::str::FromStr;

/// The largest temporary allowed, in elements or in bytes.
///
/// ```
/// use einsum_plan::MemoryLimit;
///
/// let limit: MemoryLimit = "8GiB".parse()?;
/// assert_eq!(limit, MemoryLimit::Bytes(8 << 30));
/// assert_eq!(limit.elements(8), 1 << 30); // of f64
/// assert_eq!("1000".parse::<MemoryLimit>()?, MemoryLimit::Elements(1000));
/// assert_eq!(MemoryLimit::Elements(1000).elements(8), 1000);
/// let err = "12 parsecs".parse::<MemoryLimit>().unwrap_err();
/// assert_eq!(err.to_string(), "unknown unit 'parsecs' in '12 parsecs': use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB");
/// # Ok::<(), einsum_plan::MemoryLimitError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryLimit {
    /// A number of elements, whatever their type.
    Elements(usize),
    /// A number of bytes.
    Bytes(u128),
}

impl MemoryLimit {
    /// The limit in elements of `element_bytes` bytes each (a byte limit
    /// rounds down; one beyond `usize` saturates).
    pub fn elements(self, element_bytes: usize) -> usize {
        match self {
            MemoryLimit::Elements(n) => n,
            MemoryLimit::Bytes(b) => {
                usize::try_from(b / element_bytes.max(1) as u128).unwrap_or(usize::MAX)
            }
        }
    }
}

impl From<usize> for MemoryLimit {
    fn from(elements: usize) -> Self {
        MemoryLimit::Elements(elements)
    }
}

impl fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryLimit::Elements(n) => write!(f, "{n} elements"),
            MemoryLimit::Bytes(b) => write!(f, "{b} bytes"),
        }
    }
}

/// Why a memory limit's text was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MemoryLimitError {
    /// No number at the start.
    #[error("expected elements (1000) or bytes with a unit (512MB, 8GiB), got '{0}'")]
    NotANumber(String),
    /// A unit that is not one of the known ones.
    #[error("unknown unit '{unit}' in '{text}': use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB")]
    UnknownUnit {
        /// The whole text.
        text: String,
        /// The unit as written.
        unit: String,
    },
    /// More than the number types hold.
    #[error("'{0}' is too large")]
    TooLarge(String),
}

impl FromStr for MemoryLimit {
    type Err = MemoryLimitError;

    /// `1000` (elements), or a size in bytes: `100B`, `512MB`, `8GiB`
    /// (decimal KB/MB/GB/TB and binary KiB/MiB/GiB/TiB, any case, a space
    /// allowed before the unit).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(digits);
        if number.is_empty() {
            return Err(MemoryLimitError::NotANumber(text.to_owned()));
        }
        let too_large = || MemoryLimitError::TooLarge(text.to_owned());
        let n: u128 = number.parse().map_err(|_| too_large())?;
        let unit = unit.trim();
        let scale: u128 = match unit.to_ascii_lowercase().as_str() {
            "" => {
                return usize::try_from(n)
                    .map(MemoryLimit::Elements)
                    .map_err(|_| too_large());
            }
            "b" => 1,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            "tib" => 1 << 40,
            _ => {
                return Err(MemoryLimitError::UnknownUnit {
                    text: text.to_owned(),
                    unit: unit.to_owned(),
                });
            }
        };
        n.checked_mul(scale)
            .map(MemoryLimit::Bytes)
            .ok_or_else(too_large)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_errors() {
        let parse = |t: &str| t.parse::<MemoryLimit>();
        assert_eq!(parse("0"), Ok(MemoryLimit::Elements(0)));
        assert_eq!(parse(" 512 MB "), Ok(MemoryLimit::Bytes(512_000_000)));
        assert_eq!(parse("3kib"), Ok(MemoryLimit::Bytes(3072)));
        assert_eq!(parse("100B"), Ok(MemoryLimit::Bytes(100)));
        assert_eq!(parse("2TiB"), Ok(MemoryLimit::Bytes(2 << 40)));
        assert!(matches!(parse(""), Err(MemoryLimitError::NotANumber(_))));
        assert!(matches!(parse("GiB"), Err(MemoryLimitError::NotANumber(_))));
        assert!(matches!(parse("-5"), Err(MemoryLimitError::NotANumber(_))));
        assert!(matches!(
            parse("1.5GiB"),
            Err(MemoryLimitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse("99999999999999999999999999999999999999999"),
            Err(MemoryLimitError::TooLarge(_))
        ));
        assert!(matches!(
            parse("999999999999999999999999999999999TiB"),
            Err(MemoryLimitError::TooLarge(_))
        ));
        assert_eq!(MemoryLimit::Bytes(17).elements(8), 2);
        assert_eq!(MemoryLimit::Bytes(u128::MAX).elements(1), usize::MAX);
        assert_eq!(MemoryLimit::Bytes(5).elements(0), 5);
    }
}
