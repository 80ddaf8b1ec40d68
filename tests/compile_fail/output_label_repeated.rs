// numpy rejects a label twice in the output.
fn main() {
    let a = ndarray::Array2::<f64>::zeros((2, 2));
    let _ = einsum::einsum!("ij->ii", a);
}
