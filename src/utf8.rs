//! Cutting strings at byte offsets without splitting a character: std's own
//! `str::floor_char_boundary` is newer than our MSRV (1.89). Input-derived offsets go through
//! here, so a limit that lands inside a multi-byte character cannot panic.

/// The largest character boundary in `text` at or before `index` (clamped to its length).
pub fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::floor_char_boundary;

    #[test]
    fn offsets_inside_a_character_move_back_to_its_start() {
        let text = "aЖb";
        assert_eq!(floor_char_boundary(text, 0), 0);
        assert_eq!(floor_char_boundary(text, 1), 1);
        assert_eq!(floor_char_boundary(text, 2), 1);
        assert_eq!(floor_char_boundary(text, 3), 3);
        assert_eq!(floor_char_boundary(text, 99), text.len());
    }
}
