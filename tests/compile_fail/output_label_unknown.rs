// An output label no input has.
fn main() {
    let d = ndarray::Array2::<f64>::zeros((2, 2));
    let _ = einsum::einsum!("ij,ij->k", d, d);
}
