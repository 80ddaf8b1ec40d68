// Only a literal can be checked at compile time.
fn main() {
    let a = ndarray::Array2::<f64>::zeros((2, 2));
    let subscripts = "ij->i";
    let _ = einsum::einsum!(subscripts, a);
}
