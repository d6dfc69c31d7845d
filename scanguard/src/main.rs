//! `scanguard`: parse the command line and dispatch; every error is one line, exit 1 (2 for
//! a usage error).

use clap::{CommandFactory as _, Parser as _, error::ErrorKind};
use scanguard::{
    cli::{self, Cli, Command, ConfigCommand},
    commands, daemon_status,
    pins::Pins,
};

#[tokio::main]
async fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version as clap prints them, and the help for a bare `scanguard`.
        Err(error)
            if !error.use_stderr()
                || error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            error.exit()
        }
        // A usage error exits 2, as clap's own and getopt's do.
        Err(error) => {
            eprintln!("scanguard: {}", cli::one_line(&error));
            std::process::exit(error.exit_code());
        }
    };
    if !matches!(cli.command, Command::Attach(_)) {
        // Like other Unix tools, `scanguard bans | head` ends quietly when the pipe closes. Not
        // the daemon: a viewer closing its socket must not kill it.
        // SAFETY: called before any thread exists; SIG_DFL is a valid disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let mut logger = env_logger::Builder::new();
    logger
        .filter_level(cli.log_level.filter())
        // Newer kernels send attributes this crate does not know yet; that is not news.
        .filter_module("netlink_packet_route", log::LevelFilter::Error)
        // Its warnings are of event sockets overrun or closed, which the daemon handles.
        .filter_module("netlink_proto", log::LevelFilter::Error)
        .format_target(false);
    if let Ok(filters) = std::env::var("RUST_LOG") {
        logger.parse_filters(&filters);
    }
    logger.init();
    if let Err(error) = run(&cli).await {
        eprintln!("scanguard: {error:#}");
        std::process::exit(1);
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Attach(args) => commands::attach::execute(cli, args).await,
        Command::Bans(args) => commands::bans::execute(&Pins::open(&cli.pin_dir)?, args.json),
        Command::Unban(args) => commands::unban::execute(&Pins::open(&cli.pin_dir)?, args),
        Command::Ban(args) => commands::ban::execute(&Pins::open(&cli.pin_dir)?, args),
        Command::Stats(args) => {
            let events_lost =
                daemon_status::read(&cli.run_dir).map_or(0, |daemon| daemon.events_lost);
            commands::stats::execute(&Pins::open(&cli.pin_dir)?, events_lost, args.json)
        }
        Command::Events(args) => scanguard::events::fanout::follow(&cli.run_dir, args.json).await,
        Command::Top(args) => commands::top::execute(cli, args).await,
        Command::Status(args) => commands::status::execute(cli, args.json).await,
        Command::Ifaces(args) => commands::ifaces::execute(args.json).await,
        Command::Detach(args) => commands::detach::execute(cli, &args.interfaces).await,
        Command::Config(ConfigCommand::Check { file }) => commands::config::check(file),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "scanguard",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man => Ok(clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?),
    }
}
