//! Label selectors: `key=value` requirements that must all hold.

use core::{fmt, str::FromStr};

use crate::device::{DeviceInfo, LabelError, validate_label_key, validate_label_value};

/// A set of `key=value` requirements, all of which must hold.
///
/// The text form is `key=value` clauses separated by `,`, with optional
/// whitespace around clauses; the empty selector matches every device. Keys
/// and values follow the label rules, which is why every selector can be
/// written in text form and parsed back unchanged.
///
/// ```
/// use iot_core::fleet::LabelSelector;
///
/// let selector: LabelSelector = "site=berlin, floor=3".parse()?;
/// assert_eq!(selector.to_string(), "site=berlin,floor=3");
/// assert_eq!(selector, LabelSelector::new().with("site", "berlin")?.with("floor", "3")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    // A Vec rather than a map: selectors are short, and keeping the order
    // and duplicates as written makes `Display` reproduce the input.
    requirements: Vec<(String, String)>,
}

/// Why a selector string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectorError {
    /// A clause has no `=`.
    #[error("selector clause {clause:?} is not of the form key=value")]
    MissingEquals {
        /// The clause as written, without surrounding whitespace.
        clause: String,
    },
    /// A key or value breaks a label rule.
    #[error("selector clause {clause:?}: {source}")]
    Label {
        /// The clause as written, without surrounding whitespace.
        clause: String,
        /// The broken rule.
        source: LabelError,
    },
}

impl LabelSelector {
    /// The empty selector, which matches every device.
    pub const fn new() -> Self {
        Self {
            requirements: Vec::new(),
        }
    }

    /// Adds the requirement `key=value` after validating both.
    ///
    /// Requiring two values for one key is allowed and matches nothing.
    pub fn with(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, LabelError> {
        let (key, value) = (key.into(), value.into());
        validate_label_key(&key)?;
        validate_label_value(&value)?;
        self.requirements.push((key, value));
        Ok(self)
    }

    /// Whether the selector has no requirements.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements in the order they were added.
    pub fn requirements(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.requirements
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether `info` carries every required label with the required value.
    pub fn matches(&self, info: &DeviceInfo) -> bool {
        self.requirements
            .iter()
            .all(|(key, value)| info.label(key) == Some(value.as_str()))
    }
}

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut selector = LabelSelector::new();
        if s.trim().is_empty() {
            return Ok(selector);
        }
        for clause in s.split(',').map(str::trim) {
            let Some((key, value)) = clause.split_once('=') else {
                return Err(SelectorError::MissingEquals {
                    clause: clause.into(),
                });
            };
            selector = selector
                .with(key, value)
                .map_err(|source| SelectorError::Label {
                    clause: clause.into(),
                    source,
                })?;
        }
        Ok(selector)
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (key, value)) in self.requirements().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{key}={value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceId;

    fn info(labels: &[(&str, &str)]) -> DeviceInfo {
        let mut info = DeviceInfo::new(DeviceId::new("dev-1").unwrap(), "meter");
        for (k, v) in labels {
            info.insert_label(*k, *v).unwrap();
        }
        info
    }

    #[test]
    fn all_requirements_must_hold() {
        let selector: LabelSelector = "site=berlin,floor=3".parse().unwrap();
        assert!(selector.matches(&info(&[("site", "berlin"), ("floor", "3"), ("x", "y")])));
        assert!(!selector.matches(&info(&[("site", "berlin")])));
        assert!(!selector.matches(&info(&[("site", "berlin"), ("floor", "4")])));
    }

    #[test]
    fn empty_selector_matches_everything() {
        for text in ["", "  "] {
            let selector: LabelSelector = text.parse().unwrap();
            assert!(selector.is_empty());
            assert!(selector.matches(&info(&[])));
        }
    }

    #[test]
    fn values_may_be_empty_or_contain_equals() {
        let selector: LabelSelector = "note=a=b, tag=".parse().unwrap();
        let pairs: Vec<_> = selector.requirements().collect();
        assert_eq!(pairs, [("note", "a=b"), ("tag", "")]);
        assert_eq!(
            selector.to_string().parse::<LabelSelector>().unwrap(),
            selector
        );
    }

    #[test]
    fn parse_errors_name_the_clause() {
        assert_eq!(
            "site=berlin,floor".parse::<LabelSelector>(),
            Err(SelectorError::MissingEquals {
                clause: "floor".into()
            })
        );
        assert!(matches!(
            "site=berlin,,".parse::<LabelSelector>(),
            Err(SelectorError::MissingEquals { clause }) if clause.is_empty()
        ));
        assert!(matches!(
            "=x".parse::<LabelSelector>(),
            Err(SelectorError::Label {
                source: LabelError::EmptyKey,
                ..
            })
        ));
    }
}
