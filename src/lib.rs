//! logs-to-opensearch: CloudWatch Logs subscription events from RDS / Aurora MySQL and MariaDB
//! slow-query log groups and PostgreSQL log groups → typed OpenSearch documents → `_bulk` bodies.
//!
//! Pure core (no I/O, no clock, no logging): [`event`], [`slowlog`], [`postgres`], [`fingerprint`], [`document`],
//! [`index_name`], [`bulk`], [`json`]. At the edges: [`config`] (environment), [`sink`] (where documents
//! go: the seam), [`handler`] (wiring), [`delivery`] (sending), [`slowlog_file`] (reading files), [`cli`] and [`lambda`] (the binary's two faces).
//! The document contract and failure semantics are in `../shared/DESIGN.md` and the README.

pub mod alert;
pub mod buffers;
pub mod bulk;
pub mod cli;
pub mod config;
pub mod dead_letter;
pub mod delivery;
pub mod digest;
pub mod document;
pub mod event;
pub mod field_names;
pub mod fingerprint;
pub mod handler;
pub mod index_name;
pub mod json;
pub mod lambda;
pub mod metrics;
pub mod postgres;
pub mod redact;
pub mod setup;
pub mod sink;
pub mod slowlog;
pub mod slowlog_file;
pub mod subscriptions;
pub mod text;
