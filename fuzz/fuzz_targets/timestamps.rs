//! Timestamp parsing never panics, and what it reads, written back as ISO 8601 UTC, reads as the
//! same instant (to the second that ISO text keeps).
#![no_main]

use chrono_tz::Tz;
use libfuzzer_sys::fuzz_target;
use sop_impact_parse::time::{format_utc, parse_timestamp, DateOrder, OrderEvidence};

fuzz_target!(|input: &[u8]| {
    let Some((&choice, text)) = input.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let order = [None, Some(DateOrder::Dmy), Some(DateOrder::Mdy)][usize::from(choice % 3)];
    let tz = [Tz::UTC, Tz::Europe__Berlin, Tz::America__Sao_Paulo, Tz::Asia__Kathmandu][usize::from(choice / 3 % 4)];
    let mut evidence = OrderEvidence::default();
    evidence.observe(text);
    let _ = evidence.settled();
    if let Ok(ms) = parse_timestamp(text, order, tz) {
        let iso = format_utc(ms);
        if iso.ends_with('Z') && iso.len() == 20 {
            assert_eq!(parse_timestamp(&iso, None, tz), Ok(ms - ms.rem_euclid(1000)), "{text:?} → {iso}");
        }
    }
});
