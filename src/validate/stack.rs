//! The checked blocks of the ticket files, stacked into one table as they come in (in file
//! order). Each column is written once into a buffer sized for the whole input (text, the
//! ticket ids, keeps its blocks' pieces: it is read for duplicates and evidence only): stacking the
//! blocks first and copying them together afterwards held the table twice and touched its
//! memory twice (measured at 10M tickets: 2.4 s, almost all of it the kernel handing out fresh
//! pages, and a peak of 1.63 GB for a 0.94 GB table).

use polars::prelude::*;

use crate::error::{polars_internal, Error, Result};

/// One column being stacked, by its physical type; logical types (timestamps, categories) keep
/// their type to be put back on at the end.
enum Stacked {
    I64(PrimitiveChunkedBuilder<Int64Type>, DataType),
    I32(PrimitiveChunkedBuilder<Int32Type>),
    U32(PrimitiveChunkedBuilder<UInt32Type>),
    U64(PrimitiveChunkedBuilder<UInt64Type>),
    Categories(PrimitiveChunkedBuilder<UInt32Type>, DataType),
    Bool(BooleanChunkedBuilder),
    /// text, its blocks' chunks kept as they are
    TextPieces(Column),
    /// any other type: its blocks' chunks, put together at the end
    Chunks(Column),
}

fn append_numeric<T: PolarsNumericType>(to: &mut PrimitiveChunkedBuilder<T>, from: &ChunkedArray<T>) {
    if from.null_count() == 0 {
        from.downcast_iter().for_each(|arr| arr.values().iter().for_each(|&v| to.append_value(v)));
    } else {
        from.iter().for_each(|v| to.append_option(v));
    }
}

impl Stacked {
    fn new(column: &Column, capacity: usize) -> Self {
        let name = column.name().clone();
        match column.dtype() {
            DataType::Int64 | DataType::Datetime(..) => {
                Stacked::I64(PrimitiveChunkedBuilder::new(name, capacity), column.dtype().clone())
            }
            DataType::Int32 => Stacked::I32(PrimitiveChunkedBuilder::new(name, capacity)),
            DataType::UInt32 => Stacked::U32(PrimitiveChunkedBuilder::new(name, capacity)),
            DataType::UInt64 => Stacked::U64(PrimitiveChunkedBuilder::new(name, capacity)),
            DataType::Categorical(..) if column.cat32().is_ok() => {
                Stacked::Categories(PrimitiveChunkedBuilder::new(name, capacity), column.dtype().clone())
            }
            DataType::Boolean => Stacked::Bool(BooleanChunkedBuilder::new(name, capacity)),
            // Text (ticket ids) keeps its blocks as they are: a second copy of every id cost more
            // than the ids are read for (duplicates, then only with --record-ids).
            DataType::String => Stacked::TextPieces(column.clone().slice(0, 0)),
            other => Stacked::Chunks(Column::new_empty(name, other)),
        }
    }

    fn append(&mut self, column: &Column) -> Result<()> {
        let mismatch = || Error::Internal(format!("column {} changed its type between blocks", column.name()));
        match self {
            Stacked::I64(to, dtype) if column.dtype() == dtype => {
                let physical = column.to_physical_repr();
                append_numeric(to, physical.i64().map_err(polars_internal)?);
            }
            Stacked::I32(to) => append_numeric(to, column.i32().map_err(|_| mismatch())?),
            Stacked::U32(to) => append_numeric(to, column.u32().map_err(|_| mismatch())?),
            Stacked::U64(to) => append_numeric(to, column.u64().map_err(|_| mismatch())?),
            Stacked::Categories(to, dtype) if column.dtype() == dtype => {
                append_numeric(to, column.cat32().map_err(polars_internal)?.physical());
            }
            Stacked::Bool(to) => {
                column.bool().map_err(|_| mismatch())?.iter().for_each(|v| to.append_option(v));
            }
            Stacked::TextPieces(all) => {
                column.str().map_err(|_| mismatch())?;
                all.append(column).map_err(polars_internal)?;
            }
            Stacked::Chunks(all) => {
                all.append(column).map_err(polars_internal)?;
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    fn finish(self) -> Result<Column> {
        Ok(match self {
            Stacked::I64(b, dtype) => b.finish().into_series().cast(&dtype).map_err(polars_internal)?.into_column(),
            Stacked::I32(b) => b.finish().into_column(),
            Stacked::U32(b) => b.finish().into_column(),
            Stacked::U64(b) => b.finish().into_column(),
            Stacked::Categories(b, dtype) => {
                // SAFETY: every code was copied from a column of this very categorical type.
                let ca = unsafe { Categorical32Chunked::from_cats_and_dtype_unchecked(b.finish(), dtype) };
                ca.into_series().into_column()
            }
            Stacked::Bool(b) => b.finish().into_column(),
            Stacked::TextPieces(all) => all,
            Stacked::Chunks(all) => all.rechunk(),
        })
    }
}

/// Frames of one schema stacked in the order they are pushed.
pub(crate) struct FrameStack {
    capacity: usize,
    columns: Vec<Stacked>,
    height: usize,
}

impl FrameStack {
    /// A stack sized for about `capacity` rows (it grows past them if need be).
    pub fn with_capacity(capacity: usize) -> Self {
        FrameStack { capacity, columns: Vec::new(), height: 0 }
    }

    pub fn push(&mut self, frame: &DataFrame) -> Result<()> {
        if self.columns.is_empty() {
            self.columns = frame.columns().iter().map(|c| Stacked::new(c, self.capacity.max(frame.height()))).collect();
        }
        if frame.width() != self.columns.len() {
            return Err(Error::Internal("a block has other columns than the first".into()));
        }
        for (to, column) in self.columns.iter_mut().zip(frame.columns()) {
            to.append(column)?;
        }
        self.height += frame.height();
        Ok(())
    }

    /// The stacked table; None when no frame was pushed.
    pub fn finish(self) -> Result<Option<DataFrame>> {
        if self.columns.is_empty() {
            return Ok(None);
        }
        let columns = self.columns.into_iter().map(Stacked::finish).collect::<Result<Vec<Column>>>()?;
        DataFrame::new(self.height, columns).map(Some).map_err(polars_internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ids: &[&str], opened: &[Option<i64>], group: &[Option<&str>], flag: &[Option<bool>]) -> DataFrame {
        let cat = DataType::from_categories(Categories::global());
        let n = ids.len();
        DataFrame::new(
            n,
            vec![
                Column::new("ticket_id".into(), ids),
                Int64Chunked::from_slice_options("opened_at".into(), opened)
                    .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                    .into_column(),
                Column::new("group".into(), group).cast(&cat).unwrap(),
                Column::new("flag".into(), flag),
                Column::new("line".into(), (0..n as u64).collect::<Vec<_>>()),
                Column::new("priority".into(), vec![3i32; n]),
                Column::new("hours".into(), vec![1.5f64; n]),
            ],
        )
        .unwrap()
    }

    /// The stacked table equals the blocks put together by polars, types, nulls and all, and
    /// comes out as one chunk per column; too small a size only makes it grow.
    #[test]
    fn stacks_blocks_as_polars_would() {
        let blocks = [
            block(
                &["A-1", "a ticket id longer than twelve bytes"],
                &[Some(1), None],
                &[Some("x"), None],
                &[Some(true), None],
            ),
            block(&["A-3"], &[Some(3)], &[Some("y")], &[Some(false)]),
            block(&[], &[], &[], &[]),
            block(&["A-4", "A-5"], &[None, Some(5)], &[Some("x"), Some("z")], &[None, Some(true)]),
        ];
        let mut expected = blocks[0].clone();
        for b in &blocks[1..] {
            expected.vstack_mut(b).unwrap();
        }
        for capacity in [0, 1, 100] {
            let mut stack = FrameStack::with_capacity(capacity);
            for b in &blocks {
                stack.push(b).unwrap();
            }
            let stacked = stack.finish().unwrap().unwrap();
            assert!(stacked.equals_missing(&expected), "capacity {capacity}:\n{stacked}\n{expected}");
            assert_eq!(stacked.schema(), expected.schema());
            assert!(stacked.columns().iter().all(|c| c.n_chunks() == 1 || c.dtype() == &DataType::String));
        }
        assert!(FrameStack::with_capacity(10).finish().unwrap().is_none());
    }
}
