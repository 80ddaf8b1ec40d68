//! A compiled expression's second call with the same shapes and layouts
//! allocates nothing (`run_into`) or only its result (`run`).
//!
//! Its own test binary with one test: the counting allocator is global, so
//! nothing else may run while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use einsum::exec::{Accum, Par};
use einsum::{Einsum, Options};
use ndarray::{Array1, Array2, Array3};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; it only
// counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// Allocations of one direct `gemm::gemm` call computing `out = a a`.
fn gemm_allocations(a: &Array2<f64>, out: &mut Array2<f64>) -> usize {
    let n = a.nrows();
    let (p, o) = (a.as_ptr(), out.as_mut_ptr());
    allocations(|| {
        // SAFETY: `a` and `out` are n×n C-order arrays; gemm reads n×n of
        // `a` twice and writes n×n of `out`, which does not overlap `a`.
        unsafe {
            gemm::gemm(
                n,
                n,
                n,
                o,
                1,
                n as isize,
                false,
                p,
                1,
                n as isize,
                p,
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        }
    })
}

#[test]
fn the_second_call_allocates_only_its_result() {
    let serial = Options::new().par(Par::Seq);
    let a = Array2::from_shape_fn((8, 8), |(i, j)| (i * 8 + j) as f64);
    let b = Array2::from_shape_fn((8, 8), |(i, j)| (i + 2 * j) as f64);
    let c = Array3::from_shape_fn((3, 8, 5), |(i, j, k)| (i + j + k) as f64);

    // One step on operands, a chain with temporaries, a GEMM.
    let rowdot = Einsum::with_options("ij,ij->i", serial.clone()).unwrap();
    let chain = Einsum::with_options("ij,jk,ajb->aib", serial.clone()).unwrap();
    let matmul = Einsum::with_options("ik,kj->ij", serial).unwrap();
    let big = Array2::from_shape_fn((64, 64), |(i, j)| (i * 64 + j) as f64);
    // Integer products pack their panels in scratch the thread keeps.
    let ints = big.mapv(|x| x as i64);
    let mut out_ints = Array2::<i64>::zeros((64, 64));

    let mut out1 = Array1::zeros(8);
    let mut out3 = Array3::zeros((3, 8, 5));
    let mut out2 = Array2::zeros((64, 64));
    for round in 0..3 {
        let counts = [
            allocations(|| {
                rowdot
                    .run_into(&[&a, &a.t()], out1.view_mut(), Accum::Replace)
                    .unwrap();
            }),
            allocations(|| {
                chain
                    .run_into(&[&a, &b, &c], out3.view_mut(), Accum::Add)
                    .unwrap();
            }),
            allocations(|| {
                matmul
                    .run_into(&[&big, &big], out2.view_mut(), Accum::Replace)
                    .unwrap();
            }),
            allocations(|| {
                matmul
                    .run_into(&[&ints, &ints], out_ints.view_mut(), Accum::Replace)
                    .unwrap();
            }),
        ];
        if round > 0 {
            // The GEMM step allocates what the gemm crate itself allocates
            // per call (its packing scratch), nothing of ours.
            assert_eq!(
                counts,
                [0, 0, gemm_allocations(&big, &mut out2), 0],
                "run_into allocated on call {round}"
            );
        }
        let n = allocations(|| {
            let _ = rowdot.run(&[&a, &b]).unwrap();
        });
        if round > 0 {
            assert_eq!(n, 1, "run allocated beyond its result on call {round}");
        }
    }
    assert_eq!(out1, (&a * &a.t()).sum_axis(ndarray::Axis(1)));
    assert_eq!(out_ints, ints.dot(&ints));

    // With two threads, the parallel paths (split rows, a full reduction's
    // partial sums, a batch of products) allocate nothing of ours either.
    // rayon's own job queues grow in blocks now and then, so the bound is
    // on many calls together.
    let two = Options::new().par(Par::Rayon(2));
    let wide = Array2::from_shape_fn((256, 256), |(i, j)| ((i + j) % 7) as f64);
    let batch = Array3::from_shape_fn((16, 32, 32), |(b, i, j)| ((b + i * j) % 5) as f64);
    let rowdot = Einsum::with_options("ij,ij->i", two.clone()).unwrap();
    let total = Einsum::with_options("ij->", two.clone()).unwrap();
    let batched = Einsum::with_options("bij,bjk->bik", two).unwrap();
    let mut rows = Array1::zeros(256);
    let mut scalar = ndarray::Array0::zeros(());
    let mut products = Array3::zeros((16, 32, 32));
    let mut run_all = || {
        rowdot
            .run_into(&[&wide, &wide], rows.view_mut(), Accum::Replace)
            .unwrap();
        total
            .run_into(&[&wide], scalar.view_mut(), Accum::Replace)
            .unwrap();
        batched
            .run_into(&[&batch, &batch], products.view_mut(), Accum::Replace)
            .unwrap();
    };
    run_all(); // plans, fits and workspaces made here
    let calls = 50;
    let n = allocations(|| {
        for _ in 0..calls {
            run_all();
        }
    });
    // The gemm crate's packing scratch, per product, is its own (as above):
    // 16 products a round.
    let square = batch.index_axis(ndarray::Axis(0), 0).to_owned();
    let per_product = gemm_allocations(&square, &mut Array2::zeros((32, 32)));
    let ours = n.saturating_sub(calls * 16 * per_product);
    // Seen: 2 to 5 (crossbeam's queue blocks and epoch bags); one
    // allocation per call of ours would be at least 50.
    assert!(
        ours < calls / 2,
        "{ours} allocations beyond gemm's own over {calls} rounds of three parallel calls"
    );
    assert_eq!(scalar[()], wide.sum());
}
