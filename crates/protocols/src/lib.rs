//! Generated protocols.
