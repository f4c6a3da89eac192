//! Encoding detection never panics, names one of the encodings the reader decodes, and never
//! takes text that is UTF-8 (ASCII or not, whole or cut anywhere by the window) for another.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sop_impact_parse::encoding::{detect, utf8_evidence};

fuzz_target!(|data: &[u8]| {
    let encoding = detect(data);
    let known = [encoding_rs::UTF_8, encoding_rs::UTF_16LE, encoding_rs::UTF_16BE, encoding_rs::WINDOWS_1252];
    assert!(known.contains(&encoding), "{}", encoding.name());
    let (characters, invalid) = utf8_evidence(data);
    assert!(characters + invalid <= data.len());
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(encoding, encoding_rs::UTF_8, "UTF-8 text detected as {}", encoding.name());
        assert_eq!(invalid, 0);
        assert_eq!(characters, text.chars().filter(|c| !c.is_ascii()).count());
        if text.is_ascii() {
            assert_eq!(characters, 0);
        }
    }
    // a window may cut the last character: still UTF-8
    if let Err(e) = std::str::from_utf8(data) {
        if e.error_len().is_none() {
            assert_eq!(detect(data), encoding_rs::UTF_8, "valid UTF-8 cut at the end");
        }
    }
});
