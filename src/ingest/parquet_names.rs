//! Parquet schemas as the file has them. polars refuses a Parquet file in which two top-level
//! columns share a name, even when neither is read. Here the footer's Thrift metadata is walked
//! for the top-level column names, and for the Arrow schema that pyarrow stores beside them;
//! every repeat is renamed in both (see [`super::repeats`]) before polars reads the metadata.
//! Column chunks join the schema by position, so the data itself is read as written.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use base64::Engine;
use polars_arrow_format::ipc::planus::ReadAsRoot;
use polars_arrow_format::ipc::{MessageHeaderRef, MessageRef};
use polars_parquet::parquet::metadata::FileMetadata;

use super::ipc_names::field_names;
use super::repeats::rename_repeats;
use crate::error::{Error, Result};

/// The footer key under which Arrow writers keep the table's Arrow schema (base64 IPC message).
const ARROW_SCHEMA_KEY: &[u8] = b"ARROW:schema";

/// A Parquet footer read with every top-level column kept: the metadata polars reads (repeats
/// renamed) and the names the file gives its columns, in order.
pub struct Schema {
    pub metadata: FileMetadata,
    pub names: Vec<String>,
}

pub fn file_schema(path: &Path) -> Result<Schema> {
    let unreadable = |source| Error::Unreadable { path: path.to_path_buf(), source };
    let cannot_read = || Error::invalid(path, "is a Parquet file whose footer cannot be read", "export it again");
    let mut file = File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    let mut tail = [0u8; 8];
    let Some(end) = size.checked_sub(8) else { return Err(cannot_read()) };
    file.seek(SeekFrom::Start(end)).map_err(unreadable)?;
    file.read_exact(&mut tail).map_err(unreadable)?;
    let length = tail.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).map(u64::from);
    let start = length.filter(|_| tail.get(4..) == Some(b"PAR1")).and_then(|l| end.checked_sub(l));
    let Some(start) = start else { return Err(cannot_read()) };
    let mut footer = vec![0u8; usize::try_from(end - start).map_err(|_| cannot_read())?];
    file.seek(SeekFrom::Start(start)).map_err(unreadable)?;
    file.read_exact(&mut footer).map_err(unreadable)?;

    let found = Footer::walk(&footer).ok_or_else(cannot_read)?;
    let names = found.names.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>();
    if let Some(at) = found.arrow_schema {
        rename_in_arrow_schema(path, &mut footer, at, &names)?;
    }
    rename_repeats(path, &mut footer, &found.names)?;
    let metadata = polars_parquet::parquet::read::deserialize_metadata(polars_buffer::Buffer::from(footer))
        .map_err(|e| Error::invalid(path, format!("cannot read Parquet: {e}"), "export it again"))?;
    Ok(Schema { metadata, names })
}

/// The repeats renamed in the base64 Arrow schema at `at` in `footer`, alike to the Parquet
/// schema's (same names in the same order give the same placeholders). Renaming keeps every
/// length, so the text is written back over itself.
fn rename_in_arrow_schema(path: &Path, footer: &mut [u8], at: Range<usize>, names: &[String]) -> Result<()> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let unlike = || {
        Error::invalid(
            path,
            "repeats a column name, and its Arrow schema does not list the columns the Parquet schema does",
            "write the file with unique column names (in pandas: df.columns = [...]; in pyarrow: table.rename_columns([...]))",
        )
    };
    let text = footer.get(at.clone()).ok_or_else(unlike)?;
    let mut bytes = b64.decode(text).map_err(|_| unlike())?;
    let skip = if bytes.get(..4) == Some(&[0xFF; 4]) { 8 } else { 0 };
    let message = bytes.get(skip..).ok_or_else(unlike)?;
    let fields = MessageRef::read_as_root(message)
        .ok()
        .and_then(|m| match m.header().ok().flatten() {
            Some(MessageHeaderRef::Schema(schema)) => field_names(schema, message),
            _ => None,
        })
        .ok_or_else(unlike)?;
    if !fields.iter().map(|(n, _)| n).eq(names.iter()) {
        return Err(unlike());
    }
    let fields: Vec<_> = fields.into_iter().map(|(n, r)| (n, r.start + skip..r.end + skip)).collect();
    rename_repeats(path, &mut bytes, &fields)?;
    let encoded = b64.encode(&bytes);
    match footer.get_mut(at) {
        Some(place) if place.len() == encoded.len() => place.copy_from_slice(encoded.as_bytes()),
        _ => return Err(unlike()),
    }
    Ok(())
}

/// What the footer's `FileMetaData` says of the columns.
#[derive(Debug, Default, PartialEq)]
struct Footer {
    /// each top-level column's name and where its bytes are
    names: Vec<(String, Range<usize>)>,
    /// where the base64 text of the Arrow schema is, when there is one
    arrow_schema: Option<Range<usize>>,
}

impl Footer {
    /// `FileMetaData` fields 2 (`schema: list<SchemaElement>`) and 5 (`key_value_metadata:
    /// list<KeyValue>`); None when the bytes are not Thrift's compact encoding of it.
    fn walk(bytes: &[u8]) -> Option<Footer> {
        let mut thrift = Thrift { bytes, at: 0 };
        let mut elements = Vec::new();
        let mut arrow_schema = None;
        let mut last = 0;
        while let Some((id, kind)) = thrift.field(&mut last)? {
            match (id, kind) {
                (2, LIST) => {
                    for _ in 0..thrift.list_of(STRUCT)? {
                        elements.push(thrift.schema_element()?);
                    }
                }
                (5, LIST) => {
                    for _ in 0..thrift.list_of(STRUCT)? {
                        let (key, value) = thrift.key_value()?;
                        if bytes.get(key) == Some(ARROW_SCHEMA_KEY) {
                            arrow_schema = value;
                        }
                    }
                }
                _ => thrift.skip(kind, 0)?,
            }
        }
        let names = top_level(&elements)?
            .into_iter()
            .map(|range| Some((String::from_utf8(bytes.get(range.clone())?.to_vec()).ok()?, range)))
            .collect::<Option<Vec<_>>>()?;
        Some(Footer { names, arrow_schema })
    }
}

/// A schema element: where its name is and how many children it has.
type Element = (Range<usize>, i64);

/// The elements that are the root's own children: the schema lists its tree depth first.
fn top_level(elements: &[Element]) -> Option<Vec<Range<usize>>> {
    let (_, root_children) = elements.first()?;
    let mut top = Vec::new();
    let mut open = vec![*root_children];
    for (name, children) in elements.iter().skip(1) {
        while open.last() == Some(&0) {
            open.pop();
        }
        let remaining = open.last_mut()?;
        *remaining -= 1;
        if open.len() == 1 {
            top.push(name.clone());
        }
        if *children > 0 {
            open.push(*children);
        }
    }
    Some(top)
}

const LIST: u8 = 9;
const STRUCT: u8 = 12;

/// A reader of Thrift's compact protocol, only as far as a Parquet footer needs.
struct Thrift<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Thrift<'_> {
    fn byte(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn binary(&mut self) -> Option<Range<usize>> {
        let len = usize::try_from(self.varint()?).ok()?;
        let start = self.at;
        let end = start.checked_add(len).filter(|&end| end <= self.bytes.len())?;
        self.at = end;
        Some(start..end)
    }

    /// The next field's id and type; None at the end of the struct.
    fn field(&mut self, last: &mut i64) -> Option<Option<(i64, u8)>> {
        let byte = self.byte()?;
        if byte == 0 {
            return Some(None);
        }
        let delta = byte >> 4;
        let id = if delta == 0 { self.zigzag()? } else { *last + i64::from(delta) };
        *last = id;
        Some(Some((id, byte & 0x0f)))
    }

    fn list(&mut self) -> Option<(usize, u8)> {
        let byte = self.byte()?;
        let size = match byte >> 4 {
            15 => usize::try_from(self.varint()?).ok()?,
            size => usize::from(size),
        };
        Some((size, byte & 0x0f))
    }

    fn list_of(&mut self, kind: u8) -> Option<usize> {
        let (size, elements) = self.list()?;
        (elements == kind).then_some(size)
    }

    fn skip(&mut self, kind: u8, depth: usize) -> Option<()> {
        (depth < 64).then_some(())?;
        match kind {
            // a boolean field's value is its type
            1 | 2 => {}
            3 => {
                self.byte()?;
            }
            4..=6 => {
                self.varint()?;
            }
            7 => self.at = self.at.checked_add(8).filter(|&end| end <= self.bytes.len())?,
            8 => {
                self.binary()?;
            }
            9 | 10 => {
                let (size, elements) = self.list()?;
                for _ in 0..size {
                    match elements {
                        1 | 2 => {
                            self.byte()?;
                        }
                        kind => self.skip(kind, depth + 1)?,
                    }
                }
            }
            11 => {
                let size = self.varint()?;
                if size > 0 {
                    let kinds = self.byte()?;
                    for _ in 0..size {
                        self.skip(kinds >> 4, depth + 1)?;
                        self.skip(kinds & 0x0f, depth + 1)?;
                    }
                }
            }
            STRUCT => {
                let mut last = 0;
                while let Some((_, kind)) = self.field(&mut last)? {
                    self.skip(kind, depth + 1)?;
                }
            }
            _ => return None,
        }
        Some(())
    }

    /// `SchemaElement`: field 4 is its name, field 5 its number of children.
    fn schema_element(&mut self) -> Option<Element> {
        let (mut name, mut children) = (None, 0);
        let mut last = 0;
        while let Some((id, kind)) = self.field(&mut last)? {
            match (id, kind) {
                (4, 8) => name = Some(self.binary()?),
                (5, 5) => children = self.zigzag()?,
                _ => self.skip(kind, 1)?,
            }
        }
        Some((name?, children))
    }

    /// `KeyValue`: field 1 is the key, field 2 the value (optional).
    fn key_value(&mut self) -> Option<(Range<usize>, Option<Range<usize>>)> {
        let (mut key, mut value) = (None, None);
        let mut last = 0;
        while let Some((id, kind)) = self.field(&mut last)? {
            match (id, kind) {
                (1, 8) => key = Some(self.binary()?),
                (2, 8) => value = Some(self.binary()?),
                _ => self.skip(kind, 1)?,
            }
        }
        Some((key?, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Thrift compact bytes of a `FileMetaData` whose schema is root{a, g{x, y}, a} and whose
    /// key-value list holds one other key and the Arrow schema's.
    fn footer() -> Vec<u8> {
        let text = |out: &mut Vec<u8>, s: &str| {
            out.push(u8::try_from(s.len()).unwrap());
            out.extend(s.as_bytes());
        };
        let element = |out: &mut Vec<u8>, name: &str, children: Option<u8>| {
            out.push(0x15); // field 1, i32: type
            out.push(0x02);
            out.push(0x38); // field 4 (delta 3), binary: name
            text(out, name);
            if let Some(c) = children {
                out.push(0x15); // field 5, i32
                out.push(c * 2);
            }
            out.push(0);
        };
        let mut out = vec![0x15, 0x04]; // field 1, i32: version 2
        out.push(0x19); // field 2, list
        out.push(0x6c); // six structs
        element(&mut out, "schema", Some(3));
        element(&mut out, "a", None);
        element(&mut out, "g", Some(2));
        element(&mut out, "x", None);
        element(&mut out, "y", None);
        element(&mut out, "a", None);
        out.extend([0x16, 0x14]); // field 3, i64: 10 rows
        out.extend([0x19, 0x1c, 0x00]); // field 4, list of one empty row group
        out.push(0x19); // field 5, list
        out.push(0x2c); // two structs
        for (k, v) in [("pandas", "{}"), ("ARROW:schema", "QUJD")] {
            out.push(0x18);
            text(&mut out, k);
            out.push(0x18);
            text(&mut out, v);
            out.push(0);
        }
        out.push(0);
        out
    }

    #[test]
    fn the_walk_finds_the_top_level_names_and_the_arrow_schema() {
        let bytes = footer();
        let found = Footer::walk(&bytes).unwrap();
        let names: Vec<&str> = found.names.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "g", "a"]);
        assert!(found.names.iter().all(|(n, r)| bytes.get(r.clone()) == Some(n.as_bytes())));
        assert_eq!(found.arrow_schema.and_then(|r| bytes.get(r)), Some(&b"QUJD"[..]));
    }

    #[test]
    fn bytes_that_are_not_a_footer_are_refused_not_followed() {
        let bytes = footer();
        for cut in 0..bytes.len() - 1 {
            assert_eq!(Footer::walk(bytes.get(..cut).unwrap()), None, "cut at {cut}");
        }
        // a list that claims more elements than there are bytes
        assert_eq!(Footer::walk(&[0x19, 0xfc, 0xff, 0xff, 0xff, 0x0f]), None);
    }
}
