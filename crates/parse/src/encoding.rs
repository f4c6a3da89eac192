//! Which text encoding an export's first bytes are in: UTF-16 by its byte-order mark, UTF-8
//! unless the bytes outside ASCII are mostly not UTF-8, Windows-1252 then. (Decoding, and the
//! copy a file in another encoding is read from, are the main crate's.)

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// The encoding of a text file, from its first bytes.
pub fn detect(head: &[u8]) -> &'static Encoding {
    if head.starts_with(b"\xFF\xFE") {
        return UTF_16LE;
    }
    if head.starts_with(b"\xFE\xFF") {
        return UTF_16BE;
    }
    let (characters, invalid) = utf8_evidence(head);
    // A few stray bytes in a UTF-8 export stay rejects of their rows: Windows-1252 only where
    // the bytes outside ASCII are mostly not UTF-8 (in Windows-1252 text, a pair of bytes that
    // happens to be a UTF-8 character is rare).
    if invalid > characters {
        WINDOWS_1252
    } else {
        encoding_rs::UTF_8
    }
}

/// In `head`: the UTF-8 characters of more than one byte, and the invalid sequences (a
/// character cut by the end of the window is neither).
pub fn utf8_evidence(head: &[u8]) -> (usize, usize) {
    let (mut characters, mut invalid) = (0usize, 0usize);
    let mut rest = head;
    loop {
        let valid = match std::str::from_utf8(rest) {
            Ok(text) => text,
            Err(e) => {
                // (the prefix up to valid_up_to is UTF-8 by definition)
                std::str::from_utf8(rest.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default()
            }
        };
        characters += valid.chars().filter(|c| !c.is_ascii()).count();
        let Err(e) = std::str::from_utf8(rest) else { break };
        let Some(bad) = e.error_len() else { break };
        invalid += 1;
        rest = rest.get(e.valid_up_to() + bad..).unwrap_or_default();
    }
    (characters, invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Text that is UTF-8 (ASCII or not) is always detected as UTF-8, whatever its
        /// characters; its evidence has no invalid sequence.
        #[test]
        fn utf8_text_is_utf8(text in "\\PC*") {
            proptest::prop_assert_eq!(detect(text.as_bytes()), encoding_rs::UTF_8);
            proptest::prop_assert_eq!(utf8_evidence(text.as_bytes()).1, 0);
        }
    }
}
