// A character that is not a label, a comma, a dot, `->` or whitespace.
fn main() {
    let a = ndarray::Array2::<f64>::zeros((2, 2));
    let _ = einsum::einsum!("ij,j#->i", a, a);
}
