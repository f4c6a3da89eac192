//! The `grp` keys the queries group by: a process and a period, packed to fit 32 bits, and the
//! keys of `grp` paired with another column.

use super::*;

/// The period index of every record of `df` (its `attributed_at`), on every core.
pub(super) fn period_indices(df: &DataFrame, period: Period, calendar: Calendar) -> Result<Vec<Option<i32>>> {
    let times = crate::attribute::attributed_ms(df)?;
    let per_core = times.len().div_ceil(crate::cores::count()).max(1);
    let mut indices: Vec<Option<i32>> = vec![None; times.len()];
    std::thread::scope(|scope| {
        // each core a slice of the column as it is (a copy of the times was 160 MB at 10M)
        for (k, out) in indices.chunks_mut(per_core).enumerate() {
            let part = times.slice((k * per_core) as i64, per_core);
            scope.spawn(move || period_indices_into(part.iter(), period, calendar, out));
        }
    });
    Ok(indices)
}

/// A process and a period as one `grp`: process_id × periods + (period − first), over the
/// periods the records span. Compact, so that it fits 32 bits and its `grp_X` keys pack into 32
/// bits (with a fixed stride of a million periods both took 64: 80 MB more at 10M tickets).
#[derive(Debug, Clone, Copy)]
pub(super) struct PeriodGrp {
    pub(super) first: i64,
    pub(super) periods: i64,
    /// process_id × periods + period offset fits 32 bits
    pub(super) narrow: bool,
}

impl PeriodGrp {
    /// The `grp` column of each frame (its `process_id` and `attributed_at`), over the span of
    /// the periods of all their records.
    pub(super) fn columns(
        frames: &[&DataFrame],
        processes: usize,
        period: Period,
        calendar: Calendar,
    ) -> Result<(PeriodGrp, Vec<Column>)> {
        let indices = frames.iter().map(|df| period_indices(df, period, calendar)).collect::<Result<Vec<_>>>()?;
        let all = || indices.iter().flatten().flatten().copied();
        let (first, last) = (i64::from(all().min().unwrap_or(0)), i64::from(all().max().unwrap_or(0)));
        let periods = last - first + 1;
        let narrow = (processes as u64 + 1).saturating_mul(periods as u64) <= u64::from(u32::MAX);
        let g = PeriodGrp { first, periods, narrow };
        let columns = frames
            .iter()
            .zip(&indices)
            .map(|(df, index)| {
                let process = df.column("process_id").and_then(|c| c.cast(&DataType::UInt32))?;
                let grp = process
                    .u32()?
                    .iter()
                    .zip(index)
                    .map(|(p, i)| Some(i64::from(p?) * g.periods + (i64::from((*i)?) - g.first)));
                Ok(if g.narrow {
                    UInt32Chunked::from_iter_options("grp".into(), grp.map(|v| v.map(|v| v as u32))).into_column()
                } else {
                    Int64Chunked::from_iter_options("grp".into(), grp).into_column()
                })
            })
            .collect::<Result<Vec<Column>>>()?;
        Ok((g, columns))
    }

    /// (process_id, period index) of a `grp`.
    pub(super) fn split(self, grp: i64) -> (usize, i64) {
        (grp.div_euclid(self.periods) as usize, grp.rem_euclid(self.periods) + self.first)
    }
}

/// The ticket columns `X` whose `grp_X` the queries name: grouping by `grp_X` is grouping by
/// `grp` and `X` together (text, whole-number and yes/no columns).
pub(crate) fn paired_columns(df: &DataFrame, queries: &[Query]) -> Vec<String> {
    df.columns()
        .iter()
        .filter(|c| {
            let d = c.dtype();
            d.is_categorical() || d.is_integer() || d.is_bool()
        })
        .map(|c| c.name().to_string())
        .filter(|n| named(queries, &format!("grp_{n}")))
        .collect()
}

/// A column's values as 64-bit integers, whatever their width.
pub(super) type Ints<'a> = Box<dyn Iterator<Item = Option<i64>> + 'a>;

/// `grp_X`: one whole number per pair of `grp` and a value of `values`, empty where either is.
/// polars groups by two columns by encoding every row's pair as bytes and hashing those (at 10M
/// tickets, 0.5 GB more than one integer key), so the pair becomes one integer: the offsets of
/// both values in their ranges, packed; or, when the ranges are too wide to pack into 64 bits,
/// the pairs numbered in order of appearance. `grp_range`: the range of `grp` to pack against
/// when several tables' keys must not meet (the layers of windows); those must pack.
pub(crate) fn pair_key(grp: &Column, values: &Column, name: &str, grp_range: Option<(i64, i64)>) -> Result<Column> {
    let values = values.to_physical_repr().cast(&DataType::Int64)?;
    let values = values.i64()?;
    let range = |ca: &Int64Chunked| ca.min().zip(ca.max());
    // A 32-bit grp is read as it is: a 64-bit copy of it cost 80 MB at 10M tickets.
    let grp_as_i64;
    let (grp_min_max, grp): (Option<(i64, i64)>, Ints<'_>) = match grp.dtype() {
        DataType::UInt32 => {
            let ca = grp.u32()?;
            (ca.min().map(i64::from).zip(ca.max().map(i64::from)), Box::new(ca.iter().map(|g| g.map(i64::from))))
        }
        _ => {
            grp_as_i64 = grp.cast(&DataType::Int64)?;
            let ca = grp_as_i64.i64()?;
            (range(ca), Box::new(ca.iter()))
        }
    };
    let packing = match (grp_range.or(grp_min_max), range(values)) {
        (Some((g_min, g_max)), Some((v_min, v_max))) => {
            let width = i128::from(v_max) - i128::from(v_min) + 1;
            let span = (i128::from(g_max) - i128::from(g_min) + 1).checked_mul(width);
            span.filter(|s| *s <= i128::from(u64::MAX)).map(|_| (g_min, v_min, width as u64))
        }
        // one side is empty throughout: so is every key
        _ => Some((0, 0, 1)),
    };
    if packing.is_none() && grp_range.is_some() {
        return Err(Error::Internal(format!("{name}: the values span too wide a range to pack")));
    }
    let g_max = grp_range.or(grp_min_max).map(|(_, max)| max);
    let pairs = grp.zip(values.iter());
    let offset = |x: i64, min: i64| (x as u64).wrapping_sub(min as u64);
    let keys = match packing {
        // most often both ranges are narrow (versions × analysts): half the memory
        Some((g_min, v_min, width))
            if (g_max.map_or(0, |g| offset(g, g_min)) + 1).saturating_mul(width) <= u64::from(u32::MAX) =>
        {
            let packed: UInt32Chunked =
                pairs.map(|(g, v)| Some((offset(g?, g_min) * width + offset(v?, v_min)) as u32)).collect();
            packed.into_column()
        }
        Some((g_min, v_min, width)) => {
            let packed: UInt64Chunked =
                pairs.map(|(g, v)| Some(offset(g?, g_min) * width + offset(v?, v_min))).collect();
            packed.into_column()
        }
        None => {
            let mut ids: PlHashMap<(i64, i64), u64> = PlHashMap::new();
            let numbered: UInt64Chunked = pairs
                .map(|(g, v)| {
                    let next = ids.len() as u64;
                    Some(*ids.entry((g?, v?)).or_insert(next))
                })
                .collect();
            numbered.into_column()
        }
    };
    Ok(keys.with_name(name.into()))
}

/// The tickets of one grouping (with their `grp`) as the queries read them: computed once, not
/// once per query, with the `grp_X` pair keys the queries name. Every grouping's tickets go
/// through here, so that no grouping lacks a key a query uses.
pub(crate) fn grouped_tickets(tickets: LazyFrame, queries: &[Query]) -> Result<LazyFrame> {
    let mut grouped = with_pair_keys(tickets.collect()?, queries)?;
    mark_runs(&mut grouped)?;
    crate::diag::release_freed_memory();
    Ok(grouped.lazy())
}

/// Marks `grp` as sorted when its values rise run by run, as they do for groupings of the
/// tickets in process and time order (see `attribute::in_process_time_order`): polars' group-by
/// then takes each group as a slice of rows. Checked, never assumed: a grouping whose groups
/// interleave is grouped by hashing, as before.
pub(super) fn mark_runs(df: &mut DataFrame) -> Result<()> {
    let Ok(grp) = df.column("grp") else { return Ok(()) };
    let rising = grp.null_count() == 0 && grp.as_materialized_series().is_sorted(SortOptions::default())?;
    if rising {
        let mut grp = grp.clone();
        grp.set_sorted_flag(polars::series::IsSorted::Ascending);
        df.with_column(grp)?;
    }
    Ok(())
}

/// The table with `grp_X` for every paired column (see `paired_columns`).
pub(super) fn with_pair_keys(mut df: DataFrame, queries: &[Query]) -> Result<DataFrame> {
    let paired = paired_columns(&df, queries);
    if paired.is_empty() {
        return Ok(df);
    }
    let grp = df.column("grp")?.clone();
    for x in paired {
        let key = pair_key(&grp, df.column(&x)?, &format!("grp_{x}"), None)?;
        df.with_column(key)?;
    }
    Ok(df)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::metrics::query_file::parse_query;

    /// Two rows share a key exactly when they share (grp, value); a row with either empty has none.
    fn assert_keys_pair_up(grp: &[Option<i64>], values: &[Option<i64>], dtype: DataType) {
        let grp_ca = Int64Chunked::from_iter_options("grp".into(), grp.iter().copied());
        let values_col = Int64Chunked::from_iter_options("x".into(), values.iter().copied()).into_column();
        let keys = pair_key(&grp_ca.into_column(), &values_col, "grp_x", None).unwrap();
        assert_eq!(keys.name().as_str(), "grp_x");
        assert_eq!(keys.dtype(), &dtype);
        let keys: Vec<Option<u64>> = keys.cast(&DataType::UInt64).unwrap().u64().unwrap().iter().collect();
        for i in 0..grp.len() {
            let pair = grp[i].zip(values[i]);
            assert_eq!(keys[i].is_some(), pair.is_some(), "row {i}");
            for j in 0..grp.len() {
                if pair.is_some() && grp[j].zip(values[j]).is_some() {
                    assert_eq!(keys[i] == keys[j], pair == grp[j].zip(values[j]), "rows {i} and {j}");
                }
            }
        }
    }

    #[test]
    fn period_groups_span_the_records_periods() {
        // months: March 2024 to May 2024 across the tickets and the audits
        let at = |rows: &[(u32, i64)]| {
            let t = Int64Chunked::from_iter_values("attributed_at".into(), rows.iter().map(|r| r.1))
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_column();
            let p = UInt32Chunked::from_iter_values("process_id".into(), rows.iter().map(|r| r.0)).into_column();
            DataFrame::new(rows.len(), vec![p, t]).unwrap()
        };
        let march = 1_709_251_200_000; // 2024-03-01
        let may = 1_714_521_600_000; // 2024-05-01
        let (tickets, changes, audits) = (at(&[(0, march + 1), (2, march + 2)]), at(&[]), at(&[(2, may + 5)]));
        let (g, grps) =
            PeriodGrp::columns(&[&tickets, &changes, &audits], 3, Period::Month, Calendar::of(chrono_tz::UTC)).unwrap();
        assert_eq!((g.first, g.periods, g.narrow), (2024 * 12 + 2, 3, true));
        let values = |c: &Column| c.u32().unwrap().iter().collect::<Vec<_>>();
        // process 0 and 2 in March (0 × 3 + 0, 2 × 3 + 0); process 2 in May: 2 × 3 + 2
        assert_eq!(values(&grps[0]), [Some(0), Some(6)]);
        assert_eq!(values(&grps[2]), [Some(8)]);
        assert_eq!(g.split(8), (2, 2024 * 12 + 4));
        assert_eq!(period_label(g.split(8).1, Period::Month), "2024-05");
    }

    #[test]
    fn pair_keys_group_by_both_columns() {
        // narrow ranges pack into 32 bits
        let grp = [Some(1), Some(1), Some(2), Some(2), None, Some(1), Some(-3)];
        let values = [Some(5), Some(6), Some(5), Some(5), Some(5), None, Some(6)];
        assert_keys_pair_up(&grp, &values, DataType::UInt32);
        // wider ranges pack into 64 bits
        let grp = [Some(0), Some(1 << 40), Some(0), Some(1 << 40)];
        let values = [Some(0), Some(0), Some(1 << 20), Some(0)];
        assert_keys_pair_up(&grp, &values, DataType::UInt64);
        // ranges too wide to pack: the pairs are numbered
        let grp = [Some(i64::MIN), Some(i64::MAX), Some(i64::MIN), Some(0), None];
        let values = [Some(0), Some(1), Some(0), Some(i64::MAX), Some(1)];
        assert_keys_pair_up(&grp, &values, DataType::UInt64);
        // a 32-bit grp is read as it is
        let grp = UInt32Chunked::from_slice("grp".into(), &[1, 1, 2]).into_column();
        let values = Int64Chunked::from_slice("x".into(), &[5, 6, 5]).into_column();
        let keys = pair_key(&grp, &values, "grp_x", None).unwrap();
        let keys: Vec<Option<u32>> = keys.u32().unwrap().iter().collect();
        assert!(keys[0] != keys[1] && keys[0] != keys[2] && keys[1] != keys[2]);
        // a side empty throughout: no key at all
        assert_keys_pair_up(&[None, None], &[Some(1), Some(2)], DataType::UInt32);
    }

    #[test]
    fn pair_keys_of_separate_tables_meet_only_with_a_shared_range() {
        let key = |g: i64, range: Option<(i64, i64)>| {
            let grp = Int64Chunked::from_slice("grp".into(), &[g]).into_column();
            let values = Int64Chunked::from_slice("x".into(), &[7]).into_column();
            pair_key(&grp, &values, "grp_x", range).unwrap().cast(&DataType::UInt64).unwrap().u64().unwrap().get(0)
        };
        // each table alone starts from its own smallest grp: window 0 and window 2 meet
        assert_eq!(key(0, None), key(2, None));
        assert_ne!(key(0, Some((0, 4))), key(2, Some((0, 4))));
        // a shared range too wide to pack is an error, not a silent meeting
        let grp = Int64Chunked::from_slice("grp".into(), &[0]).into_column();
        let values = Int64Chunked::from_slice("x".into(), &[i64::MIN, i64::MAX]).into_column();
        assert!(pair_key(&grp, &values, "grp_x", Some((0, 4))).is_err());
    }

    #[test]
    fn groups_in_rising_runs_are_marked_sorted_and_interleaved_ones_not() {
        let flag = |grp: &[i64]| {
            let mut df = df!("grp" => grp).unwrap();
            mark_runs(&mut df).unwrap();
            df.column("grp").unwrap().is_sorted_flag()
        };
        assert_eq!(flag(&[1, 1, 2, 5, 5]), polars::series::IsSorted::Ascending);
        assert_eq!(flag(&[1, 2, 1]), polars::series::IsSorted::Not);
        let mut with_null = DataFrame::new(2, vec![Column::new("grp".into(), [Some(1i64), None])]).unwrap();
        mark_runs(&mut with_null).unwrap();
        assert_eq!(with_null.column("grp").unwrap().is_sorted_flag(), polars::series::IsSorted::Not);
    }

    #[test]
    fn pair_keys_only_for_the_columns_named_with_grp() {
        let q = parse_query(
            Path::new("q.sql"),
            "-- metric: m\n-- better: lower\nSELECT MIN(grp) AS grp, 1 AS m FROM tickets GROUP BY grp_assignee",
        )
        .unwrap();
        let df = df!("assignee" => ["a", "b"], "grp" => [1i64, 2], "hours" => [1.0, 2.0]).unwrap();
        let df = df
            .lazy()
            .with_column(col("assignee").cast(DataType::from_categories(Categories::global())))
            .collect()
            .unwrap();
        assert_eq!(paired_columns(&df, std::slice::from_ref(&q)), vec!["assignee".to_string()]);
        let with_keys = with_pair_keys(df, &[q]).unwrap();
        assert_eq!(with_keys.column("grp_assignee").unwrap().null_count(), 0);
    }
}
