//! The binary: the Lambda function when `AWS_LAMBDA_RUNTIME_API` is set, the CLI otherwise.

use clap::Parser;
use logs_to_opensearch::{cli, config::RawConfig, lambda};
use std::process::ExitCode;

fn main() -> ExitCode {
    prefer_the_ca_bundle();
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let cli = if in_lambda { None } else { Some(cli::Cli::parse_from(cli::arguments(std::env::args_os()))) };
    if in_lambda {
        init_lambda_logging();
    } else {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        use std::io::IsTerminal;
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .init();
    }
    let config = RawConfig::from_env().and_then(|mut raw| {
        if let Some(cli) = &cli {
            cli.override_config(&mut raw);
        }
        raw.validate()
    });
    // The Lambda function works one invocation at a time, on one thread (the cheapest start). The
    // CLI's backfill encodes the next batch while earlier requests are in flight: their
    // connections run on two worker threads meanwhile.
    let runtime = if in_lambda {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("logs-to-opensearch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(cli) = cli else {
        // The Lambda function: an invalid configuration is its init error (posted and logged).
        let api =
            std::env::var_os("AWS_LAMBDA_RUNTIME_API").map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
        // The runtime crate's own panics are caught and reported; keep their text off stderr.
        std::panic::set_hook(Box::new(|info| tracing::error!(panic = %info, "panic")));
        return match runtime.block_on(lambda::run(config, api)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "the function stops");
                let bad_configuration = matches!(e.downcast_ref(), Some(lambda::InitError::Config(_)));
                ExitCode::from(if bad_configuration { 2 } else { 1 })
            }
        };
    };
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            eprintln!("logs-to-opensearch: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let alerts = match cli.alert_output(&config) {
        Ok(alerts) => alerts,
        Err(e) => {
            eprintln!("logs-to-opensearch: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(cli::run(cli, config, alerts));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `… | head`: the reader has what it wanted; stop quietly, as other Unix tools do.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logs-to-opensearch: error: {e:#}");
            if e.downcast_ref::<cli::UsageError>().is_some() {
                ExitCode::from(2)
            } else if e.downcast_ref::<cli::DeadLettered>().is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The system's CA bundle, one file, is where the TLS client reads its roots from, unless
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` says otherwise. Without it the client (rustls-native-certs,
/// through reqwest's platform verifier) reads the bundle *and* every file of the certificates
/// directory (about 280 on Debian: the same roots again, one file each), at every cold start.
/// The bundles are where Amazon Linux 2023 (Lambda's `provided.al2023`) and Debian keep them.
/// Runs first, before any thread exists.
fn prefer_the_ca_bundle() {
    if std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some() {
        return;
    }
    const BUNDLES: [&str; 3] =
        ["/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem"];
    if let Some(bundle) = BUNDLES.iter().find(|b| std::path::Path::new(b).is_file()) {
        std::env::set_var("SSL_CERT_FILE", bundle);
    }
}

/// JSON log lines when the function's log format is JSON (`AWS_LAMBDA_LOG_FORMAT`, the runtime
/// crate's own subscriber); otherwise text as the runtime crate writes it, but without ANSI colour
/// codes unless stdout is a terminal (CloudWatch would store them as `\x1b[32m INFO\x1b[0m`).
#[allow(
    clippy::disallowed_methods,
    reason = "the logging variables Lambda sets, read before anything else runs, as the runtime crate does"
)]
fn init_lambda_logging() {
    use std::io::IsTerminal;
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    if format.eq_ignore_ascii_case("json") {
        lambda_runtime::tracing::init_default_subscriber();
        return;
    }
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    let level = level.as_deref().unwrap_or("INFO").parse::<tracing_subscriber::filter::LevelFilter>();
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(level.unwrap_or(tracing_subscriber::filter::LevelFilter::INFO).into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(std::io::stdout)
        .init();
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
