//! The parts of the `einsum-explain` command line tool that stand on their
//! own: arrays of the seven element types ([`dtype`]), numpy's `.npy` files
//! ([`npy`]), the plan reports in text, JSON and Graphviz ([`render`]) and
//! the machine limits `--analyze` compares runs with ([`limits`]).
//!
//! They are a library so that the fuzz targets (`fuzz/fuzz_targets/npy.rs`)
//! can drive the `.npy` reader on arbitrary bytes and the Python package
//! (`einsumc.explain`) prints the reports the tool prints; the binary
//! (`main.rs`) is their other user. This is not a public API of the
//! `einsum` project: use numpy's file format through a crate made for it.
//!
//! The reader takes bytes ([`npy::parse`]), any [`std::io::Read`]
//! ([`npy::read_from`]) or a path ([`npy::read`]); the writer writes into
//! any [`std::io::Write`] ([`npy::write_to`]) or, through a temporary file
//! renamed into place, to a path ([`npy::write`]).
//!
//! ```
//! use einsum_explain::dtype::{Array, DType};
//! use einsum_explain::npy;
//!
//! let array = Array::I64(ndarray::arr2(&[[1, 2, 3], [4, 5, 6]]).into_dyn());
//! let mut bytes = Vec::new();
//! npy::write_to(&mut bytes, &array)?;
//! assert!(bytes.starts_with(b"\x93NUMPY"));
//!
//! let back = npy::parse(&bytes)?;
//! assert_eq!(back.dtype(), DType::I64);
//! assert_eq!(back, array);
//!
//! // One byte more than the header promises is an error, as is one less.
//! bytes.push(0);
//! assert!(npy::parse(&bytes).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod dtype;
pub mod limits;
pub mod npy;
pub mod render;
