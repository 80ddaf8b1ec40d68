// A dot that does not start `...`.
fn main() {
    let a = ndarray::Array2::<f64>::zeros((2, 2));
    let _ = einsum::einsum!("i.j->i", a);
}
