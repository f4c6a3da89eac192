//! Reading a large input on every core: blocks (CSV) or runs of row groups (Parquet) go to a
//! pool of workers, and their results come back in file order.

use super::*;

/// A checked block or slice by its index: the result, the records read and the ragged ones.
pub(super) type Done<T> = (usize, Result<(T, u64, u64)>);

impl Opened {
    /// Read the records in blocks, handing each block to `process` on every core; the results
    /// come back in file order. With `limit`, reading stops after about that many bytes.
    pub fn read_parts<T: Send>(
        &self,
        limit: Option<usize>,
        process: &(dyn Fn(&RawTable) -> Result<T> + Sync),
    ) -> Result<Parts<T>> {
        let mut parts = Vec::new();
        let tally = self.read_parts_into(limit, process, &mut |part| {
            parts.push(part);
            Ok(())
        })?;
        Ok(Parts { parts, rows_read: tally.rows_read, complete: tally.complete })
    }

    /// As [`Opened::read_parts`], but each result is handed to `consume` in file order as soon
    /// as it and every result before it are done, so that a large file's results need not all
    /// be held at once.
    pub fn read_parts_into<T: Send>(
        &self,
        limit: Option<usize>,
        process: &(dyn Fn(&RawTable) -> Result<T> + Sync),
        consume: &mut (dyn FnMut(T) -> Result<()> + Send),
    ) -> Result<ReadTally> {
        let keep = match &self.body {
            Body::Frame { df, keep } => return self.read_whole(df, keep, process, consume),
            Body::Parquet { projection, keep, metadata } if metadata.row_groups.is_empty() => {
                let df = self.read_parquet_rows(projection, metadata, None)?;
                return self.read_whole(&df, keep, process, consume);
            }
            Body::Parquet { keep, .. } | Body::Csv { keep, .. } => keep,
        };
        let workers = crate::cores::count();
        let mut in_order = InOrder { next: 0, waiting: BTreeMap::new(), rows_read: 0, ragged: 0 };
        let stop = std::sync::atomic::AtomicBool::new(false);
        // At most a slice per worker waits: with the slices the workers hold and a Parquet run
        // being read, no more than three runs of row groups are in memory.
        let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<(usize, Work)>(workers);
        // Held by the workers alone: when the last of them has stopped (at a panic too), the
        // reading's next send fails instead of waiting for ever.
        let work_rx = Arc::new(std::sync::Mutex::new(work_rx));
        // Block buffers go back to the reader, and each worker keeps its parsing buffers: fresh
        // buffers for every block cost more in page faults than the parsing.
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let mut lines = None;
        let complete = std::thread::scope(|scope| -> Result<bool> {
            let (done_tx, done_rx) = std::sync::mpsc::channel::<Done<T>>();
            // The same workers for the whole file: a Parquet file's runs of row groups were
            // each checked on threads of their own, and every new thread's allocations took
            // fresh pages from the system.
            let mut checking = Vec::with_capacity(workers);
            for _ in 0..workers {
                let done_tx = done_tx.clone();
                let spare_tx = spare_tx.clone();
                let work_rx = Arc::clone(&work_rx);
                checking.push(scope.spawn(move || self.work_through(keep, process, &work_rx, &done_tx, &spare_tx)));
            }
            drop((done_tx, spare_tx, work_rx));
            // The results are handed on in file order on a thread of their own, so that reading
            // never waits for them: handing a block on (copying it into the ticket table) took
            // longer than reading it, and the workers waited for blocks meanwhile. Measured at
            // 10M tickets (`metrics`, 7 alternating runs, twice): median 6.84 -> 6.16 s and
            // 7.38 -> 6.60 s; at 1M no change.
            let stop = &stop;
            let in_order = &mut in_order;
            let handing_on = scope.spawn(move || {
                let mut outcome = Ok(());
                for done in done_rx {
                    if outcome.is_ok() {
                        outcome = in_order.arrive(done, consume);
                        if outcome.is_err() {
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
                outcome
            });
            // This thread reads while the workers check what it read.
            let reading = match &self.body {
                Body::Csv { delimiter, .. } => {
                    self.feed_csv_blocks(*delimiter, limit, &work_tx, stop, spare_rx, &mut lines)
                }
                Body::Parquet { projection, metadata, .. } => {
                    self.feed_parquet_runs(projection, metadata, limit, &work_tx, stop)
                }
                // (read whole above)
                Body::Frame { .. } => Ok(true),
            };
            // The workers finish what they hold, then the handing on ends.
            drop(work_tx);
            // A worker that panicked left its rows unread: an internal error, not a partial table.
            // (every worker joined, none left for the scope to raise its panic again)
            let mut panicked = false;
            for worker in checking {
                panicked |= worker.join().is_err();
            }
            let handed_on = handing_on.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            if panicked {
                return Err(Error::Internal(format!("checking {} failed", self.path.display())));
            }
            // a problem in the rows handed on comes before one in reading further
            handed_on.and(reading)
        })?;
        if !in_order.waiting.is_empty() {
            return Err(Error::Internal(format!("a block of {} was never read", self.path.display())));
        }
        if let (true, Body::Csv { delimiter, .. }) = (complete, &self.body) {
            check_not_all_ragged(self, *delimiter, in_order.rows_read, in_order.ragged)?;
        }
        Ok(ReadTally { rows_read: in_order.rows_read, complete, lines: lines.filter(|_| complete) })
    }

    /// A worker: checks what the reading sends until there is no more, handing each result on
    /// with its index; its parsing buffers go from block to block.
    pub(super) fn work_through<T: Send>(
        &self,
        keep: &[bool],
        process: &(dyn Fn(&RawTable) -> Result<T> + Sync),
        work_rx: &std::sync::Mutex<std::sync::mpsc::Receiver<(usize, Work)>>,
        done_tx: &std::sync::mpsc::Sender<Done<T>>,
        spare_tx: &std::sync::mpsc::Sender<Vec<u8>>,
    ) {
        let mut scratch = Scratch::default();
        loop {
            let next = work_rx.lock().map_err(|_| ()).and_then(|rx| rx.recv().map_err(|_| ()));
            let Ok((index, work)) = next else { break };
            let result = match work {
                Work::Block { bytes, first_line, delimiter } => {
                    let (parsed, spare) =
                        parse_any_block(self, delimiter, keep, bytes, first_line, index == 0, scratch);
                    let _ = spare_tx.send(spare);
                    match parsed {
                        Ok(b) => {
                            let result = process(&b.table).map(|v| (v, b.table.rows_read, b.ragged));
                            scratch = b.table.into_scratch();
                            result
                        }
                        Err(e) => {
                            scratch = Scratch::default();
                            Err(e)
                        }
                    }
                }
                Work::Rows { frame, first_row } => frame_table(self, &frame, keep, first_row)
                    .and_then(|table| process(&table).map(|v| (v, table.rows_read, 0))),
            };
            if done_tx.send((index, result)).is_err() {
                break;
            }
        }
    }

    /// CSV: blocks cut after a record, in order, to the workers. Returns whether the whole file
    /// was read.
    pub(super) fn feed_csv_blocks(
        &self,
        delimiter: u8,
        limit: Option<usize>,
        work: &std::sync::mpsc::SyncSender<(usize, Work)>,
        stop: &std::sync::atomic::AtomicBool,
        spare: std::sync::mpsc::Receiver<Vec<u8>>,
        lines: &mut Option<u64>,
    ) -> Result<bool> {
        let unreadable = |source| Error::Unreadable { path: self.path.to_path_buf(), source };
        let mut file = File::open(self.data_path()).map_err(unreadable)?;
        let mut reader = BlockReader::new(&mut file, delimiter, spare);
        let (mut line, mut read, mut index) = (1u64, 0usize, 0usize);
        let mut unended = false;
        loop {
            // a problem in a block handed on stops the reading
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(true);
            }
            if limit.is_some_and(|l| read >= l) {
                return Ok(reader.at_end());
            }
            match reader.next_block() {
                Ok(Some(bytes)) => {
                    read += bytes.len();
                    let ends = count_line_ends(&bytes);
                    unended = bytes.last().is_some_and(|b| !matches!(b, b'\r' | b'\n'));
                    if work.send((index, Work::Block { bytes, first_line: line, delimiter })).is_err() {
                        return Ok(true);
                    }
                    line += ends;
                    index += 1;
                }
                Ok(None) => {
                    // (a last line without a line end is a line too)
                    *lines = Some(line - 1 + u64::from(unended));
                    return Ok(true);
                }
                Err(e) => return Err(unreadable(e)),
            }
        }
    }

    /// Parquet: runs of whole row groups of at least a slice per core, each read (decoded on
    /// every core) and handed to the workers in slices that stay within one row group (a slice
    /// across two was copied into one piece first), while the next run is read. Returns whether
    /// the whole file was read.
    pub(super) fn feed_parquet_runs(
        &self,
        projection: &[usize],
        metadata: &Arc<FileMetadata>,
        limit: Option<usize>,
        work: &std::sync::mpsc::SyncSender<(usize, Work)>,
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<bool> {
        let run_rows = frame_rows() * crate::cores::count();
        // A byte limit (the first blocks of a CSV file) as rows.
        let row_limit = limit.map(|bytes| (bytes / BYTES_PER_TICKET).max(1));
        let (mut start, mut len, mut index) = (0usize, 0usize, 0usize);
        let groups = metadata.row_groups.len();
        for (i, group) in metadata.row_groups.iter().enumerate() {
            len += group.num_rows();
            if len < run_rows && i + 1 < groups {
                continue;
            }
            // a problem in the rows handed on stops the reading
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let df = self.read_parquet_rows(projection, metadata, Some((start, len)))?;
            for (offset, rows) in slices_within_pieces(&df, frame_rows()) {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let frame = df.slice(offset as i64, rows);
                if work.send((index, Work::Rows { frame, first_row: start + offset })).is_err() {
                    return Ok(false);
                }
                index += 1;
            }
            start += len;
            len = 0;
            if row_limit.is_some_and(|l| start >= l) {
                break;
            }
        }
        Ok(start >= metadata.num_rows)
    }
}

/// What the reading hands a worker.
pub(super) enum Work {
    /// CSV: a block of complete records, the line it starts on, the file's delimiter
    Block { bytes: Vec<u8>, first_line: u64, delimiter: u8 },
    /// Parquet: a slice of a run of row groups, and the row of the file it starts at
    Rows { frame: DataFrame, first_row: usize },
}

/// (offset, length) of slices of `df` of at most `most` rows where its pieces (the row groups
/// it was read from: the pieces of its first column) allow: a piece larger than `most` is cut
/// into even slices of its own, so that no slice of a large row group is copied together from
/// two; smaller pieces side by side go into one slice up to `most` rows (a file of small row
/// groups would otherwise be checked in thousands of tiny slices).
pub(super) fn slices_within_pieces(df: &DataFrame, most: usize) -> Vec<(usize, usize)> {
    let most = most.max(1);
    let pieces: Vec<usize> = match df.columns().first() {
        Some(column) => column.as_materialized_series().chunk_lengths().collect(),
        None => vec![df.height()],
    };
    let mut slices = Vec::new();
    // small pieces gathered so far: (offset, rows)
    let mut gathered = (0usize, 0usize);
    let mut offset = 0;
    for piece in pieces {
        if gathered.1 + piece > most && gathered.1 > 0 {
            slices.push(gathered);
            gathered = (offset, 0);
        }
        if piece > most {
            let rows = piece.div_ceil(piece.div_ceil(most));
            let mut done = 0;
            while done < piece {
                let len = rows.min(piece - done);
                slices.push((offset + done, len));
                done += len;
            }
            gathered = (offset + piece, 0);
        } else {
            if gathered.1 == 0 {
                gathered.0 = offset;
            }
            gathered.1 += piece;
        }
        offset += piece;
    }
    if gathered.1 > 0 {
        slices.push(gathered);
    }
    slices
}

/// Results of blocks that came back out of order, kept until the ones before them are in.
pub(super) struct InOrder<T> {
    pub(super) next: usize,
    pub(super) waiting: BTreeMap<usize, Result<(T, u64, u64)>>,
    pub(super) rows_read: u64,
    pub(super) ragged: u64,
}

impl<T> InOrder<T> {
    /// Take one block's result, and hand on every result that is now next in file order; the
    /// first problem in file order stops it.
    pub(super) fn arrive(
        &mut self,
        (index, result): (usize, Result<(T, u64, u64)>),
        consume: &mut dyn FnMut(T) -> Result<()>,
    ) -> Result<()> {
        self.waiting.insert(index, result);
        while let Some(result) = self.waiting.remove(&self.next) {
            let (part, rows, ragged) = result?;
            self.rows_read += rows;
            self.ragged += ragged;
            self.next += 1;
            consume(part)?;
        }
        Ok(())
    }
}

pub(super) fn check_not_all_ragged(opened: &Opened, delimiter: u8, rows_read: u64, ragged: u64) -> Result<()> {
    if rows_read > 0 && ragged == rows_read {
        return Err(Error::invalid(
            &opened.path,
            format!(
                "every data row has a different number of fields than the header ({} fields split by '{}')",
                opened.headers.len(),
                delimiter_name(delimiter)
            ),
            "the delimiter of the header and of the rows differ, or the export is broken; export it again",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn parquet_slices_stay_within_row_groups_and_cover_every_row() {
        // a frame read from row groups of 7, 3 and 12 rows
        let piece = |range: std::ops::Range<i64>| {
            let values: Vec<i64> = range.collect();
            DataFrame::new(values.len(), vec![Column::new("x".into(), values)]).unwrap()
        };
        let mut df = piece(0..7);
        df.vstack_mut(&piece(7..10)).unwrap();
        df.vstack_mut(&piece(10..22)).unwrap();
        assert_eq!(df.first_col_n_chunks(), 3);
        let slices = slices_within_pieces(&df, 5);
        // 7 → 4 + 3, 3 → 3, 12 → 4 + 4 + 4: none across a row group, none above 5 rows
        assert_eq!(slices, vec![(0, 4), (4, 3), (7, 3), (10, 4), (14, 4), (18, 4)]);
        for (offset, len) in slices {
            assert_eq!(df.slice(offset as i64, len).first_col_n_chunks(), 1);
        }
        assert_eq!(slices_within_pieces(&piece(0..0), 5), vec![]);
        // small row groups side by side go together up to the most rows, a large one alone
        let mut small = piece(0..2);
        for range in [2..4, 4..5, 5..7, 7..19, 19..21] {
            small.vstack_mut(&piece(range)).unwrap();
        }
        assert_eq!(slices_within_pieces(&small, 5), vec![(0, 5), (5, 2), (7, 4), (11, 4), (15, 4), (19, 2)]);
    }
}
