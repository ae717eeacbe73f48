//! `newswatch completions SHELL` and `newswatch man`: shell completion scripts and the man
//! page, generated from the command-line definition itself (clap_complete, clap_mangen), so
//! that they cannot drift from it. Neither reads the configuration.

use std::process::ExitCode;

use clap::CommandFactory;

use super::{Args, EXIT_CODES, EXIT_FAILURE};

/// Prints the completion script for `shell`: `source <(newswatch completions bash)`.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut command = Args::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "newswatch", &mut script);
    print(script)
}

/// Prints the man page (roff): `newswatch man > newswatch.1`, or `newswatch man | man -l -`.
pub fn man() -> ExitCode {
    let mut page = Vec::new();
    if let Err(e) = render_man(&mut page) {
        eprintln!("error: cannot render the man page: {e}");
        return ExitCode::from(EXIT_FAILURE);
    }
    print(page)
}

/// clap_mangen's sections, with an EXIT STATUS section (from [`EXIT_CODES`]) before VERSION.
fn render_man(page: &mut Vec<u8>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(Args::command());
    man.render_title(page)?;
    man.render_name_section(page)?;
    man.render_synopsis_section(page)?;
    man.render_description_section(page)?;
    man.render_options_section(page)?;
    // clap_mangen's own list names a page per command (newswatch-run(1)), which is not made.
    page.extend_from_slice(b".SH COMMANDS\n");
    for command in Args::command().get_subcommands() {
        let about = command
            .get_about()
            .map(ToString::to_string)
            .unwrap_or_default();
        page.extend_from_slice(
            format!(
                ".TP\n\\fBnewswatch {}\\fR\n{}\n",
                roff_text(command.get_name()),
                roff_text(&about)
            )
            .as_bytes(),
        );
    }
    page.extend_from_slice(
        b".PP\nEach command's own options: \\fBnewswatch help\\fR \\fICOMMAND\\fR.\n",
    );
    page.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for (code, meaning) in EXIT_CODES {
        // The meanings are this file's own text: no roff requests, only '-' to escape.
        let meaning = meaning.replace('-', "\\-");
        page.extend_from_slice(format!(".TP\n{code}\n{meaning}\n").as_bytes());
    }
    man.render_version_section(page)
}

/// Text for a roff line: backslashes and hyphens escaped, no request at the start.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

fn print(bytes: Vec<u8>) -> ExitCode {
    match String::from_utf8(bytes) {
        Ok(text) => {
            say!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: the generated text is not UTF-8: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
