//! Log group names and the patterns that select them (`/aws/rds/*/slowquery`), checked before any
//! call to CloudWatch Logs, so a typo is refused with what is wrong instead of matching nothing.
//!
//! A pattern is a log group name in which `*` stands for any run of characters, `/` included
//! (as in an IAM resource ARN), and `?` for one character. `/aws/rds/*/slowquery` matches
//! `/aws/rds/instance/db1/slowquery` and `/aws/rds/cluster/aurora-1/slowquery`.

use std::fmt;

/// The longest log group name CloudWatch Logs allows.
pub const MAX_NAME_BYTES: usize = 512;

/// A log group name as CloudWatch Logs allows it: 1–512 of `A-Za-z0-9`, `_`, `-`, `/`, `.`, `#`.
pub fn check_name(name: &str) -> Result<(), String> {
    check(name, false)
}

fn check(text: &str, wildcards: bool) -> Result<(), String> {
    let what = if wildcards { "pattern" } else { "log group name" };
    if text.is_empty() {
        return Err(format!("an empty {what}"));
    }
    if text.len() > MAX_NAME_BYTES {
        return Err(format!("the {what} is {} bytes long; CloudWatch Logs allows {MAX_NAME_BYTES}", text.len()));
    }
    if let Some(bad) = text.chars().find(|&c| {
        !(c.is_ascii_alphanumeric()
            || matches!(c, '_' | '-' | '/' | '.' | '#')
            || (wildcards && matches!(c, '*' | '?')))
    }) {
        return Err(format!(
            "{:?} is not a valid {what}: {bad:?} cannot appear in a log group name (A-Z a-z 0-9 _ - / . #{})",
            text,
            if wildcards { ", and * or ? as wildcards" } else { "" }
        ));
    }
    Ok(())
}

/// One pattern; see the module's documentation.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn new(text: &str) -> Result<Pattern, String> {
        let text = text.trim();
        check(text, true)?;
        Ok(Pattern(text.to_owned()))
    }

    /// A comma-separated list (a CloudFormation `CommaDelimitedList`); empty items are skipped.
    pub fn list(text: &str) -> Result<Vec<Pattern>, String> {
        text.split(',').map(str::trim).filter(|p| !p.is_empty()).map(Pattern::new).collect()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the first wildcard: what `DescribeLogGroups` filters on
    /// (`logGroupNamePrefix`), so only candidates are listed.
    pub fn literal_prefix(&self) -> &str {
        let end = self.0.find(['*', '?']).unwrap_or(self.0.len());
        &self.0[..end]
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        glob(self.0.as_bytes(), name.as_bytes())
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Iterative glob with one backtrack point (the last `*`): linear in practice, never exponential.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_spans_slashes_and_the_whole_name_must_match() {
        let p = Pattern::new("/aws/rds/*/slowquery").unwrap();
        assert!(p.matches("/aws/rds/instance/db1/slowquery"));
        assert!(p.matches("/aws/rds/cluster/aurora-1/slowquery"));
        assert!(!p.matches("/aws/rds/instance/db1/error"));
        assert!(!p.matches("/aws/rds/instance/db1/slowquery-old"));
        assert!(!p.matches("x/aws/rds/instance/db1/slowquery"));
        assert_eq!(p.literal_prefix(), "/aws/rds/");
        let q = Pattern::new("/aws/rds/instance/db?/*").unwrap();
        assert!(q.matches("/aws/rds/instance/db1/slowquery"));
        assert!(!q.matches("/aws/rds/instance/db12/slowquery"));
        assert!(Pattern::new("*").unwrap().matches("/anything/at/all"));
        assert!(Pattern::new("/a/**b").unwrap().matches("/a/xxb"));
        assert_eq!(Pattern::new("/exact").unwrap().literal_prefix(), "/exact");
    }

    #[test]
    fn refuses_what_no_log_group_name_can_hold_and_says_which_character() {
        let e = Pattern::new("/aws/rds/{db}/slowquery").unwrap_err();
        assert!(e.contains("'{'"), "{e}");
        assert!(check_name("/aws/rds/instance/db*1").unwrap_err().contains("'*'"));
        assert!(check_name("").is_err());
        assert!(check_name(&"a".repeat(513)).unwrap_err().contains("513 bytes"));
        assert_eq!(
            Pattern::list(" /a/* , ,/b/slowquery").unwrap(),
            vec![Pattern::new("/a/*").unwrap(), Pattern::new("/b/slowquery").unwrap()]
        );
    }

    #[test]
    fn many_stars_stay_fast() {
        let p = Pattern::new(&format!("{}b", "*a".repeat(40))).unwrap();
        assert!(!p.matches(&"a".repeat(400)));
    }
}
