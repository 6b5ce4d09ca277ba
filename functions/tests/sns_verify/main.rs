//! SNS/IPN verification with real keys, certificates and signatures. Run the local-mode
//! tests too with `cargo test -p savedwallet-functions --features local-sns --test sns_verify`.

mod accept;
mod cache;
mod config_env;
mod helpers;
mod https_source;
mod refuse_after_fetch;
mod refuse_before_fetch;
mod sandbox;
