//! Writing result tables: CSV through the csv crate with fixed formatting (timestamps as ISO
//! 8601 UTC, floats in their shortest exact form, empty for missing), Parquet and Arrow IPC
//! through polars, JSON as an array of objects. Pure functions from a frame to bytes.

use polars::prelude::*;

use crate::error::{polars_internal, Error, Result};
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
            ParquetWriter::new(&mut buf).finish(&mut df.clone()).map_err(polars_internal)?;
            Ok(buf)
        }
        TableFormat::Ipc => {
            let mut buf = Vec::new();
            IpcWriter::new(&mut buf).finish(&mut df.clone()).map_err(polars_internal)?;
            Ok(buf)
        }
    }
}

/// Text cells of every column, in order; `None` for missing.
fn cells(df: &DataFrame) -> Result<Vec<Vec<Option<String>>>> {
    let mut out = Vec::with_capacity(df.width());
    for c in df.columns() {
        let s = c.as_materialized_series();
        let v: Vec<Option<String>> = match s.dtype() {
            DataType::Datetime(_, _) => {
                let ms = s
                    .cast(&DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)))
                    .map_err(polars_internal)?;
                ms.datetime().map_err(polars_internal)?.physical().iter().map(|v| v.map(format_utc)).collect()
            }
            DataType::Float64 | DataType::Float32 => {
                let f = s.cast(&DataType::Float64).map_err(polars_internal)?;
                f.f64()
                    .map_err(polars_internal)?
                    .iter()
                    .map(|v| v.filter(|x| x.is_finite()).map(format_float))
                    .collect()
            }
            DataType::String => s.str().map_err(polars_internal)?.iter().map(|v| v.map(str::to_string)).collect(),
            _ => {
                let t = s.cast(&DataType::String).map_err(polars_internal)?;
                t.str().map_err(polars_internal)?.iter().map(|v| v.map(str::to_string)).collect()
            }
        };
        out.push(v);
    }
    Ok(out)
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

/// One column of a table as the CSV writer reads it: typed, each cell formatted as it is
/// written, so that a table of millions of rows is never held as one string per cell.
enum CsvColumn {
    /// epoch milliseconds, written as ISO 8601 UTC
    Time(Int64Chunked),
    Float(Float64Chunked),
    /// text written as it is (numbers, booleans: the cast's text)
    Plain(StringChunked),
    /// text from the data, neutralised against spreadsheet formulas
    Text(StringChunked),
}

impl CsvColumn {
    fn of(column: &Column) -> Result<Self> {
        let s = column.as_materialized_series();
        let text = |s: &Series| -> Result<StringChunked> {
            Ok(s.cast(&DataType::String)
                .map_err(polars_internal)?
                .str()
                .map_err(polars_internal)?
                .rechunk()
                .into_owned())
        };
        Ok(match s.dtype() {
            DataType::Datetime(_, _) => {
                let ms = s
                    .cast(&DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)))
                    .map_err(polars_internal)?;
                CsvColumn::Time(ms.datetime().map_err(polars_internal)?.physical().rechunk().into_owned())
            }
            DataType::Float64 | DataType::Float32 => {
                let f = s.cast(&DataType::Float64).map_err(polars_internal)?;
                CsvColumn::Float(f.f64().map_err(polars_internal)?.rechunk().into_owned())
            }
            DataType::String => CsvColumn::Text(text(s)?),
            _ => CsvColumn::Plain(text(s)?),
        })
    }

    /// Row `row`'s cell into `out` (nothing for a missing value).
    fn write(&self, row: usize, out: &mut String) {
        use std::fmt::Write;
        match self {
            CsvColumn::Time(ca) => {
                if let Some(ms) = ca.get(row) {
                    out.push_str(&format_utc(ms));
                }
            }
            CsvColumn::Float(ca) => {
                if let Some(x) = ca.get(row).filter(|x| x.is_finite()) {
                    let _ = write!(out, "{x}");
                    if out == "-0" {
                        out.replace_range(.., "0");
                    }
                }
            }
            CsvColumn::Plain(ca) => out.push_str(ca.get(row).unwrap_or_default()),
            // Numbers are data, not formulas; only text is neutralised.
            CsvColumn::Text(ca) => out.push_str(&crate::output::neutralise_cell(ca.get(row).unwrap_or_default())),
        }
    }
}

fn to_csv(df: &DataFrame) -> Result<Vec<u8>> {
    let columns = df.columns().iter().map(CsvColumn::of).collect::<Result<Vec<_>>>()?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    w.write_record(df.get_column_names().iter().map(|s| s.as_str())).map_err(internal)?;
    let mut field = String::new();
    for row in 0..df.height() {
        if let [column] = columns.as_slice() {
            // A record of one empty field is written `""` (not an empty line) by write_record.
            field.clear();
            column.write(row, &mut field);
            w.write_record([&field]).map_err(internal)?;
            continue;
        }
        for column in &columns {
            field.clear();
            column.write(row, &mut field);
            w.write_field(&field).map_err(internal)?;
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
            let f = s.cast(&DataType::Float64).map_err(polars_internal)?;
            f.f64()
                .map_err(polars_internal)?
                .iter()
                .map(|v| v.filter(|x| x.is_finite()).map_or(Value::Null, json_number))
                .collect()
        }
        dt if dt.is_signed_integer() => {
            let i = s.cast(&DataType::Int64).map_err(polars_internal)?;
            i.i64().map_err(polars_internal)?.iter().map(|v| v.map_or(Value::Null, Value::from)).collect()
        }
        dt if dt.is_unsigned_integer() => {
            let u = s.cast(&DataType::UInt64).map_err(polars_internal)?;
            u.u64().map_err(polars_internal)?.iter().map(|v| v.map_or(Value::Null, Value::from)).collect()
        }
        DataType::Boolean => {
            s.bool().map_err(polars_internal)?.iter().map(|v| v.map_or(Value::Null, Value::Bool)).collect()
        }
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
