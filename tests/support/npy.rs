//! Writing `.npy` files (numpy's format 1.0), for the numpy oracle.

use std::io::Write;
use std::path::Path;

use num_complex::Complex;

/// An element numpy can read: its type code and little-endian bytes.
pub trait NpyElement: Copy {
    const DESCR: &'static str;
    fn write_le(self, out: &mut Vec<u8>);
}

macro_rules! npy_real {
    ($t:ty, $descr:literal) => {
        impl NpyElement for $t {
            const DESCR: &'static str = $descr;
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
npy_real!(f32, "<f4");
npy_real!(f64, "<f8");
npy_real!(i32, "<i4");
npy_real!(i64, "<i8");

impl NpyElement for Complex<f32> {
    const DESCR: &'static str = "<c8";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.re.to_le_bytes());
        out.extend_from_slice(&self.im.to_le_bytes());
    }
}

impl NpyElement for Complex<f64> {
    const DESCR: &'static str = "<c16";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.re.to_le_bytes());
        out.extend_from_slice(&self.im.to_le_bytes());
    }
}

/// Writes `data` (C order) with `shape` to `path`.
pub fn write<T: NpyElement>(path: &Path, shape: &[usize], data: &[T]) -> std::io::Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = match dims.len() {
        0 => "()".to_owned(),
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape_text}, }}",
        T::DESCR
    );
    // Magic (6) + version (2) + length (2) + header + '\n', padded to 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + data.len() * 16);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for &x in data {
        x.write_le(&mut bytes);
    }
    std::fs::File::create(path)?.write_all(&bytes)
}
