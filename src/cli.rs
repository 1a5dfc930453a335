//! The command-line face: `replay` a saved Lambda event, or index a raw `slowlog` file.
//!
//! Both go through [`Handler`], the code the Lambda runs. With an OpenSearch endpoint (`--endpoint`
//! or `OPENSEARCH_ENDPOINT`) they send, with the Lambda's retries and dead-lettering; without one
//! they print the `_bulk` body on stdout (pipe it into `curl --data-binary @-`). Either way a
//! one-line summary goes to stderr, and the exit status is 1 when documents were neither indexed
//! nor dead-lettered. Owns argument parsing and file I/O; `main` only dispatches here.

use crate::alert::notify::{Notifier, Output};
use crate::config::{Config, RawConfig};
use crate::delivery::{Destination, InFlight};
use crate::event::{self, LogsData};
use crate::handler::{Handler, Sink, Summary};
use crate::setup;
use crate::slowlog_file::{EntrySplitter, EventMaker};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use futures_util::stream::{FuturesOrdered, StreamExt};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const AFTER_HELP: &str = "\
Environment (the Lambda's variables; README.md has the full table):
  OPENSEARCH_ENDPOINT         where to send (or --endpoint); unset: print the _bulk body (dry run)
  OPENSEARCH_AUTH             sigv4 (default; AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
                              AWS_SESSION_TOKEN), basic (OPENSEARCH_USERNAME, OPENSEARCH_PASSWORD) or none
  OPENSEARCH_SERVICE          es (default) or aoss (OpenSearch Serverless)
  OPENSEARCH_COMPRESSION      none (default) or gzip request bodies
  OPENSEARCH_TIMEOUT_SECONDS  one request's timeout (default: 30)
  BULK_MAX_BYTES              largest request body (default: 5242880)
  INDEX_PREFIX                first part of every index name (default: cwl)
                              (/aws/rds/instance/db-1/slowquery on 2026-11-21 goes to
                              cwl-aws-rds-instance-db-1-slowquery-2026.11.21)
  INDEX_TYPE                  legacy _type for Elasticsearch 6 domains (default: none; OpenSearch
                              refuses it)
  REDACT_QUERY_LITERALS       true: mask string and number literals in Query, @message and alerts
  FINGERPRINT_PRESERVE_EMBEDDED_NUMBERS
                              true: keep numbers inside identifiers in fingerprints (default: false,
                              as pt-query-digest: orders_2024_01 → orders_?_?)
  RUST_LOG                    log level on stderr (default: warn)

Alerts (with --alerts send; the default, print, shows them on stderr):
  SLOW_QUERY_ALERT_SECONDS    alert when Query_time is at or above this (e.g. 5)
  SLOW_QUERY_ALERT_MIN_ROWS_EXAMINED, SLOW_QUERY_ALERT_IGNORE_USERS (default: rdsadmin),
  SLOW_QUERY_ALERT_IGNORE_FINGERPRINTS
                              refinements of the slow-query rule
  ALERT_MARKERS               alert on messages containing one of these: [CRITICAL],[ALERT]
  ALERT_WHEN                  alert on field conditions: status>=500 && path!=/health, level==FATAL
  ALERT_MAX_MESSAGES          messages per run (default: 5); the rest are summarised in the last
  ALERT_COOLDOWN_SECONDS      the Lambda does not repeat an alert within this (default: 300)
  SLACK_WEBHOOK_URL           the Slack incoming webhook (or SLACK_WEBHOOK_SECRET_ARN /
                              SLACK_WEBHOOK_PARAMETER, read through the Lambda extension)
  DASHBOARDS_URL              OpenSearch Dashboards URL for the message's Discover button

Exit status: 0 when every document was indexed or dead-lettered (or printed), 1 when some were
not (the summary says why), 2 for invalid configuration or arguments, 3 with --fail-on-dead-letter
when some were dead-lettered.

With AWS_LAMBDA_RUNTIME_API set (inside AWS Lambda), the binary runs as the Lambda function instead.";

/// Turn CloudWatch Logs events from RDS / Aurora MySQL and MariaDB slow-query logs into typed
/// OpenSearch documents and `_bulk` bodies.
///
/// The same binary is the AWS Lambda function (when AWS_LAMBDA_RUNTIME_API is set) and this tool.
/// With an OpenSearch endpoint (--endpoint or OPENSEARCH_ENDPOINT) both commands send, with the
/// Lambda's retries and dead-letter index; without one they print the `_bulk` body on stdout.
/// Either way a summary goes to stderr.
#[derive(Debug, Parser)]
#[command(name = "logs-to-opensearch", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Send to this OpenSearch endpoint (overrides OPENSEARCH_ENDPOINT).
    #[arg(
        long,
        global = true,
        value_name = "URL",
        long_help = "Send to this OpenSearch endpoint (overrides OPENSEARCH_ENDPOINT), e.g.\n\
                     https://search-logs-abc123.eu-west-1.es.amazonaws.com or http://127.0.0.1:9200"
    )]
    pub endpoint: Option<String>,
    /// How long to keep retrying a batch's failed items (or a setup piece) before giving up on them.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub retry_for: u64,
    /// What to do with alerts: print them on stderr (default), send them to Slack, or skip them.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "MODE",
        default_value_t = AlertMode::Print,
        long_help = "What to do with alerts (SLOW_QUERY_ALERT_SECONDS, ALERT_MARKERS, ALERT_WHEN):\n\
                     print (default) shows on stderr the messages that would be sent, so a backfill\n\
                     never spams a channel by accident; send posts them to the Slack webhook\n\
                     (SLACK_WEBHOOK_URL); off skips alerting. Alerts are grouped over the whole run."
    )]
    pub alerts: AlertMode,
    /// Exit with status 3 when any document was dead-lettered (rather than 0: it was kept).
    #[arg(
        long,
        global = true,
        long_help = "Exit with status 3 when any document was dead-lettered. Without it a run whose\n\
                     documents were all either indexed or dead-lettered exits 0: nothing was lost, but\n\
                     a dead-lettered document is in INDEX_PREFIX-_deadletter-*, not in its index.\n\
                     Scripts and CI jobs that must notice mapping conflicts set this."
    )]
    pub fail_on_dead_letter: bool,
}

/// The command line as clap should read it: `help --help` (or `help slowlog -h`) asks for help
/// on help, which clap refuses; it is taken as `help` (or `help slowlog`).
pub fn arguments(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|a| a == "help") {
        let mut index = 0;
        args.retain(|a| {
            index += 1;
            index <= 2 || (a != "--help" && a != "-h")
        });
    }
    args
}

/// A command used wrongly (a missing argument, a bad value, `setup` without an endpoint): the
/// binary exits with 2, as for invalid configuration, not 1 (which means documents not delivered).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Some documents were dead-lettered and `--fail-on-dead-letter` is set: exit status 3.
#[derive(Debug, thiserror::Error)]
#[error("{dead_lettered} of {documents} documents were dead-lettered (--fail-on-dead-letter): they are in the dead-letter index, not where they belong; the lines above say why")]
pub struct DeadLettered {
    pub dead_lettered: usize,
    pub documents: usize,
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// `--alerts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlertMode {
    Off,
    Print,
    Send,
}

/// `digest --order-by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DigestOrder {
    Total,
    Count,
    Max,
    Avg,
    #[value(name = "rows_examined", alias = "rows-examined")]
    RowsExamined,
}

/// `digest --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DigestFormat {
    Text,
    Json,
    Markdown,
}

impl Cli {
    /// Applies the flags that override environment variables.
    pub fn override_config(&self, raw: &mut RawConfig) {
        if let Some(endpoint) = &self.endpoint {
            raw.set("OPENSEARCH_ENDPOINT", endpoint.clone());
        }
    }

    /// Where alerts go with `--alerts`, given the configuration; an error explains a `send` that
    /// cannot send.
    pub fn alert_output(&self, config: &Config) -> Result<Output, String> {
        match self.alerts {
            AlertMode::Off => Ok(Output::Off),
            AlertMode::Print => Ok(Output::Stderr),
            AlertMode::Send if config.alerts.webhook.is_none() => Err(
                "--alerts send needs a webhook: set SLACK_WEBHOOK_URL (or SLACK_WEBHOOK_SECRET_ARN / SLACK_WEBHOOK_PARAMETER inside Lambda)"
                    .to_owned(),
            ),
            AlertMode::Send if config.alerts.rules.is_empty() => Err(
                "--alerts send needs a rule: set SLOW_QUERY_ALERT_SECONDS, ALERT_MARKERS or ALERT_WHEN".to_owned(),
            ),
            AlertMode::Send => Ok(Output::Slack),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install the index templates, the ISM retention policy and the Dashboards objects.
    ///
    /// Puts `_index_template/logs-to-opensearch` (the slow-query contract, for
    /// INDEX_PREFIX-*slowquery*), `_index_template/logs-to-opensearch-logs` (other log groups) and
    /// `_index_template/logs-to-opensearch-deadletter`, the ISM policy
    /// `logs-to-opensearch-retention` (deletes daily indices after --retention-days), and imports
    /// the "Slow queries" dashboard, its visualizations, a saved search and the index pattern into
    /// OpenSearch Dashboards. Signed like every other request; running it again replaces each piece.
    /// A busy cluster is retried for --retry-for seconds; a piece that still fails is reported and
    /// the others are installed all the same (exit status 1).
    #[command(
        after_help = "Example:\n  logs-to-opensearch setup --endpoint https://search-logs-abc123.eu-west-1.es.amazonaws.com \\\n      --retention-days 14"
    )]
    Setup {
        /// Delete daily indices this many days after they were created.
        #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
        retention_days: u32,
        /// Where OpenSearch Dashboards answers on the endpoint (`_dashboards` on Amazon OpenSearch Service).
        #[arg(long, value_name = "PATH", default_value = "_dashboards")]
        dashboards_path: String,
        /// Skip the Dashboards objects (a cluster without Dashboards, or Kibana).
        #[arg(long)]
        no_dashboards: bool,
        /// Skip the ISM retention policy (retention managed elsewhere). A cluster without the ISM
        /// plugin is detected and skipped with a note in any case.
        #[arg(long)]
        no_ism: bool,
        /// Also attach the retention policy to indices of the prefix that exist already and have
        /// no policy (ISM gives it to new indices only; without this flag setup counts them).
        #[arg(long, conflicts_with = "no_ism")]
        attach_existing: bool,
    },
    /// Run a saved Lambda event through exactly the Lambda's code path.
    ///
    /// Accepts a CloudWatch Logs subscription event ({"awslogs":{"data":…}}), Kinesis records
    /// carrying CloudWatch Logs data, or a Lambda on-failure destination record (the event under
    /// "requestPayload"), so failed invocations can be re-driven.
    #[command(
        after_help = "Example:\n  logs-to-opensearch replay tests/fixtures/events/rds-mysql80-slowquery.json > bulk.ndjson"
    )]
    Replay {
        /// The event file; `-` reads standard input.
        event: PathBuf,
    },
    /// Index a raw slow-log file as if its entries had arrived through CloudWatch Logs.
    ///
    /// The file as downloaded from RDS (`aws rds download-db-log-file-portion --output text`) or
    /// written by a MySQL / MariaDB / Percona server. Entries start at their header lines; start-up
    /// banners become plain documents of their own. Document ids derive from the log group and
    /// the entry itself (time and bytes), so running the same backfill again overwrites, never
    /// duplicates, and two files never overwrite each other's entries.
    #[command(
        after_help = "Example:\n  logs-to-opensearch slowlog mysql-slowquery.log --log-stream prod-db-1 \\\n      --log-group /aws/rds/instance/prod-db-1/slowquery"
    )]
    Slowlog {
        /// The slow-log file; `-` reads standard input.
        file: PathBuf,
        /// The log group the entries belong to (names the index): `/aws/rds/instance/<db>/slowquery`.
        #[arg(long, value_name = "NAME")]
        log_group: String,
        /// The log stream (default: the file's name; `stdin` for standard input).
        #[arg(long, value_name = "NAME")]
        log_stream: Option<String>,
        /// The AWS account id for @owner.
        #[arg(long, value_name = "ACCOUNT", default_value = "")]
        owner: String,
        /// Entries per batch (one `_bulk` request each, once sending is configured).
        #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch_size: u32,
        /// Skip the first N entries (they were delivered by an earlier run that stopped).
        #[arg(
            long,
            value_name = "N",
            default_value_t = 0,
            long_help = "Skip the first N entries of the file: they were delivered by an earlier run.\n\
                         A run stops at the first batch the cluster did not take within --retry-for\n\
                         (one retry budget for the whole run, not one per batch) and says the N to\n\
                         resume from. Resuming earlier than needed is harmless: ids derive from the\n\
                         entries, so what is sent again overwrites itself."
        )]
        resume_from: u64,
        /// `_bulk` requests sent at once (the next batch is read and encoded meanwhile).
        #[arg(
            long,
            value_name = "N",
            default_value_t = 2,
            value_parser = clap::value_parser!(u32).range(1..=32),
            long_help = "`_bulk` requests sent at once; the next batch is read and encoded meanwhile.\n\
                         The default, 2, suits a small domain (one or two data nodes). When the cluster\n\
                         answers 429 (its write queue is full), the run halves the requests in flight,\n\
                         then adds one back after each calm stretch, up to N. Memory holds N batches."
        )]
        requests_in_flight: u32,
    },
    /// Group slow-log entries by fingerprint and report what each class costs, as pt-query-digest does.
    ///
    /// Reads raw slow logs (MySQL, MariaDB, Percona Server, Aurora MySQL) and RDS PostgreSQL logs,
    /// plain or gzip-compressed (told by the first bytes, not the name); several files make one
    /// digest. Per class (one Fingerprint_id, the documents' field): count; total, min, max, avg,
    /// median and 95th percentile of Query_time and Lock_time; rows sent and examined; share of the
    /// total time; first and last seen; users, hosts and databases; the fingerprint and the slowest
    /// example (masked under REDACT_QUERY_LITERALS / REDACT_PATTERNS). Offline: nothing is sent.
    #[command(after_help = "Examples:\n  \
        logs-to-opensearch digest mysql-slowquery.log mysql-slowquery.log.1.gz\n  \
        logs-to-opensearch digest --order-by count --limit 5 --format markdown slow.log\n  \
        logs-to-opensearch digest --since 2026-11-21T10:00:00Z --until 1h --filter 'Rows_examined>=100000' slow.log\n\n\
        --since and --until take an RFC 3339 time (2026-11-21T10:00:00Z, 2026-11-21T12:00:00+02:00), a date\n\
        and time in UTC (2026-11-21 10:00:00, 2026-11-21), or a time before now (90s, 30m, 6h, 2d). An\n\
        entry without a time of its own takes the last time before it in the file.\n\
        Exit status: 0 when the digest was printed, 1 when a file could not be read, 2 for invalid arguments.")]
    Digest {
        /// Slow-log files; `-` reads standard input. Without files, the digest of the last
        /// --window minutes is asked of OpenSearch (--endpoint or OPENSEARCH_ENDPOINT).
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// From OpenSearch: the window, in minutes, ending at the last whole minute (default:
        /// DIGEST_WINDOW_MINUTES, 60).
        #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(i64).range(1..=10_080))]
        window: Option<i64>,
        /// From OpenSearch: post the digest to Slack as the scheduled Lambda does (the webhook, and
        /// the chart with SLACK_BOT_TOKEN and SLACK_CHANNEL_ID), instead of printing it.
        #[arg(long)]
        post: bool,
        /// Also draw the chart (Query_time over time for the top five fingerprints) to this PNG file.
        #[arg(long, value_name = "PNG")]
        chart: Option<PathBuf>,
        /// How the classes are ranked: total (Query_time), count, max, avg (Query_time) or rows_examined (total).
        #[arg(long, value_enum, value_name = "KEY", default_value_t = DigestOrder::Total)]
        order_by: DigestOrder,
        /// Classes shown; the rest are summed in one line.
        #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        /// Only entries at or after this time.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only entries before this time.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Only entries matching these rules, in ALERT_WHEN's language: `Query_time>=1 && User!=etl, Rows_examined>=100000`.
        #[arg(long, value_name = "RULES")]
        filter: Option<String>,
        /// text (like pt-query-digest's report), json (documented in README.md) or markdown.
        #[arg(long, value_enum, value_name = "FORMAT", default_value_t = DigestFormat::Text)]
        format: DigestFormat,
    },
    /// Subscribe log groups to the function, or remove those subscriptions: a plan, then --apply.
    ///
    /// For log groups the template's subscriptions do not cover. Lists the log groups named with
    /// --log-group and the existing ones matching a --pattern, reads their subscription filters and
    /// prints what would change; only --apply changes anything. Only filters named --filter-name
    /// are made, pointed at the function or removed; a log group's other filters are left alone
    /// (CloudWatch Logs allows two per log group). Signed with the AWS credentials in the
    /// environment (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
    #[command(after_help = "Examples:\n  \
        FUNCTION_ARN=arn:aws:lambda:eu-west-1:123456789012:function:logs-to-opensearch\n  \
        logs-to-opensearch subscribe --pattern '/aws/rds/*/slowquery' --destination-arn \"$FUNCTION_ARN\"\n  \
        logs-to-opensearch subscribe --pattern '/aws/rds/*/slowquery' --apply \\\n      --destination-arn \"$FUNCTION_ARN\"\n  \
        logs-to-opensearch subscribe --log-group /aws/rds/instance/old-db/slowquery --unsubscribe --apply\n\n\
        The function must allow CloudWatch Logs to invoke it (the template's LogsInvokePermission does).\n\
        Exit status: 0 when the plan was printed (or applied in full), 1 when a change failed or a log\n\
        group is missing or blocked under --apply, 2 for invalid arguments.")]
    Subscribe {
        /// Existing log groups whose names match: `*` is any run of characters (`/` included), `?` one. Repeatable.
        #[arg(long = "pattern", value_name = "PATTERN")]
        patterns: Vec<String>,
        /// A log group by name. Repeatable.
        #[arg(long = "log-group", value_name = "NAME")]
        log_groups: Vec<String>,
        /// The function the log groups send to (its ARN); required unless --unsubscribe.
        #[arg(long, value_name = "ARN")]
        destination_arn: Option<String>,
        /// The subscription filter's name: the filters this command makes, points or removes.
        #[arg(long, value_name = "NAME", default_value = crate::config::DEFAULT_FILTER_NAME)]
        filter_name: String,
        /// Remove the filters named --filter-name instead of making them.
        #[arg(long)]
        unsubscribe: bool,
        /// Make the changes. Without it only the plan is printed.
        #[arg(long, conflicts_with = "dry_run")]
        apply: bool,
        /// Print the plan and change nothing (the default).
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs the CLI command: sends (or prints the `_bulk` body on stdout), then prints the one-line
/// summary on stderr; fails when documents were neither indexed nor dead-lettered.
pub async fn run(cli: Cli, config: Config, alerts: Output) -> Result<()> {
    if let Command::Subscribe { patterns, log_groups, destination_arn, filter_name, unsubscribe, apply, dry_run: _ } =
        cli.command
    {
        let request = SubscribeRequest { patterns, log_groups, destination_arn, filter_name, unsubscribe, apply };
        return subscribe(&config, request).await;
    }
    if let Command::Digest { files, window, post, chart, order_by, limit, since, until, filter, format } = cli.command {
        if files.is_empty() {
            return window_digest(&config, window, post, chart.as_deref()).await;
        }
        if window.is_some() || post {
            return Err(usage("--window and --post ask OpenSearch: name no FILE with them"));
        }
        let request = DigestRequest { files, order_by, limit: limit as usize, since, until, filter, format, chart };
        return digest(&config, request);
    }
    let config = Arc::new(config);
    let sink = Destination::from_config(&config, BufWriter::with_capacity(1 << 16, io::stdout().lock()))?;
    let sends = sink.sends();
    let notifier = Notifier::new(&config.alerts, config.redact_literals, alerts)?;
    let handler = Handler::new(Arc::clone(&config), sink).with_notifier(notifier).without_failure_log();
    let retry_for = Duration::from_secs(cli.retry_for);
    let started = Instant::now();
    // Where a backfill stopped: its file and the number of entries before the batch not taken.
    let mut stop_point = None;
    let mut summary = match cli.command {
        Command::Setup { retention_days, dashboards_path, no_dashboards, no_ism, attach_existing } => {
            let args = SetupArgs {
                retention_days,
                dashboards_path: &dashboards_path,
                no_dashboards,
                no_ism,
                attach_existing,
                retry_for,
            };
            return setup(&config, args).await;
        }
        Command::Replay { event } => replay(&handler, &event, retry_for).await?,
        Command::Subscribe { .. } | Command::Digest { .. } => unreachable!("handled above"),
        Command::Slowlog { file, log_group, log_stream, owner, batch_size, resume_from, requests_in_flight } => {
            let backfill = Backfill {
                log_group,
                log_stream,
                owner,
                batch_size: batch_size as usize,
                resume_from,
                requests_in_flight: requests_in_flight as usize,
            };
            let (summary, stopped) = slowlog(&handler, &file, backfill, retry_for).await?;
            stop_point = stopped.map(|entry| (file, entry));
            summary
        }
    };
    summary.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    eprintln!("logs-to-opensearch: {}", summary.line(&handler.sink().describe(), sends));
    for f in &summary.delivery.failures {
        eprintln!(
            "logs-to-opensearch: {} {} ({}) {}: {} {}: {}",
            f.outcome,
            f.id,
            f.index,
            f.attempts_text(),
            f.status,
            f.error_type,
            f.reason
        );
    }
    match (summary.undelivered(), stop_point) {
        (Some(error), Some((file, entry))) => Err(anyhow::Error::from(error).context(format!(
            "{}: stopped at the first batch the cluster did not take within --retry-for {} s; the {entry} entries \
             before it are delivered (or dead-lettered); when the cluster is back, run the same command with \
             --resume-from {entry}",
            display(&file),
            cli.retry_for
        ))),
        (Some(error), None) => Err(error.into()),
        (None, _) if cli.fail_on_dead_letter && summary.delivery.dead_lettered > 0 => {
            Err(DeadLettered { dead_lettered: summary.delivery.dead_lettered, documents: summary.delivery.documents }
                .into())
        }
        (None, _) => Ok(()),
    }
}

/// What `digest` is told.
struct DigestRequest {
    files: Vec<PathBuf>,
    order_by: DigestOrder,
    limit: usize,
    since: Option<String>,
    until: Option<String>,
    filter: Option<String>,
    format: DigestFormat,
    chart: Option<PathBuf>,
}

/// `digest` without files: the last `window` minutes from OpenSearch, printed (the message as
/// text) or posted; the chart to a file on request.
async fn window_digest(config: &Config, window: Option<i64>, post: bool, chart: Option<&Path>) -> Result<()> {
    use crate::digest::{scheduled, window::Window};
    if config.opensearch.is_none() {
        return Err(usage(
            "digest needs slow-log files, or an endpoint to ask (--endpoint URL or OPENSEARCH_ENDPOINT) for the last --window minutes",
        ));
    }
    let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let window = Window::ending_at(now_ms, window.unwrap_or(config.alerts.digest.window_minutes));
    let deadline = Instant::now() + Duration::from_secs(60);
    let digest = scheduled::fetch(config, window, deadline).await?;
    if let Some(path) = chart {
        let png = crate::digest::chart::render(&digest.chart());
        std::fs::write(path, png).with_context(|| format!("{}: cannot write the chart", path.display()))?;
    }
    if !post {
        print!("{}", digest.text());
        return Ok(());
    }
    let report = scheduled::send(config, &digest, deadline).await;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let scheduled::Outcome::Failed(why) = &report.message {
        anyhow::bail!("digest: the Slack message failed: {why}");
    }
    if let scheduled::Outcome::Failed(why) = &report.chart {
        anyhow::bail!("digest: the chart failed: {why}");
    }
    Ok(())
}

fn digest_order(order: DigestOrder) -> crate::digest::OrderBy {
    use crate::digest::OrderBy;
    match order {
        DigestOrder::Total => OrderBy::Total,
        DigestOrder::Count => OrderBy::Count,
        DigestOrder::Max => OrderBy::Max,
        DigestOrder::Avg => OrderBy::Avg,
        DigestOrder::RowsExamined => OrderBy::RowsExamined,
    }
}

/// `digest`: every file into one digest, then the report on stdout.
fn digest(config: &Config, request: DigestRequest) -> Result<()> {
    use crate::digest::{report, Digest, Selection};
    let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let since_ms = request
        .since
        .as_deref()
        .map(|t| time_arg(t, now_ms).map_err(|e| usage(format!("--since: {e}"))))
        .transpose()?;
    let until_ms = request
        .until
        .as_deref()
        .map(|t| time_arg(t, now_ms).map_err(|e| usage(format!("--until: {e}"))))
        .transpose()?;
    if let (Some(since), Some(until)) = (since_ms, until_ms) {
        if since >= until {
            return Err(usage(format!(
                "--since ({}) is not before --until ({}): no entry can be in that window",
                report::time_text(since),
                report::time_text(until)
            )));
        }
    }
    let filter = match request.filter.as_deref() {
        Some(text) => crate::alert::parse_when(text).map_err(|e| usage(format!("--filter: {e}")))?,
        None => Vec::new(),
    };
    if request.files.iter().filter(|f| is_stdin(f)).count() > 1 {
        return Err(usage("`-` (standard input) can be named once"));
    }
    // Two threads: this one reads and splits, the other parses and adds, in the files' order
    // (an undated entry takes the time before it). The channel holds a few batches, so memory
    // stays bounded however far the reading runs ahead.
    let (batches, parsed) = std::sync::mpsc::sync_channel::<Vec<String>>(4);
    let selection = Selection { since_ms, until_ms, filter };
    let rules = config.fingerprint_rules;
    let adder = std::thread::spawn(move || {
        let mut digest = Digest::new(selection, rules);
        for batch in parsed {
            for entry in &batch {
                digest.add(entry);
            }
        }
        digest
    });
    let read = read_digest_files(&request.files, &batches);
    drop(batches);
    let digest = adder.join().map_err(|_| anyhow::anyhow!("digest: the thread adding entries failed"))?;
    let sources = read?;
    if let Some(path) = &request.chart {
        let chart = digest.chart(digest_order(request.order_by), crate::digest::window::CHART_SERIES);
        std::fs::write(path, crate::digest::chart::render(&chart))
            .with_context(|| format!("{}: cannot write the chart", path.display()))?;
    }
    let options = report::Options {
        order_by: digest_order(request.order_by),
        limit: request.limit,
        redaction: report::Redaction {
            literals: config.redact_literals,
            patterns: config.redact_patterns.clone(),
            rules: config.fingerprint_rules,
        },
        sources,
    };
    let text = match request.format {
        DigestFormat::Text => report::text(&digest, &options),
        DigestFormat::Json => {
            let mut json = serde_json::to_string_pretty(&report::json(&digest, &options))?;
            json.push('\n');
            json
        }
        DigestFormat::Markdown => report::markdown(&digest, &options),
    };
    let mut stdout = io::stdout().lock();
    io::Write::write_all(&mut stdout, text.as_bytes())?;
    io::Write::flush(&mut stdout)?;
    if digest.overall.queries == 0 {
        eprintln!(
            "logs-to-opensearch: digest: no statement in {} entries read{}",
            digest.overall.entries,
            if digest.overall.entries > 0 { " (the header says what was left out)" } else { "" }
        );
    }
    Ok(())
}

/// Entries handed to the adding thread at a time.
const DIGEST_BATCH: usize = 256;

/// Reads and splits every file, sending the entries to the adding thread in batches; returns
/// what was read of each file.
fn read_digest_files(
    files: &[PathBuf],
    batches: &std::sync::mpsc::SyncSender<Vec<String>>,
) -> Result<Vec<crate::digest::report::Source>> {
    let stopped = || anyhow::anyhow!("digest: the thread adding entries stopped");
    let mut sources = Vec::new();
    for path in files {
        let reader: Box<dyn BufRead> = if is_stdin(path) {
            Box::new(BufReader::with_capacity(1 << 16, io::stdin()))
        } else {
            let file =
                File::open(path).with_context(|| format!("{}: cannot open the slow-log file", path.display()))?;
            Box::new(BufReader::with_capacity(1 << 16, file))
        };
        let reader =
            crate::slowlog_file::open_log(reader).with_context(|| format!("{}: read failed", display(path)))?;
        let mut entries = EntrySplitter::new(reader);
        let mut batch = Vec::with_capacity(DIGEST_BATCH);
        for entry in entries.by_ref() {
            let entry = entry.with_context(|| {
                format!("{}: read failed (a gzip file cut short or corrupt?); nothing was reported", display(path))
            })?;
            batch.push(entry.text);
            if batch.len() == DIGEST_BATCH {
                batches.send(std::mem::replace(&mut batch, Vec::with_capacity(DIGEST_BATCH))).map_err(|_| stopped())?;
            }
        }
        if !batch.is_empty() {
            batches.send(batch).map_err(|_| stopped())?;
        }
        sources.push(crate::digest::report::Source { name: display(path), bytes: entries.offset() });
    }
    Ok(sources)
}

/// `--since` / `--until`: RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]` in UTC, or a duration before `now_ms`
/// (`90s`, `30m`, `6h`, `2d`, `1w`).
pub fn time_arg(text: &str, now_ms: i64) -> std::result::Result<i64, String> {
    let t = text.trim();
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(time.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(time) = chrono::NaiveDateTime::parse_from_str(t, format) {
            return Ok(time.and_utc().timestamp_millis());
        }
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).map_or(0, |d| d.and_utc().timestamp_millis()));
    }
    let unit_at = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(unit_at);
    let seconds: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => 0,
    };
    match number.parse::<i64>() {
        Ok(n) if seconds > 0 && !number.is_empty() => n
            .checked_mul(seconds * 1000)
            .map(|ago| now_ms - ago)
            .ok_or_else(|| format!("{text:?} is too far back")),
        _ => Err(format!(
            "{text:?} is not a time: use 2026-11-21T10:00:00Z, 2026-11-21 10:00:00 (UTC), 2026-11-21, or a time before now as 30m, 6h, 2d"
        )),
    }
}

/// What `subscribe` is told.
struct SubscribeRequest {
    patterns: Vec<String>,
    log_groups: Vec<String>,
    destination_arn: Option<String>,
    filter_name: String,
    unsubscribe: bool,
    apply: bool,
}

/// `subscribe`: the plan on stdout, one line per log group; with --apply, each change as it is made.
async fn subscribe(config: &Config, request: SubscribeRequest) -> Result<()> {
    use crate::subscriptions::{self, pattern, Logs, Step, Target};
    let patterns = request
        .patterns
        .iter()
        .map(|p| pattern::Pattern::new(p).map_err(|e| usage(format!("--pattern: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let mut groups = std::collections::BTreeSet::new();
    for name in &request.log_groups {
        pattern::check_name(name.trim()).map_err(|e| usage(format!("--log-group: {e}")))?;
        groups.insert(name.trim().to_owned());
    }
    if patterns.is_empty() && groups.is_empty() {
        return Err(usage(
            "name the log groups: --pattern '/aws/rds/*/slowquery' or --log-group NAME (each repeatable)",
        ));
    }
    crate::config::check_filter_name(&request.filter_name).map_err(|e| usage(format!("--filter-name: {e}")))?;
    let destination_arn = match (&request.destination_arn, request.unsubscribe) {
        (Some(arn), _) if !arn.starts_with("arn:") => {
            return Err(usage(format!(
                "--destination-arn must be the function's ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME); got {arn:?}"
            )))
        }
        (Some(arn), _) => arn.clone(),
        (None, true) => String::new(),
        (None, false) => {
            return Err(usage(
                "--destination-arn ARN is needed: the function to subscribe the log groups to (the stack's FunctionArn output)",
            ))
        }
    };
    let logs = Logs::from_config(&config.subscriptions)?;
    groups.extend(logs.groups_matching(&patterns).await?);
    let target = Target { filter_name: request.filter_name.clone(), destination_arn };
    let plan = if request.unsubscribe {
        subscriptions::plan_unsubscribe(&logs, &groups, &target.filter_name).await?
    } else {
        subscriptions::plan_subscribe(&logs, &groups, &target).await?
    };
    let to = if request.unsubscribe {
        format!("filter {}", target.filter_name)
    } else {
        format!("{} (filter {})", target.destination_arn, target.filter_name)
    };
    println!("{} log group(s), {}:", plan.len(), to);
    for planned in &plan {
        println!("  {}  {}", planned.log_group, planned.step);
    }
    let changes = plan.iter().filter(|p| p.step.changes()).count();
    let stuck = plan.iter().filter(|p| matches!(p.step, Step::Blocked(_) | Step::Missing)).count();
    if !request.apply {
        eprintln!(
            "logs-to-opensearch: dry run: {changes} change(s) planned{}; nothing changed (add --apply to make them)",
            if stuck > 0 { format!(", {stuck} log group(s) blocked or missing") } else { String::new() }
        );
        return Ok(());
    }
    let mut failed = 0;
    for (group, result) in subscriptions::apply(&logs, &plan, &target).await {
        match result {
            Ok(()) => println!("  done: {group}"),
            Err(e) => {
                failed += 1;
                println!("  FAILED: {group}: {e}");
            }
        }
    }
    eprintln!(
        "logs-to-opensearch: {} of {changes} change(s) made, {failed} failed, {stuck} blocked or missing",
        changes - failed
    );
    if failed > 0 || stuck > 0 {
        anyhow::bail!("{failed} change(s) failed, {stuck} log group(s) blocked or missing (listed above)");
    }
    Ok(())
}

/// What `slowlog` is told besides the file.
struct Backfill {
    log_group: String,
    log_stream: Option<String>,
    owner: String,
    batch_size: usize,
    resume_from: u64,
    requests_in_flight: usize,
}

/// What `setup` is told.
struct SetupArgs<'a> {
    retention_days: u32,
    dashboards_path: &'a str,
    no_dashboards: bool,
    no_ism: bool,
    attach_existing: bool,
    retry_for: Duration,
}

/// `setup`: each piece in turn, a line on stderr for each, whatever the others did (an ISM 403
/// does not skip the dashboards); fails at the end when one failed.
async fn setup(config: &Config, args: SetupArgs<'_>) -> Result<()> {
    let Some(opensearch) = &config.opensearch else {
        return Err(usage("setup needs an endpoint: --endpoint URL or OPENSEARCH_ENDPOINT"));
    };
    let transport = crate::delivery::transport(opensearch, None)?;
    let assets = setup::assets(&config.index_prefix, args.retention_days);
    let patience = || setup::Patience::new(opensearch.timeout, args.retry_for);
    let mut failed = Vec::new();
    let mut report = |verb: &str, result: Result<String, setup::SetupError>| match result {
        Ok(done) => eprintln!("logs-to-opensearch: {verb} {done}"),
        Err(e) => {
            eprintln!("logs-to-opensearch: FAILED: {e}");
            failed.push(e);
        }
    };
    for (name, body) in setup::templates(&assets) {
        report("installed", setup::install_template(&transport, name, body, patience()).await);
    }
    let serverless = matches!(&opensearch.auth, crate::config::Auth::SigV4 { service, .. } if service == "aoss");
    if args.no_ism {
        eprintln!("logs-to-opensearch: skipped the ISM policy (--no-ism)");
    } else if serverless {
        eprintln!(
            "logs-to-opensearch: skipped the ISM policy: OpenSearch Serverless has no ISM (set the collection's data lifecycle policy)"
        );
    } else {
        match setup::install_policy(&transport, &assets, patience()).await {
            Err(setup::SetupError::NoPlugin { plugin, .. }) => eprintln!(
                "logs-to-opensearch: skipped the ISM policy: this cluster has no {plugin} plugin; \
                 indices are kept until deleted (install the plugin and run setup again, or --no-ism)"
            ),
            Err(e) => report("installed", Err(e)),
            Ok(done) => {
                report("installed", Ok(done));
                let existing =
                    setup::existing_indices(&transport, &config.index_prefix, args.attach_existing, patience());
                report("checked", existing.await);
            }
        }
    }
    if !args.no_dashboards {
        report("imported", setup::import_dashboards(&transport, &assets, args.dashboards_path, patience()).await);
    }
    if !failed.is_empty() {
        anyhow::bail!("setup: {} piece(s) failed (each is listed above); the others are installed", failed.len());
    }
    Ok(())
}

async fn replay<S: Sink>(handler: &Handler<S>, path: &Path, retry_for: Duration) -> Result<Summary> {
    let bytes = read_input(path)?;
    // A byte-order mark (editors on Windows write one) is not part of the JSON.
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    // One event, or several one after another (NDJSON, or pretty-printed events concatenated).
    let mut summary = Summary::default();
    let mut count = 0usize;
    for event in serde_json::Deserializer::from_slice(text).into_iter::<serde_json::Value>() {
        count += 1;
        let before = if count > 1 { format!(" (the {} before it were replayed)", count - 1) } else { String::new() };
        let event = event
            .map_err(event::DecodeError::NotJson)
            .with_context(|| format!("{}: event {count}: cannot replay{before}", display(path)))?;
        let part = handler
            .handle_event(event, Instant::now() + retry_for)
            .await
            .with_context(|| format!("{}: event {count}: cannot replay{before}", display(path)))?;
        summary.add(&part);
    }
    if count == 0 {
        anyhow::bail!("{}: cannot replay: the file holds no event (it is empty or only whitespace)", display(path));
    }
    Ok(summary)
}

/// A slow-log file in batches, up to `requests_in_flight` of them sent at once (fewer after a
/// 429: [`InFlight`]) while the next is read and encoded, so memory holds that many batches
/// whatever the file's size. Answers are taken in the file's order. One retry budget for the run:
/// it stops at the first batch with documents neither indexed nor dead-lettered (the cluster did
/// not take it within `retry_for`), lets the batches already sent finish, and returns how many
/// entries came before that batch (the `--resume-from` to give; later batches that were taken are
/// sent again then, and overwrite themselves).
async fn slowlog<S: Sink>(
    handler: &Handler<S>,
    path: &Path,
    backfill: Backfill,
    retry_for: Duration,
) -> Result<(Summary, Option<u64>)> {
    let Backfill { log_group, log_stream, owner, batch_size, resume_from, requests_in_flight } = backfill;
    let (reader, stream_default, modified): (Box<dyn BufRead>, String, SystemTime) = if is_stdin(path) {
        (Box::new(io::stdin().lock()), "stdin".to_owned(), SystemTime::now())
    } else {
        let file = File::open(path).with_context(|| format!("{}: cannot open the slow-log file", path.display()))?;
        let modified = file.metadata().and_then(|m| m.modified()).unwrap_or_else(|_| SystemTime::now());
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        (Box::new(BufReader::with_capacity(1 << 16, file)), name, modified)
    };
    let log_stream = log_stream.unwrap_or(stream_default);
    let fallback_ms = modified.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let mut maker = EventMaker::new(&log_group, fallback_ms);

    let new_batch = || LogsData {
        message_type: "DATA_MESSAGE".to_owned(),
        owner: owner.clone(),
        log_group: log_group.clone(),
        log_stream: log_stream.clone(),
        subscription_filters: Vec::new(),
        log_events: Vec::with_capacity(batch_size),
    };
    let mut sent = Sent { summary: Summary::default(), stopped: None, window: InFlight::new(requests_in_flight) };
    // One closure, so every batch's future has the same type.
    let send = |start: u64, prepared: crate::handler::Prepared| async move {
        (start, handler.deliver(prepared, Instant::now() + retry_for).await)
    };
    let mut in_flight = FuturesOrdered::new();
    let mut batch = new_batch();
    // Alerts are grouped over the whole file: a backfill makes at most ALERT_MAX_MESSAGES.
    let mut collector = handler.collector();
    // Entries read so far, and how many came before the batch being filled.
    let mut read: u64 = 0;
    let mut batch_start: u64 = resume_from;
    let mut entries = EntrySplitter::new(reader);
    let mut ready = std::collections::VecDeque::new();
    'file: loop {
        let at_end = match entries.next() {
            Some(entry) => {
                let entry = entry.with_context(|| format!("{}: read failed", display(path)))?;
                // Skipped entries still go through the maker: ids count identical entries in order.
                maker.push(entry, &mut |event| ready.push_back(event));
                false
            }
            None => {
                maker.finish(&mut |event| ready.push_back(event));
                true
            }
        };
        while let Some(event) = ready.pop_front() {
            read += 1;
            if read <= resume_from {
                continue;
            }
            batch.log_events.push(event);
            if batch.log_events.len() == batch_size {
                let full = std::mem::replace(&mut batch, new_batch());
                let prepared = handler.prepare(full, &mut collector);
                while in_flight.len() >= sent.window.limit() {
                    let Some(answer) = in_flight.next().await else { break };
                    sent.take(answer)?;
                }
                if sent.stopped.is_some() {
                    break 'file;
                }
                in_flight.push_back(send(batch_start, prepared));
                batch_start = read;
            }
        }
        if at_end {
            break;
        }
    }
    if sent.stopped.is_none() && !batch.log_events.is_empty() {
        let prepared = handler.prepare(batch, &mut collector);
        in_flight.push_back(send(batch_start, prepared));
    }
    while let Some(answer) = in_flight.next().await {
        sent.take(answer)?;
    }
    if read < resume_from {
        anyhow::bail!("{}: --resume-from {resume_from}, but the file holds {read} entries", display(path));
    }
    let Sent { mut summary, stopped, .. } = sent;
    summary.alerts = handler.alert(collector, Instant::now() + retry_for).await;
    Ok((summary, stopped))
}

/// What a backfill's answers came to, in the file's order.
struct Sent {
    summary: Summary,
    /// The entries before the first batch not taken.
    stopped: Option<u64>,
    window: InFlight,
}

impl Sent {
    /// One batch's answer: `(entries before the batch, its summary)`.
    fn take(&mut self, (start, answer): (u64, Result<Summary, crate::handler::HandlerError>)) -> Result<()> {
        let part = answer?;
        self.summary.add(&part);
        if part.delivery.failed > 0 && self.stopped.is_none() {
            self.stopped = Some(start);
        }
        let before = self.window.limit();
        if let Some(limit) = self.window.after(&part.delivery) {
            if limit < before {
                tracing::warn!(
                    throttled = part.delivery.throttled,
                    requests_in_flight = limit,
                    "the cluster answered 429 (too many requests): fewer requests in flight"
                );
            } else {
                tracing::info!(requests_in_flight = limit, "no 429 for a while: one more request in flight");
            }
        }
        Ok(())
    }
}

fn read_input(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if is_stdin(path) {
        io::stdin().lock().read_to_end(&mut bytes).context("cannot read the event from standard input")?;
    } else {
        bytes = std::fs::read(path).with_context(|| format!("{}: cannot read the event file", path.display()))?;
    }
    Ok(bytes)
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn display(path: &Path) -> String {
    if is_stdin(path) {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    }
}
