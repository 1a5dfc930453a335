//! Lambda event → CloudWatch Logs batches ([`LogsData`]).
//!
//! Three envelopes carry the same gzipped CloudWatch Logs JSON:
//! - a CloudWatch Logs subscription: `{"awslogs": {"data": base64(gzip(JSON))}}`;
//! - Kinesis (a cross-account log destination): `{"Records": [{"kinesis": {"data": base64(gzip(JSON))}}]}`;
//! - a Lambda on-failure destination record (`{"requestPayload": <one of the above>, …}`), so a failed
//!   invocation can be re-driven with `replay`.
//!
//! Each layer (base64, gzip, JSON) is decoded here with its own error, so a broken event says which
//! layer broke and where. `aws_lambda_events::cloudwatch_logs::AwsLogs` does the same three layers,
//! but reports gzip failures as JSON errors, drops `extractedFields` (needed by the generic path) and
//! parses through a reader; we use the same crates directly instead, and the tests check that events
//! written by `aws_lambda_events` decode here.
//!
//! Unknown fields (`policyLevel` of account-level subscriptions, …) are ignored. Pure: no I/O.

use crate::buffers::{self, Scratch};
use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;
use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;
use std::io::Read;

/// Largest decompressed payload accepted. CloudWatch Logs batches are about 1 MiB; this bounds
/// what a hostile gzip bomb can make us allocate.
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// Standard alphabet, padding optional (CloudWatch pads; some encoders, `aws_lambda_events`'s
/// own serializer among them, do not).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Base64 as `base64` writes it too: wrapped at 76 columns (line breaks and spaces are skipped).
/// Appends to `out`.
fn decode_base64(data: &str, out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
    if !data.bytes().any(|b| b.is_ascii_whitespace()) {
        return BASE64.decode_vec(data, out);
    }
    let compact: Vec<u8> = data.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    BASE64.decode_vec(compact, out)
}

/// base64 → gzip → JSON, in buffers kept for the next event ([`buffers::with_scratch`]).
fn decode_data(data: &str, at: Location) -> Result<LogsData, DecodeError> {
    buffers::with_scratch(Scratch::Base64, |gzipped| {
        decode_base64(data, gzipped).map_err(|source| DecodeError::Base64 { at: at.clone(), source })?;
        decode_payload(gzipped, at)
    })
}

/// One CloudWatch Logs batch: events of one log stream.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogsData {
    pub message_type: String,
    pub owner: String,
    pub log_group: String,
    pub log_stream: String,
    #[serde(default)]
    pub subscription_filters: Vec<String>,
    #[serde(default)]
    pub log_events: Vec<LogEvent>,
}

impl LogsData {
    /// CloudWatch's delivery health checks carry no log data.
    pub fn is_control_message(&self) -> bool {
        self.message_type == "CONTROL_MESSAGE"
    }
}

/// One log event.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    pub id: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub message: String,
    /// Present when the subscription filter pattern extracts fields.
    #[serde(default)]
    pub extracted_fields: Option<Map<String, Value>>,
}

/// Where in the event a payload sat, for error messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    AwsLogs,
    KinesisRecord { index: usize, sequence_number: Option<String> },
}

impl Location {
    /// A Kinesis record's sequence number (the partial-batch response's `itemIdentifier`).
    pub fn sequence_number(&self) -> Option<&str> {
        match self {
            Location::KinesisRecord { sequence_number, .. } => sequence_number.as_deref(),
            Location::AwsLogs => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::AwsLogs => f.write_str("awslogs.data"),
            Location::KinesisRecord { index, sequence_number: Some(seq) } => {
                write!(f, "Records[{index}].kinesis.data (sequence number {seq})")
            }
            Location::KinesisRecord { index, sequence_number: None } => write!(f, "Records[{index}].kinesis.data"),
        }
    }
}

/// Why an event could not be decoded. None of these can succeed on retry. The message names the
/// layer; the underlying error is its `source()` (see [`crate::text::error_chain`]).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the event is not JSON")]
    NotJson(#[source] serde_json::Error),
    #[error(
        "unrecognised event: expected a CloudWatch Logs subscription ({{\"awslogs\":{{\"data\":…}}}}), \
         Kinesis records ({{\"Records\":[{{\"kinesis\":…}}]}}) or a Lambda on-failure destination record \
         ({{\"requestPayload\":…}}); found {found}"
    )]
    Unrecognised { found: String },
    #[error("{at}: not a CloudWatch Logs payload: {reason}")]
    Envelope { at: Location, reason: String },
    #[error("{at}: base64 layer")]
    Base64 { at: Location, source: base64::DecodeError },
    #[error("{at}: gzip layer")]
    Gzip { at: Location, source: std::io::Error },
    #[error("{at}: gzip layer: decompressed payload is larger than {MAX_DECOMPRESSED_BYTES} bytes")]
    TooLarge { at: Location },
    #[error("{at}: JSON layer: the decompressed payload is not CloudWatch Logs JSON")]
    Json { at: Location, source: serde_json::Error },
    #[error("Records[{index}]: event source {source_name:?} is not supported (only aws:kinesis records carry CloudWatch Logs data)")]
    RecordSource { index: usize, source_name: String },
}

impl DecodeError {
    /// A short stable name of the kind of failure, for the Lambda error type.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::NotJson(_) => "NotJson",
            DecodeError::Unrecognised { .. } => "UnrecognisedEvent",
            DecodeError::Envelope { .. } => "Envelope",
            DecodeError::Base64 { .. } => "Base64",
            DecodeError::Gzip { .. } | DecodeError::TooLarge { .. } => "Gzip",
            DecodeError::Json { .. } => "Json",
            DecodeError::RecordSource { .. } => "RecordSource",
        }
    }
}

/// Decodes raw event bytes (a saved event file, stdin): JSON first, then [`decode`].
pub fn decode_bytes(bytes: &[u8]) -> Result<Vec<LogsData>, DecodeError> {
    let event: Value = serde_json::from_slice(bytes).map_err(DecodeError::NotJson)?;
    decode(event)
}

/// Decodes a Lambda event into its CloudWatch Logs batches, in order; the first record that does
/// not decode fails the whole event (for tools and tests; the handler uses [`decode_records`]).
pub fn decode(event: Value) -> Result<Vec<LogsData>, DecodeError> {
    decode_records(event)?.into_iter().map(|record| record.data).collect()
}

/// One payload of an event: a subscription's `awslogs.data` or one Kinesis record.
#[derive(Debug)]
pub struct Record {
    pub at: Location,
    /// The payload, or why it does not decode. A Kinesis record that does not decode spoils only
    /// itself: the others are still delivered.
    pub data: Result<LogsData, DecodeError>,
    /// A Kinesis record's `data` as it came (base64), kept only when it did not decode, so it can
    /// be dead-lettered as it was.
    pub raw: Option<String>,
}

/// Decodes a Lambda event record by record. Errors of the event itself (not JSON, not a known
/// envelope, a subscription payload that does not decode) are returned; a Kinesis record that
/// does not decode is a [`Record`] holding its error.
pub fn decode_records(event: Value) -> Result<Vec<Record>, DecodeError> {
    decode_envelope(event, true)
}

fn decode_envelope(event: Value, allow_destination_record: bool) -> Result<Vec<Record>, DecodeError> {
    let Value::Object(mut object) = event else {
        return Err(DecodeError::Unrecognised { found: describe(&event) });
    };
    if let Some(awslogs) = object.remove("awslogs") {
        let data = awslogs.get("data").and_then(Value::as_str).ok_or_else(|| DecodeError::Envelope {
            at: Location::AwsLogs,
            reason: "\"awslogs\" has no string field \"data\"".to_owned(),
        })?;
        let data = decode_data(data, Location::AwsLogs)?;
        return Ok(vec![Record { at: Location::AwsLogs, data: Ok(data), raw: None }]);
    }
    if let Some(records) = object.remove("Records") {
        return decode_kinesis(records);
    }
    if allow_destination_record {
        if let Some(payload) = object.remove("requestPayload") {
            return decode_envelope(payload, false);
        }
    }
    Err(DecodeError::Unrecognised { found: describe(&Value::Object(object)) })
}

#[derive(Deserialize)]
struct KinesisRecord {
    kinesis: KinesisData,
}

#[derive(Deserialize)]
struct KinesisData {
    data: String,
}

fn decode_kinesis(records: Value) -> Result<Vec<Record>, DecodeError> {
    let Value::Array(records) = records else {
        return Err(DecodeError::Unrecognised { found: "\"Records\" that is not an array".to_owned() });
    };
    let mut decoded = Vec::with_capacity(records.len());
    for (index, record) in records.into_iter().enumerate() {
        let source = record.get("eventSource").and_then(Value::as_str).unwrap_or("aws:kinesis");
        if source != "aws:kinesis" {
            // Not a Kinesis event at all (SQS, SNS, …): the whole event is misrouted.
            return Err(DecodeError::RecordSource { index, source_name: source.to_owned() });
        }
        let sequence_number = record.pointer("/kinesis/sequenceNumber").and_then(Value::as_str).map(str::to_owned);
        let at = Location::KinesisRecord { index, sequence_number };
        let record = match serde_json::from_value::<KinesisRecord>(record) {
            Ok(record) => record,
            Err(e) => {
                let data = Err(DecodeError::Envelope { at: at.clone(), reason: e.to_string() });
                decoded.push(Record { at, data, raw: None });
                continue;
            }
        };
        let data = decode_data(&record.kinesis.data, at.clone());
        // The data as it came is kept (moved, not copied) only when it did not decode.
        let raw = data.is_err().then_some(record.kinesis.data);
        decoded.push(Record { at, data, raw });
    }
    Ok(decoded)
}

/// gzip → JSON.
fn decode_payload(gzipped: &[u8], at: Location) -> Result<LogsData, DecodeError> {
    buffers::with_scratch(Scratch::Decompressed, |json| {
        json.reserve(gzipped.len() * 8);
        let read = MultiGzDecoder::new(gzipped).take(MAX_DECOMPRESSED_BYTES + 1).read_to_end(json);
        match read {
            Err(source) => return Err(DecodeError::Gzip { at, source }),
            Ok(n) if n as u64 > MAX_DECOMPRESSED_BYTES => return Err(DecodeError::TooLarge { at }),
            Ok(_) => {}
        }
        serde_json::from_slice(json).map_err(|source| DecodeError::Json { at, source })
    })
}

/// A short description of what an unrecognised event holds (its keys, never its values).
fn describe(event: &Value) -> String {
    match event {
        Value::Object(object) if object.is_empty() => "an empty object".to_owned(),
        Value::Object(object) => {
            let keys: Vec<String> = object.keys().take(8).map(|k| format!("{k:?}")).collect();
            format!("an object with keys [{}]", keys.join(", "))
        }
        Value::Array(_) => "an array".to_owned(),
        Value::String(_) => "a string".to_owned(),
        Value::Number(_) => "a number".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Null => "null".to_owned(),
    }
}
