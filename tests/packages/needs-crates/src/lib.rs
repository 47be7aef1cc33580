//! Links OpenSSL through openssl-sys, whose crate comes from the registry.
pub fn version() -> u64 { unsafe { openssl_sys::OpenSSL_version_num() as u64 } }
