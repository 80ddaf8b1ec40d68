//! Binding: an expression plus one shape per operand → a bound problem.

use einsum_syntax::{Expr, LabelSeq, Span, is_label};

use crate::axis::{Axis, AxisId, AxisOrigin};
use crate::error::{PlanError, PlanErrorKind};

/// An expression bound to its operands' shapes: every axis has a size, every
/// operand dimension names an axis, the output is a list of axes.
///
/// Binding follows numpy: `...` expands to right-aligned broadcast
/// dimensions; a dimension of size 1 broadcasts against any size of the same
/// label in other operands; a label repeated within one operand (a diagonal)
/// needs equal sizes there; an explicit output without `...` rejects broadcast
/// dimensions; an implicit output puts them first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    expr: Expr,
    axes: Vec<Axis>,
    operands: Vec<Vec<Dim>>,
    output: Vec<AxisId>,
}

/// One dimension of an operand as bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dim {
    /// The axis it indexes.
    pub axis: AxisId,
    /// The operand's own extent: the axis size, or 1 where the operand
    /// broadcasts along the axis.
    pub extent: usize,
}

impl Dim {
    /// Whether the operand is constant along this axis (extent 1 against a
    /// larger axis): the executor gives it stride 0, the planner drops it.
    pub fn broadcasts(&self, axes: &[Axis]) -> bool {
        self.extent != axes[self.axis.index()].size
    }
}

/// Binds `expr` to one shape per operand.
///
/// ```
/// let expr = einsum_syntax::parse("...ij,jk->...ik").unwrap().lower();
/// let bound = einsum_plan::bind(&expr, &[&[5, 2, 3][..], &[3, 4]]).unwrap();
/// assert_eq!(bound.output_shape(), vec![5, 2, 4]);
///
/// let err = einsum_plan::bind(&expr, &[&[2, 3][..], &[4, 4]]).unwrap_err();
/// assert_eq!(err.to_string(), "\
/// error: label 'j' has size 3 in operand 0 but size 4 in operand 1
///   ...ij,jk->...ik
///       ^ ^");
/// ```
pub fn bind<S: AsRef<[usize]>>(expr: &Expr, shapes: &[S]) -> Result<Bound, PlanError> {
    let text = expr.text();
    let fail = |kind, spans| Err(PlanError::new(kind, text, spans));
    let terms = expr.inputs();
    if terms.len() != shapes.len() {
        let span = if shapes.len() > terms.len() {
            Span::empty(terms.last().map_or(0, |t| t.span().end))
        } else {
            terms[shapes.len()].span()
        };
        return fail(
            PlanErrorKind::OperandCountMismatch {
                terms: terms.len(),
                operands: shapes.len(),
            },
            vec![span],
        );
    }

    // Ranks, and how many dimensions each `...` stands for.
    let mut broadcast_dims = Vec::with_capacity(terms.len());
    for (k, (term, shape)) in terms.iter().zip(shapes).enumerate() {
        let rank = shape.as_ref().len();
        let fits = match term.ellipsis() {
            Some(_) => rank >= term.len(),
            None => rank == term.len(),
        };
        if !fits {
            return fail(
                PlanErrorKind::RankMismatch {
                    operand: k,
                    rank,
                    labels: term.len(),
                    ellipsis: term.ellipsis().is_some(),
                },
                vec![term_span(term, text)],
            );
        }
        broadcast_dims.push(rank - term.len());
    }
    let nbroadcast = broadcast_dims.iter().copied().max().unwrap_or(0);

    // Sizes of the broadcast axes, right-aligned across operands.
    let mut bsizes = vec![1usize; nbroadcast];
    let mut bsource: Vec<Option<usize>> = vec![None; nbroadcast];
    for (k, (term, shape)) in terms.iter().zip(shapes).enumerate() {
        let Some(ellipsis) = term.ellipsis() else {
            continue;
        };
        let shape = shape.as_ref();
        let own = &shape[ellipsis.position..ellipsis.position + broadcast_dims[k]];
        for (j, &extent) in own.iter().enumerate() {
            let slot = nbroadcast - own.len() + j;
            if extent == bsizes[slot] || extent == 1 {
                continue;
            }
            if bsizes[slot] == 1 {
                bsizes[slot] = extent;
                bsource[slot] = Some(k);
                continue;
            }
            let first = bsource[slot].unwrap_or(k);
            return fail(
                PlanErrorKind::BroadcastMismatch {
                    shape: broadcast_shape(
                        &terms[first],
                        shapes[first].as_ref(),
                        broadcast_dims[first],
                    ),
                    operand: first,
                    other_shape: own.to_vec(),
                    other_operand: k,
                },
                vec![
                    terms[first].ellipsis().map_or(Span::empty(0), |e| e.span),
                    ellipsis.span,
                ],
            );
        }
    }

    // Sizes of the labelled axes: equal within an operand, equal or 1 across.
    let nlabels = expr.labels().len();
    let mut sizes = vec![1usize; nlabels];
    let mut source: Vec<Option<(usize, Span)>> = vec![None; nlabels];
    for (k, (term, shape)) in terms.iter().zip(shapes).enumerate() {
        let shape = shape.as_ref();
        for (i, (&id, &span)) in term.ids().iter().zip(term.spans()).enumerate() {
            let extent = shape[label_dim(term, i, broadcast_dims[k])];
            // A diagonal: every repeat of the label in this term has the same extent.
            if let Some(first) = term.ids()[..i].iter().position(|&other| other == id) {
                let first_extent = shape[label_dim(term, first, broadcast_dims[k])];
                if first_extent != extent {
                    return fail(
                        PlanErrorKind::DiagonalMismatch {
                            label: expr.label(id),
                            operand: k,
                            size: first_extent,
                            other_size: extent,
                        },
                        vec![term.spans()[first], span],
                    );
                }
                continue;
            }
            let size = &mut sizes[id.index()];
            if extent == *size || extent == 1 {
                if source[id.index()].is_none() {
                    source[id.index()] = Some((k, span));
                }
                continue;
            }
            match source[id.index()] {
                Some((first, first_span)) if *size != 1 => {
                    return fail(
                        PlanErrorKind::DimensionMismatch {
                            label: expr.label(id),
                            size: *size,
                            operand: first,
                            other_size: extent,
                            other_operand: k,
                        },
                        vec![first_span, span],
                    );
                }
                _ => {
                    *size = extent;
                    source[id.index()] = Some((k, span));
                }
            }
        }
    }

    // The output: explicit `...` places the broadcast axes; implicit puts them first.
    let output_seq = expr.output();
    if nbroadcast > 0 && output_seq.ellipsis().is_none() {
        let k = broadcast_dims
            .iter()
            .position(|&n| n == nbroadcast)
            .unwrap_or(0);
        return fail(
            PlanErrorKind::OutputEllipsisMissing {
                operand: k,
                dims: nbroadcast,
            },
            vec![
                term_span(output_seq, text),
                terms[k].ellipsis().map_or(Span::empty(0), |e| e.span),
            ],
        );
    }

    let mut axes: Vec<Axis> = expr
        .labels()
        .iter()
        .zip(&sizes)
        .enumerate()
        .map(|(i, (&name, &size))| Axis {
            name,
            size,
            origin: AxisOrigin::Label(einsum_syntax::LabelId::new(i)),
        })
        .collect();
    let mut fresh = fresh_names(expr.labels());
    for (j, &size) in bsizes.iter().enumerate() {
        axes.push(Axis {
            name: fresh.next().unwrap_or('?'),
            size,
            origin: AxisOrigin::Broadcast(j),
        });
    }
    let broadcast_axis = |j: usize| AxisId::new(nlabels + j);
    let label_axis = |id: einsum_syntax::LabelId| AxisId::new(id.index());

    let operands: Vec<Vec<Dim>> = terms
        .iter()
        .zip(shapes)
        .zip(&broadcast_dims)
        .map(|((term, shape), &nb)| {
            let shape = shape.as_ref();
            let axes_of = expand(term, nb, nbroadcast, label_axis, broadcast_axis);
            axes_of
                .into_iter()
                .zip(shape)
                .map(|(axis, &extent)| Dim { axis, extent })
                .collect()
        })
        .collect();
    let output = expand(
        output_seq,
        nbroadcast,
        nbroadcast,
        label_axis,
        broadcast_axis,
    );

    let bound = Bound {
        expr: expr.clone(),
        axes,
        operands,
        output,
    };
    let out_shape = bound.output_shape();
    if checked_product(&out_shape).is_none() {
        return fail(
            PlanErrorKind::SizeOverflow {
                what: "output",
                dims: out_shape,
            },
            vec![term_span(output_seq, text)],
        );
    }
    Ok(bound)
}

/// The product of `dims`, or `None` when it overflows `usize`.
pub fn checked_product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Index of label `i` of `term` among the operand's dimensions.
fn label_dim(term: &LabelSeq, i: usize, nbroadcast: usize) -> usize {
    match term.ellipsis() {
        Some(e) if i >= e.position => i + nbroadcast,
        _ => i,
    }
}

/// The axes of a term's dimensions, with `...` standing for the last `own` of
/// the `total` broadcast axes.
fn expand(
    term: &LabelSeq,
    own: usize,
    total: usize,
    label_axis: impl Fn(einsum_syntax::LabelId) -> AxisId,
    broadcast_axis: impl Fn(usize) -> AxisId,
) -> Vec<AxisId> {
    let mut axes = Vec::with_capacity(term.len() + own);
    let at = term.ellipsis().map_or(term.len(), |e| e.position);
    axes.extend(term.ids()[..at].iter().map(|&id| label_axis(id)));
    if term.ellipsis().is_some() {
        axes.extend((total - own..total).map(&broadcast_axis));
    }
    axes.extend(term.ids()[at..].iter().map(|&id| label_axis(id)));
    axes
}

fn broadcast_shape(term: &LabelSeq, shape: &[usize], nb: usize) -> Vec<usize> {
    term.ellipsis()
        .map(|e| shape[e.position..e.position + nb].to_vec())
        .unwrap_or_default()
}

/// A term's span, or an empty span where the term is empty.
fn term_span(term: &LabelSeq, _text: &str) -> Span {
    term.span()
}

/// Letters the expression does not use, for naming broadcast axes in printed
/// plans: `A`-`Z`, `a`-`z`, then Greek capitals and beyond.
fn fresh_names(used: &[char]) -> impl Iterator<Item = char> + '_ {
    ('A'..='Z')
        .chain('a'..='z')
        .chain('\u{391}'..='\u{3A9}')
        .chain('\u{4E00}'..='\u{9FFF}')
        .filter(|&c| is_label(c) && !used.contains(&c))
}

impl Bound {
    /// The expression this problem was bound from.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Every axis, indexed by [`AxisId::index`].
    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    /// One axis.
    ///
    /// # Panics
    /// If `id` is not from this problem.
    #[track_caller]
    pub fn axis(&self, id: AxisId) -> &Axis {
        &self.axes[id.index()]
    }

    /// Each operand's dimensions, in order.
    pub fn operands(&self) -> &[Vec<Dim>] {
        &self.operands
    }

    /// The output's axes, in order.
    pub fn output(&self) -> &[AxisId] {
        &self.output
    }

    /// The output's shape.
    pub fn output_shape(&self) -> Vec<usize> {
        self.output
            .iter()
            .map(|&a| self.axes[a.index()].size)
            .collect()
    }

    /// The problem one slice computes when each of the `sliced` axes is
    /// fixed to a run of `chunks` indices: those axes have that size, and so
    /// has every dimension over them (the operands' and the output's) but a
    /// broadcast one.
    pub(crate) fn sliced(&self, sliced: &[AxisId], chunks: &[usize]) -> Bound {
        let mut bound = self.clone();
        for (&a, &c) in sliced.iter().zip(chunks) {
            bound.axes[a.index()].size = c;
        }
        for dims in &mut bound.operands {
            for d in dims.iter_mut() {
                // A broadcast dimension (extent 1) stays as it is.
                if let Some(i) = sliced.iter().position(|&a| a == d.axis)
                    && d.extent > 1
                {
                    d.extent = chunks[i];
                }
            }
        }
        bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(text: &str) -> Expr {
        einsum_syntax::parse(text).unwrap().lower()
    }

    fn kind(text: &str, shapes: &[&[usize]]) -> PlanErrorKind {
        bind(&expr(text), shapes).unwrap_err().kind().clone()
    }

    fn out_shape(text: &str, shapes: &[&[usize]]) -> Vec<usize> {
        bind(&expr(text), shapes)
            .unwrap_or_else(|e| panic!("{e}"))
            .output_shape()
    }

    #[test]
    fn binds_like_numpy() {
        assert_eq!(out_shape("ij,jk->ik", &[&[2, 3], &[3, 4]]), [2, 4]);
        assert_eq!(out_shape("ii,i->i", &[&[1, 1], &[3]]), [3]);
        assert_eq!(out_shape("ij,j->ij", &[&[2, 1], &[3]]), [2, 3]);
        assert_eq!(out_shape("i,i->", &[&[0], &[1]]), [0usize; 0]);
        assert_eq!(out_shape("...i,...i->...", &[&[2, 3], &[1, 3]]), [2]);
        assert_eq!(out_shape("...i,...i", &[&[5, 2, 3], &[2, 3]]), [5, 2]);
        assert_eq!(out_shape("...ij->ij", &[&[2, 2]]), [2, 2]);
        assert_eq!(out_shape("...->...", &[&[]]), [0usize; 0]);
        assert_eq!(out_shape("i...->...", &[&[2]]), [0usize; 0]);
        assert_eq!(out_shape("ii->i", &[&[0, 0]]), [0]);
        assert_eq!(out_shape("ij,ij->ij", &[&[1, 3], &[2, 1]]), [2, 3]);
        assert_eq!(
            out_shape("a...b,...->...", &[&[2, 3, 4, 5], &[3, 4]]),
            [3, 4]
        );
        assert_eq!(out_shape("...ii->...i", &[&[2, 3, 3]]), [2, 3]);
        assert_eq!(
            out_shape("i...j,j...k", &[&[2, 7, 3], &[3, 5, 7, 4]]),
            [5, 7, 2, 4]
        );
    }

    #[test]
    fn rejects_like_numpy() {
        use PlanErrorKind::*;
        assert!(matches!(
            kind("i,i->", &[&[0], &[3]]),
            DimensionMismatch {
                label: 'i',
                size: 0,
                other_size: 3,
                ..
            }
        ));
        assert!(matches!(
            kind("...i,...i->...", &[&[2, 3], &[4, 3]]),
            BroadcastMismatch { .. }
        ));
        assert!(matches!(
            kind("i...,i...->i", &[&[2, 3], &[2, 3]]),
            OutputEllipsisMissing { dims: 1, .. }
        ));
        assert!(matches!(
            kind("ij", &[&[2]]),
            RankMismatch {
                rank: 1,
                labels: 2,
                ellipsis: false,
                ..
            }
        ));
        assert!(matches!(
            kind("i", &[&[2, 3]]),
            RankMismatch {
                rank: 2,
                labels: 1,
                ..
            }
        ));
        assert!(matches!(
            kind("...ij", &[&[2]]),
            RankMismatch { ellipsis: true, .. }
        ));
        assert!(matches!(
            kind("ij,jk", &[&[2, 3]]),
            OperandCountMismatch {
                terms: 2,
                operands: 1
            }
        ));
        assert!(matches!(
            kind("ij", &[&[2, 3], &[3]]),
            OperandCountMismatch {
                terms: 1,
                operands: 2
            }
        ));
        assert!(matches!(kind("->", &[&[2]]), RankMismatch { .. }));
        assert!(matches!(
            kind("ii", &[&[2, 3]]),
            DiagonalMismatch {
                label: 'i',
                size: 2,
                other_size: 3,
                ..
            }
        ));
        assert!(matches!(
            kind("...,...->...", &[&[2], &[3]]),
            BroadcastMismatch { .. }
        ));
        assert!(matches!(
            kind("ij->ij", &[&[usize::MAX / 2, 3]]),
            SizeOverflow { what: "output", .. }
        ));
    }

    #[test]
    fn broadcast_axes_get_unused_names_and_go_where_the_output_says() {
        let bound = bind(&expr("A...,...->..."), &[&[2, 3, 4][..], &[3, 4]]).unwrap();
        let names: String = bound.output().iter().map(|&a| bound.axis(a).name).collect();
        assert_eq!(names, "BC");
        let implicit = bind(&expr("...i,i"), &[&[5, 2][..], &[2]]).unwrap();
        assert_eq!(implicit.output_shape(), [5]);
    }

    #[test]
    fn size_one_dims_are_marked_as_broadcasting() {
        let bound = bind(&expr("ij,j->ij"), &[&[2, 1][..], &[3]]).unwrap();
        let dims = &bound.operands()[0];
        assert!(!dims[0].broadcasts(bound.axes()) && dims[1].broadcasts(bound.axes()));
    }

    #[test]
    fn errors_point_at_both_labels() {
        let err = bind(&expr("ij,jk->ik"), &[&[2, 3][..], &[4, 5]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "error: label 'j' has size 3 in operand 0 but size 4 in operand 1\n  ij,jk->ik\n   ^ ^"
        );
    }
}
