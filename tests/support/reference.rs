//! The reference evaluator: a plain loop over every index combination.
//!
//! Deliberately independent of the planner: it binds labels to sizes itself
//! (numpy's rules: a size-1 dimension broadcasts, `...` is right-aligned),
//! then for every combination of label indices multiplies one element of each
//! operand and adds the product into the output element. Obviously right,
//! exponentially slow: only for small cases.

use einsum::exec::Element;
use einsum::syntax::Expr;

/// An operand for the reference: its elements in a buffer, read through an
/// offset and strides.
pub struct Operand<'a, T> {
    pub data: &'a [T],
    pub offset: usize,
    pub shape: Vec<usize>,
    pub strides: Vec<isize>,
}

/// The reference result: its shape and, per element in C order, the value
/// accumulated in `T` (exact for integers, which wrap), the value as `(re,
/// im)` accumulated in f64 with compensated (Neumaier) summation (what float
/// results are compared with: far more accurate than any order of
/// summation in `T`), and the sum of the products' magnitudes (for the
/// rounding tolerance).
pub struct Reference<T> {
    pub shape: Vec<usize>,
    pub exact: Vec<T>,
    pub precise: Vec<(f64, f64)>,
    pub magnitude: Vec<f64>,
}

/// Neumaier's compensated sum: a running sum and the lost low-order parts.
#[derive(Clone, Copy, Default)]
struct Compensated {
    sum: f64,
    lost: f64,
}

impl Compensated {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.lost += (self.sum - t) + x;
        } else {
            self.lost += (x - t) + self.sum;
        }
        self.sum = t;
    }
    fn value(self) -> f64 {
        self.sum + self.lost
    }
}

pub fn evaluate<T: Element + Magnitude>(expr: &Expr, operands: &[Operand<'_, T>]) -> Reference<T> {
    let nlabels = expr.labels().len();
    // Broadcast dims: the longest `...` among the operands.
    let nb: Vec<usize> = expr
        .inputs()
        .iter()
        .zip(operands)
        .map(|(t, o)| {
            if t.ellipsis().is_some() {
                o.shape.len() - t.len()
            } else {
                0
            }
        })
        .collect();
    let nbroadcast = nb.iter().copied().max().unwrap_or(0);
    // Variables: labels, then broadcast dims. Size: the largest extent.
    let mut sizes = vec![1usize; nlabels + nbroadcast];
    // For each operand dimension: the variable it reads.
    let mut dim_vars: Vec<Vec<usize>> = Vec::new();
    for ((term, op), &own) in expr.inputs().iter().zip(operands).zip(&nb) {
        let at = term.ellipsis().map_or(term.len(), |e| e.position);
        let mut vars: Vec<usize> = term.ids()[..at].iter().map(|id| id.index()).collect();
        vars.extend((nbroadcast - own..nbroadcast).map(|j| nlabels + j));
        vars.extend(term.ids()[at..].iter().map(|id| id.index()));
        for (&v, &e) in vars.iter().zip(&op.shape) {
            if e != 1 {
                sizes[v] = e;
            }
        }
        // A 0 extent wins over 1: the label has size 0.
        for (&v, &e) in vars.iter().zip(&op.shape) {
            if e == 0 {
                sizes[v] = 0;
            }
        }
        dim_vars.push(vars);
    }
    let out_term = expr.output();
    let at = out_term.ellipsis().map_or(out_term.len(), |e| e.position);
    let mut out_vars: Vec<usize> = out_term.ids()[..at].iter().map(|id| id.index()).collect();
    if out_term.ellipsis().is_some() {
        out_vars.extend((0..nbroadcast).map(|j| nlabels + j));
    }
    out_vars.extend(out_term.ids()[at..].iter().map(|id| id.index()));
    let out_shape: Vec<usize> = out_vars.iter().map(|&v| sizes[v]).collect();
    let out_len: usize = out_shape.iter().product();
    let mut out = vec![T::ZERO; out_len];
    let mut precise = vec![(Compensated::default(), Compensated::default()); out_len];
    let mut magnitude = vec![0.0f64; out_len];

    let total: usize = sizes.iter().product();
    let mut index = vec![0usize; sizes.len()];
    for _ in 0..total {
        let mut product = T::ONE;
        for ((op, vars), _) in operands.iter().zip(&dim_vars).zip(0..) {
            let mut offset = op.offset as isize;
            for ((&v, &stride), &extent) in vars.iter().zip(&op.strides).zip(&op.shape) {
                let i = if extent == 1 { 0 } else { index[v] };
                offset += i as isize * stride;
            }
            product = product.mul(op.data[offset as usize]);
        }
        let mut o = 0usize;
        for &v in &out_vars {
            o = o * sizes[v] + index[v];
        }
        out[o] = out[o].add(product);
        let (re, im) = product.parts();
        precise[o].0.add(re);
        precise[o].1.add(im);
        magnitude[o] += product.magnitude();
        // Next combination, last variable fastest.
        for k in (0..index.len()).rev() {
            index[k] += 1;
            if index[k] < sizes[k] {
                break;
            }
            index[k] = 0;
        }
    }
    Reference {
        shape: out_shape,
        exact: out,
        precise: precise
            .into_iter()
            .map(|(re, im)| (re.value(), im.value()))
            .collect(),
        magnitude,
    }
}

/// How big a value is, and how far two values are, in f64.
pub trait Magnitude: Copy {
    fn magnitude(self) -> f64;
    fn distance(self, other: Self) -> f64;
    /// Real and imaginary parts in f64.
    fn parts(self) -> (f64, f64);
    /// Relative rounding error of one operation; 0 for exact types.
    const EPSILON: f64;
}

macro_rules! real {
    ($t:ty, $eps:expr) => {
        impl Magnitude for $t {
            fn magnitude(self) -> f64 {
                (self as f64).abs()
            }
            fn distance(self, other: Self) -> f64 {
                (self as f64 - other as f64).abs()
            }
            fn parts(self) -> (f64, f64) {
                (self as f64, 0.0)
            }
            const EPSILON: f64 = $eps;
        }
    };
}
real!(f32, f32::EPSILON as f64);
real!(f64, f64::EPSILON);
real!(i8, 0.0);
real!(i16, 0.0);
real!(i32, 0.0);
real!(i64, 0.0);
real!(u8, 0.0);
real!(u16, 0.0);
real!(u32, 0.0);
real!(u64, 0.0);

impl Magnitude for einsum::f16 {
    fn magnitude(self) -> f64 {
        f64::from(self.to_f32()).abs()
    }
    fn distance(self, other: Self) -> f64 {
        (f64::from(self.to_f32()) - f64::from(other.to_f32())).abs()
    }
    fn parts(self) -> (f64, f64) {
        (f64::from(self.to_f32()), 0.0)
    }
    const EPSILON: f64 = 0.0009765625; // 2^-10, half's ulp at 1
}

impl Magnitude for bool {
    fn magnitude(self) -> f64 {
        f64::from(u8::from(self))
    }
    fn distance(self, other: Self) -> f64 {
        f64::from(u8::from(self != other))
    }
    fn parts(self) -> (f64, f64) {
        (self.magnitude(), 0.0)
    }
    const EPSILON: f64 = 0.0;
}

macro_rules! complex {
    ($t:ty, $eps:expr) => {
        impl Magnitude for num_complex::Complex<$t> {
            fn magnitude(self) -> f64 {
                (self.re as f64).abs() + (self.im as f64).abs()
            }
            fn distance(self, other: Self) -> f64 {
                (self.re as f64 - other.re as f64).abs() + (self.im as f64 - other.im as f64).abs()
            }
            fn parts(self) -> (f64, f64) {
                (self.re as f64, self.im as f64)
            }
            const EPSILON: f64 = $eps;
        }
    };
}
complex!(f32, f32::EPSILON as f64);
complex!(f64, f64::EPSILON);
