//! Arrow IPC schemas as the file has them: the field names are read from the schema's flatbuffer
//! before polars-arrow reads it, and every repeat is renamed first (see [`super::repeats`]).

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use polars_arrow::io::ipc::read::{deserialize_footer, read_stream_metadata, FileMetadata, StreamMetadata};
use polars_arrow_format::ipc::planus::ReadAsRoot;
use polars_arrow_format::ipc::{FooterRef, MessageHeaderRef, MessageRef, SchemaRef};

use super::repeats::rename_repeats;
use crate::error::{polars_in, Error, Result};

/// A schema read with every column kept: what polars-arrow reads (repeats renamed) and the
/// names the file gives its columns, in order.
pub struct Schema<M> {
    pub metadata: M,
    pub names: Vec<String>,
}

/// The metadata of an IPC file, read from its footer.
pub fn file_schema(path: &Path) -> Result<Schema<FileMetadata>> {
    let unreadable = |source| Error::Unreadable { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    let mut tail = [0u8; 10];
    let footer_at = size.checked_sub(10).and_then(|end| {
        file.seek(SeekFrom::Start(end)).ok()?;
        file.read_exact(&mut tail).ok()?;
        let length = u64::try_from(i32::from_le_bytes(tail.get(..4)?.try_into().ok()?)).ok()?;
        (tail.get(4..) == Some(b"ARROW1")).then_some(())?;
        end.checked_sub(length).map(|at| (at, length))
    });
    let Some((at, length)) = footer_at else {
        return Err(Error::invalid(
            path,
            "is not a complete Arrow IPC file (its footer is missing)",
            "export it again",
        ));
    };
    let mut footer = vec![0u8; usize::try_from(length).unwrap_or(0)];
    file.seek(SeekFrom::Start(at)).map_err(unreadable)?;
    file.read_exact(&mut footer).map_err(unreadable)?;
    let fields = FooterRef::read_as_root(&footer)
        .and_then(|f| f.schema())
        .ok()
        .flatten()
        .and_then(|schema| field_names(schema, &footer));
    let Some(fields) = fields else {
        return Err(Error::invalid(path, "is an Arrow IPC file whose schema cannot be read", "export it again"));
    };
    rename_repeats(path, &mut footer, &fields)?;
    let metadata = deserialize_footer(&footer, size).map_err(polars_in(path, "cannot read Arrow IPC"))?;
    Ok(Schema { metadata, names: fields.into_iter().map(|(name, _)| name).collect() })
}

/// The metadata of an IPC stream, read from its first message; `input` is left where the
/// record batches start.
pub fn stream_schema(path: &Path, input: &mut impl Read) -> Result<Schema<StreamMetadata>> {
    let unreadable = |source| Error::Unreadable { path: path.to_path_buf(), source };
    let mut word = [0u8; 4];
    input.read_exact(&mut word).map_err(unreadable)?;
    if word == [0xFF; 4] {
        input.read_exact(&mut word).map_err(unreadable)?;
    }
    let length = usize::try_from(i32::from_le_bytes(word)).unwrap_or(0);
    let mut message = Vec::new();
    input.take(length as u64).read_to_end(&mut message).map_err(unreadable)?;
    let fields = MessageRef::read_as_root(&message).ok().and_then(|m| match m.header().ok().flatten() {
        Some(MessageHeaderRef::Schema(schema)) => field_names(schema, &message),
        _ => None,
    });
    let Some(fields) = fields else {
        return Err(Error::invalid(path, "is an Arrow IPC stream whose schema cannot be read", "export it again"));
    };
    rename_repeats(path, &mut message, &fields)?;
    let mut framed = Vec::with_capacity(message.len() + 8);
    framed.extend([0xFF; 4]);
    framed.extend(i32::try_from(message.len()).unwrap_or(0).to_le_bytes());
    framed.extend(&message);
    let metadata =
        read_stream_metadata(&mut Cursor::new(framed)).map_err(polars_in(path, "cannot read the Arrow IPC stream"))?;
    Ok(Schema { metadata, names: fields.into_iter().map(|(name, _)| name).collect() })
}

/// Each top-level field's name and where its bytes are in `buffer`.
pub(super) fn field_names(schema: SchemaRef<'_>, buffer: &[u8]) -> Option<Vec<(String, Range<usize>)>> {
    let base = buffer.as_ptr() as usize;
    let mut names = Vec::new();
    for field in schema.fields().ok()?? {
        let name = field.ok()?.name().ok()?.unwrap_or("");
        let start = (name.as_ptr() as usize).checked_sub(base)?;
        let range = start..start + name.len();
        (range.end <= buffer.len()).then_some(())?;
        names.push((name.to_string(), range));
    }
    Some(names)
}
