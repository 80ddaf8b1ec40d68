//! Memory advice for large buffers.

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
    #[cfg(target_os = "linux")]
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
