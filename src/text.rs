//! Error text for people: an error with its causes on one line ([`error_chain`]) and an answer's
//! body quoted short ([`quote`]). Every layer may use these; they use nothing of the crate.

/// An error and its sources, joined with `: ` (each message says only its own part).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // Some errors (reqwest's, through opensearch's) repeat their source in their own message.
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Characters of an answer's body quoted in an error or a log line.
pub const BODY_QUOTED: usize = 200;

/// An answer's body for an error or a log line: at most [`BODY_QUOTED`] characters (an ellipsis
/// says when cut), control characters as spaces, so it stays on one line.
pub fn quote(body: &str) -> String {
    let mut text: String = body.chars().take(BODY_QUOTED).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if body.chars().count() > BODY_QUOTED {
        text.push('…');
    }
    text.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_quoted_short_and_on_one_line() {
        assert_eq!(quote("invalid_payload\n"), "invalid_payload");
        assert_eq!(quote(&"x".repeat(500)).chars().count(), BODY_QUOTED + 1);
    }
}
