//! The two metric tables put together: one row per SOP version, one per process and period.

use super::*;

pub(super) fn ms_to_datetime(name: &str, values: Vec<Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_column()
}

pub(super) fn assemble_versions(timeline: &[TimelineRow], metrics: DataFrame, queries: &[Query]) -> Result<DataFrame> {
    let n = timeline.len();
    let base = DataFrame::new(
        n,
        vec![
            Column::new("grp".into(), timeline.iter().map(|r| r.id as i64).collect::<Vec<_>>()),
            Column::new("sop_id".into(), timeline.iter().map(|r| r.sop_id.as_str()).collect::<Vec<_>>()),
            Column::new("version".into(), timeline.iter().map(|r| r.version.as_str()).collect::<Vec<_>>()),
            Column::new("process".into(), timeline.iter().map(|r| r.process.as_str()).collect::<Vec<_>>()),
            ms_to_datetime("effective_from", timeline.iter().map(|r| r.effective_from).collect()),
            ms_to_datetime("effective_to", timeline.iter().map(|r| r.effective_to).collect()),
            Column::new("order".into(), (0..n as u32).collect::<Vec<_>>()),
        ],
    )?;
    let joined =
        base.lazy().join(metrics.lazy(), [col("grp")], [col("grp")], JoinArgs::new(JoinType::Left)).collect()?;
    let joined = ensure_metric_columns(joined, queries)?;
    // "-" rows of SOPs whose first version predates every ticket are noise; versions themselves
    // stay even with no tickets.
    let keep = joined
        .clone()
        .lazy()
        .filter(col("version").neq(lit(crate::attribute::NO_SOP)).or(col("tickets").gt(lit(0u64))))
        .sort(["order"], SortMultipleOptions::default());
    let mut cols = vec![col("sop_id"), col("version"), col("process"), col("effective_from"), col("effective_to")];
    cols.extend(columns(queries).iter().map(|m| col(m.name.as_str())));
    Ok(keep.select(cols).collect()?)
}

pub(super) fn assemble_periods(
    att: &Attributed,
    metrics: DataFrame,
    spans: DataFrame,
    periods: PeriodGrp,
    period: Period,
    queries: &[Query],
) -> Result<DataFrame> {
    let grp: Vec<i64> = metrics.column("grp")?.i64()?.into_no_null_iter().collect();
    let joined =
        metrics.lazy().join(spans.lazy(), [col("grp")], [col("grp")], JoinArgs::new(JoinType::Left)).collect()?;
    let grp_joined: Vec<i64> = joined.column("grp")?.i64()?.into_no_null_iter().collect();
    debug_assert_eq!(grp.len(), grp_joined.len());
    let first = joined.column("first_version")?.u32()?.clone();
    let last = joined.column("last_version")?.u32()?.clone();
    let label = |id: Option<u32>| id.and_then(|i| att.timeline.get(i as usize)).map(|r| r.version.clone());
    let mut process = Vec::new();
    let mut sop = Vec::new();
    let mut period_text = Vec::new();
    let mut in_force = Vec::new();
    for (k, g) in grp_joined.iter().enumerate() {
        let (pid, index) = periods.split(*g);
        process.push(att.processes.get(pid).cloned().unwrap_or_default());
        period_text.push(period_label(index, period));
        let (f, l) = (first.get(k), last.get(k));
        sop.push(f.and_then(|i| att.timeline.get(i as usize)).map(|r| r.sop_id.clone()).unwrap_or_default());
        in_force.push(match (label(f), label(l)) {
            (Some(a), Some(b)) if a != b => format!("{a}→{b}"),
            (Some(a), _) => a,
            _ => String::new(),
        });
    }
    let mut df = joined;
    for (name, values) in
        [("process", process), ("sop_id", sop), ("period", period_text), ("version_in_force", in_force)]
    {
        df.with_column(Column::new(name.into(), values))?;
    }
    let df = ensure_metric_columns(df, queries)?;
    let mut cols = vec![col("process"), col("period"), col("sop_id"), col("version_in_force")];
    cols.extend(columns(queries).iter().map(|m| col(m.name.as_str())));
    Ok(df.lazy().sort(["process", "grp"], SortMultipleOptions::default()).select(cols).collect()?)
}
