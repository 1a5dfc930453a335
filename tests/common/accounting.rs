//! The accounting workload, shared by the stand-in's and the real node's accounting tests: six
//! invocations of 500 slow-query events (some conflicting with the mapping, some holding two
//! entries, the last one delivered twice), an outage, then random faults scripted into a
//! stand-in (or a front of a real node), run with short and long deadlines, failed invocations
//! run again as Lambda would. Each test then checks its own store.

use super::standin::{Fault, StandIn};
use super::{awslogs_event, payload};
use logs_to_opensearch::handler::Summary;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// xorshift64 with a fixed seed: the same workload every run.
pub struct Random(u64);

impl Random {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

pub struct Workload {
    pub events: Vec<Value>,
    /// Every document id the events make, once (a redelivered event adds none).
    pub all_ids: Vec<String>,
    /// The ids whose document the mapping refuses (`Rows_examined` is a number).
    pub conflicts: BTreeSet<String>,
    random: Random,
}

/// Builds the events from `base` entries and scripts `faults` random faults (after twenty 503s,
/// an outage longer than the first invocation's time) into `standin`.
pub fn workload(log_group: &str, base: &[String; 4], standin: &StandIn, faults: usize) -> Workload {
    let mut random = Random(0x5eed);
    let (mut events, mut all_ids, mut conflicts) = (Vec::new(), Vec::new(), BTreeSet::new());
    for invocation in 0..6 {
        let messages: Vec<String> = (0..500)
            .map(|i| {
                if random.below(50) == 0 {
                    conflicts.insert(format!("{invocation}-{i:05}"));
                    format!(r#"{{"Rows_examined": "many", "n": {i}}}"#)
                } else if i % 97 == 5 {
                    // Two entries in one event: two documents, `<id>` and `<id>-1`.
                    format!("{}{}", base[i % 4], base[(i + 1) % 4])
                } else {
                    base[i % 4].clone()
                }
            })
            .collect();
        let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
        let mut payload = payload(log_group, &format!("prod-db-1-{invocation}"), &refs);
        let log_events = payload["logEvents"].as_array_mut().unwrap();
        for (i, event) in log_events.iter_mut().enumerate() {
            let id = format!("{invocation}-{i:05}");
            event["id"] = json!(id);
            if i % 97 == 5 && !conflicts.contains(&id) {
                all_ids.push(format!("{id}-1"));
            }
            all_ids.push(id);
        }
        // CloudWatch's at-least-once delivery: the last event again, under its id.
        let again = log_events[499].clone();
        log_events.push(again);
        events.push(awslogs_event(&payload));
    }
    for _ in 0..20 {
        standin.script(Fault::Status(503));
    }
    // Then random faults: per-item 429s, whole-request 429/503/502 pages, dropped connections.
    for _ in 0..faults {
        let fault = match random.below(8) {
            0 => Fault::RejectItems((0..random.below(40)).map(|_| random.below(120) as usize).collect()),
            1 => Fault::Status(429),
            2 => Fault::Status(503),
            3 => Fault::HtmlBadGateway,
            4 => Fault::DropConnection,
            _ => Fault::Pass,
        };
        standin.script(fault);
    }
    Workload { events, all_ids, conflicts, random }
}

impl Workload {
    /// Runs every event through `invoke` (the first with 250 ms: room for a few attempts, never
    /// for twenty 503s; a third of the rest with `short`, the others with `long`), checks each
    /// summary's accounting, then runs the failed events again with `long` and requires them
    /// delivered.
    pub fn run(&mut self, mut invoke: impl FnMut(&Value, Duration) -> Summary, short: Duration, long: Duration) {
        let (mut retried, mut dead_lettered, mut failed_events) = (0, 0, Vec::new());
        for (n, event) in self.events.iter().enumerate() {
            let budget = match n {
                0 => Duration::from_millis(250),
                _ if self.random.below(3) == 0 => short,
                _ => long,
            };
            let summary = invoke(event, budget);
            let delivery = &summary.delivery;
            assert_eq!(delivery.indexed + delivery.dead_lettered + delivery.failed, delivery.documents, "{summary:?}");
            assert_eq!(summary.duplicate_ids, 1, "the repeated event is reported");
            retried += delivery.retried;
            dead_lettered += delivery.dead_lettered;
            if delivery.failed > 0 {
                assert!(summary.undelivered().is_some());
                failed_events.push(event.clone());
            }
        }
        assert!(
            retried > 0 && dead_lettered > 0 && !failed_events.is_empty(),
            "the faults were met: {retried} retried, {dead_lettered} dead-lettered, {} failed invocations",
            failed_events.len()
        );
        // What Lambda does next: run the failed events again (no faults are left by then).
        for event in &failed_events {
            let summary = invoke(event, long);
            assert!(summary.undelivered().is_none(), "{summary:?}");
        }
    }
}
