//! The sandbox's integration tests, one binary (one link): every test talks to a real
//! sandbox over loopback HTTP, most through the project's own client.

mod async_outcomes;
mod charges;
mod checkout;
mod helpers;
mod ipn_sender;
mod mfa;
mod permission_states;
mod permissions;
mod persistence;
mod platform;
mod signature;
mod strict;
mod throttling;
