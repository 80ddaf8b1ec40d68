//! The library API on ndarray arrays: results, layouts, errors, the plan cache.

mod support;

use einsum::exec::{Accum, Par};
use einsum::plan::Optimize;
use einsum::{Einsum, Error, Options, einsum, einsum_into};
use ndarray::{Array, Array1, Array2, Array3, ArrayD, IxDyn, array, s};
use support::strategies;

fn matrix(rows: usize, cols: usize, seed: f64) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * 31 + j * 17) as f64 * 0.37 + seed).sin()
    })
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-12 * (1.0 + y.abs()))
}

#[test]
fn matches_ndarray_on_numpys_own_examples() {
    let a = Array::from_shape_fn((5, 5), |(i, j)| (i * 5 + j) as f64);
    let b = Array::from_shape_fn(5, |i| i as f64);
    let c = Array::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f64);
    // Trace, diagonal, sums, transposes, products: numpy's einsum docs.
    assert_eq!(
        einsum("ii", &[&a]).unwrap(),
        ArrayD::from_elem(IxDyn(&[]), 60.0)
    );
    assert_eq!(
        einsum("ii->i", &[&a]).unwrap(),
        a.diag().to_owned().into_dyn()
    );
    assert_eq!(
        einsum("ij->i", &[&a]).unwrap(),
        a.sum_axis(ndarray::Axis(1)).into_dyn()
    );
    assert_eq!(einsum("ji", &[&c]).unwrap(), c.t().to_owned().into_dyn());
    assert_eq!(
        einsum("i,i", &[&b, &b]).unwrap(),
        ArrayD::from_elem(IxDyn(&[]), 30.0)
    );
    assert_eq!(einsum("ij,j", &[&a, &b]).unwrap(), a.dot(&b).into_dyn());
    assert_eq!(einsum("...j,j", &[&a, &b]).unwrap(), a.dot(&b).into_dyn());
    assert_eq!(einsum("ij,jk", &[&a, &a]).unwrap(), a.dot(&a).into_dyn());
    let outer: Array2<f64> = Array2::from_shape_fn((5, 5), |(i, j)| b[i] * b[j]);
    assert_eq!(einsum("i,j", &[&b, &b]).unwrap(), outer.into_dyn());
}

#[test]
fn reads_every_ndarray_layout_without_copying() {
    let a = matrix(40, 30, 0.1);
    let b = matrix(30, 50, 0.7);
    let want = a.dot(&b).into_dyn();
    let at = a.t().to_owned(); // 30x40, so at.t() is a transposed view
    let a_f = a.t().as_standard_layout().t().to_owned(); // Fortran order copy
    let big = matrix(80, 60, 0.1);
    let stepped = big.slice(s![..;2, ..;2]).to_owned();
    let reversed = a.slice(s![..;-1, ..;-1]).to_owned();
    let got = |x: &dyn einsum::Operand<f64>| einsum("ij,jk->ik", &[x, &b]).unwrap();
    assert!(close(&got(&a.view()), &want));
    assert!(close(&got(&at.t()), &want));
    assert!(close(&got(&a_f), &want));
    assert!(close(&got(&reversed.slice(s![..;-1, ..;-1])), &want));
    assert!(close(
        &got(&big.slice(s![..;2, ..;2])),
        &stepped.dot(&b).into_dyn()
    ));
}

#[test]
fn writes_into_an_output_view_or_adds_to_it() {
    let a = matrix(6, 7, 0.3);
    let b = matrix(7, 5, 0.9);
    let mut out = Array2::<f64>::zeros((5, 6));
    // Into a transposed view of `out`: out.t() is 6x5.
    einsum_into(
        "ij,jk->ik",
        &[&a, &b],
        out.view_mut().reversed_axes(),
        Accum::Replace,
    )
    .unwrap();
    assert!(close(&out.t().to_owned().into_dyn(), &a.dot(&b).into_dyn()));
    einsum_into(
        "ij,jk->ik",
        &[&a, &b],
        out.view_mut().reversed_axes(),
        Accum::Add,
    )
    .unwrap();
    assert!(close(
        &out.t().to_owned().into_dyn(),
        &(a.dot(&b) * 2.0).into_dyn()
    ));
}

#[test]
fn integers_and_complex_numbers() {
    let a = array![[1i64, 2], [3, 4]];
    assert_eq!(
        einsum("ij,jk->ik", &[&a, &a]).unwrap(),
        array![[7i64, 10], [15, 22]].into_dyn()
    );
    let big = Array1::from_elem(3, i32::MAX);
    // Integers wrap, like numpy's.
    assert_eq!(
        einsum("i->", &[&big]).unwrap()[[]],
        i32::MAX.wrapping_mul(3)
    );
    let z = array![
        num_complex::Complex::new(0.0f64, 1.0),
        num_complex::Complex::new(2.0, 0.0)
    ];
    assert_eq!(
        einsum("i,i->", &[&z, &z]).unwrap()[[]],
        num_complex::Complex::new(3.0, 0.0)
    );
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let a = matrix(2, 3, 0.0);
    let b = matrix(4, 5, 0.0);
    let v = Array1::<f64>::zeros(3);
    let cube = Array3::<f64>::zeros((2, 2, 2));
    let cases: Vec<(&str, Vec<&dyn einsum::Operand<f64>>)> = vec![
        ("ij,jk->ik", vec![&a, &b]),   // sizes disagree
        ("ij,jk->ik", vec![&a]),       // too few operands
        ("ij", vec![&a, &b]),          // too many operands
        ("ijk", vec![&a]),             // rank
        ("ij,j#", vec![&a, &v]),       // syntax
        ("ij->ii", vec![&a]),          // output label twice
        ("i...,i...->i", vec![&cube]), // broadcast dims dropped
    ];
    for (text, operands) in cases {
        match einsum(text, &operands) {
            Err(e) => assert!(e.to_string().starts_with("error: "), "{text}: {e}"),
            Ok(r) => panic!("{text} gave {r:?}"),
        }
    }
    let mut wrong = Array2::<f64>::zeros((3, 3));
    let err = einsum_into(
        "ij,jk->ik",
        &[&a, &matrix(3, 4, 0.0)],
        wrong.view_mut(),
        Accum::Replace,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Exec(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "error: the output has shape [3, 3] but the result has shape [2, 4]"
    );
}

#[test]
fn a_compiled_expression_plans_once_per_shape() {
    let e = Einsum::with_options(
        "ij,jk->ik",
        Options::new().optimize(Optimize::Greedy).par(Par::Seq),
    )
    .unwrap();
    let a = matrix(4, 4, 0.0);
    let b = matrix(4, 4, 1.0);
    for _ in 0..5 {
        e.run(&[&a, &b]).unwrap();
    }
    assert_eq!(e.plans_made(), 1);
    e.run(&[&matrix(3, 4, 0.0), &b]).unwrap();
    e.run(&[&a, &b]).unwrap();
    assert_eq!(e.plans_made(), 2, "the first shape's plan is still cached");
}

#[test]
fn a_held_plan_runs_with_per_call_options_and_checks_shapes() {
    let e = Einsum::new("ij,jk->ik").unwrap();
    let (a, b) = (matrix(3, 4, 0.1), matrix(4, 5, 0.2));
    assert!(
        e.planned(&[[3, 4], [4, 5]]).is_none(),
        "a lookup never plans"
    );
    let plan = e.plan(&[[3, 4], [4, 5]]).unwrap();
    let held = e.planned(&[[3usize, 4], [4, 5]]).unwrap();
    assert!(std::sync::Arc::ptr_eq(&plan, &held));
    assert_eq!(e.plans_made(), 1);
    let want = a.dot(&b);
    for par in strategies::PARS {
        let mut out = Array2::from_elem((3, 5), 7.0);
        let run = einsum::exec::RunOptions::new().par(par);
        e.run_plan_into(&plan, &[&a, &b], out.view_mut(), run)
            .unwrap();
        assert!(close(&out.into_dyn(), &want.clone().into_dyn()), "{par:?}");
    }
    let mut twice = want.clone();
    e.run_plan_into(
        &plan,
        &[&a, &b],
        twice.view_mut(),
        einsum::exec::RunOptions::new().accum(Accum::Add),
    )
    .unwrap();
    assert!(close(&twice.into_dyn(), &(&want * 2.0).into_dyn()));
    // Operands or an output of other shapes than the plan's are an error.
    let mut out = Array2::zeros((3, 5));
    let wrong = matrix(3, 5, 0.0);
    assert!(
        e.run_plan_into(&plan, &[&wrong, &b], out.view_mut(), Default::default())
            .is_err()
    );
    let mut small = Array2::zeros((3, 4));
    assert!(
        e.run_plan_into(&plan, &[&a, &b], small.view_mut(), Default::default())
            .is_err()
    );
    assert_eq!(e.plans_made(), 1);
}

#[test]
fn an_interruptible_run_stops_where_it_is_told_and_only_there() {
    let e = Einsum::new("ij,jk,kl->il").unwrap();
    let (a, b, c) = (matrix(3, 4, 0.1), matrix(4, 5, 0.2), matrix(5, 2, 0.3));
    let plan = e.plan(&[[3, 4], [4, 5], [5, 2]]).unwrap();
    assert_eq!(plan.steps().len(), 2);
    let mut asked = Vec::new();
    let mut out = Array2::zeros((3, 2));
    let err = e
        .run_plan_into_interruptible(
            &plan,
            &[&a, &b, &c],
            out.view_mut(),
            Default::default(),
            |step| {
                asked.push(step);
                step < 1
            },
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Exec(einsum::exec::ExecError::Interrupted { step: 1 })
        ),
        "{err:?}"
    );
    assert_eq!(asked, [0, 1]);
    assert!(
        out.iter().all(|&x| x == 0.0),
        "the last step writes the output and did not run"
    );
    let mut asked = 0;
    e.run_plan_into_interruptible(
        &plan,
        &[&a, &b, &c],
        out.view_mut(),
        Default::default(),
        |_| {
            asked += 1;
            true
        },
    )
    .unwrap();
    assert_eq!(asked, 2);
    assert!(close(&out.into_dyn(), &a.dot(&b).dot(&c).into_dyn()));
}

#[test]
fn memory_limits_and_strategies_agree() {
    let a = matrix(10, 2, 0.1);
    let b = matrix(2, 10, 0.2);
    let c = matrix(10, 10, 0.3);
    let want = a.dot(&b).dot(&c).into_dyn();
    for optimize in strategies::optimizers() {
        for gemm in strategies::GEMM_POLICIES {
            let e = Einsum::with_options(
                "ij,jk,kl->il",
                Options::new().optimize(optimize.clone()).gemm(gemm),
            )
            .unwrap();
            assert!(
                close(&e.run(&[&a, &b, &c]).unwrap(), &want),
                "{optimize:?} {gemm:?}"
            );
        }
    }
    // No order keeps every temporary within 5 elements: sliced, each
    // slice's do; unsliced, it is an error.
    let limited =
        Einsum::with_options("ij,jk,kl->il", Options::new().memory_limit(Some(5))).unwrap();
    assert!(close(&limited.run(&[&a, &b, &c]).unwrap(), &want));
    let plan = limited.plan(&[[10, 2], [2, 10], [10, 10]]).unwrap();
    assert!(plan.slices().is_some() && plan.largest_temporary() <= 5);
    let bytes = Einsum::with_options(
        "ij,jk,kl->il",
        Options::new().memory_limit_bytes::<f64>(Some(40)),
    )
    .unwrap();
    assert_eq!(bytes.plan(&[[10, 2], [2, 10], [10, 10]]).unwrap(), plan);
    let refused = Einsum::with_options(
        "ij,jk,kl->il",
        Options::new()
            .memory_limit(Some(5))
            .slicing(einsum::Slicing::Never),
    )
    .unwrap();
    let err = refused.run(&[&a, &b, &c]).unwrap_err();
    assert!(
        err.to_string().contains("memory limit of 5 elements"),
        "{err}"
    );
}

#[test]
fn results_too_large_for_memory_are_errors_not_aborts() {
    use einsum::exec::{Allocation, ExecError};
    let oom = |result: Result<ArrayD<f64>, Error>| match result {
        Err(Error::Exec(ExecError::OutOfMemory { what, bytes, .. })) => (what, bytes),
        other => panic!(
            "expected OutOfMemory, got {:?}",
            other.map(|a| a.shape().to_vec())
        ),
    };
    // numpy raises MemoryError here: no data, but an 8 TiB result.
    let empty = Array2::<f64>::zeros((0, 1 << 40));
    let (what, bytes) = oom(Einsum::new("ij->j").unwrap().run(&[&empty]));
    assert_eq!((what, bytes), (Allocation::Result, Some(8 << 40)));
    // An outer product of two broadcast views of 2^31 elements: 2^62
    // results, 2^65 bytes, more than one array may hold (numpy: "array is
    // too big").
    let one = Array1::<f64>::ones(1);
    let wide = one.broadcast(1usize << 31).unwrap();
    match einsum("i,j->ij", &[&wide, &wide]) {
        Err(Error::Exec(ExecError::ShapeTooLarge { shape, what })) => {
            assert_eq!((shape, what), (vec![1 << 31, 1 << 31], Allocation::Result));
        }
        other => panic!(
            "expected ShapeTooLarge, got {:?}",
            other.map(|a| a.shape().to_vec())
        ),
    }
    let err = einsum("i,j->ij", &[&wide, &wide]).unwrap_err().to_string();
    assert_eq!(
        err,
        "error: the result would have shape [2147483648, 2147483648]: too large for one array, whatever its data"
    );
}

#[test]
fn temporaries_too_large_for_memory_are_errors_checked_before_any_is_allocated() {
    use einsum::exec::{Allocation, ExecError};
    use einsum::plan::Path;
    // Broadcast views of one element: 2^30 x 2^30 operands that take no
    // memory. Contracting the two vectors first (an outer product) makes a
    // temporary of 2^60 elements; the workspace check fails before anything
    // is allocated.
    let one = Array1::<f64>::ones(1);
    let wide = one.broadcast(1usize << 30).unwrap();
    let square = Array2::<f64>::ones((1, 1));
    let square = square.broadcast((1usize << 30, 1usize << 30)).unwrap();
    let outer_first = Options::new().optimize(Optimize::Path(Path(vec![(0, 1), (0, 1)])));
    let result = Einsum::with_options("i,j,ij->", outer_first)
        .unwrap()
        .run(&[&wide, &wide, &square]);
    match result {
        Err(Error::Exec(ExecError::OutOfMemory { what, bytes, .. })) => {
            assert_eq!((what, bytes), (Allocation::Workspace, Some(8 << 60)));
        }
        other => panic!("expected OutOfMemory, got {other:?}"),
    }
}

#[test]
fn carets_stand_under_wide_labels() {
    let shapes: [&[usize]; 2] = [&[2, 3, 4, 5], &[4, 5]];
    let err = einsum::explain("漢字ij,jk->ik", &shapes, &Default::default()).unwrap_err();
    // '漢' and '字' take two cells each, so 'j' is in the sixth cell.
    assert_eq!(
        err.to_string(),
        "error: label 'j' has size 5 in operand 0 but size 4 in operand 1\n  漢字ij,jk->ik\n       ^ ^"
    );
}

#[test]
fn default_options_are_the_new_ones() {
    assert_eq!(Options::default(), Options::new());
}
