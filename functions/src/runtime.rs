//! Production implementations of the small ports: random entropy.

use savedwallet_app::ports::Entropy;

/// Operating-system randomness (ids and holder tokens must not be guessable).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn bytes(&self) -> [u8; 16] {
        rand::random()
    }
}
