//! The `savedwallet` command's library: the local stack (`savedwallet local`), shared with
//! `savedwallet simulate`, the whole-system tests (`tests/`) and the API benchmark.

pub mod simulate;
pub mod stack;
