//! Parquet and Arrow IPC frames: the mapped columns read as stored and cut into slices for
//! the workers, each slice a [`RawTable`].

use super::*;

impl Opened {
    /// Rows `rows` (offset, length; all when None) of the mapped columns of a Parquet file.
    pub(super) fn read_parquet_rows(
        &self,
        projection: &[usize],
        metadata: &Arc<FileMetadata>,
        rows: Option<(usize, usize)>,
    ) -> Result<DataFrame> {
        let file = File::open(&self.path).map_err(|source| Error::Unreadable { path: self.path.clone(), source })?;
        let mut reader = ParquetReader::new(file).with_projection(Some(projection.to_vec())).with_slice(rows);
        reader.set_metadata(metadata.clone());
        reader.finish().map_err(polars_in(&self.path, "cannot read Parquet"))
    }

    /// A frame held whole (Arrow IPC, a Parquet file without row groups): processed as
    /// [`Opened::process_frame`] does, each result handed to `consume` in row order.
    pub(super) fn read_whole<T: Send>(
        &self,
        df: &DataFrame,
        keep: &[bool],
        process: &(dyn Fn(&RawTable) -> Result<T> + Sync),
        consume: &mut (dyn FnMut(T) -> Result<()> + Send),
    ) -> Result<ReadTally> {
        for part in self.process_frame(df, keep, 0, process)? {
            consume(part)?;
        }
        Ok(ReadTally { rows_read: df.height() as u64, complete: true, lines: None })
    }

    /// A Parquet/IPC frame (whose first row is row `first_row` of the file) in slices, each
    /// processed on every core; the results in row order.
    pub(super) fn process_frame<T: Send>(
        &self,
        df: &DataFrame,
        keep: &[bool],
        first_row: usize,
        process: &(dyn Fn(&RawTable) -> Result<T> + Sync),
    ) -> Result<Vec<T>> {
        let path = &self.path;
        // Slices of at most `frame_rows`, as many as a multiple of the cores: a run of two row
        // groups of 122,880 rows was cut into 100,000 + 100,000 + 45,760 rows, and one core
        // checked 145,760 of them while the other checked 100,000.
        let cores = crate::cores::count();
        let slices = df.height().div_ceil(frame_rows()).max(1).next_multiple_of(cores);
        let rows = df.height().div_ceil(slices).max(1);
        let slices = df.height().div_ceil(rows).max(1);
        let workers = cores.min(slices);
        let mut done: Vec<(usize, Result<T>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    scope.spawn(move || {
                        (w..slices)
                            .step_by(workers)
                            .map(|k| {
                                let part = df.slice((k * rows) as i64, rows);
                                (k, frame_table(self, &part, keep, first_row + k * rows).and_then(|t| process(&t)))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut done = Vec::with_capacity(slices);
            for h in handles {
                // A part that never came back would be rows lost without a word.
                done.extend(h.join().map_err(|_| Error::Internal(format!("reading {} failed", path.display())))?);
            }
            Ok::<_, Error>(done)
        })?;
        done.sort_by_key(|d| d.0);
        done.into_iter().map(|(_, r)| r).collect::<Result<Vec<T>>>()
    }
}

/// A slice of a Parquet/IPC frame (the mapped columns, in header order) as a [`RawTable`]
/// whose rows are numbered from `first_row` + 1.
pub(super) fn frame_table(opened: &Opened, df: &DataFrame, keep: &[bool], first_row: usize) -> Result<RawTable> {
    let path = &opened.path;
    let mut read = df.columns().iter();
    let mut columns = Vec::with_capacity(opened.headers.len());
    for (i, header) in opened.headers.iter().enumerate() {
        if !keep.get(i).copied().unwrap_or(false) {
            columns.push(RawColumn::Skipped);
            continue;
        }
        let col = read.next().ok_or_else(|| Error::Internal(format!("column '{header}' was not read")))?;
        if keeps_its_type(col.dtype()) {
            let column = col.as_materialized_series().rechunk();
            columns.push(RawColumn::Typed { column, text: std::sync::OnceLock::new() });
            continue;
        }
        let s = col
            .as_materialized_series()
            .cast(&DataType::String)
            .map_err(polars_in(path, &format!("column '{header}' cannot be read as text")))?;
        let ca = s.str().map_err(polars_in(path, "column is not text"))?.rechunk().into_owned();
        columns.push(RawColumn::Text(ca));
    }
    let rows = df.height();
    Ok(RawTable {
        path: path.to_path_buf(),
        format: opened.format,
        encoding: opened.encoding,
        headers: opened.headers.clone(),
        columns,
        arena: String::new(),
        lines: LineMap::new(first_row as u64 + 1),
        rows,
        rows_read: rows as u64,
        file_lines: None,
        rejects: Vec::new(),
    })
}
