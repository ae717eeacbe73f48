//! `newswatch send-test --to ADDRESS` through the real binary, against a real SMTP server
//! (mailin) on loopback: one mail delivered and the server's reply printed; the hints for a
//! server without STARTTLS, TLS against a plain port, a refused login and a port where nothing
//! listens (exit 1); a refusal with the server's text escaped; the file transport's path and
//! sendmail's exit; a configuration problem (exit 2) and an address that is none (exit 64).

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

#[test]
fn a_server_without_starttls_gets_the_security_hint() {
    let smtp = SmtpServer::start();
    let env = CliEnv::with_config(&smtp_config(&format!(
        "host = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\ntimeout = \"5s\"\n",
        smtp.port()
    )));
    let run = send_test(&env);
    assert_exit(&run, 1);
    let expected = format!(
        "127.0.0.1:{}: the server does not offer STARTTLS: set security = \"none\" for a local \
         relay or \"tls\" for port 465",
        smtp.port()
    );
    assert!(run.stderr.contains(&expected), "{}", run.describe());
    assert!(smtp.messages().is_empty());
}

#[test]
fn tls_against_a_plain_server_gets_the_hint_to_match_security_to_the_port() {
    let smtp = SmtpServer::start();
    let env = CliEnv::with_config(&smtp_config(&format!(
        "host = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\ntimeout = \"5s\"\n",
        smtp.port()
    )));
    let run = send_test(&env);
    assert_exit(&run, 1);
    let server = format!("127.0.0.1:{}", smtp.port());
    assert!(
        run.stderr
            .contains(&format!("{server}: the TLS handshake failed (")),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("match security to the port"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_refused_login_gets_the_credentials_hint() {
    let smtp = SmtpServer::builder()
        .starttls(true)
        .auth("alice@example.org", "right-password")
        .start();
    let env = CliEnv::with_config(&smtp_config(&format!(
        "host = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nusername = \"alice@example.org\"\n\
         password_env = \"NW_TEST_SMTP_PASSWORD\"\nca_file = '{}'\ntimeout = \"5s\"\n",
        smtp.port(),
        smtp.ca_pem_path().display()
    )));
    let mut command = env.command(&["send-test", "--to", TO]);
    command.env("NW_TEST_SMTP_PASSWORD", "wrong-password");
    let run = env.run_command(command, "send-test with a wrong password");
    assert_exit(&run, 1);
    let server = format!("127.0.0.1:{}", smtp.port());
    assert!(
        run.stderr
            .contains(&format!("{server}: authentication refused (")),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("check [email.smtp] username and the password"),
        "{}",
        run.describe()
    );
    assert!(!run.stderr.contains("wrong-password"), "{}", run.describe());
}

#[test]
fn a_port_where_nothing_listens_says_so() {
    let port = support::reserve_port();
    let env = CliEnv::with_config(&smtp_config(&plain_smtp(port)));
    let run = send_test(&env);
    assert_exit(&run, 1);
    assert!(
        run.stderr.contains(&format!(
            "nothing listens on 127.0.0.1:{port} (connection refused)"
        )),
        "{}",
        run.describe()
    );
}

#[test]
fn a_missing_password_variable_is_a_config_error() {
    let env = CliEnv::with_config(&smtp_config(
        "host = \"127.0.0.1\"\nport = 25\nsecurity = \"none\"\nusername = \"alice\"\n\
         password_env = \"NW_TEST_UNSET_PASSWORD_VARIABLE\"\n",
    ));
    let run = send_test(&env);
    assert_exit(&run, 2);
}

/// A configuration with `transport = "sendmail"` running `command`.
fn sendmail_config(command: &str) -> String {
    format!(
        "[database]\nurl = \"sqlite://newswatch.db\"\n\n\
         [email]\nfrom = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"sendmail\"\n\
         sendmail_command = '{command}'\n\n\
         [[feeds]]\nname = \"Test feed\"\nurl = \"http://127.0.0.1:9/feed.xml\"\n\n\
         [[watch]]\nname = \"Test\"\nquery = \"Pyongyang\"\nto = [\"{TO}\"]\n"
    )
}

#[cfg(unix)]
#[test]
fn sendmail_that_takes_the_mail_is_reported_and_one_that_fails_is_exit_1() {
    use std::os::unix::fs::PermissionsExt;
    let env = CliEnv::new();
    let script = env.conf().join("fake-sendmail");
    let received = env.conf().join("received.eml");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncat > '{}'\n", received.display()),
    )
    .expect("write the script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    env.write_config(&sendmail_config(&script.display().to_string()));
    let run = send_test(&env);
    assert_exit(&run, 0);
    assert!(
        run.stdout.contains(&format!(
            "sendmail exited successfully: it took the test mail to {TO}"
        )),
        "{}",
        run.describe()
    );
    let mail = std::fs::read_to_string(&received).expect("the script got the mail");
    assert!(mail.contains("Subject: [newswatch] test mail"), "{mail}");

    let failing = env.conf().join("failing-sendmail");
    std::fs::write(
        &failing,
        "#!/bin/sh\ncat > /dev/null\necho 'the relay is down' >&2\nexit 75\n",
    )
    .expect("write the script");
    std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    env.write_config(&sendmail_config(&failing.display().to_string()));
    let run = send_test(&env);
    assert_exit(&run, 1);
    assert!(
        run.stderr
            .contains("error: sendmail: internal client error: the relay is down\n"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_refusal_is_printed_with_the_servers_text_escaped() {
    let smtp = SmtpServer::start();
    smtp.refuse_recipient(TO, 550, "5.1.1 no such user\u{1b}[2J here", None);
    let env = CliEnv::with_config(&smtp_config(&plain_smtp(smtp.port())));
    let run = send_test(&env);
    assert_exit(&run, 1);
    assert!(
        run.stderr.contains(&format!(
            "error: the test mail to {TO} was refused for good: 127.0.0.1:{}:",
            smtp.port()
        )),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("no such user\\x1b[2J here"),
        "{}",
        run.describe()
    );
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.describe());
    assert!(smtp.messages().is_empty());
}
