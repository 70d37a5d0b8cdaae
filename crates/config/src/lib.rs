//! Kata configuration.
