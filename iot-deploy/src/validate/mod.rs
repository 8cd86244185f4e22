//! Semantic checks of a decoded spec. Each problem names a field path; the
//! loader turns paths into source positions.

mod mqtt;
mod names;
mod quantity;
mod rules;

pub(crate) use quantity::parse as parse_quantity;
pub(crate) use rules::validate;

/// A problem found by validation, located by field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) path: String,
    pub(crate) message: String,
    pub(crate) suggestion: Option<String>,
}

#[derive(Default)]
pub(crate) struct Problems(pub(crate) Vec<Problem>);

impl Problems {
    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.suggest(path, message, None);
    }

    pub(crate) fn suggest(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        fix: Option<String>,
    ) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
            suggestion: fix,
        });
    }
}
