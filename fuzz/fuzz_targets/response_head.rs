//! A backend's response head.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    gatehouse_proxy::fuzz::response_head(data);
});
