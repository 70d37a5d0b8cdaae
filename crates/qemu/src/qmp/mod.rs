//! QMP, QEMU's JSON control protocol: message parsing, typed commands and an async client.

mod client;
pub mod commands;
mod message;
pub mod objects;

pub use client::{QmpClient, QmpError, DEFAULT_REPLY_TIMEOUT, MAX_LINE};
pub use message::{parse_message, QmpEvent, QmpMessage, QmpParseError};
