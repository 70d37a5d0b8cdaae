//! Parsing of QMP messages read from the socket. Total: any input gives a message or an error.

use serde_json::{Map, Value};

/// One message from QEMU.
#[derive(Debug, Clone, PartialEq)]
pub enum QmpMessage {
    /// The greeting sent on connect.
    Greeting { version: Value },
    /// A successful reply.
    Return { id: Option<u64>, value: Value },
    /// A failed reply.
    Error {
        id: Option<u64>,
        class: String,
        desc: String,
    },
    /// An asynchronous event.
    Event(QmpEvent),
}

/// An asynchronous QMP event (`SHUTDOWN`, `DEVICE_DELETED`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct QmpEvent {
    pub name: String,
    pub data: Value,
    /// Seconds and microseconds since the epoch, as QEMU reported them.
    pub timestamp: Option<(i64, i64)>,
}

/// A line that is not a QMP message.
#[derive(Debug, thiserror::Error)]
pub enum QmpParseError {
    #[error("qmp message is not json")]
    Json(#[source] serde_json::Error),
    #[error("qmp message is not a json object")]
    NotAnObject,
    #[error("qmp message has none of QMP, return, error, event")]
    Unknown,
    #[error("qmp {field} has the wrong type")]
    BadField { field: &'static str },
}

fn id_of(obj: &Map<String, Value>) -> Option<u64> {
    obj.get("id").and_then(Value::as_u64)
}

fn timestamp_of(obj: &Map<String, Value>) -> Option<(i64, i64)> {
    let ts = obj.get("timestamp")?.as_object()?;
    Some((
        ts.get("seconds")?.as_i64()?,
        ts.get("microseconds")?.as_i64()?,
    ))
}

/// Parses one QMP message (one line of the stream, without or with its newline).
pub fn parse_message(line: &[u8]) -> Result<QmpMessage, QmpParseError> {
    let value: Value = serde_json::from_slice(line).map_err(QmpParseError::Json)?;
    let Value::Object(obj) = value else {
        return Err(QmpParseError::NotAnObject);
    };
    if let Some(greeting) = obj.get("QMP") {
        let version = greeting.get("version").cloned().unwrap_or(Value::Null);
        return Ok(QmpMessage::Greeting { version });
    }
    if let Some(value) = obj.get("return") {
        return Ok(QmpMessage::Return {
            id: id_of(&obj),
            value: value.clone(),
        });
    }
    if let Some(error) = obj.get("error") {
        let error = error
            .as_object()
            .ok_or(QmpParseError::BadField { field: "error" })?;
        let text = |key| error.get(key).and_then(Value::as_str).unwrap_or_default();
        return Ok(QmpMessage::Error {
            id: id_of(&obj),
            class: text("class").to_string(),
            desc: text("desc").to_string(),
        });
    }
    if let Some(name) = obj.get("event") {
        let name = name
            .as_str()
            .ok_or(QmpParseError::BadField { field: "event" })?;
        return Ok(QmpMessage::Event(QmpEvent {
            name: name.to_string(),
            data: obj.get("data").cloned().unwrap_or(Value::Null),
            timestamp: timestamp_of(&obj),
        }));
    }
    Err(QmpParseError::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn greeting() {
        let m = parse_message(
            br#"{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}"#,
        )
        .expect("parse");
        let QmpMessage::Greeting { version } = m else {
            panic!("not a greeting: {m:?}");
        };
        assert_eq!(version["qemu"]["major"], 7);
    }

    #[test]
    fn return_with_id() {
        let m = parse_message(br#"{"return": {"status": "running", "running": true}, "id": 4}"#)
            .expect("parse");
        assert_eq!(
            m,
            QmpMessage::Return {
                id: Some(4),
                value: json!({"status": "running", "running": true})
            }
        );
    }

    #[test]
    fn error_reply() {
        let m = parse_message(
            br#"{"id": 2, "error": {"class": "GenericError", "desc": "Device 'x' not found"}}"#,
        )
        .expect("parse");
        assert_eq!(
            m,
            QmpMessage::Error {
                id: Some(2),
                class: "GenericError".into(),
                desc: "Device 'x' not found".into()
            }
        );
    }

    #[test]
    fn event_with_timestamp() {
        let m = parse_message(
            br#"{"timestamp": {"seconds": 1700000000, "microseconds": 5}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}"#,
        )
        .expect("parse");
        let QmpMessage::Event(ev) = m else {
            panic!("not an event: {m:?}");
        };
        assert_eq!(ev.name, "SHUTDOWN");
        assert_eq!(ev.timestamp, Some((1_700_000_000, 5)));
        assert_eq!(ev.data["reason"], "host-qmp-quit");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let inputs: [&[u8]; 9] = [
            b"",
            b"\xff\xfe",
            b"[]",
            b"42",
            b"{}",
            br#"{"error": 3}"#,
            br#"{"event": 3}"#,
            br#"{"return": {}, "id": "x"#,
            b"{\"QMP\"",
        ];
        for input in inputs {
            assert!(parse_message(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn non_numeric_id_is_ignored() {
        let m = parse_message(br#"{"return": {}, "id": "abc"}"#).expect("parse");
        assert_eq!(
            m,
            QmpMessage::Return {
                id: None,
                value: json!({})
            }
        );
    }
}
