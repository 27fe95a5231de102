//! Trimio proxy-wasm filter.
