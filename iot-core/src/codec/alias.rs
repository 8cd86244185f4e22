//! Resolving numeric channel aliases to names.

/// Maps channel aliases to names, as announced by a birth message.
///
/// Implemented by [`BirthView`](crate::codec::BirthView) (a borrowed, allocation-free
/// view of a birth message) and, with `alloc`, by
/// [`AliasTable`](crate::codec::AliasTable).
pub trait AliasResolver {
    /// The channel name for `alias`, if known.
    fn name_of(&self, alias: u32) -> Option<&str>;
    /// The unit announced for `alias`, if any.
    fn unit_of(&self, alias: u32) -> Option<&str> {
        let _ = alias;
        None
    }
}

/// Resolves nothing: every alias stays unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAliases;

impl AliasResolver for NoAliases {
    fn name_of(&self, _alias: u32) -> Option<&str> {
        None
    }
}

impl<T: AliasResolver + ?Sized> AliasResolver for &T {
    fn name_of(&self, alias: u32) -> Option<&str> {
        (**self).name_of(alias)
    }
    fn unit_of(&self, alias: u32) -> Option<&str> {
        (**self).unit_of(alias)
    }
}
