//! Problems found in a spec, with the field path and source position.

use std::fmt;

use crate::source::Span;

/// One problem: where it is and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The field path, like `resources.limits.memory` or `secrets[0].name`
    /// (empty for the whole document).
    pub path: String,
    /// Where in the source, when known.
    pub span: Option<Span>,
    /// What is wrong and what was expected, including any suggestion.
    pub message: String,
    /// A suggested replacement value or name, when there is an obvious one.
    pub suggestion: Option<String>,
}

impl Diagnostic {
    pub(crate) fn new(
        path: impl Into<String>,
        span: Option<Span>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            path: path.into(),
            span,
            message: message.into(),
            suggestion: None,
        }
    }

    pub(crate) fn suggest(mut self, suggestion: Option<String>) -> Self {
        self.suggestion = suggestion;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(span) = self.span {
            write!(f, "{}:{}: ", span.start.line, span.start.col)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a spec, sorted by position.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics {
    /// The file the spec was read from, when known.
    pub file: Option<String>,
    /// The problems.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Sorts by position and drops exact duplicates.
    pub(crate) fn finish(mut self) -> Self {
        self.items
            .sort_by(|a, b| (a.span, &a.path, &a.message).cmp(&(b.span, &b.path, &b.message)));
        self.items.dedup();
        self
    }

    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The problems, each on its own line as `file:line:column: path: message`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            if let Some(file) = &self.file {
                out.push_str(file);
                out.push(':');
            }
            out.push_str(&item.to_string());
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.render().trim_end())
    }
}

impl std::error::Error for Diagnostics {}

/// Edit distance between two short strings (for "did you mean").
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            let cost = usize::from(ca != *cb);
            row[j + 1] = (prev + cost).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The closest candidate to `word`, if it is close enough to be a typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let w = norm(word);
    candidates
        .iter()
        .map(|c| (distance(&w, &norm(c)), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(
            closest("replcas", &["replicas", "resources"]),
            Some("replicas")
        );
        assert_eq!(
            closest("drain-seconds", &["drain_seconds"]),
            Some("drain_seconds")
        );
        assert_eq!(closest("zzz", &["replicas"]), None);
    }
}
