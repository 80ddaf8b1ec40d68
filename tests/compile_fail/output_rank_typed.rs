// "ij,ij->i" gives an Array1: asking for an Array2 is a type error.
fn main() {
    let d = ndarray::Array2::<f64>::zeros((2, 2));
    let _: ndarray::Array2<f64> = einsum::einsum!("ij,ij->i", d, d);
}
