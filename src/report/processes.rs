//! The report's per-SOP sections: each SOP's heading, its trend chart and every change, with
//! the charts shared out under a budget.

use super::*;

/// The most charts one report draws (each an SVG and a PNG file): a report over thousands of
/// SOPs draws those of the SOPs with the most tickets, and says so.
pub(super) const CHART_BUDGET: usize = 400;

/// One SOP's part of the report: its versions, its changes and whether they are drawn.
pub(super) struct SopSection<'t> {
    pub(super) sop: &'t str,
    pub(super) versions: Vec<&'t TimelineRow>,
    /// the period table's rows of its current process
    pub(super) rows: Vec<usize>,
    pub(super) changes: Vec<usize>,
    pub(super) draw_trend: bool,
    /// the changes drawn: the latest first, while the budget lasts
    pub(super) drawn_changes: BTreeSet<usize>,
}

/// One section per SOP: its facts, its trend chart and each of its changes.
pub(super) fn processes(a: &Analysis, charts_dir: &Path, as_of: &str) -> Result<String> {
    let mut md = String::new();
    let infos = version_infos(a)?;
    let axis = PeriodAxis::new(a)?;
    let _ = writeln!(md, "## Processes with an SOP\n");
    let mut sections = sop_sections(a, &axis);
    let tickets: Vec<u64> = sections.iter().map(|s| axis.tickets(&s.rows)).collect();
    let (drawn, skipped) = share_chart_budget(&mut sections, &tickets, CHART_BUDGET);
    if skipped > 0 {
        let _ = writeln!(
            md,
            "*This report draws at most {CHART_BUDGET} charts: those of the {drawn} SOPs with the most tickets (their trend \
             and their latest changes). {skipped} more sections have their tables without charts; every change's numbers \
             are in [comparisons.csv](comparisons.csv).*\n"
        );
    }
    // One trend chart per SOP, named after its current process.
    let trend_stems = distinct_stems(sections.iter().filter_map(|s| {
        let current = s.versions.last()?;
        Some((s.sop.to_string(), format!("trend-{}", slug(&current.process))))
    }));
    let change_stems = change_stems(a);
    let rows_by_change = a.comparisons.rows_by_change();
    for s in &sections {
        let Some(current) = s.versions.last() else { continue };
        let info = infos.get(&(s.sop.to_string(), current.version.clone()));
        md.push_str(&sop_heading(a, s.sop, current, info));
        if s.draw_trend {
            md.push_str(&trend_chart(a, &axis, s, &trend_stems[s.sop], charts_dir)?);
        }
        for &c in &s.changes {
            let drawn = s.drawn_changes.contains(&c).then_some(charts_dir);
            let chart = ChartsOf { stem: &change_stems[c], charts_dir: drawn };
            md.push_str(&change_section(a, c, &rows_by_change[c], &chart, &infos, as_of, "####")?);
        }
    }
    Ok(md)
}

/// The SOPs of the timeline in its order, each with its versions, rows and changes (found in one
/// pass each: per SOP, a scan of the timeline or of the changes was minutes at 20,000 SOPs).
pub(super) fn sop_sections<'t>(a: &'t Analysis, axis: &PeriodAxis) -> Vec<SopSection<'t>> {
    let mut changes_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (c, ch) in a.comparisons.changes.iter().enumerate() {
        changes_of.entry(ch.sop_id.as_str()).or_default().push(c);
    }
    let mut sections: Vec<SopSection> = Vec::new();
    for row in a.attributed.timeline.iter().filter(|r| !r.sop_id.is_empty()) {
        if sections.last().is_none_or(|s| s.sop != row.sop_id) {
            sections.push(SopSection {
                sop: &row.sop_id,
                versions: Vec::new(),
                rows: Vec::new(),
                changes: changes_of.remove(row.sop_id.as_str()).unwrap_or_default(),
                draw_trend: false,
                drawn_changes: BTreeSet::new(),
            });
        }
        if let Some(s) = sections.last_mut().filter(|_| row.version != crate::attribute::NO_SOP) {
            s.versions.push(row);
        }
    }
    for s in &mut sections {
        if let Some(current) = s.versions.last() {
            s.rows = axis.rows_of(&current.process).to_vec();
        }
    }
    sections
}

/// Grants `budget` charts to the SOPs with the most tickets: to each its trend chart, then its
/// changes' two charts each, the latest first (`tickets`: each section's). Returns how many SOPs
/// got charts and how many sections went without some.
pub(super) fn share_chart_budget(sections: &mut [SopSection], tickets: &[u64], budget: usize) -> (usize, usize) {
    let mut order: Vec<(u64, &str, usize)> =
        sections.iter().zip(tickets).enumerate().map(|(k, (s, n))| (*n, s.sop, k)).collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let order: Vec<usize> = order.into_iter().map(|(_, _, k)| k).collect();
    let (mut left, mut drawn) = (budget, 0);
    for k in order {
        let s = &mut sections[k];
        if s.rows.is_empty() || left == 0 {
            continue;
        }
        s.draw_trend = true;
        left -= 1;
        drawn += 1;
        for &c in s.changes.iter().rev() {
            if left < 2 {
                break;
            }
            s.drawn_changes.insert(c);
            left -= 2;
        }
    }
    let skipped = sections
        .iter()
        .filter(|s| !s.rows.is_empty() && (!s.draw_trend || s.drawn_changes.len() < s.changes.len()))
        .count();
    (drawn, skipped)
}

/// The heading of an SOP's section: its current version, owner and review date.
pub(super) fn sop_heading(a: &Analysis, sop: &str, current: &TimelineRow, info: Option<&VersionFacts>) -> String {
    let review = info.and_then(|i| i.next_review);
    let overdue = review.is_some_and(|r| r < a.as_of_ms);
    format!(
        "### {}\n\nSOP **{}**, current version **{}** (in force since {}); owner: {}; next review: {}{}.\n\n",
        escape(&current.process),
        escape(sop),
        escape(&current.version),
        current.effective_from.map(format_date).unwrap_or_default(),
        info.and_then(|i| i.owner.clone()).map(|o| escape(&o)).unwrap_or_else(|| "**none recorded**".into()),
        review.map(format_date).unwrap_or_else(|| "not set".into()),
        if overdue { " (**overdue**)" } else { "" }
    )
}

/// The periods every trend chart shares, and the period table's columns the panels draw.
pub(super) struct PeriodAxis<'a> {
    /// every period label, sorted
    pub(super) labels: Vec<String>,
    pub(super) period: Vec<Option<String>>,
    pub(super) version: Vec<Option<String>>,
    pub(super) panels: Vec<&'a Metric>,
    pub(super) columns: BTreeMap<&'a str, Vec<Option<f64>>>,
    /// each process's rows
    pub(super) rows_of_process: HashMap<String, Vec<usize>>,
    pub(super) tickets: Vec<Option<f64>>,
}

impl<'a> PeriodAxis<'a> {
    pub(super) fn new(a: &'a Analysis) -> Result<Self> {
        let pp = &a.tables.process_periods;
        let period = strings(pp, "period")?;
        let mut labels: Vec<String> = period.iter().flatten().cloned().collect();
        labels.sort();
        labels.dedup();
        let panels = metrics::chart_panels(&a.queries);
        let mut columns = BTreeMap::new();
        for m in &panels {
            for column in [m.name.as_str(), m.chart.as_ref().map_or("tickets", |c| c.over.as_str())] {
                columns.insert(column, floats(pp, column)?);
            }
        }
        let process = strings(pp, "process")?;
        let mut rows_of_process: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in process.iter().enumerate() {
            if let Some(p) = p {
                rows_of_process.entry(p.clone()).or_default().push(i);
            }
        }
        Ok(PeriodAxis {
            labels,
            rows_of_process,
            tickets: floats(pp, "tickets")?,
            period,
            version: strings(pp, "version_in_force")?,
            panels,
            columns,
        })
    }

    /// The rows of `process` in the period table.
    pub(super) fn rows_of(&self, process: &str) -> &[usize] {
        self.rows_of_process.get(process).map_or(&[], Vec::as_slice)
    }

    /// The tickets of `rows`.
    pub(super) fn tickets(&self, rows: &[usize]) -> u64 {
        rows.iter().filter_map(|&i| self.tickets.get(i).copied().flatten()).sum::<f64>() as u64
    }

    /// Where row `i` falls on the axis.
    pub(super) fn slot(&self, i: usize) -> Option<usize> {
        self.labels.binary_search(self.period[i].as_ref()?).ok()
    }

    /// `column` over the whole axis for `rows`: empty where the process had no tickets.
    pub(super) fn aligned(&self, rows: &[usize], column: &str) -> Vec<Option<f64>> {
        let mut v = vec![None; self.labels.len()];
        for &i in rows {
            if let (Some(k), Some(values)) = (self.slot(i), self.columns.get(column)) {
                v[k] = values[i];
            }
        }
        v
    }

    /// The version in force in each period (the later one where a change falls inside it).
    pub(super) fn stages(&self, rows: &[usize]) -> Vec<String> {
        let mut stages = vec![String::new(); self.labels.len()];
        for &i in rows {
            if let Some(k) = self.slot(i) {
                let v = self.version[i].clone().unwrap_or_default();
                stages[k] = v.rsplit('→').next().unwrap_or("").to_string();
            }
        }
        stages
    }
}

/// The trend chart of one SOP's process with its versions marked, and its caption.
pub(super) fn trend_chart(
    a: &Analysis,
    axis: &PeriodAxis,
    section: &SopSection,
    stem: &str,
    charts_dir: &Path,
) -> Result<String> {
    let (versions, rows) = (&section.versions, &section.rows);
    let Some(current) = versions.last() else { return Ok(String::new()) };
    let process = &current.process;
    if rows.is_empty() {
        return Ok(String::new());
    }
    let (tz, labels) = (a.opts.tz, &axis.labels);
    let end = labels.len() as f64 - 0.5;
    let x = |ms: Option<i64>, open_end: f64| x_of(ms, labels, a.period, tz, open_end);
    let latest_change = section.changes.last().map(|&c| &a.comparisons.changes[c]);
    let trend = Trend {
        title: format!(
            "{process} — trend by {} with SOP changes",
            match a.period {
                Period::Month => "month",
                Period::Week => "week",
                Period::Quarter => "quarter",
            }
        ),
        periods: labels.clone(),
        stages: axis.stages(rows),
        changes: versions
            .iter()
            .filter_map(|r| {
                r.effective_from.map(|e| (x(Some(e), end), format!("v{}", r.version.trim_start_matches(['v', 'V']))))
            })
            .filter(|(x, _)| *x > -0.5 && *x < end)
            .collect(),
        windows: latest_change.map(|c| {
            (
                (x(c.before.start, -0.5).max(-0.5), x(c.before.end, end)),
                (x(c.after.start, end), x(c.after.end, end).min(end)),
            )
        }),
        panels: axis
            .panels
            .iter()
            .map(|m| {
                let proportion = m.kind == Kind::Proportion;
                let over = m.chart.as_ref().map_or("tickets", |c| c.over.as_str());
                TrendPanel {
                    title: m.label.clone(),
                    unit: m.chart.as_ref().map_or(String::new(), |c| c.axis.clone()),
                    values: axis.aligned(rows, &m.name),
                    counts: axis.aligned(rows, over).iter().map(|v| v.unwrap_or(0.0) as u64).collect(),
                    is_rate: proportion,
                    percent: proportion,
                }
            })
            .collect(),
    };
    charts::write(charts_dir, stem, &trend)?;
    Ok(format!(
        "![{} trend](charts/{stem}.png)\n\n*Vertical lines: SOP versions taking effect. Shaded: the windows compared for the latest change \
         (orange before, blue after). Thin lines: centre and 3-sigma control limits recomputed per SOP version (p-chart for rates, \
         individuals chart for MTTR). [SVG](charts/{stem}.svg)*\n\n",
        escape(process)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_budget_goes_to_the_sops_with_the_most_tickets_latest_changes_first() {
        let ids: Vec<String> = (0..5).map(|k| format!("S-{k}")).collect();
        let section = |k: usize, changes: Vec<usize>, rows: Vec<usize>| SopSection {
            sop: &ids[k],
            versions: Vec::new(),
            rows,
            changes,
            draw_trend: false,
            drawn_changes: BTreeSet::new(),
        };
        let mut sections = vec![
            section(0, vec![0], vec![0]),
            section(1, vec![1, 2, 3], vec![1]),
            section(2, vec![4], vec![2]),
            section(3, vec![5], Vec::new()),
            section(4, vec![6], vec![3]),
        ];
        // S-1 has the most tickets, then S-0 and S-4 (a tie, by id), then S-2; S-3 has no rows
        let (drawn, skipped) = share_chart_budget(&mut sections, &[50, 90, 10, 1000, 50], 6);
        assert!(
            sections[1].draw_trend && sections[1].drawn_changes == BTreeSet::from([2, 3]),
            "its trend, its 2 latest"
        );
        assert!(sections[0].draw_trend && sections[0].drawn_changes.is_empty(), "one chart left: the trend only");
        assert!(!sections[4].draw_trend && !sections[2].draw_trend, "the budget is spent");
        assert!(!sections[3].draw_trend, "no rows, no chart");
        assert_eq!((drawn, skipped), (2, 4), "S-1, S-0, S-4 and S-2 go without some charts");
    }
}
