//! Column buffers written and read without a per-value `Option` in between: a column built
//! value by value into one buffer with a validity only from its first null, and one-chunk
//! columns read by row index. Taking a 10M-row column's values as options through iterators and
//! collecting them again cost more than the work done on them. A leaf: polars' arrays only.

use polars::prelude::*;
use polars_arrow::bitmap::{Bitmap, MutableBitmap};

/// A column written value by value: the values in one buffer, a validity only from the first
/// null on (most columns have none). A `Vec<Option<_>>` turned into a column afterwards was two
/// passes and twice the memory (a quarter of checking a Parquet file's typed columns).
pub struct Nullable<T: PolarsNumericType> {
    values: Vec<T::Native>,
    validity: Option<MutableBitmap>,
}

impl<T: PolarsNumericType> Nullable<T> {
    pub fn with_capacity(n: usize) -> Self {
        Nullable { values: Vec::with_capacity(n), validity: None }
    }

    #[inline]
    pub fn push(&mut self, value: Option<T::Native>) {
        match (value, &mut self.validity) {
            (Some(v), None) => self.values.push(v),
            (Some(v), Some(bits)) => {
                self.values.push(v);
                bits.push(true);
            }
            (None, validity) => {
                let bits = validity.get_or_insert_with(|| {
                    let mut bits = MutableBitmap::with_capacity(self.values.capacity());
                    bits.extend_constant(self.values.len(), true);
                    bits
                });
                bits.push(false);
                self.values.push(T::Native::default());
            }
        }
    }

    pub fn finish(self, name: &str) -> ChunkedArray<T> {
        ChunkedArray::from_vec_validity(name.into(), self.values, self.validity.map(Into::into))
    }
}

/// A numeric column of one chunk, read by row.
pub struct Dense<'a, T: PolarsNumericType> {
    values: &'a [T::Native],
    validity: Option<&'a Bitmap>,
}

impl<'a, T: PolarsNumericType> Dense<'a, T> {
    /// `ca` must be in one chunk (rechunked): an empty column otherwise.
    pub fn of(ca: &'a ChunkedArray<T>) -> Self {
        match ca.downcast_iter().next() {
            Some(arr) if ca.chunks().len() == 1 => Dense { values: arr.values(), validity: arr.validity() },
            _ => Dense { values: &[], validity: None },
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<T::Native> {
        let v = *self.values.get(i)?;
        self.validity.is_none_or(|b| b.get_bit(i)).then_some(v)
    }
}

/// A boolean column of one chunk, read by row.
pub struct Bits<'a> {
    values: Option<&'a Bitmap>,
    validity: Option<&'a Bitmap>,
}

impl<'a> Bits<'a> {
    pub fn of(ca: &'a BooleanChunked) -> Self {
        match ca.downcast_iter().next() {
            Some(arr) if ca.chunks().len() == 1 => Bits { values: Some(arr.values()), validity: arr.validity() },
            _ => Bits { values: None, validity: None },
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<bool> {
        let values = self.values.filter(|v| i < v.len())?;
        self.validity.is_none_or(|b| b.get_bit(i)).then(|| values.get_bit(i))
    }
}
