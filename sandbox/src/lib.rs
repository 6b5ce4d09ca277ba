//! Amazon Pay API v2 sandbox simulator.
