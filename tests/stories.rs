//! Story grouping end to end (issue 13): five outlets' reports of one story, in English and
//! Russian and one syndicated word for word, polled by the real binary from a real HTTP server,
//! alerted through a real SMTP server, stored in a real SQLite file (or PostgreSQL with
//! `NEWSWATCH_TEST_BACKEND=postgres`).

mod support;

use std::time::{Duration, Instant};

use support::cli::{CliEnv, Run};
use support::{FeedServer, Item, ReceivedMail, Route, SmtpServer, rss};

const RECIPIENT: &str = "analyst@example.org";

const LISTS: &str = r#"
[lists]
dprk = ["North Korea", "North Korean*", "Kim Jong Un", "КНДР", "Ким Чен Ын"]
russia = ["Russia", "Kremlin", "Putin", "Россия", "Кремль", "Путин"]
military = ["military", "weapon*", "missile*", "военн*", "оружие", "ракет*"]
"#;

fn hours_ago(hours: f64) -> Duration {
    Duration::from_secs_f64(hours * 3600.0)
}

/// The story: Kim Jong Un's train reaches Russia, as five outlets tell it.
fn reuters() -> Item {
    Item::new(
        "reuters-kim-arrives",
        "Kim Jong Un arrives in Russia's Far East for summit with Putin",
    )
    .description(
        "North Korean leader Kim Jong Un's armoured train crossed into Russia at the Khasan \
             border station on Tuesday ahead of a summit with President Vladimir Putin expected \
             to focus on weapons and military cooperation, the Kremlin said.",
    )
    .published_ago(hours_ago(6.0))
}

fn syndicated() -> Item {
    let original = reuters();
    Item::new("syndicated-kim-arrives", &original.title)
        .description(&original.description)
        .published_ago(hours_ago(4.0))
}

fn ap() -> Item {
    Item::new(
        "ap-kim-crosses",
        "North Korea's Kim crosses into Russia by armoured train ahead of Putin summit",
    )
    .description(
        "Kim Jong Un's armoured train crossed the border into Russia's Far East at Khasan on \
             Tuesday, where he is expected to meet Vladimir Putin for talks on weapons and \
             military cooperation, according to the Kremlin.",
    )
    .published_ago(hours_ago(5.0))
}

fn tass() -> Item {
    Item::new(
        "tass-kim-pribyl",
        "Ким Чен Ын прибыл в Россию на переговоры с Путиным",
    )
    .description(
        "Бронепоезд лидера КНДР Ким Чен Ына во вторник пересек границу России на станции \
             Хасан. В Кремле сообщили, что Ким Чен Ын встретится с Владимиром Путиным, стороны \
             обсудят военное сотрудничество.",
    )
    .published_ago(hours_ago(5.5))
}

fn ria() -> Item {
    Item::new(
        "ria-bronepoezd",
        "Бронепоезд Ким Чен Ына пересек границу России",
    )
    .description(
        "Лидер КНДР Ким Чен Ын на бронепоезде прибыл в Россию через станцию Хасан, где \
             проведет переговоры с Владимиром Путиным о военном сотрудничестве, сообщили в \
             Кремле.",
    )
    .published_ago(hours_ago(4.5))
}

/// A new development of the story, a day on.
fn vostochny() -> Item {
    Item::new(
        "reuters-vostochny",
        "Putin and Kim Jong Un hold talks at Vostochny cosmodrome",
    )
    .description(
        "Russian President Vladimir Putin met North Korea's Kim Jong Un at the Vostochny \
             cosmodrome on Wednesday for talks on military cooperation and satellite technology, \
             a day after Kim's armoured train arrived in Russia's Far East.",
    )
    .published_ago(hours_ago(1.0))
}

/// Another story in the watch's words, a week before.
fn week_before() -> Item {
    Item::new(
        "reuters-putin-ties",
        "Putin says Russia will deepen military ties with Kim's North Korea",
    )
    .description(
        "Vladimir Putin told reporters in Moscow that Russia would expand military and \
             economic cooperation with North Korea, a week after sending a delegation to \
             Pyongyang for talks with Kim Jong Un.",
    )
    .published_ago(hours_ago(7.0 * 24.0))
}

/// Another story on the day of the summit, in the watch's words too (North Korea, Russia,
/// weapons, a missile), told by the outlet that broke the summit.
fn missile_test() -> Item {
    Item::new(
        "reuters-missile",
        "North Korea fires ballistic missile into sea off its east coast, Seoul says",
    )
    .description(
        "North Korea fired a short-range ballistic missile into the sea off its east coast \
             on Tuesday morning, South Korea's Joint Chiefs of Staff said. Analysts in Seoul \
             said Pyongyang may be testing weapons it could supply to Russia for the war in \
             Ukraine.",
    )
    .published_ago(hours_ago(3.0))
}

/// The rest of the news in the feeds (too old to alert, and matching nothing): what makes
/// the story's own words rare.
fn background() -> Vec<Item> {
    [
        "Central bank holds interest rates as inflation slows",
        "Storm floods coastal towns, thousands evacuated",
        "Putin meets regional governors in Moscow",
        "Kim Jong Un visits fertiliser factory, state media says",
        "Football: late goal sends champions through",
        "New vaccine approved by European regulator",
        "Oil prices rise on supply worries",
        "Election commission delays results after recount",
        "Kremlin says Putin has no plans to travel abroad",
        "Scientists map ancient river under Antarctic ice",
        "Путин провел совещание с членами правительства",
        "В Москве открылся международный кинофестиваль",
        "Ким Чен Ын посетил завод удобрений",
        "Курс рубля укрепился после решения ЦБ",
        "Seoul stocks close higher on chip rally",
        "Rail strike disrupts commuters across the country",
    ]
    .iter()
    .enumerate()
    .map(|(i, title)| {
        Item::new(&format!("background-{i}"), title)
            .description(&format!("{title}. More in the full report."))
            .published_ago(hours_ago(40.0 + i as f64))
    })
    .collect()
}

const FEEDS: [&str; 6] = ["Reuters", "AP", "Syndicated", "TASS", "RIA", "Background"];

/// A feed server with one (empty) feed per outlet, and the configuration for it.
struct World {
    env: CliEnv,
    feeds: FeedServer,
    smtp: SmtpServer,
}

impl World {
    fn new(watch_extra: &str) -> World {
        let feeds = FeedServer::start();
        let smtp = SmtpServer::start();
        let env = CliEnv::new();
        let database = support::database::url(env.root());
        let mut config = format!(
            "[database]\nurl = \"{database}\"\n\n[polling]\ntimeout = \"5s\"\n\
             first_poll_window = \"30d\"\nmax_age = \"30d\"\n\n\
             [email]\nfrom = \"Newswatch <alerts@newswatch.test>\"\ntransport = \"smtp\"\n\n\
             [email.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n\
             timeout = \"5s\"\n{LISTS}",
            smtp.port()
        );
        for name in FEEDS {
            feeds.serve(&path(name), Route::rss(rss(&[])));
            config.push_str(&format!(
                "\n[[feeds]]\nname = \"{name}\"\nurl = \"{}\"\n",
                feeds.url(&path(name))
            ));
        }
        config.push_str(&format!(
            "\n[[watch]]\nname = \"Russia–DPRK\"\nquery = \"@russia AND @dprk AND @military\"\n\
             to = [\"{RECIPIENT}\"]\n{watch_extra}\n"
        ));
        env.write_config(&config);
        World { env, feeds, smtp }
    }

    fn serve(&self, feed: &str, items: &[Item]) {
        self.feeds.serve(&path(feed), Route::rss(rss(items)));
    }

    fn once(&self) -> Run {
        let run = self.env.run(&["once"]);
        assert!(run.status.success(), "once\n{}", run.describe());
        run
    }
}

fn path(feed: &str) -> String {
    format!("/{}.xml", feed.to_lowercase())
}

fn in_reply_to(mail: &ReceivedMail) -> Option<String> {
    mail.header("In-Reply-To").map(|v| v.trim().to_string())
}

fn message_id(mail: &ReceivedMail) -> String {
    mail.header("Message-ID")
        .expect("every alert has a Message-ID")
        .trim()
        .to_string()
}

#[test]
fn five_outlets_make_one_alert_and_a_new_development_one_threaded_update() {
    let world = World::new("");
    // The news the daemon has stored before the story breaks.
    world.serve("Background", &background());
    world.once();
    // First poll: three English reports of the story (a rewrite and a word-for-word copy
    // among them), and on Reuters' feed another story of the watch from a week before.
    world.serve("Reuters", &[reuters(), week_before()]);
    world.serve("AP", &[ap()]);
    world.serve("Syndicated", &[syndicated()]);
    world.once();
    let first_poll =
        world
            .smtp
            .wait_for_exactly(2, Duration::from_secs(10), Duration::from_millis(300));
    let subject = |title: &str| format!("[Russia–DPRK] {title}");
    let english = [reuters().title, ap().title];
    let first = first_poll
        .iter()
        .find(|m| english.iter().any(|t| m.subject() == Some(subject(t))))
        .unwrap_or_else(|| panic!("one alert for the story: {first_poll:#?}"));
    assert_eq!(in_reply_to(first), None, "the first alert starts a thread");
    let story_id = message_id(first);
    let other_story = first_poll
        .iter()
        .find(|m| m.subject() == Some(subject(&week_before().title)))
        .unwrap_or_else(|| panic!("a story a week older is another story: {first_poll:#?}"));
    assert_eq!(in_reply_to(other_story), None);

    // Second poll: the two Russian reports. Another language is never suppressed: one of
    // them is an update threaded on the first alert, the other a copy of it.
    world.serve("TASS", &[tass()]);
    world.serve("RIA", &[ria()]);
    world.once();
    let second_poll =
        world
            .smtp
            .wait_for_exactly(3, Duration::from_secs(10), Duration::from_millis(300));
    let russian_titles = [tass().title, ria().title];
    let russian = second_poll
        .iter()
        .find(|m| {
            russian_titles
                .iter()
                .any(|t| m.subject() == Some(subject(&format!("Update: {t}"))))
        })
        .unwrap_or_else(|| panic!("one Russian report is an update: {second_poll:#?}"));
    assert_eq!(in_reply_to(russian).as_deref(), Some(story_id.as_str()));
    assert_eq!(
        russian.header("References").map(|r| r.trim().to_string()),
        Some(story_id.clone())
    );

    // A new development: one update, threaded on the first alert, naming the other outlets.
    world.serve("Reuters", &[vostochny(), reuters(), week_before()]);
    world.once();
    let mails = world
        .smtp
        .wait_for_exactly(4, Duration::from_secs(10), Duration::from_millis(300));
    let update = mails
        .iter()
        .find(|m| m.subject() == Some(subject(&format!("Update: {}", vostochny().title))))
        .unwrap_or_else(|| panic!("the new development is an update: {mails:#?}"));
    assert_eq!(in_reply_to(update).as_deref(), Some(story_id.as_str()));
    let text = update.body_text().expect("a plain-text part");
    let outlets = text
        .split("Also reported by:")
        .nth(1)
        .unwrap_or_else(|| panic!("the update lists the story's other outlets:\n{text}"));
    for outlet in ["Reuters", "AP", "Syndicated", "TASS", "RIA"] {
        assert!(
            outlets.contains(&format!("- {outlet}: ")),
            "{outlet} in\n{text}"
        );
    }

    // The backtest replays the archive the same way and says what grouping saved.
    let backtest = world.env.run(&["backtest", "--since", "30d", "--json"]);
    assert!(backtest.status.success(), "{}", backtest.describe());
    let report: serde_json::Value =
        serde_json::from_str(backtest.stdout.trim()).expect("one JSON line for one watch");
    eprintln!("{report}");
    assert_eq!(report["matches"], 7, "{report}");
    assert_eq!(report["copies_suppressed"], 3, "{report}");
    assert_eq!(report["updates_threaded"], 2, "{report}");
    assert_eq!(report["alert_emails"], 4, "{report}");
}

#[test]
fn a_digest_lists_the_story_once_with_its_five_outlets() {
    let world = World::new("mode = \"digest\"\nevery = \"10s\"\n");
    world.serve("Background", &background());
    world.once();
    // All five reports in one digest period, over two polls: not near its end.
    let into_period = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis()
        % 10_000;
    if into_period > 5_000 {
        std::thread::sleep(Duration::from_millis(10_100 - into_period as u64));
    }
    // The Russian reports first this time, then the English ones: the story is still one.
    world.serve("TASS", &[tass()]);
    world.serve("RIA", &[ria()]);
    world.once();
    world.serve("Reuters", &[reuters()]);
    world.serve("AP", &[ap()]);
    world.serve("Syndicated", &[syndicated()]);
    world.once();
    // The digest goes out once its period has ended: each `once` sends the periods that have.
    let deadline = Instant::now() + Duration::from_secs(30);
    while world.smtp.messages().is_empty() && Instant::now() < deadline {
        world.once();
    }
    let mails = world
        .smtp
        .wait_for_exactly(1, Duration::from_secs(5), Duration::from_millis(300));
    let digest = &mails[0];
    assert_eq!(
        digest.subject().as_deref(),
        Some("[Russia–DPRK] 1 new story (5 articles)"),
        "{digest:#?}"
    );
    let text = digest.body_text().expect("a plain-text part");
    let titles = [tass().title, ria().title, reuters().title, ap().title];
    let listed_first = titles
        .iter()
        .filter(|title| text.contains(&format!(". {title}\n")))
        .count();
    assert_eq!(listed_first, 1, "the story is listed once\n{text}");
    for outlet in ["Reuters", "AP", "Syndicated", "TASS", "RIA"] {
        assert_eq!(
            text.matches(&format!("{outlet}: ")).count()
                + text.matches(&format!("{outlet} · ")).count(),
            1,
            "{outlet} is named once, as the story's first report or under it\n{text}"
        );
    }
}

#[test]
fn a_missile_test_on_the_day_of_the_summit_is_a_story_of_its_own() {
    let world = World::new("");
    world.serve("Background", &background());
    world.once();
    world.serve("Reuters", &[reuters()]);
    world.once();
    world.smtp.wait_for(1, Duration::from_secs(10));
    world.serve("Reuters", &[missile_test(), reuters()]);
    world.once();
    let mails = world
        .smtp
        .wait_for_exactly(2, Duration::from_secs(10), Duration::from_millis(300));
    let missile = mails
        .iter()
        .find(|m| m.subject() == Some(format!("[Russia–DPRK] {}", missile_test().title)))
        .unwrap_or_else(|| panic!("the missile test alerts as a new story: {mails:#?}"));
    assert_eq!(in_reply_to(missile), None, "not threaded on the summit");
    let text = missile.body_text().expect("a plain-text part");
    assert!(
        !text.contains("Also reported by"),
        "the summit's outlets are not the missile test's:\n{text}"
    );
}
