//! `scanguard`: parse the command line and dispatch; every error is one line and exit 1.

use clap::{CommandFactory as _, Parser as _};
use scanguard::{
    cli::{Cli, Command, ConfigCommand},
    commands,
    pins::Pins,
};

#[tokio::main]
async fn main() {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,netlink_packet_route=error"),
    )
    .format_target(false)
    .init();
    let cli = Cli::parse();
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
        Command::Stats(args) => commands::stats::execute(&Pins::open(&cli.pin_dir)?, args.json),
        Command::Status(args) => commands::status::execute(cli, args.json).await,
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
