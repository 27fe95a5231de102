//! `trimio`: see `trimio --help`.

use std::io::{self, ErrorKind};
use std::process::ExitCode;

use clap::Parser;
use trimio_cli::args::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();

    let reply = match trimio_cli::run(&cli, &|name| std::env::var(name).ok()) {
        Ok(reply) => reply,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };

    match reply.print(cli.json, &mut io::stdout().lock(), &mut io::stderr().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader (`| head`) has what it wanted.
        Err(error) if error.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot print the answer: {error}");
            ExitCode::FAILURE
        }
    }
}
