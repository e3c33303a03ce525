//! `pigeonhole token new NAME [--inboxes a,b]`: a fresh API token for a CI job,
//! and the line that admits it in the `--api-tokens-file` (its SHA-256, never the
//! token itself). Made here, offline: the server reads the file at start.

use clap::{Args, Subcommand};

use super::Failure;
use super::client::EXIT_ERROR;

#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Print a new random token and the line to add to the --api-tokens-file.
    New(NewTokenArgs),
}

#[derive(Args, Debug)]
pub struct NewTokenArgs {
    /// The token's name (who uses it: `ci-shop`); messages it sends through the send API land in the inbox of this name.
    pub name: String,
    /// Limit the token to these inboxes, comma-separated [default: every inbox].
    #[arg(long, value_name = "INBOX,…")]
    pub inboxes: Option<String>,
}

pub fn run(args: TokenArgs) -> Result<(), Failure> {
    let TokenCommand::New(new) = args.command;
    let (token, line) =
        pigeonhole::new_token(&new.name, new.inboxes.as_deref()).map_err(|err| Failure::new(EXIT_ERROR, err))?;
    println!("{token}");
    eprintln!(
        "Add this line to the --api-tokens-file (it holds the token's SHA-256, not the token), then restart the \
         server; send the token as `Authorization: Bearer <token>`. The token is shown only now:\n{line}"
    );
    Ok(())
}
