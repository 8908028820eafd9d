//! The smuggling guard: the first byte sets how the rest is cut into reads.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cuts, stream) = data.split_at(data.len().min(4));
    gatehouse_proxy::fuzz::guard(stream, cuts);
});
