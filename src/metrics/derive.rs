//! Columns the queries read that the exports do not hold: per ticket (priority and state
//! flags) and per change request.

use super::*;

/// The columns every query may read besides the validated ones, added once per run to the
/// attributed tickets: `is_resolved` (a resolved_at, else a closed_at), `resolution_hours` (from
/// opened_at to that time) and `sla_met` (made_sla from the export, else for resolved tickets
/// resolution within the target hours of their priority). From the validated tickets alone, so
/// that they are worked out while the tickets are attributed. One pass over the tickets: as
/// column expressions, each step's intermediate column of 10M values stood at the peak together
/// (~0.4 GB).
pub fn derived_ticket_columns(tickets: &DataFrame, cfg: &Config) -> Result<[Column; 3]> {
    let ms = |name: &str| crate::attribute::timestamp_ms(tickets, name).map(|ca| ca.rechunk().into_owned());
    let (opened, resolved, closed) = (ms("opened_at")?, ms("resolved_at")?, ms("closed_at")?);
    let priority = tickets.column("priority").and_then(|c| c.cast(&DataType::Int32))?;
    let priority = priority.i32()?.rechunk();
    let made_sla = tickets.column("made_sla")?.bool()?.rechunk();
    let t = cfg.sla.target_hours;
    let n = tickets.height();
    // Each column as one slice of values and its validity, read row by row by index: taken as
    // options through iterators the pass took 0.35-0.38 s at 10M tickets, longer than the
    // attribution it runs beside.
    let in_one_chunk = || Error::Internal("a ticket column is not in one piece".into());
    let dense = |ca| Dense::of(ca).ok_or_else(in_one_chunk);
    let (opened, resolved, closed) = (dense(&opened)?, dense(&resolved)?, dense(&closed)?);
    let priority = Dense::of(&priority).ok_or_else(in_one_chunk)?;
    let made_sla = Bits::of(&made_sla).ok_or_else(in_one_chunk)?;
    let mut is_resolved = Vec::with_capacity(n);
    let mut hours = Nullable::<Float64Type>::with_capacity(n);
    let mut sla_met: Vec<Option<bool>> = Vec::with_capacity(n);
    for i in 0..n {
        let end = resolved.get(i).or_else(|| closed.get(i));
        let h = end.zip(opened.get(i)).map(|(end, opened)| (end - opened) as f64 / 3_600_000.0);
        let target = match priority.get(i) {
            Some(1) => t[0],
            Some(2) => t[1],
            Some(4) => t[3],
            Some(5) => t[4],
            _ => t[2],
        };
        is_resolved.push(end.is_some());
        hours.push(h);
        sla_met.push(made_sla.get(i).or(if end.is_some() { h.map(|h| h <= target) } else { None }));
    }
    Ok([
        BooleanChunked::from_slice("is_resolved".into(), &is_resolved).into_column(),
        hours.finish("resolution_hours").into_column(),
        BooleanChunked::from_iter_options("sla_met".into(), sla_met.into_iter()).into_column(),
    ])
}

pub(crate) fn derive_change_columns(changes: &DataFrame, cfg: &Config) -> LazyFrame {
    let code = col("close_code").str().to_lowercase();
    let mut failed = lit(false);
    for c in &cfg.metrics.change_failure_codes {
        failed = failed.or(code.clone().str().contains_literal(lit(c.to_lowercase())));
    }
    changes.clone().lazy().with_column(failed.fill_null(lit(false)).alias("failed"))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn derived_columns_by_priority_and_state() {
        let ms = |name: &str, v: &[Option<i64>]| {
            Int64Chunked::from_iter_options(name.into(), v.iter().copied())
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_column()
        };
        let h = 3_600_000;
        let mut df = DataFrame::new(
            4,
            vec![
                ms("opened_at", &[Some(0), Some(0), Some(0), Some(0)]),
                // 1 h 40.5 min: 1.675 h exactly; closed_at stands in for a missing resolved_at
                ms("resolved_at", &[Some(6_030_000), None, Some(30 * h), None]),
                ms("closed_at", &[None, Some(5 * h), Some(31 * h), None]),
                Int32Chunked::from_iter_options("priority".into(), [Some(1), Some(1), None, Some(2)].into_iter())
                    .into_column(),
                BooleanChunked::from_iter_options("made_sla".into(), [None, None, Some(true), None].into_iter())
                    .into_column(),
            ],
        )
        .unwrap();
        for c in derived_ticket_columns(&df, &Config::default()).unwrap() {
            df.with_column(c).unwrap();
        }
        let bools = |name: &str| df.column(name).unwrap().bool().unwrap().iter().collect::<Vec<_>>();
        let hours: Vec<Option<f64>> = df.column("resolution_hours").unwrap().f64().unwrap().iter().collect();
        assert_eq!(bools("is_resolved"), [Some(true), Some(true), Some(true), Some(false)]);
        // the quotient rounded once (times the reciprocal of 3,600,000 it is 1.6749999999999998)
        assert_eq!(hours, [Some(1.675), Some(5.0), Some(30.0), None]);
        // priority 1: 4 h target; the export's made_sla wins over 30 h against the 24 h default;
        // an open ticket has no outcome yet
        assert_eq!(bools("sla_met"), [Some(true), Some(false), Some(true), None]);
    }
}
