//! Arbitrary bytes at the start of a connection from a trusted proxy, fed to
//! the PROXY protocol parser that the L4 VIPs and the reverse proxy share.
//! It must never panic, and a parsed header must lie within what was read;
//! every prefix of a parsed header must be `Incomplete` or the same header,
//! never a different verdict, since headers arrive in pieces.
#![no_main]

use gatehouse_policy::proxy_header::{parse, Parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Parse::Parsed { header_len, client } = parse(data) {
        assert!(header_len > 0 && header_len <= data.len());
        // The header alone parses to the same thing.
        match parse(&data[..header_len]) {
            Parse::Parsed { header_len: again, client: c } => {
                assert_eq!((again, c), (header_len, client));
            }
            other => panic!("the header alone gives {other:?}"),
        }
        for cut in 0..header_len {
            assert!(
                matches!(parse(&data[..cut]), Parse::Incomplete),
                "a prefix of {cut} bytes of a valid header is not incomplete"
            );
        }
    }
});
