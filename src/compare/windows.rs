//! The windows of every SOP change: before and after, clipped at the neighbouring changes, and
//! the records of each window (overlapping windows of one process go to separate layers).

use super::*;

pub(super) fn intersect_start(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) | (None, x) => x,
    }
}

pub(super) fn intersect_end(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) | (None, x) => x,
    }
}

/// The changes of every SOP and their windows. A change before the first record of the data
/// has nothing before it to compare and is left out.
pub fn changes(att: &Attributed, window: Window) -> Result<Vec<Change>> {
    let Some(first_ticket) = attributed_ms(&att.tickets)?.min() else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let rows = &att.timeline;
    for (k, next) in rows.iter().enumerate().skip(1) {
        let prev = &rows[k - 1];
        if prev.sop_id != next.sop_id || next.sop_id.is_empty() || next.version == NO_SOP {
            continue;
        }
        let Some(change_date) = next.effective_from else { continue };
        if change_date <= first_ticket {
            continue;
        }
        let (before_start, after_end) = match window {
            Window::All => (prev.effective_from, next.effective_to),
            Window::Days(d) => {
                let span = d as i64 * DAY_MS;
                (
                    intersect_start(Some(change_date - span), prev.effective_from),
                    intersect_end(Some(change_date + span), next.effective_to),
                )
            }
        };
        let before = Interval { start: before_start, end: Some(change_date) };
        let after = Interval { start: Some(change_date), end: after_end };
        out.push(Change {
            sop_id: next.sop_id.clone(),
            process: next.process.clone(),
            process_id: next.process_id,
            from_version: prev.version.clone(),
            to_version: next.version.clone(),
            change_date,
            previous_from: prev.effective_from,
            replaced_at: next.effective_to,
            before,
            after,
            before_tickets: 0,
            after_tickets: 0,
        });
    }
    Ok(out)
}

/// The ticket columns the windows need: the ones any query names, and the ones the windows and
/// the duration samples read. The windowed copy of a large table then holds a few columns, not
/// all of them.
pub(super) fn columns_read(tickets: &DataFrame, queries: &[Query]) -> Vec<Expr> {
    tickets
        .get_column_names()
        .into_iter()
        .filter(|n| READ_BY_COMPARISONS.contains(&n.as_str()) || metrics::reads_column(queries, n.as_str()))
        .map(|n| col(n.clone()))
        .collect()
}

/// The records of `process_id` attributed within `window`.
pub fn in_window(process_id: u32, window: Interval) -> Expr {
    let mut pred = col("process_id").eq(lit(process_id));
    let t = col("attributed_at").dt().timestamp(TimeUnit::Milliseconds);
    if let Some(s) = window.start {
        pred = pred.and(t.clone().gt_eq(lit(s)));
    }
    if let Some(e) = window.end {
        pred = pred.and(t.lt(lit(e)));
    }
    pred
}

/// One comparison window: its `grp` (2·change before, 2·change + 1 after), process and span.
#[derive(Debug, Clone, Copy)]
pub(super) struct CutWindow {
    pub(super) grp: i64,
    pub(super) process_id: u32,
    pub(super) span: Interval,
}

pub(super) fn overlap(a: Interval, b: Interval) -> bool {
    let before = |start: Option<i64>, end: Option<i64>| start.zip(end).is_none_or(|(s, e)| s < e);
    before(a.start, b.end) && before(b.start, a.end)
}

/// The windows' spans of one layer, by process.
pub(super) type SpansByProcess = HashMap<u32, Vec<Interval>>;

/// The windows of every change in layers: within a layer no two windows of a process overlap,
/// so one `grp` column per layer places every record of the layer's windows. A record in two
/// overlapping windows (the after-window of one change and the before-window of the next) is in
/// two layers; there are rarely more than two, whatever the number of changes.
pub(super) fn window_layers(changes: &[Change]) -> Vec<Vec<CutWindow>> {
    // each layer with its windows' spans by process: a window is checked against its own
    // process's windows only (against all of the layer's, 20,000 changes took minutes)
    let mut layers: Vec<(Vec<CutWindow>, SpansByProcess)> = Vec::new();
    for (c, ch) in changes.iter().enumerate() {
        for (grp, span) in [(2 * c as i64, ch.before), (2 * c as i64 + 1, ch.after)] {
            let w = CutWindow { grp, process_id: ch.process_id, span };
            let free = |spans: &SpansByProcess| {
                spans.get(&w.process_id).is_none_or(|taken| !taken.iter().any(|o| overlap(*o, w.span)))
            };
            match layers.iter_mut().find(|(_, spans)| free(spans)) {
                Some((layer, spans)) => {
                    layer.push(w);
                    spans.entry(w.process_id).or_default().push(w.span);
                }
                None => layers.push((vec![w], HashMap::from([(w.process_id, vec![w.span])]))),
            }
        }
    }
    layers.into_iter().map(|(layer, _)| layer).collect()
}

/// The `grp` of every record in one layer's windows (null outside them): per record, a binary
/// search among its process's windows in the layer, which do not overlap.
pub(super) fn layer_grp(process: &UInt32Chunked, at: &Int64Chunked, layer: &[CutWindow], name: &str) -> Int64Chunked {
    // by process id (dense), not hashed: one lookup per record and layer
    let processes = layer.iter().map(|w| w.process_id as usize + 1).max().unwrap_or(0);
    let mut by_process: Vec<Vec<CutWindow>> = vec![Vec::new(); processes];
    for w in layer {
        if let Some(windows) = by_process.get_mut(w.process_id as usize) {
            windows.push(*w);
        }
    }
    for windows in &mut by_process {
        windows.sort_by_key(|w| w.span.start.unwrap_or(i64::MIN));
    }
    let grp = process.iter().zip(at.iter()).map(|(p, t)| {
        let (windows, t) = (by_process.get(p? as usize)?, t?);
        let after_start = windows.partition_point(|w| w.span.start.is_none_or(|s| s <= t));
        let w = windows.get(after_start.checked_sub(1)?)?;
        w.span.end.is_none_or(|e| t < e).then_some(w.grp)
    });
    Int64Chunked::from_iter_options(name.into(), grp)
}

/// The records of every window with its `grp`, a record once per window it is in (and the
/// `grp_X` pair keys the queries name, see `metrics::pair_key`). The table is not copied: each
/// layer of windows is a `grp` column and a filter, which the queries apply as they read (the
/// copies of the windowed records cost 800 MB next to a 10M-ticket table).
pub(super) fn windowed(df: &DataFrame, changes: &[Change], queries: &[Query]) -> Result<Vec<LazyFrame>> {
    match windowed_in_runs(df, changes, queries)? {
        Some(layers) => Ok(layers),
        None => windowed_by_filter(df, changes, queries),
    }
}

/// [`windowed`] for records in any order: per layer a `grp` column over the whole table and a
/// filter on it.
pub(super) fn windowed_by_filter(df: &DataFrame, changes: &[Change], queries: &[Query]) -> Result<Vec<LazyFrame>> {
    let process = df.column("process_id").and_then(|c| c.cast(&DataType::UInt32))?;
    let process = process.u32()?;
    let attributed = attributed_ms(df)?;
    let layers = window_layers(changes);
    let paired = metrics::paired_columns(df, queries);
    let names: Vec<Expr> = df.get_column_names().into_iter().map(|n| col(n.clone())).collect();
    let mut with_grps = df.clone();
    for (k, layer) in layers.iter().enumerate() {
        let grp = layer_grp(process, &attributed, layer, &format!("grp_{k}"));
        for x in &paired {
            let values = df.column(x)?;
            let key = window_pair_key(&grp.clone().into_column(), values, &format!("grp_{x}_{k}"), changes)?;
            with_grps.with_column(key)?;
        }
        // a window's grp is small: held as 32 bits, each layer's column is half the size
        with_grps.with_column(grp.into_column().cast(&DataType::Int32)?)?;
    }
    let all = with_grps.lazy();
    let parts: Vec<LazyFrame> = (0..layers.len())
        .map(|k| {
            let grp = format!("grp_{k}");
            let pair_keys = paired.iter().map(|x| col(format!("grp_{x}_{k}")).alias(format!("grp_{x}")));
            let columns: Vec<Expr> = names
                .iter()
                .cloned()
                // kept at 32 bits through the queries' filtered copies (their results are 64-bit)
                .chain([col(grp.as_str()).alias("grp")])
                .chain(pair_keys)
                .collect();
            all.clone().filter(col(grp.as_str()).is_not_null()).select(columns)
        })
        .collect();
    if parts.is_empty() {
        let pair_keys = paired.iter().map(|x| lit(0u64).alias(format!("grp_{x}")));
        return Ok(vec![all
            .filter(lit(false))
            .select(names.into_iter().chain([lit(0i32).alias("grp")]).chain(pair_keys).collect::<Vec<_>>())]);
    }
    Ok(parts)
}

/// As [`windowed`], for records in process and time order (the tickets): each window is then a
/// run of rows, found by binary search, and a layer is its windows' runs put one after the
/// other (slices of the table, not a copy), each with its `grp`. The queries then read the
/// windows' records only, where a filter read every record once per query and layer. None when
/// the records are not in that order (checked, never assumed).
pub(super) fn windowed_in_runs(
    df: &DataFrame,
    changes: &[Change],
    queries: &[Query],
) -> Result<Option<Vec<LazyFrame>>> {
    let layers = window_layers(changes);
    if layers.is_empty() || df.height() == 0 {
        return Ok(None);
    }
    let process = df.column("process_id").and_then(|c| c.cast(&DataType::UInt32))?;
    let process = process.u32()?.rechunk();
    let attributed = attributed_ms(df)?;
    let attributed = attributed.rechunk();
    let (Ok(process), Ok(times)) = (process.cont_slice(), attributed.cont_slice()) else {
        return Ok(None);
    };
    let in_order = process.windows(2).zip(times.windows(2)).all(|(p, t)| p[0] < p[1] || (p[0] == p[1] && t[0] <= t[1]));
    if !in_order {
        return Ok(None);
    }
    let paired = metrics::paired_columns(df, queries);
    let mut parts = Vec::with_capacity(layers.len());
    for layer in &layers {
        // (first row, rows, grp) of each window, in the table's order
        let mut runs: Vec<(usize, usize, i64)> = Vec::with_capacity(layer.len());
        for w in layer {
            let first = process.partition_point(|&p| p < w.process_id);
            let end = process.partition_point(|&p| p <= w.process_id);
            let of_process = times.get(first..end).unwrap_or_default();
            let from = first + w.span.start.map_or(0, |s| of_process.partition_point(|&t| t < s));
            let to = first + w.span.end.map_or(of_process.len(), |e| of_process.partition_point(|&t| t < e));
            if to > from {
                runs.push((from, to - from, w.grp));
            }
        }
        runs.sort_unstable();
        // a window's grp is small: held as 32 bits
        let with_grp = |from: usize, rows: usize, grp: i64| -> Result<DataFrame> {
            let mut run = df.slice(from as i64, rows);
            run.with_column(Int32Chunked::full("grp".into(), grp as i32, rows).into_column())?;
            Ok(run)
        };
        // (a layer whose windows hold no record is the table's columns without rows)
        let mut frame = with_grp(0, 0, 0)?;
        for (from, rows, grp) in runs {
            frame.vstack_mut_owned(with_grp(from, rows, grp)?)?;
        }
        for x in &paired {
            let (grp, values) = (frame.column("grp"), frame.column(x));
            let key = window_pair_key(grp?, values?, &format!("grp_{x}"), changes)?;
            frame.with_column(key)?;
        }
        parts.push(frame.lazy());
    }
    Ok(Some(parts))
}

/// `grp_X` of a window `grp` and a column: packed against the range of every window's grp (two
/// per change), so that keys of different layers never meet.
pub(super) fn window_pair_key(grp: &Column, values: &Column, name: &str, changes: &[Change]) -> Result<Column> {
    metrics::pair_key(grp, values, name, Some((0, 2 * changes.len() as i64)))
}

/// The layers of windows as one table.
pub(super) fn stacked(layers: Vec<LazyFrame>) -> Result<LazyFrame> {
    Ok(concat(layers, UnionArgs::default())?)
}
