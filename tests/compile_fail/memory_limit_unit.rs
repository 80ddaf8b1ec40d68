// A memory limit whose unit is not one of the known ones.
use einsum::einsum;
use ndarray::Array2;

fn main() {
    let a = Array2::<f64>::zeros((2, 2));
    let _ = einsum!("ij,jk->ik", a, a; memory_limit = "8 GiBs");
}
