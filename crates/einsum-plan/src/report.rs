//! The plan as plain data, for scripts: what `Display` shows, as fields.

use std::fmt;

use crate::count::Count;
use crate::fit::{self, Fitted, Lowered};
use crate::kernel::Kernel;
use crate::plan::{self, Dest, Plan, Slices};

/// A plan's report as data: the same figures as `Display`, one field each.
/// With the `serde` feature it serializes (to JSON, say) with these names.
///
/// FLOP and element counts are exact integers of any size ([`Count`]):
/// they can exceed 128 bits on large networks, and serialize as exact
/// numbers all the same.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PlanReport {
    /// The expression, explicit output, canonical text.
    pub subscripts: String,
    /// One shape per operand.
    pub shapes: Vec<Vec<usize>>,
    /// The result's shape.
    pub output_shape: Vec<usize>,
    /// The optimizer asked for, and what `auto` chose.
    pub optimizer: String,
    /// The order in numpy's linear format.
    pub path: Vec<(usize, usize)>,
    /// FLOPs of evaluating the einsum in one go (numpy's convention).
    pub naive_flops: Count,
    /// FLOPs of the plan's steps.
    pub optimized_flops: Count,
    /// `naive_flops / optimized_flops` (1 when both are 0).
    pub speedup: f64,
    /// numpy's largest intermediate: elements of the largest step result,
    /// the output included.
    pub largest_intermediate: Count,
    /// Elements of the largest temporary (the output not included).
    pub largest_temporary: Count,
    /// Elements of the workspace a run allocates: every buffer's length
    /// summed (temporaries share buffers once dead; copies have their own).
    pub workspace_elements: Count,
    /// Each workspace buffer's length, by buffer number (`b0`, `b1`, ...).
    pub buffers: Vec<usize>,
    /// Elements all steps read and write (times the element size: bytes
    /// moved).
    pub moved_elements: Count,
    /// How the plan is sliced (`None` when it is not): then the steps, the
    /// largest intermediate and temporary and the workspace are one
    /// slice's, and `optimized_flops` and `moved_elements` all slices'.
    pub slicing: Option<SlicingReport>,
    /// How the plan is cut into blocks for the cache ([`Plan::blocks`];
    /// `None` when it is not): then, as for slicing, the steps and the
    /// largest intermediate and temporary are one block's.
    pub blocks: Option<SlicingReport>,
    /// The steps, in execution order.
    pub steps: Vec<StepReport>,
}

/// How a plan is sliced, in a [`PlanReport`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SlicingReport {
    /// The sliced axes' names, in the plan's axis names.
    pub axes: Vec<String>,
    /// Their sizes.
    pub sizes: Vec<usize>,
    /// How many consecutive indices of each one slice takes (1: one index
    /// per slice).
    pub chunks: Vec<usize>,
    /// Which of them the output holds (stacked, not summed).
    pub stacked: Vec<bool>,
    /// How many slices.
    pub slices: Count,
    /// FLOPs of one slice.
    pub flops_per_slice: Count,
    /// FLOPs of the cheapest order found with no limit.
    pub unsliced_flops: Count,
    /// `optimized_flops / unsliced_flops`.
    pub overhead: f64,
}

/// One step of a [`PlanReport`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StepReport {
    /// The step's own einsum, in the plan's axis names.
    pub subscripts: String,
    /// The kernel, as `Display` prints it (`gemm m=1000 n=10 k=1000`).
    pub kernel: String,
    /// The kernel's kind: `copy`, `sum`, `elementwise`, `outer`, `dot`,
    /// `gemv` or `gemm`.
    pub kind: &'static str,
    /// Its FLOPs.
    pub flops: Count,
    /// Elements it reads and writes.
    pub moved_elements: Count,
    /// What it reads: `operand 0`, `t1`.
    pub inputs: Vec<String>,
    /// What it writes: `t0` or `out`.
    pub output: String,
    /// The shape it writes.
    pub output_shape: Vec<usize>,
    /// The workspace buffer it writes, if not the output.
    pub buffer: Option<usize>,
    /// What runs it: `gemm` or `loops`.
    pub runs_on: &'static str,
    /// How it runs, as `Display` prints it (`gemm m=64 n=64 k=64, 1 call`).
    pub runs_as: String,
    /// Copies it makes so that every GEMM role is one stride.
    pub copies: Vec<CopyReport>,
}

/// One copy a GEMM step makes, in a [`StepReport`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CopyReport {
    /// `left input`, `right input` or `result`.
    pub tensor: String,
    /// Elements copied.
    pub elements: usize,
    /// The workspace buffer it uses.
    pub buffer: usize,
    /// The role groups that are not one stride in the tensor as it is
    /// (`K`, `M, N`).
    pub because: String,
    /// As `Display` prints it.
    pub text: String,
}

fn source_name(source: plan::Source) -> String {
    match source {
        plan::Source::Operand(k) => k.to_string(),
        plan::Source::Temp(t) => t.to_string(),
    }
}

fn dest_name(dest: plan::Dest) -> String {
    match dest {
        plan::Dest::Temp(t) => t.to_string(),
        plan::Dest::Output => "out".to_owned(),
    }
}

fn kind(kernel: &Kernel) -> &'static str {
    match kernel {
        Kernel::Copy { .. } => "copy",
        Kernel::Reduce { .. } => "sum",
        Kernel::Elementwise { .. } => "elementwise",
        Kernel::Outer { .. } => "outer",
        Kernel::Dot { .. } => "dot",
        Kernel::Gemv { .. } => "gemv",
        Kernel::Gemm { .. } => "gemm",
    }
}

impl Plan {
    /// The report as data (see [`PlanReport`]), for operands and an output
    /// in C order (the plan's own fit, [`Plan::c_order`]).
    ///
    /// ```
    /// let expr = einsum_syntax::parse("ij,jk->ik").unwrap().lower();
    /// let bound = einsum_plan::bind(&expr, &[&[2, 3][..], &[3, 4]])?;
    /// let report = einsum_plan::plan(&bound, &Default::default())?.report();
    /// assert_eq!(report.steps[0].kernel, "gemm m=2 n=4 k=3");
    /// assert_eq!(report.optimized_flops, 48);
    /// # Ok::<(), einsum_plan::PlanError>(())
    /// ```
    pub fn report(&self) -> PlanReport {
        self.report_fitted(self.c_order())
    }

    /// The report as data for `fitted`, a fit of this plan to some arrays.
    pub fn report_fitted(&self, fitted: &Fitted) -> PlanReport {
        let bound = self.bound();
        let step_bound = self.step_bound();
        let shape_of = |axes: &[crate::AxisId]| {
            axes.iter()
                .map(|&a| step_bound.axis(a).size)
                .collect::<Vec<_>>()
        };
        let counts = self.counts(fitted);
        let steps = self
            .steps()
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let fit = &fitted.steps()[i];
                let copies = match &fit.lowered {
                    Lowered::Gemm(g) => g
                        .repacks
                        .iter()
                        .map(|r| CopyReport {
                            tensor: r.tensor.to_string(),
                            elements: r.elements,
                            buffer: r.buffer.0,
                            because: fit::roles_text(&r.because),
                            text: r.to_string(),
                        })
                        .collect(),
                    Lowered::Loops(_) => Vec::new(),
                };
                StepReport {
                    subscripts: self.step_subscripts(step),
                    kernel: step.kernel.to_string(),
                    kind: kind(&step.kernel),
                    flops: counts.step_flops[i].clone(),
                    moved_elements: counts.step_moved[i].clone(),
                    inputs: step.args.iter().map(|a| source_name(a.source)).collect(),
                    output: dest_name(step.out),
                    output_shape: shape_of(&step.out_axes),
                    buffer: match fit.output {
                        fit::Dest::Buffer(b) => Some(b.0),
                        fit::Dest::Output => None,
                    },
                    runs_on: match fit.lowered {
                        Lowered::Gemm(_) => "gemm",
                        Lowered::Loops(_) => "loops",
                    },
                    runs_as: fit.lowered.to_string(),
                    copies,
                }
            })
            .collect();
        let speedup = self.speedup();
        let per_slice_flops: Count = counts.step_flops.iter().cloned().sum();
        let cut = |s: &Slices| self.cut_report(s, per_slice_flops.clone());
        PlanReport {
            subscripts: bound.expr().to_string(),
            shapes: bound
                .operands()
                .iter()
                .map(|dims| dims.iter().map(|d| d.extent).collect())
                .collect(),
            output_shape: self.output_shape(),
            optimizer: self.optimizer_name(),
            path: self.path().0.clone(),
            naive_flops: counts.naive_flops.clone(),
            optimized_flops: counts.optimized_flops.clone(),
            // JSON has no infinity: a ratio past f64 reads as its largest.
            speedup: speedup.min(f64::MAX),
            largest_intermediate: counts.largest_intermediate.clone(),
            largest_temporary: counts.largest_temporary.clone(),
            workspace_elements: counts.workspace.clone(),
            buffers: fitted.buffers().to_vec(),
            moved_elements: counts.moved,
            slicing: self.slices().map(cut),
            blocks: self.blocks().map(cut),
            steps,
        }
    }

    /// How the plan is sliced, in one line (`None` when it is not): the
    /// sliced axes with their sizes (and chunks of several indices), the
    /// number of slices and the overhead,
    /// `j (64), k (32 in chunks of 4, stacked): 512 slices, overhead 1.234x`.
    pub fn slicing_summary(&self) -> Option<String> {
        let s = self.slices()?;
        Some(format!(
            "{}: {} slices, overhead {:.3}x",
            self.cut_axes(s),
            s.count_exact(),
            self.slicing_overhead()
        ))
    }

    /// How the plan is cut into blocks for the cache, in one line (`None`
    /// when it is not): `i (2048 in chunks of 8): 256 blocks, temporaries
    /// of at most 16384 elements kept in cache`.
    pub fn blocks_summary(&self) -> Option<String> {
        let s = self.blocks()?;
        Some(format!(
            "{}: {} blocks, temporaries of at most {} elements kept in cache",
            self.cut_axes(s),
            s.count_exact(),
            s.limit()
        ))
    }

    /// The axes of slices or blocks, with their sizes, chunks and whether
    /// they are stacked.
    fn cut_axes(&self, s: &Slices) -> String {
        let axes: Vec<String> = s
            .axes()
            .iter()
            .zip(s.chunks())
            .map(|(&a, &chunk)| {
                let axis = self.bound.axis(a);
                let chunk = if chunk > 1 {
                    format!(" in chunks of {chunk}")
                } else {
                    String::new()
                };
                let stacked = if self.bound.output().contains(&a) {
                    ", stacked"
                } else {
                    ""
                };
                format!("{} ({}{chunk}{stacked})", axis.name, axis.size)
            })
            .collect();
        axes.join(", ")
    }
}

impl Plan {
    /// The report of slices or blocks `s` of this plan.
    fn cut_report(&self, s: &Slices, per_slice_flops: Count) -> SlicingReport {
        let bound = &self.bound;
        SlicingReport {
            axes: s
                .axes()
                .iter()
                .map(|&a| bound.axis(a).name.to_string())
                .collect(),
            sizes: s.axes().iter().map(|&a| bound.axis(a).size).collect(),
            chunks: s.chunks().to_vec(),
            stacked: s
                .axes()
                .iter()
                .map(|a| bound.output().contains(a))
                .collect(),
            slices: s.count_exact().clone(),
            flops_per_slice: per_slice_flops,
            unsliced_flops: s.unsliced_count().clone(),
            overhead: self.slicing_overhead().min(f64::MAX),
        }
    }
}

fn shape_text(shape: &[usize]) -> String {
    if shape.is_empty() {
        "scalar".to_owned()
    } else {
        shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("x")
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_report(f, self.c_order())
    }
}

/// A plan's report for one fit of it: [`Plan::display_fitted`].
pub struct FittedReport<'a> {
    plan: &'a Plan,
    fitted: &'a Fitted,
}

impl fmt::Display for FittedReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.plan.write_report(f, self.fitted)
    }
}

impl Plan {
    /// The report (as `Display` prints it) for `fitted`, a fit of this plan
    /// to some arrays' strides: how each step runs on those arrays.
    pub fn display_fitted<'a>(&'a self, fitted: &'a Fitted) -> FittedReport<'a> {
        FittedReport { plan: self, fitted }
    }

    fn write_report(&self, f: &mut fmt::Formatter<'_>, fitted: &Fitted) -> fmt::Result {
        let bound = &self.bound;
        let shapes: Vec<String> = bound
            .operands()
            .iter()
            .map(|dims| shape_text(&dims.iter().map(|d| d.extent).collect::<Vec<_>>()))
            .collect();
        let (naive_scaling, optimized_scaling) = self.scaling();
        let speedup = self.speedup();
        writeln!(f, "  Complete contraction:  {}", bound.expr())?;
        writeln!(f, "                Shapes:  {}", shapes.join(", "))?;
        writeln!(f, "             Optimizer:  {}", self.optimizer_name())?;
        let per_slice = if let Some(slicing) = self.slicing_summary() {
            writeln!(f, "                Sliced:  {slicing}")?;
            " (per slice)"
        } else if let Some(blocks) = self.blocks_summary() {
            writeln!(f, "               Blocked:  {blocks}")?;
            " (per block)"
        } else {
            ""
        };
        writeln!(f, "         Naive scaling:  {naive_scaling}")?;
        writeln!(f, "     Optimized scaling:  {optimized_scaling}")?;
        writeln!(f, "      Naive FLOP count:  {}", self.naive_flops.sci())?;
        writeln!(f, "  Optimized FLOP count:  {}", self.optimized_flops.sci())?;
        writeln!(f, "   Theoretical speedup:  {speedup:.3}")?;
        let rule = "-".repeat(86);
        writeln!(
            f,
            "  Largest intermediate:  {} elements{per_slice}",
            self.largest_intermediate.sci()
        )?;
        writeln!(
            f,
            "     Largest temporary:  {} elements{per_slice}",
            self.largest_temporary
        )?;
        writeln!(f, "        Elements moved:  {}", self.moved_count().sci())?;
        let buffers = match fitted.buffers().len() {
            0 => String::new(),
            1 => " in 1 buffer".to_owned(),
            n => format!(" in {n} buffers"),
        };
        writeln!(
            f,
            "             Workspace:  {} elements{buffers}{per_slice}",
            fitted.workspace_count()
        )?;
        writeln!(f, "{rule}")?;
        writeln!(
            f,
            "{:>4}  {:<22} {:<38} {:>9}  result",
            "step",
            "subscripts",
            "kernel",
            if per_slice.is_empty() {
                "flops"
            } else {
                "flops/slice"
            }
        )?;
        writeln!(f, "{rule}")?;
        for (i, step) in self.steps.iter().enumerate() {
            let fit = fitted.steps().get(i);
            let result = match (step.out, fit.map(|s| s.output)) {
                (Dest::Temp(t), Some(fit::Dest::Buffer(b))) => {
                    let shape: Vec<usize> = self.temps[t.0]
                        .iter()
                        .map(|&a| self.step_bound().axis(a).size)
                        .collect();
                    format!("{t} {} in {b}", shape_text(&shape))
                }
                _ => format!("out {}", shape_text(&self.step_bound().output_shape())),
            };
            writeln!(
                f,
                "{i:>4}  {:<22} {:<38} {:>9}  {result}",
                self.step_subscripts(step),
                step.kernel.to_string(),
                self.step_flops[i].sci()
            )?;
            let Some(fit) = fit else { continue };
            writeln!(f, "{:>4}  {:<22} runs as {}", "", "", fit.lowered)?;
            if let fit::Lowered::Gemm(gemm) = &fit.lowered {
                for repack in &gemm.repacks {
                    writeln!(f, "{:>4}  {:<22} + {repack}", "", "")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "serde")]
    #[test]
    fn serializes_with_the_documented_keys() {
        let expr = einsum_syntax::parse("ij,jk,kl->il").unwrap().lower();
        let bound = crate::bind(&expr, &[&[2, 30][..], &[30, 4], &[4, 50]]).unwrap();
        let report = crate::plan(&bound, &Default::default()).unwrap().report();
        let json = serde_json::to_value(&report).unwrap();
        for key in [
            "subscripts",
            "output_shape",
            "naive_flops",
            "optimized_flops",
            "largest_intermediate",
            "steps",
        ] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        let step = &json["steps"][0];
        for key in ["subscripts", "kernel", "flops", "output_shape"] {
            assert!(step.get(key).is_some(), "step {key} missing from {step}");
        }
        assert_eq!(json["optimized_flops"], 1280);
        assert_eq!(json["output_shape"], serde_json::json!([2, 50]));
    }
}
