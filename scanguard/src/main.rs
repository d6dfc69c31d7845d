//! `scanguard`: parse the command line and dispatch; every error is one line, exit 1 (2 for
//! a usage error).

use clap::{Parser as _, error::ErrorKind};
use scanguard::{
    bpf::pins::Pins,
    cli::{self, Cli, Command, ConfigCommand},
    commands, events,
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
    cli.log_level.init_logger();
    if let Err(error) = run(&cli).await {
        eprintln!("scanguard: {error:#}");
        std::process::exit(1);
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Attach(args) => commands::attach::execute(cli, args).await,
        Command::Bans(args) => commands::bans::execute(&Pins::open(&cli.pin_dir)?, args.json),
        Command::Unban(args) => commands::unban::execute(cli, args),
        Command::Ban(args) => commands::ban::execute(&Pins::open(&cli.pin_dir)?, args),
        Command::Stats(args) => commands::stats::execute(cli, args.json),
        Command::Events(args) => events::fanout::follow(&cli.run_dir, args.json).await,
        Command::Top(args) => commands::top::execute(cli, args).await,
        Command::Status(args) => commands::status::execute(cli, args.json).await,
        Command::Ifaces(args) => commands::ifaces::execute(args.json).await,
        Command::Detach(args) => commands::detach::execute(cli, args).await,
        Command::Config(ConfigCommand::Check { file }) => commands::config::check(file),
        Command::Completions { shell } => commands::completions::execute(*shell),
        Command::Man => commands::man::execute(),
    }
}
