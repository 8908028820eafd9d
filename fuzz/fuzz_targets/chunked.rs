//! A backend's chunked body: the first bytes set how the rest is cut.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cuts, body) = data.split_at(data.len().min(4));
    gatehouse_proxy::fuzz::chunked(body, cuts);
});
