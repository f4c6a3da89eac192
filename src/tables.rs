//! Writing result tables: CSV through the csv crate with fixed formatting (timestamps as ISO
//! 8601 UTC, floats in their shortest exact form, empty for missing), Parquet and Arrow IPC
//! through polars, JSON as an array of objects. Pure functions from a frame to bytes.

use std::borrow::Cow;

use polars::prelude::*;

use crate::error::{Error, Result};
use sop_impact_parse::time::format_utc;

/// The format the metric tables are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Parquet,
    Ipc,
    Json,
}

pub fn extension(format: TableFormat) -> &'static str {
    match format {
        TableFormat::Csv => "csv",
        TableFormat::Parquet => "parquet",
        TableFormat::Ipc => "arrow",
        TableFormat::Json => "json",
    }
}

/// Render a frame in the given format.
pub fn to_bytes(df: &DataFrame, format: TableFormat) -> Result<Vec<u8>> {
    match format {
        TableFormat::Csv => to_csv(df),
        TableFormat::Json => to_json(df),
        TableFormat::Parquet => {
            let mut buf = Vec::new();
            ParquetWriter::new(&mut buf).finish(&mut df.clone())?;
            Ok(buf)
        }
        TableFormat::Ipc => {
            let mut buf = Vec::new();
            IpcWriter::new(&mut buf).finish(&mut df.clone())?;
            Ok(buf)
        }
    }
}

/// Text cells of every column, in order; `None` for missing.
fn cells(df: &DataFrame) -> Result<Vec<Vec<Option<String>>>> {
    df.columns()
        .iter()
        .map(|c| {
            let column = TextColumn::of(c)?;
            Ok((0..df.height()).map(|row| column.cell(row).map(Cow::into_owned)).collect())
        })
        .collect()
}

/// The shortest decimal that reads back as the same f64, never in exponent form.
pub fn format_float(x: f64) -> String {
    let s = format!("{x}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// One column of a table as text, a cell at a time: how each type is written (timestamps as
/// ISO 8601 UTC, floats in their shortest exact form), for the CSV writer and JSON's text cells.
/// A table of millions of rows is then never held as one string per cell.
enum TextColumn {
    /// epoch milliseconds
    Time(Int64Chunked),
    Float(Float64Chunked),
    /// the cast's text of numbers and booleans
    Plain(StringChunked),
    /// text from the data (the CSV writer neutralises it against spreadsheet formulas)
    Text(StringChunked),
}

impl TextColumn {
    fn of(column: &Column) -> Result<Self> {
        let s = column.as_materialized_series();
        let text =
            |s: &Series| -> Result<StringChunked> { Ok(s.cast(&DataType::String)?.str()?.rechunk().into_owned()) };
        Ok(match s.dtype() {
            DataType::Datetime(_, _) => {
                let ms = s.cast(&DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)))?;
                TextColumn::Time(ms.datetime()?.physical().rechunk().into_owned())
            }
            DataType::Float64 | DataType::Float32 => {
                let f = s.cast(&DataType::Float64)?;
                TextColumn::Float(f.f64()?.rechunk().into_owned())
            }
            DataType::String => TextColumn::Text(text(s)?),
            _ => TextColumn::Plain(text(s)?),
        })
    }

    /// Row `row`'s cell; None for a missing value (and a float that is not finite).
    fn cell(&self, row: usize) -> Option<Cow<'_, str>> {
        match self {
            TextColumn::Time(ca) => ca.get(row).map(|ms| Cow::Owned(format_utc(ms))),
            TextColumn::Float(ca) => ca.get(row).filter(|x| x.is_finite()).map(|x| Cow::Owned(format_float(x))),
            TextColumn::Plain(ca) | TextColumn::Text(ca) => ca.get(row).map(Cow::Borrowed),
        }
    }
}

fn to_csv(df: &DataFrame) -> Result<Vec<u8>> {
    let columns = df.columns().iter().map(TextColumn::of).collect::<Result<Vec<_>>>()?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    w.write_record(df.get_column_names().iter().map(|s| s.as_str())).map_err(internal)?;
    for row in 0..df.height() {
        for column in &columns {
            let value = column.cell(row).unwrap_or_default();
            // Numbers are data, not formulas; only text is neutralised.
            let value = match column {
                TextColumn::Text(_) => crate::output::neutralise_cell(&value),
                _ => Cow::Borrowed(value.as_ref()),
            };
            w.write_field(value.as_bytes()).map_err(internal)?;
        }
        w.write_record(None::<&[u8]>).map_err(internal)?;
    }
    w.into_inner().map_err(|e| Error::Internal(format!("writing CSV: {e}")))
}

fn to_json(df: &DataFrame) -> Result<Vec<u8>> {
    let text = cells(df)?;
    let columns: Vec<Vec<serde_json::Value>> =
        df.columns().iter().zip(text).map(|(c, text)| json_values(c, text)).collect::<Result<_>>()?;
    let names = df.get_column_names();
    let rows: Vec<serde_json::Value> = (0..df.height())
        .map(|row| {
            let obj: serde_json::Map<String, serde_json::Value> =
                names.iter().zip(&columns).map(|(name, c)| (name.to_string(), c[row].clone())).collect();
            serde_json::Value::Object(obj)
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&rows).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A column as JSON values: numbers as numbers (a whole float as an integer, as its CSV text
/// reads), booleans as booleans, everything else as its CSV text.
fn json_values(column: &Column, text: Vec<Option<String>>) -> Result<Vec<serde_json::Value>> {
    use serde_json::Value;
    let s = column.as_materialized_series();
    let values = match s.dtype() {
        DataType::Float64 | DataType::Float32 => {
            let f = s.cast(&DataType::Float64)?;
            f.f64()?.iter().map(|v| v.filter(|x| x.is_finite()).map_or(Value::Null, json_number)).collect()
        }
        dt if dt.is_signed_integer() => {
            let i = s.cast(&DataType::Int64)?;
            i.i64()?.iter().map(|v| v.map_or(Value::Null, Value::from)).collect()
        }
        dt if dt.is_unsigned_integer() => {
            let u = s.cast(&DataType::UInt64)?;
            u.u64()?.iter().map(|v| v.map_or(Value::Null, Value::from)).collect()
        }
        DataType::Boolean => s.bool()?.iter().map(|v| v.map_or(Value::Null, Value::Bool)).collect(),
        _ => text.into_iter().map(|v| v.map_or(Value::Null, Value::String)).collect(),
    };
    Ok(values)
}

/// A finite float as JSON: whole numbers as integers (−0 as 0), others as the shortest decimal.
fn json_number(x: f64) -> serde_json::Value {
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    const MINUS_TWO_POW_63: f64 = -9_223_372_036_854_775_808.0;
    if x.fract() == 0.0 && (0.0..TWO_POW_64).contains(&x) {
        serde_json::Value::from(x as u64)
    } else if x.fract() == 0.0 && (MINUS_TWO_POW_63..0.0).contains(&x) {
        serde_json::Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of one column whose cell is empty: the record is `""`, not a blank line a reader
    /// would skip; text is neutralised, numbers and missing values are not.
    #[test]
    fn csv_cells_one_column_and_formulas() {
        let one = DataFrame::new(2, vec![Column::new("x".into(), [Some(""), None])]).unwrap();
        assert_eq!(String::from_utf8(to_csv(&one).unwrap()).unwrap(), "x\n\"\"\n\"\"\n");
        let two = DataFrame::new(
            2,
            vec![Column::new("t".into(), [Some("=1+1"), None]), Column::new("v".into(), [Some(-0.0), Some(f64::NAN)])],
        )
        .unwrap();
        assert_eq!(String::from_utf8(to_csv(&two).unwrap()).unwrap(), "t,v\n'=1+1,0\n,\n");
    }

    #[test]
    fn floats_round_trip_and_missing_is_empty() {
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(format_float(1e-7), "0.0000001");
        let df =
            DataFrame::new(2, vec![Column::new("a".into(), [Some(0.5), None]), Column::new("b".into(), ["=1+1", "x"])])
                .unwrap();
        let csv = String::from_utf8(to_csv(&df).unwrap()).unwrap();
        assert_eq!(csv, "a,b\n0.5,'=1+1\n,x\n");
        let json = String::from_utf8(to_json(&df).unwrap()).unwrap();
        assert!(json.contains("\"a\": 0.5") && json.contains("\"a\": null"), "{json}");
    }
}
