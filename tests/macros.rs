//! `einsum!` at run time: it agrees with the library API on the whole
//! executor corpus, borrows its operands, types its output, reports shape
//! errors, and is safe to call from many threads.
//! (Compile errors: `tests/macro_errors.rs`; the plan cache: `tests/macro_cache.rs`.)

mod support;

use einsum::{einsum, einsum_into, try_einsum, try_einsum_into};
use ndarray::{Array, Array0, Array1, Array2, Array3, ArrayD, Dimension, IxDyn, array};

/// A macro result as a dynamic-dimensional array, whatever its static type.
trait IntoDynArray<T> {
    fn into_dyn_array(self) -> ArrayD<T>;
}

impl<T, D: Dimension> IntoDynArray<T> for Array<T, D> {
    fn into_dyn_array(self) -> ArrayD<T> {
        self.into_dyn()
    }
}

impl IntoDynArray<i64> for i64 {
    fn into_dyn_array(self) -> ArrayD<i64> {
        Array0::from_elem((), self).into_dyn()
    }
}

impl IntoDynArray<f64> for f64 {
    fn into_dyn_array(self) -> ArrayD<f64> {
        Array0::from_elem((), self).into_dyn()
    }
}

fn operand_i64(shape: &[usize], seed: usize) -> ArrayD<i64> {
    let mut k = seed;
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((k >> 33) % 19) as i64 - 9
    })
}

/// Every expression of `tests/corpus/exec.txt` as a literal (the macro needs
/// one), with its operand positions. `corpus_is_covered` keeps this list and
/// the file in step.
macro_rules! corpus {
    ($($text:literal [$($i:literal)*]),* $(,)?) => {
        const CORPUS: &[&str] = &[$($text),*];

        #[test]
        fn agrees_with_the_library_on_the_corpus() {
            let cases = support::corpus::read_shaped("exec.txt");
            let mut ran = 0;
            $(
                for case in cases.iter().filter(|c| c.text == $text) {
                    let ops: Vec<ArrayD<i64>> = case
                        .shapes
                        .iter()
                        .enumerate()
                        .map(|(k, s)| operand_i64(s, case.line * 10 + k))
                        .collect();
                    let refs: Vec<&dyn einsum::Operand<i64>> =
                        ops.iter().map(|o| o as &dyn einsum::Operand<i64>).collect();
                    let want = einsum::einsum($text, &refs).unwrap();
                    let got = einsum!($text, $(ops[$i]),*).into_dyn_array();
                    assert_eq!(got, want, "exec.txt:{} {}", case.line, $text);
                    let tried = try_einsum!($text, $(ops[$i]),*).unwrap().into_dyn_array();
                    assert_eq!(tried, want, "exec.txt:{} {}", case.line, $text);
                    ran += 1;
                }
            )*
            assert_eq!(ran, cases.len(), "every corpus line ran");
        }
    };
}

corpus! {
    ",->" [0 1], "->" [0], "...,...->..." [0 1], "...ij,...jk->...ik" [0 1],
    "...ij->...ji" [0], "a,b,abc->c" [0 1 2], "ab,bc,cd,da->" [0 1 2 3],
    "abcd,dcfe->abef" [0 1], "abij,bajk->abik" [0 1], "aijb,jk->aikb" [0 1],
    "bi,bi->b" [0 1], "bij,bjk->bik" [0 1], "bij,bjk->bki" [0 1], "i,->i" [0 1],
    "i,i->" [0 1], "i,ij->j" [0 1], "i,j->ij" [0 1], "i->" [0],
    "ibj,jbk->bik" [0 1], "ii" [0], "ii,i->i" [0 1], "ii,jj,ij->" [0 1 2],
    "ii->i" [0], "iij->ij" [0], "ij,i->ij" [0 1], "ij,ij,ij->ij" [0 1 2],
    "ij,ij->i" [0 1], "ij,ij->ij" [0 1], "ij,j->i" [0 1], "ij,j->ij" [0 1],
    "ij,jk" [0 1], "ij,jk,kl,lm->im" [0 1 2 3], "ij,jk,kl->il" [0 1 2],
    "ij,jk->ik" [0 1], "ij,jk->k" [0 1], "ij,kl->ijkl" [0 1], "ij->" [0],
    "ij->i" [0], "ij->j" [0], "ij->ji" [0], "ijji->" [0], "ijk->ik" [0],
    "ijk->kji" [0], "ik,jk->ij" [0 1], "ik,kj->ij" [0 1], "ik,kj->ji" [0 1],
    "ki,jk->ij" [0 1], "ki,kj->ij" [0 1],
}

#[test]
fn corpus_is_covered() {
    let mut in_file: Vec<String> = support::corpus::read_shaped("exec.txt")
        .into_iter()
        .map(|c| c.text)
        .collect();
    in_file.sort();
    in_file.dedup();
    let mut listed: Vec<&str> = CORPUS.to_vec();
    listed.sort();
    assert_eq!(in_file, listed, "the corpus! list and exec.txt differ");
}

#[test]
fn the_seed_example() {
    // Euclidean distances between row pairs.
    let p = array![[0.0, 0.0], [1.0, 1.0], [2.0, 5.0]];
    let q = array![[3.0, 4.0], [1.0, 1.0], [-1.0, 1.0]];
    let d: Array2<f64> = &p - &q;
    let distances: Array1<f64> = einsum!("ij,ij->i", d, d).mapv(f64::sqrt);
    assert_eq!(distances, array![5.0, 0.0, 5.0]);
    // `d` was only borrowed.
    assert_eq!(d.shape(), &[3, 2]);
}

#[test]
fn operands_of_any_ownership_mix() {
    let a = Array2::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f64);
    let b = Array2::from_shape_fn((4, 2), |(i, j)| (i as f64) - (j as f64));
    let want = a.dot(&b);
    let by_ref = &a;
    assert_eq!(einsum!("ij,jk->ik", a, b), want);
    assert_eq!(einsum!("ij,jk->ik", &a, b.view()), want);
    assert_eq!(einsum!("ij,jk->ik", by_ref, &b), want);
    assert_eq!(einsum!("ij,jk->ik", a.view(), b.clone()), want);
    let t = b.t().to_owned(); // 2x4; its transpose is a strided view
    assert_eq!(einsum!("ij,jk->ik", a, t.t()), want);
    // A dynamic-dimensional operand where the text fixes the rank.
    assert_eq!(einsum!("ij,jk->ik", a.clone().into_dyn(), b), want);
}

#[test]
fn output_types_follow_the_text() {
    let a = Array3::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as i64);
    let sum: i64 = einsum!("ijk->", a);
    assert_eq!(sum, a.sum());
    let implicit: Array3<i64> = einsum!("ijk", a);
    assert_eq!(implicit, a);
    let permuted: Array3<i64> = einsum!("ijk->kji", a);
    assert_eq!(permuted, a.t());
    let broadcast: ArrayD<i64> = einsum!("...k->...", a);
    assert_eq!(broadcast, a.sum_axis(ndarray::Axis(2)).into_dyn());
    let seven = ArrayD::from_shape_fn(IxDyn(&[1, 2, 1, 2, 1, 2, 1]), |ix| ix[1] as i64);
    let wide: ArrayD<i64> = einsum!("abcdefg->gfedcba", seven);
    assert_eq!(wide.shape(), &[1, 2, 1, 2, 1, 2, 1]);
    let c = array![[1.0f32, 2.0], [3.0, 4.0]];
    let trace: f32 = einsum!("ii", c);
    assert_eq!(trace, 5.0);
}

#[test]
fn into_replaces_or_adds() {
    let a = array![[1, 2], [3, 4]];
    let mut out = Array1::from_elem(2, 100);
    einsum_into!(out, "ij->i", a);
    assert_eq!(out, array![3, 7]);
    einsum_into!(out += "ij->j", a);
    assert_eq!(out, array![7, 13]);
    let target = &mut out;
    einsum_into!(target, "ii->i", a);
    assert_eq!(out, array![1, 4]);
    let mut square = Array2::zeros((2, 2));
    einsum_into!(square.view_mut(), "ij->ji", a);
    assert_eq!(square, a.t());
    let mut wrong = Array1::from_elem(3, 0);
    let err = try_einsum_into!(wrong, "ij->i", a).unwrap_err();
    assert!(err.to_string().contains("shape"), "{err}");
}

#[test]
fn shape_errors_are_returned_or_panic_with_the_rendered_text() {
    let a = array![[1.0, 2.0], [3.0, 4.0]];
    let v = array![1.0, 2.0, 3.0];
    let err = try_einsum!("ij,j->i", a, v).unwrap_err();
    let rendered = "\
error: label 'j' has size 2 in operand 0 but size 3 in operand 1
  ij,j->i
   ^ ^";
    assert_eq!(err.to_string(), rendered);
    let panic = std::panic::catch_unwind(|| einsum!("ij,j->i", a, v)).unwrap_err();
    let message = panic
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert_eq!(message, rendered);
}

#[test]
fn a_call_site_is_shared_by_threads() {
    fn gram(a: &Array2<f64>) -> Array2<f64> {
        einsum!("ki,kj->ij", a, a)
    }
    let inputs: Vec<Array2<f64>> = (0..8)
        .map(|t| Array2::from_shape_fn((20 + t % 3, 5), |(i, j)| (i * 5 + j + t) as f64))
        .collect();
    std::thread::scope(|scope| {
        for a in &inputs {
            scope.spawn(move || {
                for _ in 0..20 {
                    assert_eq!(gram(a), a.t().dot(a));
                }
            });
        }
    });
}

#[test]
fn a_memory_limit_slices_and_keeps_the_result() {
    // A ring of four 32x32 matrices: every order's first temporary has
    // 1,024 elements.
    let m: Vec<Array2<i64>> = (0..4)
        .map(|k| Array2::from_shape_fn((32, 32), |(i, j)| ((i * 3 + j * 5 + k) % 7) as i64 - 3))
        .collect();
    let expected: i64 = einsum!("ab,bc,cd,da->", m[0], m[1], m[2], m[3]);
    // In elements, in bytes read at compile time, and computed at run time:
    // each limit has its own plans, so changing it re-plans.
    for limit in [64usize, 256, 4096] {
        let total: i64 = einsum!("ab,bc,cd,da->", m[0], m[1], m[2], m[3]; memory_limit = limit);
        assert_eq!(total, expected, "{limit} elements");
        let bytes = einsum::plan::MemoryLimit::Bytes(limit as u128 * 8);
        let total: i64 = einsum!("ab,bc,cd,da->", m[0], m[1], m[2], m[3]; memory_limit = bytes,);
        assert_eq!(total, expected, "{limit} elements as bytes");
    }
    let total: i64 = einsum!("ab,bc,cd,da->", m[0], m[1], m[2], m[3]; memory_limit = "1KiB");
    assert_eq!(total, expected);
    // Sliced along an output axis: the slices are stacked.
    let ac: Array2<i64> = einsum!("ab,bc,cd->ad", m[0], m[1], m[2]);
    let sliced: Array2<i64> = einsum!("ab,bc,cd->ad", m[0], m[1], m[2]; memory_limit = 100);
    assert_eq!(sliced, ac);
    let mut out = Array2::<i64>::zeros((32, 32));
    einsum_into!(out, "ab,bc,cd->ad", m[0], m[1], m[2]; memory_limit = "800B");
    try_einsum_into!(out += "ab,bc,cd->ad", m[0], m[1], m[2]; memory_limit = 100).unwrap();
    assert_eq!(out, &ac * 2);
    let wrong = Array2::<i64>::zeros((3, 32));
    assert!(try_einsum!("ab,bc,cd->ad", m[0], wrong, m[2]; memory_limit = 100).is_err());
}
