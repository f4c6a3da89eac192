//! The block reader's quote handling: text made mostly of quotes (opened, closed, doubled,
//! stray), delimiters and line ends, each input byte picking one piece so that the fuzzer
//! reaches such runs at once. However the text is cut into blocks, it yields the records the
//! csv crate reads from the whole of it, each on a line of its own, in order, within the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sop_impact_parse::csv::{count_line_ends, records_with_lines, split_blocks};

const PIECES: [&[u8]; 13] =
    [b"\"", b"\"\"", b"\"", b",", b";", b"\n", b"\r\n", b"\r", b"a", b"bc", b" ", b"\xEF\xBB\xBF", b"\xff"];

fuzz_target!(|input: &[u8]| {
    let Some(([size, delimiter], rest)) = input.split_first_chunk::<2>() else { return };
    let delimiter = [b',', b';'][usize::from(*delimiter % 2)];
    let data: Vec<u8> = rest.iter().flat_map(|&b| PIECES[usize::from(b) % PIECES.len()].iter().copied()).collect();
    let text: &[u8] = &data;
    let whole = records_with_lines(&[text], delimiter);
    let blocks = split_blocks(text, delimiter, usize::from(*size % 64) + 1);
    assert_eq!(blocks.concat(), data, "blocks cover the text exactly");
    let cut = records_with_lines(&blocks, delimiter);
    match (whole, cut) {
        (Ok(whole), Ok(cut)) => {
            assert_eq!(whole, cut, "records and lines unchanged by the cut");
            let lines = count_line_ends(text) + 1;
            assert!(whole.windows(2).all(|w| w[0].1 < w[1].1), "one record per line, in order");
            assert!(whole.iter().all(|r| (1..=lines).contains(&r.1)), "every record within the text's lines");
        }
        (Err(_), Err(_)) => {}
        (w, c) => panic!("one reading failed: whole {:?}, in blocks {:?}", w.is_ok(), c.is_ok()),
    }
});
