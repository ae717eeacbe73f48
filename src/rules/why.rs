//! The "why" of a match as a person reads it: the hits of [`explain`](super::eval) grouped by
//! the part of the rule they are for (a list such as `@dprk`, or a bare term), each distinct
//! form of the article once with the fields it was found in, and the `NEAR` and `title:`
//! conditions that held said in words. An alert and `newswatch test-rule` both show this; the
//! hits themselves stay the stored, detailed evidence.

use super::document::Field;
use super::eval::Hit;

/// Forms shown per group before "+N more".
pub const FORMS_SHOWN: usize = 4;

/// One part of the rule that held, with what the article said for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `@dprk`, `missile`, `site:tass.ru`.
    pub name: String,
    /// At most [`FORMS_SHOWN`] distinct forms, in article order.
    pub forms: Vec<Form>,
    /// How many more distinct forms were found.
    pub more: usize,
}

/// Words of the article as written, and where they were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub text: String,
    /// `title`, `text`, `author`, `category`; each once, in order of first finding.
    pub fields: Vec<&'static str>,
}

/// A condition of the rule beyond "this occurs", as it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// One pair of words close enough: `left` within `distance` words of `right`.
    Near {
        left: String,
        right: String,
        distance: u32,
    },
    /// Clauses limited to a field (`title:…`) that occur there, with their distinct forms.
    InField {
        field: &'static str,
        forms: Vec<String>,
    },
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::Near {
                left,
                right,
                distance,
            } => write!(
                f,
                "\"{left}\" within {distance} {} of \"{right}\"",
                if *distance == 1 { "word" } else { "words" }
            ),
            Condition::InField { field, forms } => {
                let forms: Vec<String> = forms.iter().map(|w| format!("\"{w}\"")).collect();
                write!(f, "in the {field}: {}", forms.join(", "))
            }
        }
    }
}

/// The grouped explanation of one match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Why {
    /// In order of the first hit of each (article order).
    pub groups: Vec<Group>,
    pub conditions: Vec<Condition>,
}

/// Where a field's words count for a reader: summary and content are both "the text".
pub fn field_word(field: Field) -> &'static str {
    match field {
        Field::Title => "title",
        Field::Summary | Field::Content => "text",
        Field::Author => "author",
        Field::Category => "category",
    }
}

/// The part of the rule a clause belongs to: `@dprk: Пхеньян` is for `@dprk`; a bare term or
/// a source test is its own part.
pub fn group_name(clause: &str) -> &str {
    match clause.split_once(": ") {
        Some((list, _)) if list.starts_with('@') => list,
        _ => clause,
    }
}

/// Words of the article on one line, whitespace collapsed and no control characters: feed
/// text may hold line breaks, and this goes to terminals and mail.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn same_form(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// Groups the hits of a match (see the module's doc).
pub fn group(hits: &[Hit]) -> Why {
    // All forms per group first; cut to FORMS_SHOWN at the end.
    let mut groups: Vec<(String, Vec<Form>)> = Vec::new();
    let mut conditions: Vec<Condition> = Vec::new();
    for hit in hits {
        let name = one_line(group_name(&hit.clause));
        let index = match groups.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                groups.push((name, Vec::new()));
                groups.len() - 1
            }
        };
        let Some(field) = hit.field else {
            continue;
        };
        let text = one_line(&hit.text);
        if text.is_empty() {
            continue;
        }
        let where_found = field_word(field);
        let forms = &mut groups[index].1;
        match forms.iter_mut().find(|f| same_form(&f.text, &text)) {
            Some(form) => {
                if !form.fields.contains(&where_found) {
                    form.fields.push(where_found);
                }
            }
            None => forms.push(Form {
                text: text.clone(),
                fields: vec![where_found],
            }),
        }
        if let Some(pair) = &hit.near {
            conditions.push(Condition::Near {
                left: text.clone(),
                right: one_line(&pair.text),
                distance: pair.distance,
            });
        }
        if hit.scoped {
            let scoped_field = field.name();
            let existing = conditions.iter_mut().find_map(|c| match c {
                Condition::InField { field, forms } if *field == scoped_field => Some(forms),
                _ => None,
            });
            match existing {
                Some(forms) => {
                    if !forms.iter().any(|f| same_form(f, &text)) {
                        forms.push(text);
                    }
                }
                None => conditions.push(Condition::InField {
                    field: scoped_field,
                    forms: vec![text],
                }),
            }
        }
    }
    for condition in &mut conditions {
        if let Condition::InField { forms, .. } = condition {
            let more = forms.len().saturating_sub(FORMS_SHOWN);
            forms.truncate(FORMS_SHOWN);
            if more > 0 {
                forms.push(format!("+{more} more"));
            }
        }
    }
    let groups = groups
        .into_iter()
        .map(|(name, mut forms)| {
            let more = forms.len().saturating_sub(FORMS_SHOWN);
            forms.truncate(FORMS_SHOWN);
            Group { name, forms, more }
        })
        .collect();
    Why { groups, conditions }
}

impl Group {
    /// `"Северную Корею" (title), "Пхеньяне" (text), +2 more`: the forms, each passed through
    /// `form` (quoting, or marking in HTML), everything else through `plain`.
    pub fn forms_line(
        &self,
        plain: impl Fn(&str) -> String,
        form: impl Fn(&str) -> String,
    ) -> String {
        let mut parts: Vec<String> = self
            .forms
            .iter()
            .map(|f| {
                format!(
                    "{}{}",
                    form(&f.text),
                    plain(&format!(" ({})", f.fields.join(", ")))
                )
            })
            .collect();
        if self.more > 0 {
            parts.push(plain(&format!("+{} more", self.more)));
        }
        parts.join(&plain(", "))
    }
}

impl std::fmt::Display for Group {
    /// `@dprk: "Северную Корею" (title), "Пхеньяне" (text), +2 more`; a source test alone.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if !self.forms.is_empty() {
            write!(
                f,
                ": {}",
                self.forms_line(|s| s.to_string(), |s| format!("\"{s}\""))
            )?;
        }
        Ok(())
    }
}

impl Why {
    /// Every line of the explanation: the groups, then the conditions.
    pub fn lines(&self) -> Vec<String> {
        self.groups
            .iter()
            .map(ToString::to_string)
            .chain(self.conditions.iter().map(ToString::to_string))
            .collect()
    }

    /// The distinct forms of every group, once each, in order.
    pub fn words(&self) -> Vec<&str> {
        let mut words: Vec<&str> = Vec::new();
        for form in self.groups.iter().flat_map(|g| &g.forms) {
            if !words.iter().any(|w| same_form(w, &form.text)) {
                words.push(&form.text);
            }
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::eval::NearPair;

    fn hit(clause: &str, field: Field, text: &str) -> Hit {
        Hit {
            clause: clause.into(),
            field: Some(field),
            text: text.into(),
            start: 0,
            end: text.len(),
            near: None,
            scoped: false,
        }
    }

    #[test]
    fn hits_are_grouped_by_list_or_term_with_distinct_forms_and_their_fields() {
        let hits = [
            hit("@russia: Россия", Field::Title, "России"),
            hit("@dprk: Северная Корея", Field::Title, "Северную Корею"),
            hit("@russia: Россия", Field::Content, "России"),
            hit("@russia: Лавров", Field::Summary, "Лавров"),
            hit("@russia: Россия", Field::Content, "россии"),
            hit("missile", Field::Content, "missiles"),
            hit("@dprk: Пхеньян", Field::Content, "Пхеньяне"),
        ];
        let why = group(&hits);
        let lines: Vec<String> = why.groups.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "@russia: \"России\" (title, text), \"Лавров\" (text)",
                "@dprk: \"Северную Корею\" (title), \"Пхеньяне\" (text)",
                "missile: \"missiles\" (text)",
            ]
        );
        assert!(why.conditions.is_empty());
    }

    #[test]
    fn beyond_four_forms_the_rest_are_counted() {
        let forms = ["Москва", "Москвы", "Москве", "Москву", "Москвой", "Кремль"];
        let hits: Vec<Hit> = forms
            .iter()
            .map(|f| hit("@russia: Москва", Field::Content, f))
            .collect();
        let why = group(&hits);
        assert_eq!(why.groups.len(), 1);
        assert_eq!(why.groups[0].more, 2);
        assert_eq!(
            why.groups[0].to_string(),
            "@russia: \"Москва\" (text), \"Москвы\" (text), \"Москве\" (text), \"Москву\" (text), +2 more"
        );
    }

    #[test]
    fn near_and_title_conditions_are_said_in_words() {
        let mut near = hit("@dprk: Пхеньян", Field::Content, "Пхеньяне");
        near.near = Some(NearPair {
            distance: 12,
            clause: "@russia: Лавров".into(),
            text: "Лавров".into(),
        });
        let mut titled = hit("@russia: Лавров", Field::Title, "Лавров");
        titled.scoped = true;
        let why = group(&[
            titled,
            near,
            hit("@russia: Лавров", Field::Content, "Лавров"),
        ]);
        let conditions: Vec<String> = why.conditions.iter().map(ToString::to_string).collect();
        assert_eq!(
            conditions,
            [
                "in the title: \"Лавров\"",
                "\"Пхеньяне\" within 12 words of \"Лавров\""
            ]
        );
        assert_eq!(
            why.groups[0].to_string(),
            "@russia: \"Лавров\" (title, text)"
        );
    }

    #[test]
    fn source_tests_are_a_group_without_forms_and_feed_text_stays_on_one_line() {
        let site = Hit {
            clause: "site:tass.ru".into(),
            field: None,
            text: "tass.ru".into(),
            start: 0,
            end: 0,
            near: None,
            scoped: false,
        };
        let why = group(&[site, hit("@dprk: КНДР", Field::Title, "КНДР\r\nBcc: x")]);
        assert_eq!(why.groups[0].to_string(), "site:tass.ru");
        assert_eq!(why.groups[1].to_string(), "@dprk: \"КНДР Bcc: x\" (title)");
    }

    #[test]
    fn a_compiled_watch_explains_its_near_and_title_conditions() {
        use crate::rules::{ArticleView, ListDefinitions, WatchSet, WatchSource};
        let mut lists = ListDefinitions::new();
        lists.insert("dprk".into(), vec!["Пхеньян".into(), "КНДР".into()]);
        lists.insert("russia".into(), vec!["Лавров".into(), "Россия".into()]);
        let sources = [WatchSource {
            name: "w".into(),
            query: "title:@russia AND @dprk NEAR/3 @russia".into(),
        }];
        let set = WatchSet::compile(&sources, &lists).unwrap_or_else(|e| panic!("{e:?}"));
        let content = "Вчера в Пхеньяне министр Лавров заявил, что КНДР и Россия близки.";
        let view = ArticleView {
            title: "Лавров в КНДР",
            content,
            ..Default::default()
        };
        let outcome = set.matches(&set.analyze(&view));
        let lines = group(&outcome.matches[0].hits).lines();
        assert_eq!(
            lines,
            [
                "@russia: \"Лавров\" (title, text), \"Россия\" (text)",
                "@dprk: \"КНДР\" (title, text), \"Пхеньяне\" (text)",
                "in the title: \"Лавров\"",
                // The pair first in the article, in its title, not the first list item's.
                "\"КНДР\" within 3 words of \"Лавров\"",
            ]
        );
    }

    #[test]
    fn explanations_stored_before_conditions_existed_still_read() {
        let old = r#"[{"clause":"@dprk: КНДР","field":"title","text":"КНДР","start":0,"end":8}]"#;
        let hits: Vec<Hit> = serde_json::from_str(old).unwrap();
        assert_eq!(hits[0].near, None);
        assert!(!hits[0].scoped);
        assert_eq!(
            group(&hits).groups[0].to_string(),
            "@dprk: \"КНДР\" (title)"
        );
    }
}
