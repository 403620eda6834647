//! The `sobot_exporter` binary: parse flags, set up logging, run until SIGTERM/SIGINT.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use clap::error::ErrorKind;
use sobot_exporter_core::app::{self, settings};
use sobot_exporter_core::cli::{self, Cli};
use sobot_exporter_core::config::CollectionConfig;
use sobot_exporter_core::web::{self, healthcheck};
use sobot_simulator::Simulator;
use sobot_simulator::demo::Demo;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sobot_exporter: {}", cli::error_line(&e, &|name| std::env::var(name).ok()));
            return ExitCode::from(2);
        }
    };
    if cli.healthcheck {
        let default = if cli.demo { settings::DEMO_LISTEN_ADDRESS } else { settings::LISTEN_ADDRESS };
        let address = cli.listen_address.first().map_or(default, String::as_str);
        return match healthcheck::check(address, cli.web_config_file.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sobot_exporter: unhealthy: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // The demo's port is bound first: the config points both vendors at it.
    let demo = match cli.demo.then(Demo::bind).transpose() {
        Ok(demo) => demo,
        Err(e) => {
            eprintln!("sobot_exporter: cannot start the demo simulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let demo = demo.map(Arc::new);
    let env = |name: &str| std::env::var(name).ok();
    let reload = {
        let (cli, demo) = (cli.clone(), demo.clone());
        move || settings::load_collection(&cli, &env, demo.as_deref().map(|d| d as _))
    };
    let config = match settings::load(&cli, &env, demo.as_deref().map(|d| d as _)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("sobot_exporter: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.config_check {
        if let Some(warning) = config
            .collection
            .platform
            .as_ref()
            .and_then(sobot_exporter_core::sources::platform::interval_warning)
        {
            eprintln!("sobot_exporter: warning: {warning}");
        }
        println!("sobot_exporter: {}", config.summary());
        return ExitCode::SUCCESS;
    }
    // Before any other thread starts: taking them removes LISTEN_FDS and LISTEN_PID.
    let sockets = match config.process.systemd_socket.then(web::listen::systemd_sockets).transpose() {
        Ok(sockets) => sockets,
        Err(e) => {
            eprintln!("sobot_exporter: {e}");
            return ExitCode::from(2);
        }
    };
    sobot_exporter_core::logging::init(config.process.log_level, config.process.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sobot_exporter: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let speed = config.process.demo_speed;
    if let Some(cli::Command::Backfill(args)) = &cli.command {
        return backfill(&runtime, config.collection, demo.as_deref(), speed, args);
    }
    let run = async {
        // Demo mode: the embedded simulator, kept alive until the exporter returns.
        let _simulator = start_demo(demo.as_deref(), speed).await?;
        app::run(config, sockets, Box::new(reload), shutdown_signal()).await.map_err(|e| e.to_string())
    };
    match runtime.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Logging is set up by now: one line, in the configured format.
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The demo's simulator, started (kept alive until it is dropped), with `--demo`.
async fn start_demo(demo: Option<&Demo>, speed: u32) -> Result<Option<Simulator>, String> {
    match demo {
        Some(demo) => {
            demo.start(speed).await.map(Some).map_err(|e| format!("cannot start the demo simulator: {e}"))
        }
        None => Ok(None),
    }
}

/// `sobot_exporter backfill`: its summary and exit code (130 on SIGINT or SIGTERM, between days
/// or within one: the files written are whole).
fn backfill(
    runtime: &tokio::runtime::Runtime,
    collection: CollectionConfig,
    demo: Option<&Demo>,
    speed: u32,
    args: &cli::Backfill,
) -> ExitCode {
    use app::backfill::BackfillError;
    let run = async {
        let _simulator = start_demo(demo, speed).await.map_err(BackfillError::Failed)?;
        tokio::select! {
            result = app::backfill::run(collection, args) => result.map(Some),
            () = signal() => Ok(None),
        }
    };
    match runtime.block_on(run) {
        Ok(Some(summary)) => {
            eprintln!("sobot_exporter: backfill: {summary}");
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!(
                "sobot_exporter: backfill interrupted: the files written are complete; --resume skips them"
            );
            ExitCode::from(130)
        }
        Err(BackfillError::Usage(e)) => {
            eprintln!("sobot_exporter: {e}");
            ExitCode::from(2)
        }
        Err(BackfillError::Failed(e)) => {
            eprintln!("sobot_exporter: backfill: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT; a second one during the drain ends the process at once.
async fn shutdown_signal() {
    signal().await;
    tokio::spawn(async {
        signal().await;
        tracing::warn!("second signal: exiting without waiting for in-flight requests");
        std::process::exit(1);
    });
}

/// The next SIGTERM or SIGINT.
async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
