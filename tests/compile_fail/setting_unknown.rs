// A setting after the operands that einsum! does not have.
use einsum::einsum;
use ndarray::Array2;

fn main() {
    let a = Array2::<f64>::zeros((2, 2));
    let _ = einsum!("ij,jk->ik", a, a; memory = 1024);
}
