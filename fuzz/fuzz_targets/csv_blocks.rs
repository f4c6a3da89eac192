//! The block reader against the csv crate: however a file is cut into blocks, it yields the
//! records the csv crate reads from the whole file, each on the line it starts on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sop_impact_parse::csv::{records_with_lines, split_blocks};

fuzz_target!(|input: &[u8]| {
    let Some(([size, delimiter], data)) = input.split_first_chunk::<2>() else { return };
    let delimiter = [b',', b';', b'\t', b'|'][usize::from(*delimiter % 4)];
    let whole = records_with_lines(&[data], delimiter);
    let blocks = split_blocks(data, delimiter, usize::from(*size % 64) + 1);
    assert_eq!(blocks.concat(), data, "blocks cover the file exactly");
    let cut = records_with_lines(&blocks, delimiter);
    match (whole, cut) {
        (Ok(whole), Ok(cut)) => assert_eq!(whole, cut, "records and lines unchanged by the cut"),
        (Err(_), Err(_)) => {}
        (w, c) => panic!("one reading failed: whole {:?}, in blocks {:?}", w.is_ok(), c.is_ok()),
    }
});
