//! The `optimize=` argument as the facade's `Optimize` and memory limit.

use einsum::Optimize;
use einsum::plan::Path;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyList, PyString, PyTuple};

/// Operands beyond which `'auto-hq'` leaves `Auto` for a longer search.
const AUTO_HQ_EXACT: usize = 16;

/// An order search and a memory limit, as the planner takes them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Strategy {
    /// The order search.
    pub optimize: Optimize,
    /// The largest temporary allowed, in elements.
    pub memory_limit: Option<usize>,
    /// Whether the limit is met by slicing (ours) rather than by a path
    /// within it or an error (numpy's and opt_einsum's).
    pub slicing: bool,
    /// The sliced axes' labels, when given (a plan made again elsewhere).
    pub given: Option<String>,
}

/// The names [`by_name`] knows (`branch-N` for any width N as well).
pub(crate) const NAMES: &[&str] = &[
    "auto",
    "auto-hq",
    "greedy",
    "eager",
    "opportunistic",
    "optimal",
    "dp",
    "dynamic-programming",
    "branch-all",
    "branch-1",
    "branch-2",
    "branch-3",
    "random-greedy",
    "random-greedy-128",
    "reconfigure",
    "naive",
];

/// An optimizer by name: numpy's (`greedy`, `optimal`), opt_einsum's
/// (`dp`, `branch-all`, `branch-2`, `eager`/`opportunistic` for greedy, `random-greedy`, `random-greedy-128`,
/// `auto`, `auto-hq`) and ours (`naive`, `reconfigure`, `branch-N`).
///
/// `auto-hq` is opt_einsum's "higher quality auto": optimal up to 5
/// operands, dp up to 16, random-greedy with 128 trials beyond. Our `auto`
/// is already exact up to 10 operands and dp up to 16, so `auto-hq` is
/// `auto` there; beyond 16 it is subtree reconfiguration with 32 starts
/// (auto uses 3), the search our planner does best on large networks.
pub(crate) fn by_name(name: &str, operands: usize) -> PyResult<Optimize> {
    Ok(match name {
        "auto" => Optimize::Auto,
        "auto-hq" if operands <= AUTO_HQ_EXACT => Optimize::Auto,
        "auto-hq" => Optimize::Reconfigure {
            trials: 32,
            subtree: 8,
            seed: 0,
        },
        "greedy" | "eager" | "opportunistic" => Optimize::Greedy,
        "optimal" => Optimize::Optimal,
        "dp" | "dynamic-programming" => Optimize::Dp,
        "branch-all" => Optimize::Branch(0),
        "random-greedy" => Optimize::RandomGreedy {
            trials: 32,
            seed: 0,
        },
        "random-greedy-128" => Optimize::RandomGreedy {
            trials: 128,
            seed: 0,
        },
        "reconfigure" => Optimize::Reconfigure {
            trials: 8,
            subtree: 8,
            seed: 0,
        },
        "naive" => Optimize::Naive,
        other => match other.strip_prefix("branch-").map(str::parse::<usize>) {
            Some(Ok(width)) if width > 0 => Optimize::Branch(width),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "optimize: unknown optimizer {other:?} (known: auto, auto-hq, greedy, \
                     optimal, dp, branch-all, branch-N, random-greedy, random-greedy-128, \
                     reconfigure, naive)"
                )));
            }
        },
    })
}

/// `optimize=` as numpy and opt_einsum take it: a bool, a name, a path in
/// numpy's linear format of pairs (`['einsum_path', (0, 1), ...]`, or the
/// pairs alone), or `(name, memory_limit)`; and ours, `(spec,
/// memory_limit, 'slice')`: any of those with a limit met by slicing, and
/// `(spec, memory_limit, 'slice', labels)`: sliced along those labels.
/// Paths with entries other than pairs are turned into pairs by the
/// Python layer before they get here.
pub(crate) fn strategy(spec: &Bound<'_, PyAny>, operands: usize) -> PyResult<Strategy> {
    let plain = |optimize| Strategy {
        optimize,
        memory_limit: None,
        slicing: false,
        given: None,
    };
    if let Ok(tuple) = spec.cast::<PyTuple>()
        && (tuple.len() == 3 || tuple.len() == 4)
        && tuple
            .get_item(2)?
            .cast::<PyString>()
            .is_ok_and(|s| s.to_str().ok() == Some("slice"))
    {
        let inner = strategy(&tuple.get_item(0)?, operands)?;
        let given = match tuple.get_item(3) {
            Ok(labels) => Some(labels.extract::<String>()?),
            Err(_) => None,
        };
        return Ok(Strategy {
            memory_limit: limit_of(&tuple.get_item(1)?)?,
            slicing: true,
            given,
            ..inner
        });
    }
    if spec.is_none() {
        return Ok(plain(Optimize::Auto));
    }
    if spec.cast::<PyBool>().is_ok() {
        // To compute, either bool runs the order our `auto` picks (exact up
        // to 16 operands, and cached per shapes, so cheap): numpy's True
        // asks for an optimized order and its greedy one is often costlier
        // (chain5: 2x); False is "one contraction, no order", and our
        // executor always runs pairwise steps. einsum_path reports both as
        // numpy does (the Python layer asks for greedy there).
        return Ok(plain(Optimize::Auto));
    }
    if let Ok(name) = spec.cast::<PyString>() {
        return Ok(plain(by_name(name.to_str()?, operands)?));
    }
    if let Ok(tuple) = spec.cast::<PyTuple>()
        && tuple.len() == 2
        && let Ok(name) = tuple.get_item(0)?.cast::<PyString>()
    {
        return Ok(Strategy {
            optimize: by_name(name.to_str()?, operands)?,
            memory_limit: limit_of(&tuple.get_item(1)?)?,
            slicing: false,
            given: None,
        });
    }
    if spec.cast::<PyList>().is_ok() || spec.cast::<PyTuple>().is_ok() {
        let mut pairs = Vec::new();
        for (i, item) in spec.try_iter()?.enumerate() {
            let item = item?;
            if i == 0
                && let Ok(s) = item.cast::<PyString>()
            {
                if s.to_str()? == "einsum_path" {
                    continue;
                }
                return Err(PyTypeError::new_err(format!(
                    "optimize: a path starts with 'einsum_path', not {:?}",
                    s.to_str()?
                )));
            }
            let pair: (usize, usize) = item.extract().map_err(|_| {
                pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "Invalid einsum_path is specified: entry {} is not a pair of operand positions",
                    i
                ))
            })?;
            pairs.push(pair);
        }
        return Ok(plain(Optimize::Path(Path(pairs))));
    }
    Err(PyTypeError::new_err(format!(
        "optimize: expected a bool, an optimizer name, a path or (name, memory_limit), got {}",
        spec.get_type().name()?
    )))
}

/// A memory limit in elements: `None`, or an int (negative: none, as
/// opt_einsum's -1). A size in bytes (`'1GiB'`) was made elements by the
/// caller, who knows the element type ([`memory_limit_elements`]).
fn limit_of(limit: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
    if limit.is_none() {
        return Ok(None);
    }
    let Ok(limit) = limit.extract::<i128>() else {
        return Err(PyTypeError::new_err(format!(
            "memory_limit: expected an int (elements) or a size in bytes such as '512MiB', got {}",
            limit.repr()?
        )));
    };
    Ok((limit >= 0).then(|| usize::try_from(limit).unwrap_or(usize::MAX)))
}

/// `memory_limit=` as ours takes it, in elements of `element_bytes` bytes
/// each: `None`; an int, elements (negative: no limit, as opt_einsum's
/// -1); or a string read by the planner's one parser: `'4096'` (elements)
/// or a size in bytes, `'512MB'`, `'8GiB'` (a `ValueError` with the units
/// otherwise).
#[pyfunction]
pub(crate) fn memory_limit_elements(
    limit: &Bound<'_, PyAny>,
    element_bytes: usize,
) -> PyResult<Option<usize>> {
    if let Ok(text) = limit.cast::<PyString>() {
        let parsed: einsum::plan::MemoryLimit = text
            .to_str()?
            .parse()
            .map_err(|e| PyValueError::new_err(format!("memory_limit: {e}")))?;
        return Ok(Some(parsed.elements(element_bytes)));
    }
    if limit.cast::<PyBool>().is_ok() {
        return Err(PyTypeError::new_err(
            "memory_limit: expected an int (elements) or a size in bytes such as '512MiB', got a bool",
        ));
    }
    limit_of(limit)
}

/// Whether `memory_limit=` is a size in bytes (`'512MiB'`), whose elements
/// depend on the element type, rather than a number of elements.
#[pyfunction]
pub(crate) fn memory_limit_is_bytes(limit: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(match limit.cast::<PyString>() {
        Ok(text) => matches!(
            text.to_str()?.parse::<einsum::plan::MemoryLimit>(),
            Ok(einsum::plan::MemoryLimit::Bytes(_))
        ),
        Err(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_is_known() {
        for name in NAMES {
            assert!(by_name(name, 3).is_ok(), "{name}");
        }
        assert_eq!(by_name("branch-7", 3).ok(), Some(Optimize::Branch(7)));
        assert!(by_name("branch-0", 3).is_err());
        assert!(by_name("nonsense", 3).is_err());
    }

    #[test]
    fn auto_hq_is_auto_up_to_sixteen_operands() {
        assert_eq!(by_name("auto-hq", 16).ok(), Some(Optimize::Auto));
        assert!(matches!(
            by_name("auto-hq", 17),
            Ok(Optimize::Reconfigure { trials: 32, .. })
        ));
    }
}
