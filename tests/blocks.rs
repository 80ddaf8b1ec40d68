//! Plans cut into blocks for the cache (`Plan::blocks`) against the same
//! contractions run whole: equal to the last bit on integer-valued data
//! (every sum exact, so any order gives the same bits), on every layout,
//! on one thread and on two.

use einsum::exec::Par;
use einsum::plan::{PlanOptions, Slicing};
use einsum::{Einsum, Options};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, ShapeBuilder, Slice};

/// Expressions whose pairwise order writes a temporary too large for the
/// cache, with their shapes.
const CASES: &[(&str, &[&[usize]])] = &[
    ("ij,ij,ij->i", &[&[300, 400], &[300, 400], &[300, 400]]),
    ("ij,ij,ij->j", &[&[300, 400], &[300, 400], &[300, 400]]),
    ("ij,ij,ij->ij", &[&[300, 400], &[300, 400], &[300, 400]]),
    ("ij,ij,ij->", &[&[300, 400], &[300, 400], &[300, 400]]),
    ("i,i,i->", &[&[100_000], &[100_000], &[100_000]]),
    ("i,i,i->i", &[&[70_000], &[70_000], &[70_000]]),
    ("ijk,ijk,k->ij", &[&[40, 50, 60], &[40, 50, 60], &[60]]),
    (
        "ijk,ijk,k->ij",
        &[&[128, 128, 256], &[128, 128, 256], &[256]],
    ),
    ("ij,i,ij->j", &[&[400, 300], &[400], &[400, 300]]),
    (
        "bij,bij,bij->b",
        &[&[6, 150, 100], &[6, 150, 100], &[6, 150, 100]],
    ),
    (
        "ij,ij,ij,ij->i",
        &[&[300, 400], &[300, 400], &[300, 400], &[300, 400]],
    ),
];

#[derive(Clone, Copy, Debug)]
enum Layout {
    C,
    F,
    /// The first axis read backwards.
    Reversed,
    /// Every second element of a larger array along each axis.
    Stepped,
}

/// Small integers, as `f64`, deterministic in `seed` and the index.
fn value(seed: usize, index: usize) -> f64 {
    ((index.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 7) as f64 - 3.0
}

fn operand(shape: &[usize], seed: usize, layout: Layout) -> ArrayD<f64> {
    let len: usize = shape.iter().product();
    let data: Vec<f64> = (0..len).map(|i| value(seed, i)).collect();
    let c = ArrayD::from_shape_vec(IxDyn(shape), data).unwrap();
    match layout {
        Layout::C => c,
        Layout::F => {
            let mut f = ArrayD::zeros(IxDyn(shape).f());
            f.assign(&c);
            f
        }
        Layout::Reversed | Layout::Stepped => c,
    }
}

/// `a` as `layout` says: a view of `a` itself, or of a larger array.
fn view<'a>(a: &'a ArrayD<f64>, big: &'a ArrayD<f64>, layout: Layout) -> ArrayViewD<'a, f64> {
    match layout {
        Layout::C | Layout::F => a.view(),
        Layout::Reversed => {
            let mut v = a.view();
            v.invert_axis(Axis(0));
            v
        }
        Layout::Stepped => big.slice_each_axis(|_| Slice::new(0, None, 2)),
    }
}

#[test]
fn blocked_plans_match_whole_runs_to_the_bit() {
    for &(subscripts, shapes) in CASES {
        let blocked = Einsum::new(subscripts).unwrap();
        let plan = blocked.plan(shapes).unwrap();
        assert!(plan.blocks().is_some(), "{subscripts}: not blocked\n{plan}");
        assert!(
            plan.slices().is_none(),
            "{subscripts}: blocks are not slices"
        );
        let whole = Einsum::with_options(
            subscripts,
            Options::new().plan(PlanOptions::new().slicing(Slicing::Never)),
        )
        .unwrap();
        assert!(whole.plan(shapes).unwrap().blocks().is_none());
        for layout in [Layout::C, Layout::F, Layout::Reversed, Layout::Stepped] {
            let arrays: Vec<ArrayD<f64>> = shapes
                .iter()
                .enumerate()
                .map(|(k, s)| operand(s, k, layout))
                .collect();
            let bigs: Vec<ArrayD<f64>> = shapes
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let doubled: Vec<usize> = s.iter().map(|e| 2 * e).collect();
                    operand(&doubled, k, Layout::C)
                })
                .collect();
            let views: Vec<ArrayViewD<'_, f64>> = arrays
                .iter()
                .zip(&bigs)
                .map(|(a, big)| view(a, big, layout))
                .collect();
            let operands: Vec<&dyn einsum::Operand<f64>> = views
                .iter()
                .map(|v| v as &dyn einsum::Operand<f64>)
                .collect();
            let want = whole.run(&operands).unwrap();
            for par in [Par::Seq, Par::Rayon(2)] {
                let e = Einsum::with_options(subscripts, Options::new().par(par)).unwrap();
                let got = e.run(&operands).unwrap();
                assert_eq!(got, want, "{subscripts} {layout:?} {par:?}");
            }
        }
    }
}

#[test]
fn integers_blocked_match_whole_runs() {
    let (subscripts, shapes) = ("ij,ij,ij->i", [[300usize, 400]; 3]);
    let data: Vec<ArrayD<i64>> = (0..3)
        .map(|k| {
            ArrayD::from_shape_fn(IxDyn(&shapes[k]), |ix| {
                (ix[0] * 31 + ix[1] * 7 + k) as i64 % 1000 - 500
            })
        })
        .collect();
    let operands: Vec<&dyn einsum::Operand<i64>> = data
        .iter()
        .map(|a| a as &dyn einsum::Operand<i64>)
        .collect();
    let blocked = Einsum::new(subscripts).unwrap();
    assert!(blocked.plan(&shapes).unwrap().blocks().is_some());
    let whole = Einsum::with_options(
        subscripts,
        Options::new().plan(PlanOptions::new().slicing(Slicing::Never)),
    )
    .unwrap();
    assert_eq!(
        blocked.run(&operands).unwrap(),
        whole.run(&operands).unwrap()
    );
}

#[test]
fn blocks_are_reported_and_not_slices_to_run_apart() {
    let e = Einsum::new("ij,ij,ij->i").unwrap();
    let plan = e.plan(&[[2048, 2048]; 3]).unwrap();
    let text = plan.to_string();
    assert!(
        text.contains("Blocked:  i (2048 in chunks of 8, stacked): 256 blocks"),
        "{text}"
    );
    assert!(text.contains("(per block)"), "{text}");
    let report = plan.report();
    assert!(report.slicing.is_none());
    assert_eq!(
        report.blocks.as_ref().map(|b| b.chunks.clone()),
        Some(vec![8])
    );
    // Blocks cost no FLOP over the whole contraction.
    assert_eq!(plan.slicing_overhead(), 1.0);
    assert_eq!(einsum::exec::slice_position(&plan, 0), None);
}

#[test]
fn blocks_that_would_cut_across_memory_give_way_to_a_variant_that_suits_it() {
    let shapes = [[300usize, 400]; 3];
    let e = Einsum::new("ij,ij,ij->i").unwrap();
    let plan = e.plan(&shapes).unwrap();
    let whole = plan
        .unblocked()
        .expect("a plan in blocks keeps its plan whole");
    assert!(whole.blocks().is_none());
    let never = Einsum::with_options(
        "ij,ij,ij->i",
        Options::new().plan(PlanOptions::new().slicing(Slicing::Never)),
    )
    .unwrap();
    assert_eq!(whole.steps(), never.plan(&shapes).unwrap().steps());
    assert_eq!(whole.path(), plan.path());
    // For Fortran order: in blocks along j, the last axis named.
    let fortran = &plan.variants()[0];
    let j = fortran.blocks().expect("blocks for Fortran order").axes()[0];
    assert_eq!(fortran.bound().axis(j).name, 'j');
    assert_eq!(fortran.path(), plan.path());
    // Rows of C-order matrices: the blocks suit them. All Fortran order:
    // the variant for it. Mixed: the plan whole. The output, one
    // dimension, decides nothing; a broadcast (stride 0) axis is not
    // walked.
    let (c, f) = ([400isize, 1], [1isize, 300]);
    assert!(plan.for_layout(&[&c, &c, &c], &[1]).is_none());
    assert!(std::sync::Arc::ptr_eq(
        plan.for_layout(&[&f, &f, &f], &[1]).unwrap(),
        fortran
    ));
    assert!(std::sync::Arc::ptr_eq(
        plan.for_layout(&[&c, &f, &c], &[1]).unwrap(),
        whole
    ));
    assert!(plan.for_layout(&[&c, &[400, 0], &c], &[1]).is_none());
    // What runs on Fortran-order arrays is the variant for them.
    let views: Vec<ArrayD<f64>> = (0..3).map(|k| operand(&[300, 400], k, Layout::F)).collect();
    let inputs: Vec<einsum::exec::StridedView<'_, f64>> = views
        .iter()
        .map(|v| einsum::exec::StridedView::from(v.view()))
        .collect();
    let mut result = ndarray::Array1::<f64>::zeros(300);
    let out = einsum::exec::StridedViewMut::try_from(result.view_mut()).unwrap();
    let program = einsum::exec::Program::for_arrays(plan.clone(), &inputs, &out).unwrap();
    assert!(std::sync::Arc::ptr_eq(program.plan(), fortran));
}
