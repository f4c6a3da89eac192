//! The checked blocks of the ticket files, stacked into one table as they come in (in file
//! order). Each column is written once into a buffer sized for the whole input (text, the
//! ticket ids, keeps its blocks' pieces: it is read for duplicates and evidence only): stacking the
//! blocks first and copying them together afterwards held the table twice and touched its
//! memory twice (measured at 10M tickets: 2.4 s, almost all of it the kernel handing out fresh
//! pages, and a peak of 1.63 GB for a 0.94 GB table).

use polars::prelude::*;
use polars_arrow::array::BooleanArray;
use polars_arrow::bitmap::{Bitmap, MutableBitmap};

use crate::error::{Error, Result};

/// One column being stacked, by its physical type; logical types (timestamps, categories) keep
/// their type to be put back on at the end.
enum Stacked {
    I64(Values<Int64Type>, DataType),
    I32(Values<Int32Type>),
    U32(Values<UInt32Type>),
    U64(Values<UInt64Type>),
    Categories(Values<UInt32Type>, DataType),
    Bool(Flags),
    /// text, its blocks' chunks kept as they are
    TextPieces(Column),
    /// any other type: its blocks' chunks, put together at the end
    Chunks(Column),
}

/// Validity of the rows stacked so far: none until the first null comes (most columns have
/// none), then a bit per row.
#[derive(Default)]
struct Validity(Option<MutableBitmap>);

impl Validity {
    /// Add the validity of `len` rows (`rows` before them), `None` meaning all valid.
    fn extend(&mut self, rows: usize, len: usize, validity: Option<&Bitmap>, capacity: usize) {
        match (&mut self.0, validity.filter(|v| v.unset_bits() > 0)) {
            (Some(bits), Some(v)) => bits.extend_from_bitmap(v),
            (Some(bits), None) => bits.extend_constant(len, true),
            (None, Some(v)) => {
                let mut bits = MutableBitmap::with_capacity(capacity.max(rows + len));
                bits.extend_constant(rows, true);
                bits.extend_from_bitmap(v);
                self.0 = Some(bits);
            }
            (None, None) => {}
        }
    }

    fn finish(self) -> Option<Bitmap> {
        self.0.map(Bitmap::from)
    }
}

/// Values of one numeric type, copied a block's slice at a time: a builder's value-by-value
/// appends cost as much as the page faults of the buffer they fill.
struct Values<T: PolarsNumericType> {
    values: Vec<T::Native>,
    validity: Validity,
    capacity: usize,
}

impl<T: PolarsNumericType> Values<T> {
    fn new(capacity: usize) -> Self {
        Values { values: Vec::with_capacity(capacity), validity: Validity::default(), capacity }
    }

    fn append(&mut self, from: &ChunkedArray<T>) {
        for arr in from.downcast_iter() {
            self.validity.extend(self.values.len(), arr.len(), arr.validity(), self.capacity);
            self.values.extend_from_slice(arr.values());
        }
    }

    fn finish(self, name: PlSmallStr) -> ChunkedArray<T> {
        ChunkedArray::from_vec_validity(name, self.values, self.validity.finish())
    }
}

/// Booleans, copied a block's bitmap at a time.
struct Flags {
    values: MutableBitmap,
    validity: Validity,
    capacity: usize,
}

impl Flags {
    fn append(&mut self, from: &BooleanChunked) {
        for arr in from.downcast_iter() {
            self.validity.extend(self.values.len(), arr.len(), arr.validity(), self.capacity);
            self.values.extend_from_bitmap(arr.values());
        }
    }

    fn finish(self, name: PlSmallStr) -> BooleanChunked {
        let arr = BooleanArray::new(ArrowDataType::Boolean, self.values.into(), self.validity.finish());
        BooleanChunked::with_chunk(name, arr)
    }
}

impl Stacked {
    fn new(column: &Column, capacity: usize) -> Self {
        match column.dtype() {
            DataType::Int64 | DataType::Datetime(..) => Stacked::I64(Values::new(capacity), column.dtype().clone()),
            DataType::Int32 => Stacked::I32(Values::new(capacity)),
            DataType::UInt32 => Stacked::U32(Values::new(capacity)),
            DataType::UInt64 => Stacked::U64(Values::new(capacity)),
            DataType::Categorical(..) if column.cat32().is_ok() => {
                Stacked::Categories(Values::new(capacity), column.dtype().clone())
            }
            DataType::Boolean => Stacked::Bool(Flags {
                values: MutableBitmap::with_capacity(capacity),
                validity: Validity::default(),
                capacity,
            }),
            // Text (ticket ids) keeps its blocks as they are: a second copy of every id cost more
            // than the ids are read for (duplicates, then only with --record-ids).
            DataType::String => Stacked::TextPieces(column.clone().slice(0, 0)),
            other => Stacked::Chunks(Column::new_empty(column.name().clone(), other)),
        }
    }

    fn append(&mut self, column: &Column) -> Result<()> {
        let mismatch = || Error::Internal(format!("column {} changed its type between blocks", column.name()));
        match self {
            Stacked::I64(to, dtype) if column.dtype() == dtype => {
                let physical = column.to_physical_repr();
                to.append(physical.i64()?);
            }
            Stacked::I32(to) => to.append(column.i32().map_err(|_| mismatch())?),
            Stacked::U32(to) => to.append(column.u32().map_err(|_| mismatch())?),
            Stacked::U64(to) => to.append(column.u64().map_err(|_| mismatch())?),
            Stacked::Categories(to, dtype) if column.dtype() == dtype => {
                to.append(column.cat32()?.physical());
            }
            Stacked::Bool(to) => to.append(column.bool().map_err(|_| mismatch())?),
            Stacked::TextPieces(all) => {
                column.str().map_err(|_| mismatch())?;
                all.append(column)?;
            }
            Stacked::Chunks(all) => {
                all.append(column)?;
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    fn finish(self, name: PlSmallStr) -> Result<Column> {
        Ok(match self {
            Stacked::I64(b, dtype) => b.finish(name).into_series().cast(&dtype)?.into_column(),
            Stacked::I32(b) => b.finish(name).into_column(),
            Stacked::U32(b) => b.finish(name).into_column(),
            Stacked::U64(b) => b.finish(name).into_column(),
            Stacked::Categories(b, dtype) => {
                // SAFETY: every code was copied from a column of this very categorical type.
                let ca = unsafe { Categorical32Chunked::from_cats_and_dtype_unchecked(b.finish(name), dtype) };
                ca.into_series().into_column()
            }
            Stacked::Bool(b) => b.finish(name).into_column(),
            Stacked::TextPieces(all) => all,
            Stacked::Chunks(all) => all.rechunk(),
        })
    }
}

/// Frames of one schema stacked in the order they are pushed.
pub(crate) struct FrameStack {
    capacity: usize,
    columns: Vec<(PlSmallStr, Stacked)>,
    height: usize,
}

impl FrameStack {
    /// A stack sized for about `capacity` rows (it grows past them if need be).
    pub fn with_capacity(capacity: usize) -> Self {
        FrameStack { capacity, columns: Vec::new(), height: 0 }
    }

    pub fn push(&mut self, frame: &DataFrame) -> Result<()> {
        if self.columns.is_empty() {
            let capacity = self.capacity.max(frame.height());
            self.columns = frame.columns().iter().map(|c| (c.name().clone(), Stacked::new(c, capacity))).collect();
        }
        if frame.width() != self.columns.len() {
            return Err(Error::Internal("a block has other columns than the first".into()));
        }
        for ((_, to), column) in self.columns.iter_mut().zip(frame.columns()) {
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
        let columns = self.columns.into_iter().map(|(name, c)| c.finish(name)).collect::<Result<Vec<Column>>>()?;
        Ok(Some(DataFrame::new(self.height, columns)?))
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
        // in these orders the nulls come in the first block, after blocks without any (a
        // validity started part way), and in a block of several chunks
        let mut chunked = blocks[3].clone();
        chunked.vstack_mut(&blocks[0]).unwrap();
        let orders: [Vec<DataFrame>; 3] = [
            blocks.to_vec(),
            vec![blocks[1].clone(), blocks[2].clone(), blocks[3].clone(), blocks[0].clone()],
            vec![blocks[1].clone(), chunked, blocks[1].clone()],
        ];
        for (k, order) in orders.iter().enumerate() {
            let mut expected = order[0].clone();
            for b in &order[1..] {
                expected.vstack_mut(b).unwrap();
            }
            for capacity in [0, 1, 100] {
                let mut stack = FrameStack::with_capacity(capacity);
                for b in order {
                    stack.push(b).unwrap();
                }
                let stacked = stack.finish().unwrap().unwrap();
                assert!(stacked.equals_missing(&expected), "order {k}, capacity {capacity}:\n{stacked}\n{expected}");
                assert_eq!(stacked.schema(), expected.schema());
                assert!(stacked.columns().iter().all(|c| c.n_chunks() == 1 || c.dtype() == &DataType::String));
                // a column with no null carries no validity
                let line = stacked.column("line").unwrap().u64().unwrap().rechunk();
                assert!(line.downcast_iter().all(|a| a.validity().is_none()));
            }
        }
        assert!(FrameStack::with_capacity(10).finish().unwrap().is_none());
    }
}
