//! Amazon Pay API v2 client.
