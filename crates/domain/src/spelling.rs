//! How the domain's enums meet stored text: one spelling per value, and an
//! error for a spelling this version does not know.

/// A stored spelling this version does not know: a row written by a newer
/// version, or edited by hand. Never read as some default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownSpelling {
    /// What was expected ("cause", "event kind", …).
    pub what: &'static str,
    pub value: String,
}

impl std::fmt::Display for UnknownSpelling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?} is unknown to this version of authwatch", self.what, self.value)
    }
}

impl std::error::Error for UnknownSpelling {}
