//! Counted nouns in text meant for people ("1 watch", "3 watches"), shared by alert emails and
//! CLI output so neither says "1 watches".

/// `count` followed by the singular or plural noun.
pub fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::plural;

    #[test]
    fn one_takes_the_singular_and_every_other_count_the_plural() {
        assert_eq!(plural(1, "watch", "watches"), "1 watch");
        assert_eq!(plural(0, "watch", "watches"), "0 watches");
        assert_eq!(plural(2, "list", "lists"), "2 lists");
    }
}
