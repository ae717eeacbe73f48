//! Error messages with their causes: libraries often say only "error sending request" at the
//! top and the useful part ("connection refused") in the source chain.

/// `error` and each distinct cause, joined with ": ".
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
