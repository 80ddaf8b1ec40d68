//! A loop over one `einsum!` call site plans once per operand shape.
//!
//! Its own test binary with one test: `einsum::plans_made` counts plans
//! process-wide, so no other test may plan while this one counts.

use ndarray::Array2;

fn matmul(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    einsum::einsum!("ij,jk->ik", a, b)
}

#[test]
fn the_second_call_with_the_same_shapes_does_not_plan() {
    let a = Array2::from_shape_fn((6, 4), |(i, j)| (i + j) as f64);
    let b = Array2::from_shape_fn((4, 5), |(i, j)| (i * j) as f64);
    let start = einsum::plans_made();
    let first = matmul(&a, &b);
    assert_eq!(einsum::plans_made(), start + 1, "the first call plans");
    for _ in 0..100 {
        assert_eq!(matmul(&a, &b), first);
    }
    assert_eq!(
        einsum::plans_made(),
        start + 1,
        "later calls reuse the plan"
    );
    // New shapes plan once more; the old shapes are still cached.
    let c = Array2::from_shape_fn((5, 3), |(i, j)| (i + 2 * j) as f64);
    for _ in 0..10 {
        assert_eq!(matmul(&b, &c), b.dot(&c));
        assert_eq!(matmul(&a, &b), first);
    }
    assert_eq!(einsum::plans_made(), start + 2);
    // A different call site with the same text has its own cache.
    let again: Array2<f64> = einsum::einsum!("ij,jk->ik", a, b);
    assert_eq!(again, first);
    assert_eq!(einsum::plans_made(), start + 3);
}
