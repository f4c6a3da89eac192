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
    /// None unless `ca` is in one chunk (rechunk it first) or empty.
    pub fn of(ca: &'a ChunkedArray<T>) -> Option<Self> {
        match ca.downcast_iter().next() {
            Some(arr) if ca.chunks().len() == 1 => Some(Dense { values: arr.values(), validity: arr.validity() }),
            None => Some(Dense { values: &[], validity: None }),
            Some(_) => None,
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
    /// None unless `ca` is in one chunk (rechunk it first) or empty.
    pub fn of(ca: &'a BooleanChunked) -> Option<Self> {
        match ca.downcast_iter().next() {
            Some(arr) if ca.chunks().len() == 1 => Some(Bits { values: Some(arr.values()), validity: arr.validity() }),
            None => Some(Bits { values: None, validity: None }),
            Some(_) => None,
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<bool> {
        let values = self.values.filter(|v| i < v.len())?;
        self.validity.is_none_or(|b| b.get_bit(i)).then(|| values.get_bit(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column built value by value equals polars' own from the same options: no null, nulls
    /// first, in the middle, last, only nulls.
    #[test]
    fn nullable_columns_equal_polars_own() {
        let cases: [&[Option<i64>]; 6] = [
            &[],
            &[Some(1), Some(2)],
            &[None, Some(2), Some(3)],
            &[Some(1), None, Some(3)],
            &[Some(1), Some(2), None],
            &[None, None],
        ];
        for values in cases {
            let mut built = Nullable::<Int64Type>::with_capacity(1);
            values.iter().for_each(|v| built.push(*v));
            let built = built.finish("x");
            assert_eq!(built.iter().collect::<Vec<_>>(), values);
            assert_eq!(built.null_count(), values.iter().filter(|v| v.is_none()).count());
            // and read back by row
            let dense = Dense::of(&built).unwrap();
            assert_eq!((0..values.len()).map(|i| dense.get(i)).collect::<Vec<_>>(), values);
            assert_eq!(dense.get(values.len()), None);
        }
    }

    /// Booleans by row; a column in several pieces is refused rather than read as empty.
    #[test]
    fn bits_by_row_and_pieces_refused() {
        let values = [Some(true), None, Some(false)];
        let ca = BooleanChunked::from_iter_options("b".into(), values.into_iter());
        let bits = Bits::of(&ca).unwrap();
        assert_eq!((0..4).map(|i| bits.get(i)).collect::<Vec<_>>(), [Some(true), None, Some(false), None]);
        let mut two = ca.clone();
        two.append(&ca).unwrap();
        assert!(Bits::of(&two).is_none());
        let mut ints = Int64Chunked::from_slice("i".into(), &[1, 2]);
        ints.append(&Int64Chunked::from_slice("i".into(), &[3])).unwrap();
        assert!(Dense::of(&ints).is_none());
        assert!(Dense::of(&ints.rechunk()).is_some());
    }
}
