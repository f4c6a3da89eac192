//! Delimiter sniffing and record boundaries never panic, the delimiter is one of the four, and a
//! boundary is just after a line feed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sop_impact_parse::csv::{count_line_ends, record_boundary, sniff_delimiter};

fuzz_target!(|data: &[u8]| {
    let d = sniff_delimiter(data);
    assert!([b',', b';', b'\t', b'|'].contains(&d));
    for delimiter in [b',', b';', b'\t', b'|'] {
        if let Some(end) = record_boundary(data, delimiter) {
            assert!(end <= data.len() && end > 0 && data.get(end - 1) == Some(&b'\n'));
        }
    }
    assert!(count_line_ends(data) <= data.len() as u64);
});
