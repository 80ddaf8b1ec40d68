//! The kernels: the only code that dereferences the views' pointers.
//!
//! Every kernel takes base pointers and loop dimensions whose offsets were
//! validated when the views were built ([`crate::StridedView::new`] checks
//! that every index lands in the data) or when the workspace was sized (a
//! temporary's C-order strides cover exactly its buffer). Each `unsafe` block
//! names that validation.

pub(crate) mod gemm;
pub(crate) mod igemm;
pub(crate) mod isa;
pub(crate) mod peak;
pub(crate) mod reduce;
pub(crate) mod strided;

use einsum_plan::fit::{Dest, Lowered, Source, Tensor};

use crate::check::Checked;
use crate::element::Element;
use crate::error::ExecError;
use crate::par::Accum;
use crate::view::{StridedView, StridedViewMut};
use strided::Bases;

pub(crate) use einsum_plan::fit::Loop as Dim;

/// Around each step, for profiling.
pub(crate) enum Event {
    /// A step starts (the observer may stop the run here, before it).
    Start,
    /// It copied this many elements into or out of a buffer.
    Copied(usize),
    /// It ended.
    End,
    /// A point between waves of slices run at once, where no step runs on
    /// the calling thread: the observer may stop the run here.
    Check,
}

/// Runs a checked program: the one entry into the kernels.
///
/// It first makes sure the arrays are those the program was checked for
/// (shapes, strides, buffer lengths, a GEMM kernel for `T` where a step
/// needs one); every pointer the kernels then follow is at an offset
/// [`Checked::new`] proved inside its tensor.
pub(crate) fn execute<T: Element>(
    program: &Checked,
    inputs: &[StridedView<'_, T>],
    out: &mut StridedViewMut<'_, T>,
    buffers: &mut [Vec<T>],
    accum: Accum,
    threads: usize,
    mut observe: impl FnMut(Event) -> Result<(), ExecError>,
) -> Result<(), ExecError> {
    let fitted = program.fitted();
    if inputs.len() != program.input_shapes().len() {
        return Err(ExecError::OperandCountMismatch {
            expected: program.input_shapes().len(),
            got: inputs.len(),
        });
    }
    for (k, (view, shape)) in inputs.iter().zip(program.input_shapes()).enumerate() {
        if view.shape() != shape.as_slice() {
            return Err(ExecError::OperandShapeMismatch {
                operand: k,
                expected: shape.clone(),
                got: view.shape().to_vec(),
            });
        }
    }
    if out.shape() != program.out_shape() {
        return Err(ExecError::OutputShapeMismatch {
            expected: program.out_shape().to_vec(),
            got: out.shape().to_vec(),
        });
    }
    let strides_fit = out.strides() == fitted.out_strides()
        && inputs
            .iter()
            .zip(fitted.input_strides())
            .all(|(view, strides)| view.strides() == strides.as_slice());
    if !strides_fit {
        return Err(ExecError::StridesMismatch);
    }
    let gemm_kernel = T::gemm_kernel();
    if program.uses_gemm() && gemm_kernel.is_none() {
        return Err(ExecError::ElementMismatch { element: T::NAME });
    }
    let short = buffers.len() < fitted.buffers().len()
        || buffers
            .iter()
            .zip(fitted.buffers())
            .any(|(buffer, &len)| buffer.len() < len);
    if short {
        return Err(ExecError::WorkspaceTooSmall);
    }
    let out_ptr = out.ptr();
    let buffer_ptrs: smallvec::SmallVec<[*mut T; 8]> =
        buffers.iter_mut().map(|b| b.as_mut_ptr()).collect();
    let source = |s: Source| -> *const T {
        match s {
            Source::Operand(k) => inputs[k].ptr(),
            Source::Buffer(b) => buffer_ptrs[b.0].cast_const(),
        }
    };
    for step in fitted.steps() {
        let a = source(step.inputs[0]);
        let b = step.inputs.get(1).map(|&s| source(s));
        let (dst, accum) = match step.output {
            Dest::Output => (out_ptr, accum),
            Dest::Buffer(id) => (buffer_ptrs[id.0], Accum::Replace),
        };
        let bases = Bases { a, b, out: dst };
        observe(Event::Start)?;
        match &step.lowered {
            // SAFETY: `Checked::new` proved every offset these loops reach
            // from each base inside its tensor (operands and the output
            // through the shapes and strides verified above, buffers
            // through the lengths verified above), and that distinct result
            // indices are distinct elements; the output is an exclusive
            // view, and no step writes a buffer it reads.
            Lowered::Loops(loops) => unsafe { strided::run(loops, bases, accum, threads) },
            Lowered::Gemm(g) => {
                let Some(kernel) = gemm_kernel else {
                    return Err(ExecError::ElementMismatch { element: T::NAME });
                };
                let mut gemm_bases = bases;
                let mut result_copy = None;
                for repack in &g.repacks {
                    let buffer = buffer_ptrs[repack.buffer.0];
                    match repack.tensor {
                        Tensor::Left | Tensor::Right => {
                            let copy = Bases {
                                a: if repack.tensor == Tensor::Left {
                                    a
                                } else {
                                    b.unwrap_or(a)
                                },
                                b: None,
                                out: buffer,
                            };
                            // SAFETY: as above: the copy's reads were
                            // checked against its tensor, its writes against
                            // its buffer, which nothing else in this step
                            // uses.
                            unsafe { strided::run(&repack.loops, copy, Accum::Replace, threads) };
                            observe(Event::Copied(repack.loops.points()))?;
                            if repack.tensor == Tensor::Left {
                                gemm_bases.a = buffer.cast_const();
                            } else {
                                gemm_bases.b = Some(buffer.cast_const());
                            }
                        }
                        Tensor::Result => {
                            gemm_bases.out = buffer;
                            result_copy = Some((&repack.loops, buffer));
                        }
                    }
                }
                let gemm_accum = if result_copy.is_some() {
                    Accum::Replace
                } else {
                    accum
                };
                // SAFETY: as above: `Checked::new` checked the GEMM's reads
                // of each input (or its buffer) along m, k and n, and its
                // writes to the result (or its buffer).
                unsafe { gemm::run(g, gemm_bases, gemm_accum, threads, kernel) };
                if let Some((loops, buffer)) = result_copy {
                    observe(Event::Copied(loops.points()))?;
                    let copy = Bases {
                        a: buffer.cast_const(),
                        b: None,
                        out: dst,
                    };
                    // SAFETY: as above, for the copy out of the buffer.
                    unsafe { strided::run(loops, copy, accum, threads) };
                }
            }
        }
        observe(Event::End)?;
    }
    Ok(())
}

/// `out += partial`, element by element: a partial sum of a sliced run
/// added into the result.
///
/// # Panics
/// If the shapes differ.
pub(crate) fn add_into<T: Element>(out: &mut StridedViewMut<'_, T>, partial: &StridedView<'_, T>) {
    assert_eq!(
        out.shape(),
        partial.shape(),
        "a partial sum has the result's shape"
    );
    let dims: smallvec::SmallVec<[Dim; 8]> = out
        .shape()
        .iter()
        .zip(out.strides())
        .zip(partial.strides())
        .map(|((&extent, &o), &p)| Dim {
            extent,
            a: p,
            b: 0,
            out: o,
            ..Dim::ONE
        })
        .collect();
    let (src, dst) = (partial.ptr(), out.ptr());
    for_each_offset(&dims, |p, _, o| {
        // SAFETY: both views were checked when made (or are windows of
        // checked views): every index of their common shape lands in
        // their data, and `for_each_offset` visits exactly those indices'
        // offsets. `out` is exclusive and unaliased, and `partial` is
        // another allocation (a sum buffer), so the read and the write
        // never meet.
        unsafe {
            let at = dst.offset(o);
            *at = (*at).add(*src.offset(p));
        }
    });
}

/// A pointer that may cross to rayon's threads.
///
/// Threads either only read through it, or write through it to disjoint
/// elements (each task owns a distinct range of the result's outermost
/// dimension).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shared<P>(pub P);

// SAFETY: `Shared` is used only as documented above: shared reads of inputs
// that nothing writes during a step, and writes to disjoint output elements.
unsafe impl<P> Send for Shared<P> {}
// SAFETY: as above.
unsafe impl<P> Sync for Shared<P> {}

impl<P: Copy> Shared<P> {
    /// The pointer(s). A method, so closures capture the whole `Shared`
    /// (closures capture disjoint fields, which would capture the raw
    /// pointer itself).
    pub(crate) fn get(&self) -> P {
        self.0
    }
}

/// Calls `f(a, b, out)` with the element offsets of every index of `dims`
/// (outermost first), in order. Nothing when some extent is 0.
pub(crate) fn for_each_offset(dims: &[Dim], mut f: impl FnMut(isize, isize, isize)) {
    if dims.iter().any(|d| d.extent == 0) {
        return;
    }
    let mut index: smallvec::SmallVec<[usize; 8]> = smallvec::smallvec![0; dims.len()];
    let (mut a, mut b, mut out) = (0isize, 0isize, 0isize);
    loop {
        f(a, b, out);
        let mut k = dims.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            let d = dims[k];
            index[k] += 1;
            a = a.wrapping_add(d.a);
            b = b.wrapping_add(d.b);
            out = out.wrapping_add(d.out);
            if index[k] < d.extent {
                break;
            }
            let back = d.extent as isize;
            a = a.wrapping_sub(d.a.wrapping_mul(back));
            b = b.wrapping_sub(d.b.wrapping_mul(back));
            out = out.wrapping_sub(d.out.wrapping_mul(back));
            index[k] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_walk_in_c_order() {
        let dims = [
            Dim {
                extent: 2,
                a: 3,
                b: 0,
                out: 10,
                ..Dim::ONE
            },
            Dim {
                extent: 3,
                a: 1,
                b: 5,
                out: 1,
                ..Dim::ONE
            },
        ];
        let mut seen = Vec::new();
        for_each_offset(&dims, |a, b, o| seen.push((a, b, o)));
        assert_eq!(
            seen,
            [
                (0, 0, 0),
                (1, 5, 1),
                (2, 10, 2),
                (3, 0, 10),
                (4, 5, 11),
                (5, 10, 12)
            ]
        );
        let mut count = 0;
        for_each_offset(&[], |_, _, _| count += 1);
        assert_eq!(count, 1);
        for_each_offset(
            &[Dim {
                extent: 0,
                a: 1,
                b: 1,
                out: 1,
                ..Dim::ONE
            }],
            |_, _, _| count += 1,
        );
        assert_eq!(count, 1);
    }
}
