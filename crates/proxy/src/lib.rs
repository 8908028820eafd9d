//! Placeholder; see Cargo.toml for this crate's purpose.
