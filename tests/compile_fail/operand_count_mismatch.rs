// Two input terms, one operand; one input term, two operands.
fn main() {
    let a = ndarray::Array2::<f64>::zeros((2, 2));
    let _ = einsum::einsum!("ij,jk->ik", a);
    let _ = einsum::try_einsum!("ij->j", a, a);
    let mut out = ndarray::Array1::<f64>::zeros(2);
    einsum::einsum_into!(out, "ij,j->i", a);
}
