//! Memory: fallible, size-checked allocation and advice for large buffers.

use crate::element::Element;
use crate::error::ExecError;

/// Bytes from which a buffer is worth backing with huge pages (numpy's
/// threshold for the same advice on its arrays).
const HUGE_FROM: usize = 4 << 20;

/// Asks the operating system to back `data` with transparent huge pages, as
/// numpy does for every array of 4 MiB or more: strided and transposing
/// access (a diagonal, a transpose) then misses the TLB 512 times less
/// often. Best called on fresh memory (`Array::zeros`, `vec![0.0; n]`),
/// before it is first written. Only whole 2 MiB pages inside `data` are
/// advised. A hint: on systems without transparent huge pages, or below
/// 4 MiB, it does nothing, and it never changes the data.
///
/// ```
/// let mut data = vec![0.0f64; 1 << 20]; // 8 MiB
/// einsum_exec::advise_huge_pages(&mut data);
/// assert!(data.iter().all(|&x| x == 0.0));
/// ```
pub fn advise_huge_pages<T>(data: &mut [T]) {
    let bytes = std::mem::size_of_val(data);
    if bytes < HUGE_FROM {
        return;
    }
    // Miri does not model `madvise`; the hint changes nothing it checks.
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        const PAGE: usize = 2 << 20;
        let start = data.as_mut_ptr() as usize;
        let end = start + bytes;
        let first = start.next_multiple_of(PAGE);
        if end >= first + PAGE {
            let len = (end - first) / PAGE * PAGE;
            // SAFETY: `first..first + len` lies inside `data`, which this
            // function borrows exclusively; MADV_HUGEPAGE changes only how
            // the kernel backs the range, never its contents, and its
            // result (an error where huge pages are unsupported) is a hint
            // we may ignore.
            unsafe {
                libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// What a buffer is for, in an [`ExecError::OutOfMemory`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Allocation {
    /// The result array.
    Result,
    /// The buffers of a plan's temporaries.
    Workspace,
    /// Operand `k` (made by the caller, e.g. `einsum-explain`'s random data).
    Operand(usize),
    /// Everything one run needs at once: operands, result and workspace.
    Run,
}

impl std::fmt::Display for Allocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Allocation::Result => f.write_str("the result"),
            Allocation::Workspace => f.write_str("the temporaries"),
            Allocation::Operand(k) => write!(f, "operand {k}"),
            Allocation::Run => f.write_str("the run (operands, result and temporaries)"),
        }
    }
}

/// The bytes `elements` elements of `T` take, exactly (`None` beyond
/// `u128`).
pub fn bytes_of<T>(elements: u128) -> Option<u128> {
    elements.checked_mul(std::mem::size_of::<T>() as u128)
}

/// Checks that an array of `shape` with elements of `element_bytes` bytes
/// can exist: the product of its non-zero extents, in bytes, is at most
/// `isize::MAX` (the rule numpy and ndarray apply even to arrays with no
/// elements), and returns its element count.
///
/// # Errors
/// [`ExecError::ShapeTooLarge`].
pub fn check_shape(
    shape: &[usize],
    element_bytes: usize,
    what: Allocation,
) -> Result<usize, ExecError> {
    let nonzero = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(element_bytes.max(1), |n, &d| n.checked_mul(d))
        .filter(|&b| b <= isize::MAX as usize);
    match nonzero {
        Some(_) if shape.contains(&0) => Ok(0),
        Some(_) => Ok(shape.iter().product()),
        None => Err(ExecError::ShapeTooLarge {
            shape: shape.to_vec(),
            what,
        }),
    }
}

/// Checks that `bytes` could be allocated at all on this machine: at most
/// `isize::MAX` (Rust's limit for one allocation) and at most its memory and
/// swap together. The check comes before any buffer is touched, so a request
/// the machine cannot serve is an error rather than a process killed half
/// way through zero-filling it (with overcommit on, the kernel hands out
/// address space it cannot back).
///
/// # Errors
/// [`ExecError::OutOfMemory`] naming `what` and the bytes, `None` meaning
/// more than `u128::MAX`.
pub fn check_bytes(bytes: Option<u128>, what: Allocation) -> Result<(), ExecError> {
    let fits = bytes.is_some_and(|b| b <= isize::MAX as u128 && b <= machine_bytes());
    if fits {
        Ok(())
    } else {
        Err(ExecError::OutOfMemory {
            bytes,
            what,
            machine: machine_bytes(),
        })
    }
}

/// Allocates `len` elements set to zero, fallibly: sizes checked in bytes
/// (see [`check_bytes`]), then memory from the allocator's zeroing call,
/// which for large buffers maps fresh zero pages without writing them (as
/// `vec![0.0; n]` does), advised for huge pages (see [`advise_huge_pages`]).
///
/// # Errors
/// [`ExecError::OutOfMemory`] when the size overflows, exceeds the machine or
/// the allocator refuses it.
///
/// ```
/// use einsum_exec::{Allocation, ExecError, try_zeroed};
///
/// let v = try_zeroed::<f64>(1000, Allocation::Result)?;
/// assert!(v.len() == 1000 && v.iter().all(|&x| x == 0.0));
/// let huge = try_zeroed::<f64>(1 << 60, Allocation::Result);
/// assert!(matches!(huge, Err(ExecError::OutOfMemory { .. })));
/// # Ok::<(), ExecError>(())
/// ```
pub fn try_zeroed<T: Element>(len: usize, what: Allocation) -> Result<Vec<T>, ExecError> {
    check_bytes(bytes_of::<T>(len as u128), what)?;
    let layout = std::alloc::Layout::array::<T>(len).map_err(|_| ExecError::OutOfMemory {
        bytes: bytes_of::<T>(len as u128),
        what,
        machine: machine_bytes(),
    })?;
    if layout.size() == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: `layout` has a non-zero size (checked just above), as
    // `alloc_zeroed` requires.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        return Err(ExecError::OutOfMemory {
            bytes: Some(layout.size() as u128),
            what,
            machine: machine_bytes(),
        });
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout of
    // `[T; len]` (so `len` is both the length and the capacity), and every
    // element is initialised: all-zero bytes are a valid `T` for every
    // `Element` (the sealed set of integers, floats, complex floats and
    // `bool`, whose zero byte is `false`; the
    // `zero_bytes_are_zero` test checks that they read as `T::ZERO`).
    let mut data = unsafe { Vec::from_raw_parts(ptr, len, len) };
    advise_huge_pages(&mut data);
    Ok(data)
}

/// Bytes of memory and swap on this machine (`u128::MAX` where unknown).
pub fn machine_bytes() -> u128 {
    static BYTES: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    *BYTES.get_or_init(|| {
        // Miri does not model the `sysinfo` call: the size is unknown there.
        #[cfg(all(target_os = "linux", not(miri)))]
        {
            // SAFETY: `sysinfo` only writes the struct it is given, which is
            // a plain-data C struct for which all-zero bytes are valid.
            let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
            // SAFETY: `info` is a valid, exclusive `sysinfo` to fill.
            if unsafe { libc::sysinfo(&mut info) } == 0 {
                let unit = u128::from(info.mem_unit.max(1));
                return (u128::from(info.totalram) + u128::from(info.totalswap)) * unit;
            }
        }
        u128::MAX
    })
}

/// Bytes as a person reads them: `80000000000 bytes (74.5 GiB)`.
pub(crate) fn show_bytes(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut unit = None;
    let mut scaled = bytes as f64;
    for u in UNITS {
        if scaled < 1024.0 {
            break;
        }
        scaled /= 1024.0;
        unit = Some(u);
    }
    match unit {
        None => format!("{bytes} bytes"),
        Some(u) => format!("{bytes} bytes ({scaled:.1} {u})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex;

    fn zero_bytes_read_as_zero<T: Element>() {
        let v = try_zeroed::<T>(3, Allocation::Result).unwrap();
        assert_eq!(v, vec![T::ZERO; 3], "{}", T::NAME);
    }

    #[test]
    fn zero_bytes_are_zero() {
        zero_bytes_read_as_zero::<f32>();
        zero_bytes_read_as_zero::<f64>();
        zero_bytes_read_as_zero::<Complex<f32>>();
        zero_bytes_read_as_zero::<Complex<f64>>();
        zero_bytes_read_as_zero::<i8>();
        zero_bytes_read_as_zero::<i16>();
        zero_bytes_read_as_zero::<i32>();
        zero_bytes_read_as_zero::<i64>();
        zero_bytes_read_as_zero::<u8>();
        zero_bytes_read_as_zero::<u16>();
        zero_bytes_read_as_zero::<u32>();
        zero_bytes_read_as_zero::<u64>();
        zero_bytes_read_as_zero::<bool>();
        assert!(try_zeroed::<f64>(0, Allocation::Result).unwrap().is_empty());
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no machine size (sysinfo is not modelled)")]
    fn sizes_beyond_the_machine_are_errors_not_aborts() {
        // 2^40 doubles: 8 TiB, more than any machine this runs on.
        let err = try_zeroed::<f64>(1 << 40, Allocation::Workspace).unwrap_err();
        assert!(matches!(
            err,
            ExecError::OutOfMemory { bytes: Some(b), what: Allocation::Workspace, .. } if b == 1 << 43
        ));
        // Beyond isize::MAX bytes, and beyond u128.
        assert!(try_zeroed::<f64>(usize::MAX, Allocation::Result).is_err());
        assert!(check_bytes(None, Allocation::Run).is_err());
        assert!(check_bytes(Some(1024), Allocation::Run).is_ok());
    }

    #[test]
    fn shapes_too_large_to_exist_are_errors_even_when_empty() {
        assert_eq!(
            check_shape(&[0, usize::MAX], 8, Allocation::Result).ok(),
            None
        );
        assert_eq!(
            check_shape(&[0, 1 << 40], 8, Allocation::Result).ok(),
            Some(0)
        );
        assert_eq!(check_shape(&[3, 4], 8, Allocation::Result).ok(), Some(12));
        assert_eq!(check_shape(&[], 8, Allocation::Result).ok(), Some(1));
    }

    #[test]
    fn bytes_read_as_people_read_them() {
        assert_eq!(show_bytes(1000), "1000 bytes");
        assert_eq!(show_bytes(80_000_000_000), "80000000000 bytes (74.5 GiB)");
    }
}
