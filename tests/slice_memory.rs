//! A sliced run holds what its program says, and a contraction whose
//! unsliced order needs 16x the memory limit runs within it.
//!
//! Its own test binary with one test: the allocator that tracks live bytes
//! is global, so nothing else may run while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use einsum::exec::{GemmPolicy, Par, Program, RunOptions, StridedView, StridedViewMut, Workspace};
use einsum::plan::PlanOptions;

struct Tracking;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::SeqCst) + bytes;
    PEAK.fetch_max(live, Ordering::SeqCst);
}

// SAFETY: forwards every call to the system allocator unchanged; it only
// counts the bytes live.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        grew(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// The most bytes live during `f` beyond those live before it.
fn peak_during(f: impl FnOnce()) -> usize {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    f();
    PEAK.load(Ordering::SeqCst) - before
}

/// Bytes of bookkeeping a run may allocate besides its buffers (the views
/// of each slice, rayon's jobs): small against any buffer here.
const SLACK: usize = 16 << 10;

#[test]
fn a_sliced_run_holds_what_its_program_says() {
    // A ring of four 256x256 matrices: every order's first temporary is
    // 256x256 = 65,536 elements; the limit is 4,096, 16x less.
    let n = 256;
    let limit = 4096;
    let shapes = [[n, n]; 4];
    let data: Vec<Vec<f64>> = (0..4)
        .map(|k| {
            (0..n * n)
                .map(|i| ((i * 7 + k) % 13) as f64 - 6.0)
                .collect()
        })
        .collect();
    let views: Vec<StridedView<'_, f64>> = data
        .iter()
        .map(|d| StridedView::new(d, 0, vec![n, n], vec![n as isize, 1]).unwrap())
        .collect();
    let run = |options: &PlanOptions, par: Par| -> (f64, usize, usize) {
        let plan = Arc::new(einsum::explain("ab,bc,cd,da->", &shapes, options).unwrap());
        let mut result = [0.0];
        let mut out = StridedViewMut::new(&mut result, 0, vec![], vec![]).unwrap();
        let program = Program::for_arrays(plan, &views, &out).unwrap();
        let predicted = program.run_workspace_elements(par.threads()) * 8;
        // Once unmeasured: rayon's pool and other one-time set-up.
        program
            .run(
                &views,
                &mut out,
                &RunOptions::new().par(par),
                &mut Workspace::new(),
            )
            .unwrap();
        let peak = peak_during(|| {
            let mut workspace = Workspace::new();
            program
                .run(
                    &views,
                    &mut out,
                    &RunOptions::new().par(par),
                    &mut workspace,
                )
                .unwrap();
        });
        (result[0], predicted, peak)
    };
    // Unsliced, its two 256x256 temporaries (and the gemm crate's packing
    // scratch, not ours to count).
    let (whole, whole_predicted, whole_peak) = run(&PlanOptions::new(), Par::Seq);
    assert!(whole_peak >= whole_predicted && whole_predicted >= 2 * 65536 * 8);
    // Strided loops only: the gemm crate's own packing scratch (thread-local,
    // some kilobytes) is not ours to count.
    let sliced = PlanOptions::new()
        .memory_limit(Some(limit))
        .gemm(GemmPolicy::Never);
    for par in [Par::Seq, Par::Rayon(2)] {
        let (value, predicted, peak) = run(&sliced, par);
        assert_eq!(value, whole, "{par:?}: integer-valued sums are exact");
        // What the program says, and no less than its buffers.
        assert!(
            peak <= predicted + SLACK,
            "{par:?}: {peak} > {predicted} bytes"
        );
        assert!(peak >= predicted, "{par:?}: {peak} < {predicted} bytes");
        // Within the limit, slices running at once included.
        assert!(predicted <= limit * 8, "{par:?}: {predicted} bytes");
    }

    // `einsum!` with a memory limit in bytes (read at compile time) slices
    // the same ring; without one, it holds the two 256x256 temporaries. In
    // i64, whose products run on our own GEMM kernel, which packs nothing
    // for these one-row products (a slice's are 1x256 by 256x256): the
    // gemm crate's packing scratch (thread-local, up to a whole 256x256
    // operand) is not ours to count.
    let arrays: Vec<ndarray::Array2<i64>> = data
        .iter()
        .map(|d| ndarray::Array2::from_shape_fn((n, n), |(i, j)| d[i * n + j] as i64))
        .collect();
    let [a, b, c, d] = &arrays[..] else {
        unreachable!()
    };
    let limited =
        || -> i64 { einsum::einsum!("ab,bc,cd,da->", a, b, c, d; memory_limit = "32KiB") };
    let unlimited = || -> i64 { einsum::einsum!("ab,bc,cd,da->", a, b, c, d) };
    // A call site's first call plans and allocates its workspace (later
    // calls reuse it): measured cold, planning included.
    let limited_peak = peak_during(|| assert_eq!(limited() as f64, whole));
    let unlimited_peak = peak_during(|| assert_eq!(unlimited() as f64, whole));
    assert!(unlimited_peak >= 2 * 65536 * 8, "{unlimited_peak} bytes");
    assert!(limited_peak <= 2 * (32 << 10), "{limited_peak} bytes");
}
