//! Query parameter binding never panics (any text, any characters), binds every parameter in
//! one pass (binding again changes nothing), and leaves text without a colon as it is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sop_impact_parse::params::bind_parameters;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else { return };
    let params = [("min_analyst_tickets", "5".to_string()), ("error_includes_reopened", "TRUE".to_string())];
    match bind_parameters(sql, &params) {
        Ok(bound) => {
            if !sql.contains(':') {
                assert_eq!(bound, sql);
            }
            assert_eq!(bind_parameters(&bound, &params).as_deref(), Ok(bound.as_str()), "{sql:?}");
        }
        Err(name) => assert!(sql.contains(&format!(":{name}"))),
    }
});
