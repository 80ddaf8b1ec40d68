//! Reading and writing numpy's `.npy` files (format versions 1, 2 and 3).

use std::path::Path;

use anyhow::{Context, Result, bail};
use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use num_complex::Complex;

use crate::dtype::{Array, DType};

/// Reads an array: float32, float64, complex64, complex128, int32 or int64,
/// either byte order, C or Fortran order.
pub(crate) fn read(path: &Path) -> Result<Array> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read '{}'", path.display()))?;
    parse(&bytes).with_context(|| format!("'{}' is not a supported .npy file", path.display()))
}

fn parse(bytes: &[u8]) -> Result<Array> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("no .npy magic string");
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => bail!("unknown .npy format version {v}"),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .context("truncated header")?;
    let header = std::str::from_utf8(&bytes[start..end]).context("header is not text")?;
    let descr = field(header, "descr")?
        .trim_matches(|c| c == '\'' || c == '"')
        .to_owned();
    let fortran = match field(header, "fortran_order")?.trim() {
        "True" => true,
        "False" => false,
        other => bail!("fortran_order is {other}"),
    };
    let shape_text = field(header, "shape")?;
    let shape: Vec<usize> = shape_text
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|d| {
            d.parse::<usize>()
                .with_context(|| format!("bad dimension '{d}'"))
        })
        .collect::<Result<_>>()?;
    let (big, code) = match descr.as_bytes().first() {
        Some(b'>') => (true, &descr[1..]),
        Some(b'<' | b'=' | b'|') => (false, &descr[1..]),
        _ => (false, descr.as_str()),
    };
    let dtype = match code {
        "f4" => DType::F32,
        "f8" => DType::F64,
        "c8" => DType::C64,
        "c16" => DType::C128,
        "i4" => DType::I32,
        "i8" => DType::I64,
        _ => bail!(
            "dtype '{descr}' is not supported (float32, float64, complex64, complex128, int32, int64 are)"
        ),
    };
    let len = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .context("shape overflows")?;
    let data = &bytes[end..];
    let need = len.checked_mul(dtype.size()).context("shape overflows")?;
    if data.len() < need {
        bail!(
            "{} bytes of data for shape {shape:?} of {} need {need}",
            data.len(),
            dtype.name()
        );
    }
    let data = &data[..need];
    let dims = IxDyn(&shape);
    let layout = if fortran {
        dims.f()
    } else {
        dims.into_shape_with_order()
    };
    macro_rules! load {
        ($t:ty, $n:expr, $conv:expr) => {{
            let values: Vec<$t> = data.chunks_exact($n).map($conv).collect();
            ArrayD::from_shape_vec(layout, values).context("data does not fit the shape")?
        }};
    }
    fn b<const N: usize>(c: &[u8], big: bool) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        if big {
            a.reverse();
        }
        a
    }
    Ok(match dtype {
        DType::F32 => Array::F32(load!(f32, 4, |c| f32::from_le_bytes(b(c, big)))),
        DType::F64 => Array::F64(load!(f64, 8, |c| f64::from_le_bytes(b(c, big)))),
        DType::I32 => Array::I32(load!(i32, 4, |c| i32::from_le_bytes(b(c, big)))),
        DType::I64 => Array::I64(load!(i64, 8, |c| i64::from_le_bytes(b(c, big)))),
        DType::C64 => Array::C64(load!(Complex<f32>, 8, |c| Complex::new(
            f32::from_le_bytes(b(&c[..4], big)),
            f32::from_le_bytes(b(&c[4..], big))
        ))),
        DType::C128 => Array::C128(load!(Complex<f64>, 16, |c| Complex::new(
            f64::from_le_bytes(b(&c[..8], big)),
            f64::from_le_bytes(b(&c[8..], big))
        ))),
    })
}

/// The value text after `'key':` in a header dict, up to the next
/// top-level comma.
fn field<'h>(header: &'h str, key: &str) -> Result<&'h str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))
        .with_context(|| format!("header has no '{key}'"))?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')
        .context("malformed header")?
        .trim_start();
    let mut depth = 0;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '}' if depth == 0 => return Ok(&rest[..i]),
            _ => {}
        }
    }
    Ok(rest)
}

/// Writes `array` in C order to `path`, through a temporary file renamed
/// into place, so a failure never leaves a partial file behind.
pub(crate) fn write(path: &Path, array: &Array) -> Result<()> {
    let mut bytes = Vec::new();
    let shape = array.shape().to_vec();
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = match dims.len() {
        0 => "()".to_owned(),
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let descr = match array.dtype() {
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::C64 => "<c8",
        DType::C128 => "<c16",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    array.write_le(&mut bytes);
    let tmp = path.with_extension("npy.partial");
    std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write '{}'", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write '{}'", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_dtype_and_reads_fortran_order() {
        let dir = std::env::temp_dir().join(format!("einsum-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| (i[0] * 3 + i[1]) as f64);
        for array in [
            Array::F64(a.clone()),
            Array::F32(a.mapv(|x| x as f32)),
            Array::I32(a.mapv(|x| x as i32)),
            Array::I64(a.mapv(|x| x as i64)),
            Array::C64(a.mapv(|x| Complex::new(x as f32, -x as f32))),
            Array::C128(a.mapv(|x| Complex::new(x, 1.0))),
        ] {
            let path = dir.join("a.npy");
            write(&path, &array).unwrap();
            assert_eq!(read(&path).unwrap(), array);
        }
        // A Fortran-order header: the same bytes mean the transpose.
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let header = "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }\n";
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for v in [0i32, 3, 1, 4, 2, 5] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let Array::I32(f) = parse(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(
            f,
            ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| (i[0] * 3 + i[1]) as i32)
        );
        assert!(parse(b"not npy").is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
