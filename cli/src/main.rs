//! `trimio`: see `trimio --help`.

use std::io::{self, ErrorKind, IsTerminal};
use std::process::ExitCode;

use clap::Parser;
use trimio_cli::args::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();

    let reply = match trimio_cli::run(&cli, &|name| std::env::var(name).ok()) {
        Ok(reply) => reply,
        Err(error) => {
            eprintln!("error: {}", error.line());
            return ExitCode::FAILURE;
        }
    };

    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    match reply.print(
        cli.json,
        terminal,
        &mut stdout.lock(),
        &mut io::stderr().lock(),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader (`| head`) has what it wanted.
        Err(error) if error.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot print the answer: {error}");
            ExitCode::FAILURE
        }
    }
}
