//! Reading and writing numpy's `.npy` files (format versions 1, 2 and 3).
//!
//! Reading is strict and bounded. The magic string and version are checked
//! from the first 8 bytes, so any other file is refused before more of it is
//! read. The header is a Python literal, parsed with Python's rules
//! ([`literal`]), and checked as `numpy.load` checks it: exactly the keys
//! `descr`, `fortran_order` and `shape`, a tuple of non-negative integers
//! for the shape, at most 64 dimensions, at most 10000 characters. The
//! element count and byte size are computed with overflow checks, and an
//! array numpy would call too big is refused, all before the data is
//! allocated; the data buffer is reserved fallibly. A regular file must be
//! exactly as long as its header says; any other source (a pipe) is read
//! for at most one byte past the data, which must not exist.
//!
//! Where numpy accepts a file, so do we (for the seven element types we
//! support), with one exception the issue asks for: numpy ignores bytes
//! after the data, we refuse them, since a file longer than its header
//! promises was not written by numpy.
//!
//! Writing goes through a temporary file in the target's directory,
//! renamed into place, and removed on any failure.

mod literal;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use einsum::f16;
use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use num_complex::Complex;

use crate::dtype::{Array, DType};
use literal::{Literal, quoted};

/// The magic string every `.npy` file starts with.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// numpy's default `max_header_size`: `numpy.load` refuses a longer header
/// (counted in characters after decoding) as unsafe to evaluate.
pub const MAX_HEADER_CHARS: usize = 10_000;

/// numpy 2's `NPY_MAXDIMS`.
pub const MAX_DIMS: usize = 64;

/// Why a `.npy` file could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The source could not be read.
    Io(io::Error),
    /// The bytes are not a `.npy` file we support; the message says why.
    Invalid(String),
    /// The data is as long as the header says but does not fit in memory.
    OutOfMemory {
        /// The size of the data.
        bytes: usize,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(err) => write!(f, "{err}"),
            ReadError::Invalid(why) => f.write_str(why),
            ReadError::OutOfMemory { bytes } => {
                write!(f, "cannot allocate {bytes} bytes for the data")
            }
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(err: io::Error) -> ReadError {
        ReadError::Io(err)
    }
}

fn invalid<T>(why: impl Into<String>) -> Result<T, ReadError> {
    Err(ReadError::Invalid(why.into()))
}

/// Reads an array from a file: float32, float64, complex64, complex128,
/// int32 or int64, either byte order, C or Fortran order.
///
/// # Errors
///
/// Every error names the file: it cannot be opened or read, it is not a
/// `.npy` file we support (and why), or its data does not fit in memory.
pub fn read(path: &Path) -> anyhow::Result<Array> {
    let shown = path.display();
    let file = File::open(path).with_context(|| format!("cannot read '{shown}'"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read '{shown}'"))?;
    if meta.is_dir() {
        anyhow::bail!("cannot read '{shown}': it is a directory");
    }
    // Only a regular file's length is known up front; a pipe or device is
    // read as a stream.
    let len = meta.is_file().then_some(meta.len());
    read_from(BufReader::new(file), len).map_err(|err| match err {
        ReadError::Io(err) => anyhow::Error::new(err).context(format!("cannot read '{shown}'")),
        ReadError::Invalid(why) => {
            anyhow::anyhow!("'{shown}' is not a supported .npy file: {why}")
        }
        err @ ReadError::OutOfMemory { .. } => anyhow::anyhow!("cannot read '{shown}': {err}"),
    })
}

/// Reads an array from the bytes of a whole `.npy` file.
///
/// # Errors
///
/// [`ReadError::Invalid`] when the bytes are not a `.npy` file we support
/// (including when there are more or fewer bytes than the header promises);
/// [`ReadError::OutOfMemory`] when the data cannot be allocated.
pub fn parse(bytes: &[u8]) -> Result<Array, ReadError> {
    read_from(bytes, Some(bytes.len() as u64))
}

/// Reads an array from `reader`. With `len`, the source's exact length in
/// bytes, a length that differs from what the header promises is refused
/// before the data is read; without it, at most one byte past the data is
/// read, and must not exist.
///
/// # Errors
///
/// As [`parse`], and [`ReadError::Io`] when `reader` fails.
pub fn read_from(mut reader: impl Read, len: Option<u64>) -> Result<Array, ReadError> {
    let mut magic = [0u8; 8];
    let got = fill(&mut reader, &mut magic)?;
    let seen = magic.get(..got.min(MAGIC.len())).unwrap_or_default();
    if !MAGIC.starts_with(seen) {
        return invalid("no .npy magic string");
    }
    if got < magic.len() {
        return invalid(format!(
            "file ends after {got} bytes, inside the magic string"
        ));
    }
    let [.., major, minor] = magic;
    // numpy's formats: 1.0 has a 2-byte header length, 2.0 and 3.0 a
    // 4-byte one; 3.0 headers are UTF-8, older ones latin-1.
    let (width, utf8) = match (major, minor) {
        (1, 0) => (2, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        _ => return invalid(format!("unsupported .npy format version {major}.{minor}")),
    };
    // Little-endian: a 2-byte length is the low half of a 4-byte one.
    let mut raw_len = [0u8; 4];
    if fill(&mut reader, raw_len.get_mut(..width).unwrap_or_default())? < width {
        return invalid("file ends inside the header length");
    }
    let header_len = u32::from_le_bytes(raw_len);
    // A latin-1 character is one byte, a UTF-8 one at most four: a longer
    // header cannot be within numpy's limit, so it is refused unread.
    let max_bytes = if utf8 {
        4 * MAX_HEADER_CHARS
    } else {
        MAX_HEADER_CHARS
    };
    let header_len = match usize::try_from(header_len) {
        Ok(n) if n <= max_bytes => n,
        _ => {
            return invalid(format!(
                "header is {header_len} bytes, longer than numpy reads ({MAX_HEADER_CHARS} characters)"
            ));
        }
    };
    let mut header = vec![0u8; header_len];
    let got = fill(&mut reader, &mut header)?;
    if got < header_len {
        return invalid(format!(
            "file ends inside the header ({got} of {header_len} bytes)"
        ));
    }
    let text: Vec<char> = if utf8 {
        match std::str::from_utf8(&header) {
            Ok(text) => text.chars().collect(),
            Err(_) => return invalid("header is not valid UTF-8"),
        }
    } else {
        header.iter().map(|&b| char::from(b)).collect()
    };
    if text.len() > MAX_HEADER_CHARS {
        return invalid(format!(
            "header is {} characters, longer than numpy reads ({MAX_HEADER_CHARS})",
            text.len()
        ));
    }
    let header = Header::parse(&text, !utf8).map_err(ReadError::Invalid)?;
    let (count, need) = header.size()?;

    let offset = 8 + width + header_len;
    if let Some(len) = len {
        let have = len.saturating_sub(offset as u64);
        if have != need as u64 {
            return invalid(format!(
                "file has {have} bytes of data; {} needs {need}",
                header.describe()
            ));
        }
    }
    let array = match header.dtype {
        DType::F16 => Array::F16(header.load(&mut reader, count, len.is_some())?),
        DType::F32 => Array::F32(header.load(&mut reader, count, len.is_some())?),
        DType::F64 => Array::F64(header.load(&mut reader, count, len.is_some())?),
        DType::C64 => Array::C64(header.load(&mut reader, count, len.is_some())?),
        DType::C128 => Array::C128(header.load(&mut reader, count, len.is_some())?),
        DType::I32 => Array::I32(header.load(&mut reader, count, len.is_some())?),
        DType::I64 => Array::I64(header.load(&mut reader, count, len.is_some())?),
    };
    // A regular file's length was checked, but it may have grown since.
    if fill(&mut reader, &mut [0u8; 1])? != 0 {
        return invalid(format!(
            "file has more data than {} needs ({need} bytes)",
            header.describe()
        ));
    }
    Ok(array)
}

/// Reads into `buf` until it is full or the source ends; returns the
/// number of bytes read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(done)
}

/// What the header says about the data.
#[derive(Debug, PartialEq)]
struct Header {
    dtype: DType,
    /// The data is big-endian.
    big: bool,
    fortran: bool,
    shape: Vec<usize>,
}

impl Header {
    /// Applies numpy's checks (`_read_array_header`) to the parsed literal.
    fn parse(text: &[char], legacy: bool) -> Result<Header, String> {
        let Literal::Dict(entries) = literal::parse(text, legacy)? else {
            return Err("header is not a dict".to_owned());
        };
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        // A Python dict literal keeps the last of duplicate keys, and numpy
        // accepts the result: `{'descr': '<i4', 'descr': '<f8', ...}` is a
        // float64 file to `numpy.load` (checked), so to us too.
        for (key, value) in entries {
            let Literal::Str(key) = key else {
                return Err(format!("header has a key that is {}", key.type_name()));
            };
            match key.as_str() {
                "descr" => descr = Some(value),
                "fortran_order" => fortran = Some(value),
                "shape" => shape = Some(value),
                _ => {
                    return Err(format!(
                        "header has key {} (only 'descr', 'fortran_order' and 'shape' are allowed)",
                        quoted(&key)
                    ));
                }
            }
        }
        let missing = |key| format!("header has no '{key}'");
        let descr = descr.ok_or_else(|| missing("descr"))?;
        let fortran = match fortran.ok_or_else(|| missing("fortran_order"))? {
            Literal::Bool(b) => b,
            other => {
                return Err(format!(
                    "fortran_order is {}, not a bool",
                    other.type_name()
                ));
            }
        };
        let Literal::Tuple(dims) = shape.ok_or_else(|| missing("shape"))? else {
            return Err("shape is not a tuple".to_owned());
        };
        let shape = dims
            .iter()
            .map(|dim| match *dim {
                Literal::Int(d) if d < 0 => Err(format!("shape has a negative dimension ({d})")),
                // numpy converts each dimension to a C long first.
                Literal::Int(d) => i64::try_from(d)
                    .ok()
                    .and_then(|d| usize::try_from(d).ok())
                    .ok_or_else(|| format!("dimension {d} is too large")),
                ref other => Err(format!("shape has {}, not an integer", other.type_name())),
            })
            .collect::<Result<Vec<usize>, String>>()?;
        if shape.len() > MAX_DIMS {
            return Err(format!(
                "shape has {} dimensions, more than numpy's {MAX_DIMS}",
                shape.len()
            ));
        }
        let (dtype, big) = match descr {
            Literal::Str(descr) => dtype_of(&descr)?,
            Literal::Tuple(_) | Literal::List(_) => {
                return Err("structured and sub-array dtypes are not supported".to_owned());
            }
            other => {
                return Err(format!(
                    "descr is {}, not a dtype string",
                    other.type_name()
                ));
            }
        };
        Ok(Header {
            dtype,
            big,
            fortran,
            shape,
        })
    }

    /// "shape (2, 3) of float64", for messages.
    fn describe(&self) -> String {
        format!("shape {} of {}", shape_text(&self.shape), self.dtype.name())
    }

    /// The data's size in elements and in bytes, refusing an array numpy
    /// calls too big: the product of its non-zero dimensions times the
    /// element size must fit an `isize` (so `(0, 2**40)` is fine,
    /// `(0, 2**62, 4)` is not).
    fn size(&self) -> Result<(usize, usize), ReadError> {
        let too_big = || ReadError::Invalid(format!("{} is too large", self.describe()));
        let extent = self
            .shape
            .iter()
            .filter(|&&d| d != 0)
            .try_fold(self.dtype.size(), |acc, &d| acc.checked_mul(d))
            .filter(|&bytes| isize::try_from(bytes).is_ok())
            .ok_or_else(too_big)?;
        if self.shape.contains(&0) {
            return Ok((0, 0));
        }
        // The element size divides the product exactly.
        Ok((extent / self.dtype.size(), extent))
    }

    /// Reads the `count` elements (which `size` checked) into an array.
    /// With `exact`, the source was checked to hold exactly the data, so
    /// the buffer is reserved whole; otherwise it grows as data arrives,
    /// so a stream that promises more than it has costs no more memory
    /// than it sends.
    fn load<T: Scalar>(
        &self,
        reader: &mut impl Read,
        count: usize,
        exact: bool,
    ) -> Result<ArrayD<T>, ReadError> {
        const CHUNK: usize = 1 << 16;
        let per_chunk = CHUNK / T::SIZE;
        let mut values: Vec<T> = Vec::new();
        let reserve = |values: &mut Vec<T>, n: usize| {
            values
                .try_reserve_exact(n)
                .map_err(|_| ReadError::OutOfMemory {
                    bytes: count.saturating_mul(T::SIZE),
                })
        };
        reserve(
            &mut values,
            if exact { count } else { count.min(per_chunk) },
        )?;
        let mut buf = vec![0u8; per_chunk.min(count) * T::SIZE];
        let mut left = count;
        while left > 0 {
            let n = left.min(per_chunk);
            let bytes = buf.get_mut(..n * T::SIZE).unwrap_or_default();
            let got = fill(reader, bytes)?;
            if got < bytes.len() {
                let have = (count - left) * T::SIZE + got;
                return invalid(format!(
                    "file has {have} bytes of data; {} needs {}",
                    self.describe(),
                    count * T::SIZE
                ));
            }
            if values.capacity() - values.len() < n {
                let grow = values.len().max(n);
                reserve(&mut values, grow)?;
            }
            values.extend(
                bytes
                    .chunks_exact(T::SIZE)
                    .filter_map(|b| T::decode(b, self.big)),
            );
            left -= n;
        }
        let dims = IxDyn(&self.shape);
        let layout = if self.fortran {
            dims.f()
        } else {
            dims.into_shape_with_order()
        };
        ArrayD::from_shape_vec(layout, values)
            .map_err(|err| ReadError::Invalid(format!("data does not fit the shape: {err}")))
    }
}

/// The element type and byte order a `descr` string names. numpy accepts
/// many more spellings (`'float64'`, `'d'`, `'<f08'`); these are the ones
/// numpy writes for our seven types, with `=` and `|` meaning native order as
/// they do to numpy.
fn dtype_of(descr: &str) -> Result<(DType, bool), String> {
    let native_big = cfg!(target_endian = "big");
    let (big, code) = if let Some(code) = descr.strip_prefix('<') {
        (false, code)
    } else if let Some(code) = descr.strip_prefix('>') {
        (true, code)
    } else if let Some(code) = descr.strip_prefix(['=', '|']) {
        (native_big, code)
    } else {
        (native_big, descr)
    };
    let dtype = match code {
        "f2" => DType::F16,
        "f4" => DType::F32,
        "f8" => DType::F64,
        "c8" => DType::C64,
        "c16" => DType::C128,
        "i4" => DType::I32,
        "i8" => DType::I64,
        _ => {
            return Err(format!(
                "dtype {} is not supported (float16, float32, float64, complex64, complex128, int32, int64 are)",
                quoted(descr)
            ));
        }
    };
    Ok((dtype, big))
}

/// numpy's text for a shape: `()`, `(3,)`, `(2, 3)`.
fn shape_text(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_owned(),
        [d] => format!("({d},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

/// An element as stored in a `.npy` file.
trait Scalar: Sized {
    const SIZE: usize;
    /// From the first `SIZE` bytes of `bytes`; `None` if there are fewer.
    fn decode(bytes: &[u8], big: bool) -> Option<Self>;
    /// Appends the little-endian bytes.
    fn encode(&self, out: &mut Vec<u8>);
}

macro_rules! real_scalar {
    ($t:ty, $n:literal) => {
        impl Scalar for $t {
            const SIZE: usize = $n;
            fn decode(bytes: &[u8], big: bool) -> Option<Self> {
                let raw = *bytes.first_chunk::<$n>()?;
                Some(if big {
                    <$t>::from_be_bytes(raw)
                } else {
                    <$t>::from_le_bytes(raw)
                })
            }
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}

real_scalar!(f16, 2);
real_scalar!(f32, 4);
real_scalar!(f64, 8);
real_scalar!(i32, 4);
real_scalar!(i64, 8);

/// numpy stores a complex number as its real part, then its imaginary
/// part, each in the file's byte order.
impl<T: Scalar> Scalar for Complex<T> {
    const SIZE: usize = 2 * T::SIZE;
    fn decode(bytes: &[u8], big: bool) -> Option<Self> {
        let re = T::decode(bytes, big)?;
        let im = T::decode(bytes.get(T::SIZE..)?, big)?;
        Some(Complex::new(re, im))
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.re.encode(out);
        self.im.encode(out);
    }
}

/// Writes `array` as a `.npy` file (format 1.0, little-endian, C order,
/// the header padded as numpy pads it) to `out`.
///
/// # Errors
///
/// Whatever `out` returns.
pub fn write_to(mut out: impl Write, array: &Array) -> io::Result<()> {
    let descr = match array.dtype() {
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::C64 => "<c8",
        DType::C128 => "<c16",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
    };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        shape_text(array.shape())
    );
    // numpy aligns the data to 64 bytes: magic, version, length, header
    // and its final newline fill a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    // At most 64 dimensions of 20 digits: always far below 65535 bytes.
    let len = u16::try_from(header.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "shape too long for a header"))?;
    out.write_all(b"\x93NUMPY\x01\x00")?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    match array {
        Array::F16(a) => write_values(&mut out, a.iter()),
        Array::F32(a) => write_values(&mut out, a.iter()),
        Array::F64(a) => write_values(&mut out, a.iter()),
        Array::C64(a) => write_values(&mut out, a.iter()),
        Array::C128(a) => write_values(&mut out, a.iter()),
        Array::I32(a) => write_values(&mut out, a.iter()),
        Array::I64(a) => write_values(&mut out, a.iter()),
    }
}

/// Writes the values in chunks, so the whole array is never copied.
fn write_values<'a, T: Scalar + 'a>(
    out: &mut impl Write,
    values: impl Iterator<Item = &'a T>,
) -> io::Result<()> {
    const CHUNK: usize = 1 << 16;
    let mut buf = Vec::with_capacity(CHUNK + 16);
    for value in values {
        value.encode(&mut buf);
        if buf.len() >= CHUNK {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()
}

/// Writes `array` to `path` through a temporary file renamed into place,
/// so that `path` is either untouched or complete, and nothing else is left
/// behind on any failure.
///
/// # Errors
///
/// When the temporary cannot be created, written, synced or renamed onto
/// `path` (for example when `path` is a directory); the error names `path`.
pub fn write(path: &Path, array: &Array) -> anyhow::Result<()> {
    write_atomically(path, |out| write_to(out, array))
        .with_context(|| format!("cannot write '{}'", path.display()))
}

/// The file half of [`write`]: `produce` writes the bytes into a new
/// temporary file beside `path`, which is then flushed, synced and renamed
/// onto `path`. On an error at any point the temporary is removed.
fn write_atomically(
    path: &Path,
    produce: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let (temp, file) = create_temp(dir)?;
    let mut out = BufWriter::new(file);
    produce(&mut out)?;
    let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp.path, path)?;
    temp.renamed();
    Ok(())
}

/// A temporary file, removed when dropped unless it was renamed.
struct Temp {
    path: PathBuf,
    renamed: bool,
}

impl Temp {
    fn renamed(mut self) {
        self.renamed = true;
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.renamed {
            // The error being returned matters more than a failure here.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Creates a new, uniquely named file in `dir`. `create_new` never opens a
/// file that exists, so a name another process took is skipped, never
/// overwritten.
fn create_temp(dir: &Path) -> io::Result<(Temp, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut last = None;
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".einsum-explain-{pid}-{nanos}-{n}.npy.tmp"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => {
                return Ok((
                    Temp {
                        path,
                        renamed: false,
                    },
                    file,
                ));
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("einsum-npy-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A `.npy` file of format `version` with `header` (as is: no padding
    /// or newline added) and `data`.
    fn npy(version: u8, header: &[u8], data: &[u8]) -> Vec<u8> {
        let mut bytes = b"\x93NUMPY".to_vec();
        bytes.extend([version, 0]);
        if version == 1 {
            bytes.extend(u16::try_from(header.len()).unwrap().to_le_bytes());
        } else {
            bytes.extend(u32::try_from(header.len()).unwrap().to_le_bytes());
        }
        bytes.extend(header);
        bytes.extend(data);
        bytes
    }

    /// numpy's header with one field's text replaced.
    fn dict(descr: &str, fortran: &str, shape: &str) -> String {
        format!("{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}")
    }

    const HEADER: &str = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";

    fn two_f64() -> Vec<u8> {
        [1.5f64, 2.5].iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn reason(bytes: &[u8]) -> String {
        match parse(bytes) {
            Ok(a) => panic!("accepted as {a:?}"),
            Err(err) => err.to_string(),
        }
    }

    /// Header cases checked against `numpy.load` (numpy 2.4, Python 3.11):
    /// each is `(header text, numpy accepts it)`, with `HEADER`'s data
    /// (two float64) unless the case says otherwise. Ours must agree.
    /// Where numpy accepts a dtype spelling or literal we do not support,
    /// the case is in `numpy_accepts_we_refuse` instead.
    const HEADER_CASES: &[(&str, bool)] = &[
        (HEADER, true),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n",
            true,
        ),
        // The loose parser of old accepted these; numpy does not.
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)))),}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (,)}",
            false,
        ),
        (
            "{'descr': <f8, 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
            false,
        ),
        ("{'descr': '<f8', 'shape': (2,)}", false),
        ("{}", false),
        ("", false),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,),,}",
            false,
        ),
        (
            "{'descr': '<f8' 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)]",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), **{}}",
            false,
        ),
        ("dict(descr='<f8', fortran_order=False, shape=(2,))", false),
        (
            "({'descr': '<f8', 'fortran_order': False, 'shape': (2,)})",
            true,
        ),
        // Duplicate keys: the last one wins, in Python and so in numpy.
        (
            "{'descr': '<i4', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<zz', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': 1.5, 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '\u{e9}', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': b'x', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': (1,(2,[3,None])), 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': {1, 2}, 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': 1+2j, 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': ..., 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': set(), 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': {[1]: 2}, 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'descr': 1.5}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (9,), 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'shape': [2]}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 1: 2}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), [1]: 2}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), ('descr'): '<f8'}",
            true,
        ),
        (
            "{'des' 'cr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{\"descr\": \"<f8\", 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        // shape
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (+2,)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (+(2),)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (True, 2)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0x2,)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0o2,)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0b10,)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0b_1_0,)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0_2,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (02,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2.0,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2e0,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2j,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': [2]}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': 2}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': ((2),)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': ( 2 , 1 , )}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1,\n)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2_000_000_000_000_000_000_000,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (10**30,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1 if 1 else 2,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2l,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2\nL,)}",
            false,
        ),
        // fortran_order
        ("{'descr': '<f8', 'fortran_order': 1, 'shape': (2,)}", false),
        (
            "{'descr': '<f8', 'fortran_order': None, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': false, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': (False), 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': (False,), 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': -True, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': not True, 'shape': (2,)}",
            false,
        ),
        // descr
        (
            "{'descr': 'f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '=f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '|f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '>f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<f8 ', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': ' <f8', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '>>f8', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '|<f8', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<F8', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': None, 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': u'<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': R'<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': b'<f8', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': f'<f8', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': ur'<f8', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<' 'f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<' # c\n'f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<f8' u'' r\"\", 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<f8' b'', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '''<f8''', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '''<' 'f8''', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': ''''<f8''', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': ('<f8'), 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': ('<') 'f8', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8\r', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8\t', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        // layout of the text
        (
            "  {'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "\n{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "\n  {'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "# c\n{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "\\\n{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<f8',\n'fortran_order':\tFalse,\r\n'shape':\x0c(2,)}",
            true,
        ),
        (
            "{'descr': '<f8', # c\n 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<f8', #c\r'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<f8', #c\u{85}'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8',\x0b'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8',\\\n'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<f8', \\ \n'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8',\u{a0}'fortran_order': False, 'shape': (2,)}",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\n\n  \n",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}  # c\n",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}#\u{e9}\n",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\u{e9}\n",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\0",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}#\0",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} x",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)};",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\\\n",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\\\n\n",
            true,
        ),
        (
            "{'descr': '<f\\\n8', 'fortran_order': False, 'shape': (2,)}",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\n\x0c",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\n \\\n#c",
            true,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\n \\\n",
            false,
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\r ",
            false,
        ),
        // Python 2's `L` with a layout numpy's fallback cannot rebuild.
        (
            "#c\r{'descr': '<f8', 'fortran_order': False, 'shape': (2L,)}",
            false,
        ),
        (
            "\n\x0c{'descr': '<f8', 'fortran_order': False, 'shape': (2L,)}",
            false,
        ),
        (
            "\r{'descr': '<f8', 'fortran_order': False, 'shape': (2L,)}",
            false,
        ),
    ];

    /// Headers `numpy.load` accepts in format 1.0 and 2.0 only, through its
    /// fallback for headers written by Python 2 (see `literal::parse`).
    const LEGACY_ONLY_CASES: &[&str] = &[
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2 L L,)}",
        ("\x0c {'descr': '<f8', 'fortran_order': False, 'shape': (2,)}"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\n  "),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2L,\r1L)}"),
        ("\\\n{'descr': '<f8', 'fortran_order': False, 'shape': (2L,)}"),
    ];

    #[test]
    fn headers_are_accepted_exactly_when_numpy_accepts_them() {
        let data = two_f64();
        let cases = HEADER_CASES.iter().copied();
        let legacy = LEGACY_ONLY_CASES.iter().map(|&h| (h, true));
        for (header, accepts) in cases.chain(legacy) {
            for version in [1, 3] {
                let legacy_only = LEGACY_ONLY_CASES.contains(&header);
                let accepts = accepts && !(legacy_only && version == 3);
                let bytes = if version == 1 {
                    // latin-1: one byte per character.
                    let Ok(latin1) = header
                        .chars()
                        .map(u8::try_from)
                        .collect::<Result<Vec<u8>, _>>()
                    else {
                        continue;
                    };
                    npy(1, &latin1, &data)
                } else {
                    npy(3, header.as_bytes(), &data)
                };
                let result = parse(&bytes);
                assert_eq!(
                    result.is_ok(),
                    accepts,
                    "version {version}, {header:?}: {:?}",
                    result.map(|a| a.shape().to_vec())
                );
                // The data is little-endian; '>f8' reads other numbers.
                if let (Ok(Array::F64(a)), false) = (&result, header.contains(">f8")) {
                    assert!(a.iter().eq(&[1.5, 2.5]), "{header:?}");
                }
            }
        }
    }

    /// Cases where numpy accepts a file and we refuse it on purpose, each
    /// with the reason.
    #[test]
    fn numpy_accepts_we_refuse() {
        let data = two_f64();
        for header in [
            // Other spellings of float64: we support numpy's own `descr`s.
            dict("'float64'", "False", "(2,)"),
            dict("'d'", "False", "(2,)"),
            dict("'<f08'", "False", "(2,)"),
            // A sub-array dtype: not one of the seven.
            dict("('<f8', (1,))", "False", "(2,)"),
            // An escape sequence: not decoded (see `literal`).
            dict("'\\x3cf8'", "False", "(2,)"),
            // Python 2's `L` and a lone `\r` after the value: numpy's
            // fallback copes, ours refuses (see `literal::parse`).
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,)}\r".to_owned(),
        ] {
            assert!(
                parse(&npy(1, header.as_bytes(), &data)).is_err(),
                "{header}"
            );
        }
        // Trailing data: numpy ignores it, the issue asks us to refuse it.
        let mut longer = data.clone();
        longer.push(0);
        assert!(
            reason(&npy(1, HEADER.as_bytes(), &longer))
                .contains("file has 17 bytes of data; shape (2,) of float64 needs 16")
        );
    }

    #[test]
    fn every_supported_dtype_reads_in_either_byte_order() {
        let cases: [(&str, DType, usize); 7] = [
            ("f2", DType::F16, 2),
            ("f4", DType::F32, 4),
            ("f8", DType::F64, 8),
            ("c8", DType::C64, 8),
            ("c16", DType::C128, 16),
            ("i4", DType::I32, 4),
            ("i8", DType::I64, 8),
        ];
        for (code, dtype, size) in cases {
            for order in ["<", ">", "=", "|", ""] {
                let header = dict(&format!("'{order}{code}'"), "False", "(3,)");
                // Elements 1, 2, 3 in the file's byte order.
                let big = order == ">"
                    || (matches!(order, "=" | "|" | "") && cfg!(target_endian = "big"));
                let mut data = Vec::new();
                for k in 1..=3u8 {
                    let mut element = vec![0u8; size];
                    let parts = if matches!(dtype, DType::C64 | DType::C128) {
                        2
                    } else {
                        1
                    };
                    let part = size / parts;
                    for (p, chunk) in element.chunks_mut(part).enumerate() {
                        let value: Vec<u8> = match (dtype, p) {
                            (_, 1) => vec![0; part],
                            (DType::F16, _) => f16::from(k).to_le_bytes().to_vec(),
                            (DType::F32 | DType::C64, _) => f32::from(k).to_le_bytes().to_vec(),
                            (DType::F64 | DType::C128, _) => f64::from(k).to_le_bytes().to_vec(),
                            (DType::I32, _) => i32::from(k).to_le_bytes().to_vec(),
                            (DType::I64, _) => i64::from(k).to_le_bytes().to_vec(),
                        };
                        chunk.copy_from_slice(&value);
                        if big {
                            chunk.reverse();
                        }
                    }
                    data.extend(element);
                }
                let array = parse(&npy(1, header.as_bytes(), &data)).unwrap();
                assert_eq!(array.dtype(), dtype, "{header}");
                let want = Array::F64(ndarray::arr1(&[1.0, 2.0, 3.0]).into_dyn())
                    .cast(DType::C128)
                    .unwrap();
                assert_eq!(array.cast(DType::C128).unwrap(), want, "{header}");
            }
        }
    }

    #[test]
    fn fortran_order_means_the_transpose() {
        let header = dict("'<i4'", "True", "(2, 3)");
        let data: Vec<u8> = [0i32, 3, 1, 4, 2, 5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let Array::I32(f) = parse(&npy(1, header.as_bytes(), &data)).unwrap() else {
            panic!("not int32")
        };
        assert_eq!(
            f,
            ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| (i[0] * 3 + i[1]) as i32)
        );
    }

    #[test]
    fn magic_version_and_header_length_are_checked_first() {
        let good = npy(1, HEADER.as_bytes(), &two_f64());
        assert!(parse(&good).is_ok());
        assert_eq!(
            reason(b""),
            "file ends after 0 bytes, inside the magic string"
        );
        assert_eq!(
            reason(b"\x93NUM"),
            "file ends after 4 bytes, inside the magic string"
        );
        assert_eq!(reason(b"not npy at all"), "no .npy magic string");
        assert_eq!(reason(&[0u8; 100]), "no .npy magic string");
        assert_eq!(reason(b"\x93NUMPX\x01\x00"), "no .npy magic string");
        for (major, minor) in [(0, 0), (1, 1), (4, 0), (2, 1)] {
            let mut bytes = good.clone();
            bytes[6] = major;
            bytes[7] = minor;
            assert_eq!(
                reason(&bytes),
                format!("unsupported .npy format version {major}.{minor}")
            );
        }
        assert_eq!(reason(&good[..9]), "file ends inside the header length");
        assert_eq!(
            reason(&good[..11]),
            "file ends inside the header (1 of 57 bytes)"
        );
        assert_eq!(
            reason(&npy(2, HEADER.as_bytes(), &[])[..11]),
            "file ends inside the header length"
        );
        // A length over the limit is refused without reading the header.
        let mut huge = b"\x93NUMPY\x02\x00".to_vec();
        huge.extend(u32::MAX.to_le_bytes());
        assert_eq!(
            reason(&huge),
            "header is 4294967295 bytes, longer than numpy reads (10000 characters)"
        );
    }

    #[test]
    fn header_length_limit_is_numpys_in_characters() {
        let data = two_f64();
        let padded = |n: usize| format!("{HEADER}{}", " ".repeat(n - HEADER.len()));
        assert!(parse(&npy(1, padded(10_000).as_bytes(), &data)).is_ok());
        assert!(parse(&npy(2, padded(10_000).as_bytes(), &data)).is_ok());
        assert_eq!(
            reason(&npy(1, padded(10_001).as_bytes(), &data)),
            "header is 10001 bytes, longer than numpy reads (10000 characters)"
        );
        // Version 3 counts UTF-8 characters: 10000 of them in 20000 bytes
        // is fine, 10001 is not.
        let wide = |n: usize| format!("{HEADER}#{}", "\u{e9}".repeat(n - HEADER.len() - 1));
        assert!(parse(&npy(3, wide(10_000).as_bytes(), &data)).is_ok());
        assert_eq!(
            reason(&npy(3, wide(10_001).as_bytes(), &data)),
            "header is 10001 characters, longer than numpy reads (10000)"
        );
        assert_eq!(
            reason(&npy(3, &[HEADER.as_bytes(), b"#\xe9\n"].concat(), &data)),
            "header is not valid UTF-8"
        );
        // Latin-1 in versions 1 and 2: any byte is a character.
        assert!(parse(&npy(1, &[HEADER.as_bytes(), b"#\xe9\n"].concat(), &data)).is_ok());
    }

    #[test]
    fn dimensions_are_limited_to_64() {
        let ones = |n: usize| dict("'<f8'", "False", &format!("({})", "1,".repeat(n)));
        assert!(parse(&npy(1, ones(64).as_bytes(), &two_f64()[..8])).is_ok());
        assert_eq!(
            reason(&npy(1, ones(65).as_bytes(), &two_f64()[..8])),
            "shape has 65 dimensions, more than numpy's 64"
        );
        let zeros = dict("'<f8'", "False", &format!("({})", "0,".repeat(65)));
        assert!(parse(&npy(1, zeros.as_bytes(), &[])).is_err());
        let scalar = dict("'<i8'", "False", "()");
        let Array::I64(a) = parse(&npy(1, scalar.as_bytes(), &7i64.to_le_bytes())).unwrap() else {
            panic!("not int64")
        };
        assert_eq!(a.ndim(), 0);
        assert_eq!(a.first(), Some(&7));
    }

    #[test]
    fn sizes_are_checked_before_anything_is_allocated() {
        let empty = |shape: &str| npy(1, dict("'<f8'", "False", shape).as_bytes(), &[]);
        // numpy: fine, an empty array however large its other axes.
        let Array::F64(a) = parse(&empty("(0, 1099511627776)")).unwrap() else {
            panic!("not float64")
        };
        assert_eq!(a.shape(), [0, 1 << 40]);
        assert!(parse(&empty("(0, 1152921504606846975)")).is_ok());
        // numpy: "array is too big" (2**60 float64 are 2**63 bytes).
        for shape in [
            "(0, 1152921504606846976)",
            "(0, 4611686018427387904, 4)",
            "(0, 9223372036854775807)",
            "(0, 4294967296, 4294967296)",
            "(4294967296, 4294967296)",
        ] {
            assert!(
                reason(&empty(shape)).ends_with("of float64 is too large"),
                "{shape}"
            );
        }
        // numpy: "Maximum allowed dimension exceeded".
        assert_eq!(
            reason(&empty("(0, 9223372036854775808)")),
            "dimension 9223372036854775808 is too large"
        );
        assert_eq!(
            reason(&empty("(-1,)")),
            "shape has a negative dimension (-1)"
        );
        assert!(parse(&empty("(-0,)")).is_ok());
        // 8 TiB promised, 16 bytes present: refused before any allocation,
        // from a file...
        let promise = npy(
            1,
            dict("'<f8'", "False", "(1099511627776,)").as_bytes(),
            &two_f64(),
        );
        assert_eq!(
            reason(&promise),
            "file has 16 bytes of data; shape (1099511627776,) of float64 needs 8796093022208"
        );
        // ...and from a stream, which grows its buffer as data arrives.
        let streamed = read_from(&promise[..], None).unwrap_err().to_string();
        assert_eq!(
            streamed,
            "file has 16 bytes of data; shape (1099511627776,) of float64 needs 8796093022208"
        );
    }

    #[test]
    fn data_must_be_exactly_as_long_as_promised() {
        let data = two_f64();
        let file = npy(1, HEADER.as_bytes(), &data);
        assert!(parse(&file).is_ok());
        assert_eq!(
            reason(&file[..file.len() - 1]),
            "file has 15 bytes of data; shape (2,) of float64 needs 16"
        );
        let mut longer = file.clone();
        longer.push(0);
        assert_eq!(
            reason(&longer),
            "file has 17 bytes of data; shape (2,) of float64 needs 16"
        );
        // A stream is read up to one byte past the data.
        assert!(read_from(&file[..], None).is_ok());
        assert_eq!(
            read_from(&file[..file.len() - 1], None)
                .unwrap_err()
                .to_string(),
            "file has 15 bytes of data; shape (2,) of float64 needs 16"
        );
        assert_eq!(
            read_from(&longer[..], None).unwrap_err().to_string(),
            "file has more data than shape (2,) of float64 needs (16 bytes)"
        );
        // Larger than one read chunk, in both modes.
        let n = 20_000usize;
        let header = dict("'<i4'", "False", &format!("({n},)"));
        let data: Vec<u8> = (0..n as i32).flat_map(|v| v.to_be_bytes()).collect();
        let header = header.replace("<i4", ">i4");
        let bytes = npy(1, header.as_bytes(), &data);
        for array in [parse(&bytes).unwrap(), read_from(&bytes[..], None).unwrap()] {
            let Array::I32(a) = array else {
                panic!("not int32")
            };
            assert!(a.iter().copied().eq(0..n as i32));
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let data = two_f64();
        let cases = [
            (
                dict("'<f8'", "False", "(2,)").replace("'shape'", "'shap'"),
                "header has key 'shap' (only 'descr', 'fortran_order' and 'shape' are allowed)",
            ),
            (
                "{'descr': '<f8', 'shape': (2,)}".to_owned(),
                "header has no 'fortran_order'",
            ),
            (
                dict("'<f8'", "1", "(2,)"),
                "fortran_order is an integer, not a bool",
            ),
            (dict("'<f8'", "False", "[2]"), "shape is not a tuple"),
            (
                dict("'<f8'", "False", "(2.5,)"),
                "shape has a float, not an integer",
            ),
            (
                dict("'<u4'", "False", "(2,)"),
                "dtype '<u4' is not supported (float16, float32, float64, complex64, complex128, int32, int64 are)",
            ),
            (
                dict("[('a', '<f8')]", "False", "(2,)"),
                "structured and sub-array dtypes are not supported",
            ),
            (
                dict("None", "False", "(2,)"),
                "descr is None, not a dtype string",
            ),
            ("[1, 2]".to_owned(), "header is not a dict"),
            (
                dict("'<f8'", "False", "(2,)))"),
                "expected ',' at position 54, found ')'",
            ),
        ];
        for (header, want) in cases {
            assert_eq!(reason(&npy(1, header.as_bytes(), &data)), want, "{header}");
        }
    }

    #[test]
    fn round_trips_every_dtype() {
        let a = ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| (i[0] * 3 + i[1]) as f64);
        let arrays = [
            Array::F64(a.clone()),
            Array::F32(a.mapv(|x| x as f32)),
            Array::F16(a.mapv(f16::from_f64)),
            Array::I32(a.mapv(|x| x as i32)),
            Array::I64(a.mapv(|x| x as i64)),
            Array::C64(a.mapv(|x| Complex::new(x as f32, -x as f32))),
            Array::C128(a.mapv(|x| Complex::new(x, 1.0))),
            Array::F64(ArrayD::zeros(IxDyn(&[]))),
            Array::F64(ArrayD::zeros(IxDyn(&[0, 3]))),
            // Not C-contiguous: written in logical order.
            Array::F64(a.t().to_owned()),
            Array::I32(ArrayD::from_shape_fn(IxDyn(&[3; 5]), |i| {
                i[0] as i32 - i[4] as i32
            })),
        ];
        let dir = temp_dir("round-trip");
        for array in arrays {
            let mut bytes = Vec::new();
            write_to(&mut bytes, &array).unwrap();
            assert_eq!(
                bytes.iter().position(|&b| b == b'\n').map(|n| (n + 1) % 64),
                Some(0)
            );
            assert_eq!(parse(&bytes).unwrap(), array);
            let path = dir.join("a.npy");
            write(&path, &array).unwrap();
            assert_eq!(read(&path).unwrap(), array);
            assert_eq!(fs::read(&path).unwrap(), bytes);
        }
        assert_eq!(listing(&dir), ["a.npy"]);
        fs::remove_dir_all(&dir).ok();
    }

    /// Fails every write once `left` bytes have gone through.
    struct FailAfter<W> {
        inner: W,
        left: usize,
    }

    impl<W: Write> Write for FailAfter<W> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left (injected)",
                ));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            self.inner.write(&buf[..n])
        }

        fn flush(&mut self) -> io::Result<()> {
            self.inner.flush()
        }
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = temp_dir("fail");
        let target = dir.join("out.npy");
        // A large array, so failures land in the header, the data, and
        // past the writer's buffers.
        let array = Array::F64(ArrayD::from_shape_fn(IxDyn(&[300, 300]), |i| i[0] as f64));
        let mut full = Vec::new();
        write_to(&mut full, &array).unwrap();
        for fail_at in [0, 5, 64, 65, 8192, 100_000, full.len() - 1] {
            let err = write_atomically(&target, |out| {
                write_to(
                    FailAfter {
                        inner: out,
                        left: fail_at,
                    },
                    &array,
                )
            })
            .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::StorageFull, "{fail_at}");
            assert!(listing(&dir).is_empty(), "{fail_at}: {:?}", listing(&dir));
        }
        // An existing file is left as it was.
        fs::write(&target, b"old").unwrap();
        write_atomically(&target, |out| {
            out.write_all(b"new")?;
            Err(io::Error::other("failed"))
        })
        .unwrap_err();
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(listing(&dir), ["out.npy"]);
        // And replaced whole on success.
        write(&target, &array).unwrap();
        assert_eq!(fs::read(&target).unwrap(), full);
        assert_eq!(listing(&dir), ["out.npy"]);
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_failed_rename_leaves_nothing_behind() {
        let dir = temp_dir("rename");
        let array = Array::I32(ArrayD::zeros(IxDyn(&[2])));
        // The target is a directory: rename refuses (as root too).
        fs::create_dir(dir.join("sub")).unwrap();
        fs::write(dir.join("sub/keep"), b"x").unwrap();
        let err = write(&dir.join("sub"), &array).unwrap_err();
        assert!(
            format!("{err:#}")
                .starts_with(&format!("cannot write '{}'", dir.join("sub").display()))
        );
        assert_eq!(listing(&dir), ["sub"]);
        assert_eq!(listing(&dir.join("sub")), ["keep"]);
        // A path through a file (`out.npy/`): rename fails with ENOTDIR.
        let err = write(&dir.join("out.npy/"), &array).unwrap_err();
        assert!(format!("{err:#}").starts_with("cannot write"));
        assert_eq!(listing(&dir), ["sub"]);
        // A directory that does not exist: nothing is created.
        assert!(write(&dir.join("missing/out.npy"), &array).is_err());
        assert_eq!(listing(&dir), ["sub"]);
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn read_names_the_file() {
        let dir = temp_dir("names");
        let path = dir.join("bad.npy");
        fs::write(&path, b"not npy").unwrap();
        assert_eq!(
            format!("{:#}", read(&path).unwrap_err()),
            format!(
                "'{}' is not a supported .npy file: no .npy magic string",
                path.display()
            )
        );
        let missing = dir.join("missing.npy");
        assert!(
            format!("{:#}", read(&missing).unwrap_err())
                .starts_with(&format!("cannot read '{}': ", missing.display()))
        );
        assert_eq!(
            format!("{:#}", read(&dir).unwrap_err()),
            format!("cannot read '{}': it is a directory", dir.display())
        );
        fs::remove_dir_all(&dir).ok();
    }
}
