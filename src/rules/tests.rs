//! The query language, verdict by verdict, on short Russian and English texts.

use super::*;

fn lists() -> ListDefinitions {
    let mut lists = ListDefinitions::new();
    lists.insert(
        "dprk".into(),
        vec![
            "North Korea".into(),
            "DPRK".into(),
            "Pyongyang".into(),
            "Kim Jong Un".into(),
            "КНДР".into(),
            "Северная Корея".into(),
            "Пхеньян".into(),
            "Ким Чен Ын".into(),
        ],
    );
    lists.insert(
        "russia".into(),
        vec![
            "Russia".into(),
            "Moscow".into(),
            "Kremlin".into(),
            "Россия".into(),
            "Москва".into(),
            "российский".into(),
        ],
    );
    lists.insert(
        "military".into(),
        vec![
            "missile".into(),
            "munition*".into(),
            "weapon".into(),
            "ракета".into(),
            "оружие".into(),
            "военный".into(),
            "боеприпас*".into(),
        ],
    );
    lists
}

fn set(queries: &[&str]) -> WatchSet {
    let sources: Vec<WatchSource> = queries
        .iter()
        .enumerate()
        .map(|(i, q)| WatchSource {
            name: format!("w{i}"),
            query: q.to_string(),
        })
        .collect();
    WatchSet::compile(&sources, &lists()).unwrap_or_else(|e| panic!("{e:?}"))
}

fn title_matches(query: &str, title: &str) -> bool {
    let set = set(&[query]);
    let view = ArticleView {
        title,
        ..Default::default()
    };
    let doc = set.analyze(&view);
    let indexed = !set.matches(&doc).matches.is_empty();
    let direct = !set.matches_without_index(&doc).is_empty();
    assert_eq!(
        indexed, direct,
        "index and direct evaluation disagree on {query:?} / {title:?}"
    );
    indexed
}

fn error_of(query: &str) -> RuleError {
    let sources = [WatchSource {
        name: "w".into(),
        query: query.into(),
    }];
    WatchSet::compile(&sources, &lists())
        .err()
        .unwrap_or_else(|| panic!("{query:?} should not compile"))
        .remove(0)
}

#[test]
fn russian_names_match_their_inflected_forms() {
    for text in [
        "Лавров прибыл в Северную Корею",
        "визит в столицу Северной Кореи",
        "переговоры с Северной Кореей",
    ] {
        assert!(title_matches("\"Северная Корея\"", text), "{text}");
    }
    for text in ["Лавров в Пхеньяне", "Пхеньяну пообещали помощь"]
    {
        assert!(title_matches("Пхеньян", text), "{text}");
    }
    for text in ["Путин встретился с Лавровым", "Лаврову поручили"]
    {
        assert!(title_matches("Лавров", text), "{text}");
    }
    assert!(title_matches(
        "\"Ким Чен Ын\"",
        "Путин пожал руку Ким Чен Ыну"
    ));
}

#[test]
fn russian_look_alikes_do_not_match() {
    assert!(!title_matches("Лавров", "Добавьте лавровый лист"));
    assert!(!title_matches("Лавров", "Киево-Печерская лавра"));
    assert!(!title_matches("Корея", "Цены на корм выросли"));
}

#[test]
fn english_inflection_case_and_possessives() {
    assert!(title_matches("missile", "North Korea fires two MISSILES"));
    assert!(title_matches(
        "\"Kim Jong Un\"",
        "Kim Jong-un's armoured train arrives"
    ));
    assert!(title_matches("@dprk", "Pyongyang denies arms deal"));
}

#[test]
fn yo_folds_to_ye() {
    assert!(title_matches("ещё", "еще одна ракета"));
    assert!(title_matches("еще", "ЕЩЁ одна ракета"));
}

#[test]
fn boolean_operators_and_adjacency() {
    let q = "@russia AND @dprk AND @military";
    assert!(title_matches(q, "North Korea ships munitions to Russia"));
    assert!(title_matches(q, "КНДР поставила России боеприпасы"));
    assert!(!title_matches(
        q,
        "South Korea holds military drills, Russia watches"
    ));
    assert!(!title_matches(q, "Russia and China sign trade deal"));
    assert!(title_matches("russia dprk", "Russia and DPRK"));
    assert!(title_matches("tank OR missile", "a missile"));
    assert!(!title_matches("tank -missile", "a tank and a missile"));
    assert!(title_matches("tank NOT missile", "a tank"));
    assert!(title_matches("(tank OR missile) NOT drill", "missile"));
    let q = r#"@dprk -"South Korea""#;
    assert!(title_matches(q, "North Korea tests a missile"));
    assert!(!title_matches(q, "North Korea and South Korea talk"));
    assert!(!title_matches(
        "tank -(drone OR missile)",
        "a tank and a drone"
    ));
    assert!(title_matches("tank -(drone OR missile)", "a tank"));
}

#[test]
fn prefixes_match_words_that_start_with_them() {
    assert!(title_matches("северокорейск*", "северокорейские военные"));
    assert!(title_matches("munition*", "Munitions shipped"));
    assert!(!title_matches("munition*", "Muni bonds"));
    assert_eq!(
        error_of("ab*").kind,
        RuleErrorKind::ShortPrefix("ab*".into())
    );
}

#[test]
fn exact_forms_skip_inflection() {
    assert!(title_matches("=missiles", "two missiles"));
    assert!(!title_matches("=missiles", "one missile"));
    assert!(!title_matches("=Кореи", "в Корее"));
    assert!(title_matches("=Кореи", "из Кореи"));
}

#[test]
fn phrases_need_adjacent_words_in_one_field() {
    assert!(title_matches("\"arms deal\"", "Russia arms deal"));
    assert!(!title_matches("\"arms deal\"", "arms for a deal"));
    let set = set(&["\"North Korea\""]);
    let view = ArticleView {
        title: "Talks in the North",
        summary: "Korea responds",
        ..Default::default()
    };
    assert!(set.matches(&set.analyze(&view)).matches.is_empty());
}

#[test]
fn near_counts_words_between_in_either_order() {
    let q = "Russia NEAR/3 munitions";
    assert!(title_matches(q, "Russia buys munitions"));
    assert!(title_matches(q, "munitions from Pyongyang reach Russia"));
    assert!(!title_matches(
        q,
        "Russia is said to have received large munitions"
    ));
    assert!(title_matches(
        "@russia NEAR/2 (munition* OR shell)",
        "shells for the Kremlin"
    ));
    assert!(title_matches(
        "\"North Korea\" NEAR/1 Russia",
        "North Korea and Russia"
    ));
}

#[test]
fn field_scopes() {
    let set = set(&[
        "title:(missile)",
        "author:smith",
        "category:defence",
        "text:drill",
    ]);
    let authors = vec!["Jane Smith".to_string()];
    let categories = vec!["Defence".to_string(), "Asia".to_string()];
    let view = ArticleView {
        title: "Drill ends",
        summary: "A missile was fired",
        authors: &authors,
        categories: &categories,
        ..Default::default()
    };
    let found: Vec<usize> = set
        .matches(&set.analyze(&view))
        .matches
        .iter()
        .map(|m| m.watch)
        .collect();
    assert_eq!(found, [1, 2, 3]);
}

#[test]
fn source_scopes_site_feed_and_lang() {
    let set = set(&[
        "site:tass.ru ракета",
        "feed:\"Korea Herald\" missile",
        "lang:ru ракета",
        "lang:en ракета",
    ]);
    let feeds = vec!["Korea Herald".to_string(), "en".to_string()];
    let view = ArticleView {
        title: "ракета и missile",
        link: Some("https://www.tass.ru/x/1"),
        feeds: &feeds,
        lang: Some("ru-RU"),
        ..Default::default()
    };
    let found: Vec<usize> = set
        .matches(&set.analyze(&view))
        .matches
        .iter()
        .map(|m| m.watch)
        .collect();
    assert_eq!(found, [0, 1, 2]);
}

#[test]
fn lang_is_detected_when_undeclared() {
    let set = set(&["lang:ru Пхеньян"]);
    let view = ArticleView {
        title: "Лавров прибыл в Пхеньян с визитом",
        summary: "Министр иностранных дел России заявил о новом уровне отношений",
        ..Default::default()
    };
    assert_eq!(set.matches(&set.analyze(&view)).matches.len(), 1);
}

#[test]
fn explanations_name_the_clause_and_the_words_as_written() {
    let set = set(&["@russia AND @dprk AND @military"]);
    let view = ArticleView {
        title: "Лавров прибыл в Пхеньян",
        summary: "Северная Корея поставила России более 1000 контейнеров с боеприпасами",
        ..Default::default()
    };
    let doc = set.analyze(&view);
    let outcome = set.matches(&doc);
    let hits = &outcome.matches[0].hits;
    let words: Vec<&str> = hits.iter().map(|h| h.text.as_str()).collect();
    assert_eq!(
        words,
        ["Пхеньян", "Северная Корея", "России", "боеприпасами"]
    );
    let korea = &hits[1];
    assert_eq!(korea.clause, "@dprk: Северная Корея");
    assert_eq!(korea.field, Some(Field::Summary));
    assert_eq!(&view.summary[korea.start..korea.end], "Северная Корея");
}

#[test]
fn unknown_lists_are_named_with_the_known_ones() {
    let e = error_of("@russia AND @nkorea");
    assert_eq!(e.message, "unknown list @nkorea");
    assert!(e.help.contains("@dprk"), "{}", e.help);
    assert_eq!(e.span, 12..19);
}

#[test]
fn syntax_errors_say_what_was_expected() {
    let e = error_of("(@russia AND @dprk");
    assert!(e.message.contains("never closed"), "{}", e.message);
    let e = error_of("russia AND OR dprk");
    assert_eq!(
        e.message,
        "expected a term, a \"phrase\", an @list, a field scope or '(', found OR"
    );
    assert_eq!(e.span, 11..13);
    assert_eq!(error_of("NOT russia").kind, RuleErrorKind::OnlyNegative);
    assert!(matches!(error_of("!!!").kind, RuleErrorKind::NoWords(_)));
    assert_eq!(error_of(&"a ".repeat(20_000)).kind, RuleErrorKind::TooLong);
}

#[test]
fn every_broken_watch_is_reported() {
    let sources = [
        WatchSource {
            name: "a".into(),
            query: "@nope".into(),
        },
        WatchSource {
            name: "b".into(),
            query: "fine".into(),
        },
        WatchSource {
            name: "c".into(),
            query: "x AND".into(),
        },
    ];
    let errors = WatchSet::compile(&sources, &lists()).unwrap_err();
    let names: Vec<&str> = errors.iter().map(|e| e.watch_name.as_str()).collect();
    assert_eq!(names, ["a", "c"]);
}

#[test]
fn the_index_proposes_few_candidates_among_many_watches() {
    let mut queries: Vec<String> = (0..2000).map(|i| format!("word{i} AND other{i}")).collect();
    queries.push("@russia AND @dprk".into());
    let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
    let set = set(&refs);
    let view = ArticleView {
        title: "Russia and North Korea sign a treaty; word7 appears",
        ..Default::default()
    };
    let doc = set.analyze(&view);
    let outcome = set.matches(&doc);
    assert_eq!(outcome.matches.len(), 1);
    assert_eq!(set.name(outcome.matches[0].watch), "w2000");
    assert!(outcome.candidates <= 3, "{} candidates", outcome.candidates);
}

#[test]
fn phrases_longer_than_the_limit_are_refused_with_the_limit() {
    let words = |n: usize| (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>();
    let longest = format!("\"{}\"", words(MAX_PHRASE_WORDS).join(" "));
    assert!(title_matches(&longest, &words(MAX_PHRASE_WORDS).join(" ")));

    let query = format!("korea AND \"{}\"", words(MAX_PHRASE_WORDS + 1).join(" "));
    let e = error_of(&query);
    assert_eq!(
        e.kind,
        RuleErrorKind::PhraseTooLong {
            start: "w0 w1 w2 w3 w4 w5 …".into(),
            words: MAX_PHRASE_WORDS + 1
        }
    );
    assert_eq!(
        e.message,
        "the phrase \"w0 w1 w2 w3 w4 w5 …\" has 65 words; a phrase may have at most 64"
    );
    assert_eq!(e.span.start, "korea AND ".len());

    // The issue's case: a 20 KB phrase of 10,000 words.
    let e = error_of(&format!("\"{}\"", "a ".repeat(9_998).trim_end()));
    assert!(e.message.contains("has 9998 words"), "{}", e.message);
    // A hyphenated term is a phrase too, and so is a list item.
    let e = error_of(&words(70).join("-"));
    assert!(e.message.contains("has 70 words"), "{}", e.message);
    let mut lists = lists();
    lists.insert("long".into(), vec![words(100).join(" ")]);
    let sources = [WatchSource {
        name: "w".into(),
        query: "@long".into(),
    }];
    let errors = WatchSet::compile(&sources, &lists).unwrap_err();
    assert!(
        errors[0].message.contains("has 100 words"),
        "{}",
        errors[0].message
    );
}

#[test]
fn phrases_of_repeated_words_match_where_they_occur() {
    let phrase = |n: usize| format!("\"{}\"", vec!["ракета"; n].join(" "));
    let title = "ракеты ракет ракетой ракету ракета";
    assert!(title_matches(&phrase(5), title));
    assert!(!title_matches(&phrase(6), title));
    assert!(title_matches(
        &phrase(3),
        "ракета ракета и ракета ракета ракеты"
    ));
    assert!(!title_matches(&phrase(3), "ракета ракета и ракета ракета"));
    let set = set(&["\"north korea\"", "author:\"kim kim\""]);
    let view = ArticleView {
        title: "North North Korea, north korea",
        ..Default::default()
    };
    let outcome = set.matches(&set.analyze(&view));
    let texts: Vec<&str> = outcome.matches[0]
        .hits
        .iter()
        .map(|h| h.text.as_str())
        .collect();
    assert_eq!(texts, ["North Korea", "north korea"]);
    // Two authors are not one phrase.
    let authors = ["Lee Kim".to_string(), "Kim Park".to_string()];
    let view = ArticleView {
        authors: &authors,
        ..Default::default()
    };
    assert!(set.matches(&set.analyze(&view)).matches.is_empty());
}

#[test]
fn a_lang_value_that_is_no_language_code_is_an_error_with_the_code() {
    let mut lists = lists();
    lists.insert("langs".into(), vec!["ru".into(), "Deutsch".into()]);
    let compile_errors = |query: &str| {
        let sources = [WatchSource {
            name: "w".into(),
            query: query.into(),
        }];
        WatchSet::compile(&sources, &lists)
            .map(|_| Vec::new())
            .unwrap_or_else(|errors| errors)
    };
    let query = "ракета lang:Russian";
    let errors = compile_errors(query);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].kind,
        RuleErrorKind::UnknownLanguage("Russian".into())
    );
    assert_eq!(&query[errors[0].span.clone()], "Russian");
    assert_eq!(
        errors[0].message,
        "lang:\"Russian\" is not a language code: it would never match"
    );
    assert_eq!(errors[0].help, "write the ISO 639-1 code \"ru\"");

    let query = "ракета lang:@langs";
    let errors = compile_errors(query);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(&query[errors[0].span.clone()], "@langs");
    assert_eq!(errors[0].help, "write the ISO 639-1 code \"de\"");

    for fine in ["lang:ru", "lang:(en OR ru-RU)", "lang:\"uk\"", "lang:rus"] {
        assert!(
            compile_errors(&format!("ракета {fine}")).is_empty(),
            "{fine}"
        );
    }
}
