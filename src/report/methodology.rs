//! The report's methodology and provenance sections.

use super::*;

/// How every number was made: metric definitions, attribution, windows and tests.
pub(super) fn methodology(a: &Analysis) -> Result<String> {
    let mut md = String::new();
    // Methodology.
    let _ = writeln!(md, "## Methodology\n");
    let defs: Vec<Vec<String>> = a
        .queries
        .iter()
        .map(|q| {
            vec![
                format!("`{}`", q.names().collect::<Vec<_>>().join("`, `")),
                escape(&q.definition),
                escape(&q.unit),
                match q.better {
                    Better::Lower => "lower".into(),
                    Better::Higher => "higher".into(),
                    Better::None => "–".into(),
                },
                format!(
                    "`{}`",
                    escape(&q.path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default())
                ),
            ]
        })
        .collect();
    let _ = writeln!(md, "Metric definitions, from the headers of the SQL files that compute them:\n");
    let _ = writeln!(md, "{}", table(&["metric", "definition", "unit", "better", "query"], &defs, &[]));
    let attributed_when = match a.attribute_by {
        AttributeBy::OpenedAt => "when it was opened",
        AttributeBy::ResolvedAt => {
            "when it was resolved (closed, if it has no resolution time; opened, while it is still open)"
        }
    };
    let _ = writeln!(
        md,
        "- **Attribution**: a ticket belongs to the process whose SOP governs its category and subcategory (the exact pair first, \
         then the whole category) and to the SOP version in force {}; before an SOP's first version it counts as `-`.\n\
         - **Windows**: {}. Changes before the first ticket are not compared.\n\
         - **Tests of the windows** (the descriptive before/after columns; they never decide a verdict): rates — pooled two-proportion z test, or Fisher's exact test when an expected count is below 5, with Newcombe's \
         hybrid score interval for the difference; MTTR — Mann–Whitney U (normal approximation, tie and continuity corrections) with the \
         Hodges–Lehmann shift and its interval as the change; audit exceptions — exact conditional Poisson test with the Clopper–Pearson \
         rate-ratio interval, shown as a difference at the before rate.\n\
         - **Verdicts against the trend**: each metric is followed week by week (durations as the log of the week's Kaplan–Meier median, \
         open tickets counted as still running), from up to a year before the change (never across the SOP's previous change) to the \
         next version (at most a year). Processes with no SOP change in those weeks, the ones without any SOP included, are the controls: \
         up to 10 of the largest that track the process best form a synthetic control (non-negative weights summing to one, fitted \
         before the change). The verdict tests the average effect after the change — the mean over the weeks after of the gap between the \
         process and its synthetic control minus that gap's line before the change carried on (its mean, where it has no trend of its \
         own) — with Newey–West errors; the step at the change and the slope change are reported beside it. The same estimator is run \
         at placebo dates before the change and on each control, at the real date and at other weeks, as if it had changed (up to 200 \
         placebos); their spread scales the model's statistic (a Student t with as many degrees of freedom as placebos), and the \
         placebo p is (1 + placebos at least as extreme) / (1 + placebos). A verdict needs the scaled p (after Benjamini–Hochberg) below \
         α, and the placebo p too where there are at least 2/α − 1 placebos (`method` ends in `+placebo_rank`; else `+placebo_spread`). \
         With fewer than 8 weeks on either side the average effect is a difference in differences against the mean of the controls. \
         Without controls, or without a week on each side, there is no verdict (`insufficient_data`, with the reason).\n\
         - **Export edges**: the first weeks of the export whose desk-wide median time to resolve stands more than 3 robust standard \
         deviations (of the week-to-week changes) above the median of its first 13 weeks (left truncation: the long-running tickets \
         opened before the export), the last weeks likewise against its last 13, and edge weeks with under a quarter of a typical \
         week's tickets or with half of them or more still open, are left out of every window and weekly series (at most 6 weeks \
         told apart by their durations at each edge).\n\
         - **Multiple testing**: Benjamini–Hochberg, one family per metric (a procedure moves some metrics and leaves others alone): \
         the {} comparisons of this report whose design decides, over {} metrics; a verdict needs q < {}.\n\
         - **Minimum data**: fewer than {} records on either side (100 tickets of exposure for audit findings) is *insufficient data*, \
         with the unmet requirement named.\n\
         - **Caveats**: tests assume independent tickets; the before/after columns credit any background trend to the SOP, which is why \
         the verdict reads the change against the trend; a strong change in priority mix (χ² p < 0.01) is flagged; open tickets are \
         not in the windows' MTTR and are reported.\n\
         - Medians and percentiles interpolate linearly between order statistics (R type 7).\n",
        attributed_when,
        match a.window {
            Window::Days(d) => format!("up to {d} days before and after each change, clipped at the neighbouring changes of the same SOP"),
            Window::All => "the full interval of each version".into(),
        },
        a.comparisons.rows.iter().filter(|r| r.p_adjusted.is_some()).count(),
        a.comparisons
            .rows
            .iter()
            .filter(|r| r.p_adjusted.is_some())
            .map(|r| r.metric.name.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        a.config.compare.alpha,
        a.config.compare.min_n
    );

    Ok(md)
}

/// The command, the version and each input's checksum.
pub(super) fn provenance(options: &[String], prov: &[Vec<String>], as_of: &str) -> Result<String> {
    let mut md = String::new();
    // Provenance.
    let _ = writeln!(md, "## Provenance\n");
    let _ = writeln!(md, "sop-impact {}, as of {as_of}; to run it again:\n", env!("CARGO_PKG_VERSION"));
    let command: Vec<String> = std::iter::once("sop-impact".to_string()).chain(options.iter().cloned()).collect();
    let _ = writeln!(md, "{}", crate::render::markdown::shell_block(&crate::render::markdown::shell_command(&command)));
    let _ = writeln!(md, "{}", table(&["input", "file", "SHA-256"], prov, &[]));
    let _ = writeln!(md, "Every output's SHA-256 is in [manifest.json](manifest.json).");

    Ok(md)
}
