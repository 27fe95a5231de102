//! Reads a provider's usage from its response bytes as they pass, whatever the chunk
//! boundaries, in bounded memory. Compiled into the filter (wasm32) and tested natively.
