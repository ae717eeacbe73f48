//! `newswatch send-test --to ADDRESS` through the real binary, against a real SMTP server
//! (mailin) on loopback: one mail delivered and the server's reply printed; the file
//! transport's path.

mod support;

use std::time::Duration;

use support::SmtpServer;
use support::cli::{CliEnv, Run};

const TO: &str = "analyst@example.org";

/// A configuration whose `[email.smtp]` table is `smtp`.
fn smtp_config(smtp: &str) -> String {
    format!(
        "[database]\nurl = \"sqlite://newswatch.db\"\n\n\
         [email]\nfrom = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"smtp\"\n\n\
         [email.smtp]\n{smtp}\n\
         [[feeds]]\nname = \"Test feed\"\nurl = \"http://127.0.0.1:9/feed.xml\"\n\n\
         [[watch]]\nname = \"Test\"\nquery = \"Pyongyang\"\nto = [\"{TO}\"]\n"
    )
}

fn plain_smtp(port: u16) -> String {
    format!("host = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout = \"5s\"\n")
}

fn send_test(env: &CliEnv) -> Run {
    env.run(&["send-test", "--to", TO])
}

fn assert_exit(run: &Run, code: i32) {
    assert_eq!(run.status.code(), Some(code), "{}", run.describe());
}

#[test]
fn delivers_one_mail_and_prints_the_servers_reply() {
    let smtp = SmtpServer::start();
    let env = CliEnv::with_config(&smtp_config(&plain_smtp(smtp.port())));
    let run = send_test(&env);
    assert_exit(&run, 0);
    let server = format!("127.0.0.1:{}", smtp.port());
    assert!(
        run.stdout
            .contains(&format!("{server} accepted the test mail to {TO}: 250 ")),
        "{}",
        run.describe()
    );
    let mails = smtp.wait_for_exactly(1, Duration::from_secs(10), Duration::from_millis(300));
    assert_eq!(mails[0].to, vec![TO.to_string()]);
    assert_eq!(mails[0].from, "alerts@newswatch.test");
    assert_eq!(mails[0].subject().as_deref(), Some("[newswatch] test mail"));
}

#[test]
fn file_transport_prints_the_path_written() {
    let env = CliEnv::with_config(&format!(
        "[database]\nurl = \"sqlite://newswatch.db\"\n\n\
         [email]\nfrom = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"file\"\ndir = \"outbox\"\n\n\
         [[feeds]]\nname = \"Test feed\"\nurl = \"http://127.0.0.1:9/feed.xml\"\n\n\
         [[watch]]\nname = \"Test\"\nquery = \"Pyongyang\"\nto = [\"{TO}\"]\n"
    ));
    let run = send_test(&env);
    assert_exit(&run, 0);
    let written: Vec<_> = std::fs::read_dir(env.conf().join("outbox"))
        .expect("the outbox exists")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let path = written[0].display().to_string();
    assert!(path.ends_with(".eml"), "{path}");
    assert!(
        run.stdout
            .contains(&format!("the test mail to {TO} was written to {path}")),
        "{}",
        run.describe()
    );
}

#[test]
fn an_address_that_is_none_is_a_usage_error() {
    let env = CliEnv::with_config(&smtp_config(&plain_smtp(25)));
    assert_exit(&env.run(&["send-test", "--to", "not an address"]), 64);
}
