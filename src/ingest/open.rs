//! Opening an input: its format sniffed, its header read, the columns to read chosen, and for
//! Parquet and Arrow IPC the schema checked; also reading a small input whole.

use super::*;

/// What the user says about a CSV file where detection could be wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOverrides {
    pub delimiter: Option<u8>,
    pub encoding: Option<&'static encoding_rs::Encoding>,
}

/// Detect the format of `path`, read its header and choose the columns to read with `select`
/// (real exports carry dozens of columns the analysis never reads).
pub fn open_table(path: &Path, select: &mut Select, overrides: TextOverrides) -> Result<Opened> {
    let Sniffed { mut format, encoding: mut text_encoding, wrapped, utf32 } = sniff(path, overrides.encoding)?;
    if let Some(little_endian) = utf32 {
        let copy = encoding::decode_utf32_copy(path, little_endian)?;
        let mut opened = open_table(&copy.path, select, overrides).map_err(|e| e.with_path(path))?;
        opened.path = path.to_path_buf();
        opened.encoding = if little_endian { "UTF-32LE" } else { "UTF-32BE" };
        // (a wrapped export was copied again, unwrapped: that copy is the one read)
        if opened.decoded.is_none() {
            opened.decoded = Some(copy);
        }
        return Ok(opened);
    }
    if let Format::Csv { delimiter } = &mut format {
        *delimiter = overrides.delimiter.unwrap_or(*delimiter);
        text_encoding = overrides.encoding.unwrap_or(text_encoding);
    }
    // Parquet and IPC: the header from the schema, then only the mapped columns are read.
    let columnar = |(headers, body): (Vec<String>, Body)| Opened {
        path: path.to_path_buf(),
        format,
        encoding: "UTF-8",
        headers,
        body,
        decoded: None,
    };
    match format {
        Format::Csv { delimiter } => open_csv(path, select, delimiter, text_encoding, wrapped),
        Format::Parquet => open_parquet(path, select).map(columnar),
        Format::Ipc => open_ipc(path, select).map(columnar),
        Format::IpcStream => open_ipc_stream(path, select).map(columnar),
    }
}

fn open_file(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })
}

/// The indices of the columns `keep` says to read.
fn projection_of(keep: &[bool]) -> Vec<usize> {
    (0..keep.len()).filter(|&i| keep.get(i).copied().unwrap_or(false)).collect()
}

fn open_csv(
    path: &Path,
    select: &mut Select,
    delimiter: u8,
    text_encoding: &'static encoding_rs::Encoding,
    wrapped: bool,
) -> Result<Opened> {
    let format = Format::Csv { delimiter };
    let decoded = (text_encoding != encoding_rs::UTF_8 || wrapped)
        .then(|| encoding::decode_copy(path, text_encoding, wrapped))
        .transpose()?;
    let headers =
        read_csv_header(decoded.as_ref().map_or(path, |d| &d.path), delimiter).map_err(|e| e.with_path(path))?;
    let keep = select(&headers, format)?;
    Ok(Opened {
        path: path.to_path_buf(),
        format,
        encoding: match (text_encoding.name(), wrapped) {
            (name, false) => name,
            ("UTF-8", true) => "UTF-8, lines unwrapped",
            ("UTF-16LE", true) => "UTF-16LE, lines unwrapped",
            ("UTF-16BE", true) => "UTF-16BE, lines unwrapped",
            (_, true) => "windows-1252, lines unwrapped",
        },
        headers,
        body: Body::Csv { delimiter, keep },
        decoded,
    })
}

fn open_parquet(path: &Path, select: &mut Select) -> Result<(Vec<String>, Body)> {
    let mut reader = ParquetReader::new(open_file(path)?);
    // polars refuses a schema whose names repeat; read as the file has it, the repeats renamed
    let (schema, headers) = match reader.schema() {
        Err(PolarsError::Duplicate(_)) => {
            let file = parquet_names::file_schema(path)?;
            reader.set_metadata(Arc::new(file.metadata));
            (reader.schema(), Some(file.names))
        }
        read => (read, None),
    };
    let schema = schema.map_err(polars_in(path, "cannot read Parquet"))?;
    let metadata = reader.get_metadata().map_err(polars_in(path, "cannot read Parquet"))?.clone();
    let headers = headers.unwrap_or_else(|| schema.iter_names().map(|n| n.to_string()).collect());
    let keep = select(&headers, Format::Parquet)?;
    let projection = projection_of(&keep);
    check_time_zones(path, &schema, &projection)?;
    Ok((headers, Body::Parquet { projection, keep, metadata }))
}

fn open_ipc(path: &Path, select: &mut Select) -> Result<(Vec<String>, Body)> {
    let file = ipc_names::file_schema(path)?;
    let headers = file.names.clone();
    let keep = select(&headers, Format::Ipc)?;
    let projection = projection_of(&keep);
    check_time_zones(path, &file.metadata.schema, &projection)?;
    // (polars' IpcReader would read the schema again, repeated names and all)
    let projected: ArrowSchema =
        projection.iter().filter_map(|&i| file.metadata.schema.get_at_index(i)).map(|(_, f)| f.clone()).collect();
    let batches =
        polars_arrow::io::ipc::read::FileReader::new(open_file(path)?, file.metadata, Some(projection.clone()), None);
    let df = frame_of_batches(path, batches, &headers, &projection, "cannot read Arrow IPC")?
        .unwrap_or_else(|| DataFrame::empty_with_schema(&Schema::from_arrow_schema(&projected)));
    Ok((headers, Body::Frame { df, keep }))
}

fn open_ipc_stream(path: &Path, select: &mut Select) -> Result<(Vec<String>, Body)> {
    use polars_arrow::io::ipc::read::{StreamReader, StreamState};
    let mut input = BufReader::new(open_file(path)?);
    let stream = ipc_names::stream_schema(path, &mut input)?;
    let headers = stream.names.clone();
    let keep = select(&headers, Format::IpcStream)?;
    let projection = projection_of(&keep);
    check_time_zones(path, &stream.metadata.schema, &projection)?;
    let batches = StreamReader::new(input, stream.metadata, Some(projection.clone())).map_while(|state| match state {
        Ok(StreamState::Some(batch)) => Some(Ok(batch)),
        Ok(StreamState::Waiting) => None,
        Err(e) => Some(Err(e)),
    });
    let df = frame_of_batches(path, batches, &headers, &projection, "cannot read the Arrow IPC stream")?.ok_or_else(
        || Error::invalid(path, "is an Arrow IPC stream without any record batch", "export it again with its data"),
    )?;
    Ok((headers, Body::Frame { df, keep }))
}

/// One frame of the record batches polars-arrow reads (the columns of `projection`, named by
/// `headers`), `timestamp[s]` columns converted with [`seconds_as_millis`]; None without any.
pub(super) fn frame_of_batches(
    path: &Path,
    batches: impl Iterator<
        Item = PolarsResult<polars_arrow::record_batch::RecordBatchT<Box<dyn polars_arrow::array::Array>>>,
    >,
    headers: &[String],
    projection: &[usize],
    what: &str,
) -> Result<Option<DataFrame>> {
    let cannot = || polars_in(path, what);
    let mut df: Option<DataFrame> = None;
    for batch in batches {
        let batch = batch.map_err(cannot())?;
        let height = batch.len();
        let columns = batch
            .into_arrays()
            .into_iter()
            .zip(projection)
            .map(|(array, &i)| {
                let name = headers.get(i).map_or("", String::as_str);
                let array = seconds_as_millis(&*array).unwrap_or(array);
                Series::try_from((PlSmallStr::from(name), array)).map(Column::from)
            })
            .collect::<PolarsResult<Vec<Column>>>()
            .map_err(cannot())?;
        let batch = DataFrame::new(height, columns).map_err(cannot())?;
        match &mut df {
            Some(df) => {
                df.vstack_mut_owned(batch).map_err(cannot())?;
            }
            None => df = Some(batch),
        }
    }
    Ok(df.map(|mut df| {
        df.rechunk_mut();
        df
    }))
}

/// An Arrow `timestamp[s]` array as `timestamp[ms]` in the same zone, each value multiplied by
/// 1000 saturating; None for any other array. Polars multiplies wrapping: ±2^62 seconds came
/// out as a time near 1970-01-01. Saturated, such a value is the farthest millisecond, which
/// validation rejects for its row as out of range (validate::columns::typed_timestamps), as it
/// rejects a stored time beyond the calendar in any other unit.
pub(super) fn seconds_as_millis(array: &dyn polars_arrow::array::Array) -> Option<Box<dyn polars_arrow::array::Array>> {
    use polars_arrow::array::PrimitiveArray;
    let ArrowDataType::Timestamp(polars_arrow::datatypes::TimeUnit::Second, zone) = array.dtype() else {
        return None;
    };
    let seconds = array.as_any().downcast_ref::<PrimitiveArray<i64>>()?;
    let millis: Vec<i64> = seconds.values().iter().map(|s| s.saturating_mul(1000)).collect();
    let dtype = ArrowDataType::Timestamp(polars_arrow::datatypes::TimeUnit::Millisecond, zone.clone());
    Some(Box::new(PrimitiveArray::<i64>::new(dtype, millis.into(), seconds.validity().cloned())))
}

/// Timestamp columns must have no zone, UTC or an IANA zone name: polars cannot read a fixed
/// offset such as `+05:45` (reading an Arrow IPC file with one stops the process), so such a
/// column is refused by name before it is read.
pub(super) fn check_time_zones(path: &Path, schema: &ArrowSchema, projection: &[usize]) -> Result<()> {
    for &i in projection {
        let Some((name, field)) = schema.get_at_index(i) else { continue };
        if let ArrowDataType::Timestamp(_, Some(tz)) = &field.dtype {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                return Err(Error::invalid(
                    path,
                    format!("column '{name}' holds timestamps in the time zone '{tz}', which cannot be read (UTC and IANA names such as Asia/Kathmandu can)"),
                    "write the timestamps in UTC or with an IANA zone name, or as text with their offsets (CSV)",
                ));
            }
        }
    }
    Ok(())
}

/// Read a (small) input file into one [`RawTable`].
pub fn read_table(path: &Path, select: &mut Select, overrides: TextOverrides) -> Result<RawTable> {
    let opened = open_table(path, select, overrides)?;
    match opened.body {
        Body::Frame { ref df, ref keep } => frame_table(&opened, df, keep, 0),
        Body::Parquet { ref projection, ref keep, ref metadata } => {
            let df = opened.read_parquet_rows(projection, metadata, None)?;
            frame_table(&opened, &df, keep, 0)
        }
        Body::Csv { delimiter, ref keep } => {
            let mut data = std::fs::read(opened.data_path())
                .map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
            if data.starts_with(b"\xEF\xBB\xBF") {
                data.drain(..3);
            }
            let lines = lines_of(&data);
            let block = parse_any_block(&opened, delimiter, keep, data, 1, true, Scratch::default()).0?;
            check_not_all_ragged(&opened, delimiter, block.table.rows_read, block.ragged)?;
            Ok(RawTable { file_lines: Some(lines), ..block.table })
        }
    }
}

/// Lines as an editor counts them, a last line without a line end included.
pub(super) fn lines_of(text: &[u8]) -> u64 {
    count_line_ends(text) + u64::from(text.last().is_some_and(|b| !matches!(b, b'\r' | b'\n')))
}

pub(super) fn read_csv_header(path: &Path, delimiter: u8) -> Result<Vec<String>> {
    let file = File::open(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    let mut input = BufReader::with_capacity(1 << 16, file);
    let head = input.fill_buf().map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
    }
    let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(input);
    let mut record = csv::ByteRecord::new();
    let found = rdr.read_byte_record(&mut record).map_err(|e| csv_error(path, e, 0))?;
    if !found {
        return Err(Error::invalid(path, "is empty", "export it again with a header row and data"));
    }
    Ok(record.iter().map(|h| String::from_utf8_lossy(h).trim().to_string()).collect())
}

pub(super) fn csv_error(path: &Path, e: csv::Error, line_offset: u64) -> Error {
    let line = e.position().map(|p| p.line() + line_offset).unwrap_or(0);
    Error::InvalidAt { path: path.to_path_buf(), line, problem: format!("cannot read CSV: {e}"), fix: None }
}
