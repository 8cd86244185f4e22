//! Birth messages: the alias table a device announces once per connection.
//!
//! Data frames stay small by naming channels with numeric aliases; a birth
//! message maps each alias to its name (and unit). A device publishes it
//! on every (re)connect, as Sparkplug B's NBIRTH/DBIRTH do.

use super::decode::{read_str, read_u32};
use super::error::{DecodeError, DecodeErrorKind, Field, MessageKind};
use super::header;
use super::reader::Reader;
use super::wire::ENTRY_UNIT;
use super::{AliasResolver, FrameHeader, Limits};

/// One alias-table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BirthEntry<'a> {
    /// The alias data frames use.
    pub alias: u32,
    /// The channel name it stands for.
    pub name: &'a str,
    /// The channel's unit, if any.
    pub unit: Option<&'a str>,
}

impl<'a> BirthEntry<'a> {
    /// An entry without unit.
    pub const fn new(alias: u32, name: &'a str) -> Self {
        Self {
            alias,
            name,
            unit: None,
        }
    }
    /// Sets the unit.
    pub const fn with_unit(mut self, unit: &'a str) -> Self {
        self.unit = Some(unit);
        self
    }
}

/// A validated birth message borrowed from its input.
///
/// Implements [`AliasResolver`] by scanning its entries, which needs no
/// allocator; for many lookups build an [`AliasTable`] (with `alloc`).
#[derive(Debug, Clone, Copy)]
pub struct BirthView<'a> {
    header: FrameHeader<'a>,
    count: usize,
    entries: &'a [u8],
}

/// Decodes and validates a birth message.
pub fn decode_birth<'a>(buf: &'a [u8], limits: &Limits) -> Result<BirthView<'a>, DecodeError> {
    let parsed = header::parse(buf, limits, MessageKind::Birth)?;
    let mut r = parsed.body;
    let start = r.pos();
    for _ in 0..parsed.count {
        read_entry::<true>(&mut r, limits)?;
    }
    if r.remaining() != 0 {
        return Err(r.error(DecodeErrorKind::TrailingBytes {
            count: r.remaining(),
        }));
    }
    Ok(BirthView {
        header: parsed.header,
        count: parsed.count,
        entries: &buf[start..r.pos()],
    })
}

impl<'a> BirthView<'a> {
    /// Device id, sequence number and timestamp of the birth.
    pub fn header(&self) -> FrameHeader<'a> {
        self.header
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Iterates the entries without allocating.
    pub fn entries(&self) -> BirthEntries<'a> {
        BirthEntries {
            r: Reader::new(self.entries, 0),
            remaining: self.count,
        }
    }
    fn find(&self, alias: u32) -> Option<BirthEntry<'a>> {
        self.entries().find(|e| e.alias == alias)
    }
}

impl AliasResolver for BirthView<'_> {
    fn name_of(&self, alias: u32) -> Option<&str> {
        self.find(alias).map(|e| e.name)
    }
    fn unit_of(&self, alias: u32) -> Option<&str> {
        self.find(alias).and_then(|e| e.unit)
    }
}

/// Iterator over a [`BirthView`]'s entries.
#[derive(Debug, Clone)]
pub struct BirthEntries<'a> {
    r: Reader<'a>,
    remaining: usize,
}

impl<'a> Iterator for BirthEntries<'a> {
    type Item = BirthEntry<'a>;
    fn next(&mut self) -> Option<BirthEntry<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        read_entry::<false>(&mut self.r, &Limits::DEFAULT).ok()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for BirthEntries<'_> {}
impl core::iter::FusedIterator for BirthEntries<'_> {}

fn read_entry<'a, const CHECK: bool>(
    r: &mut Reader<'a>,
    limits: &Limits,
) -> Result<BirthEntry<'a>, DecodeError> {
    let alias = read_u32::<CHECK>(r, "birth alias")?;
    let name = read_str::<CHECK>(r, Field::BirthName, limits.max_str_len)?;
    let flags_at = r.pos();
    let flags = r.u8()?;
    if CHECK && flags & !ENTRY_UNIT != 0 {
        return Err(DecodeError::new(
            flags_at,
            DecodeErrorKind::ReservedFlags { flags },
        ));
    }
    let unit = if flags & ENTRY_UNIT != 0 {
        Some(read_str::<CHECK>(r, Field::Unit, limits.max_str_len)?)
    } else {
        None
    };
    Ok(BirthEntry { alias, name, unit })
}

#[cfg(feature = "alloc")]
pub use table::{AliasTable, DuplicateAlias};

#[cfg(feature = "alloc")]
mod table {
    use super::{AliasResolver, BirthView};
    use alloc::{string::String, vec::Vec};

    /// Two birth entries claim the same alias.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
    #[error("alias {alias} appears more than once in the birth message")]
    pub struct DuplicateAlias {
        /// The repeated alias.
        pub alias: u32,
    }

    /// An owned alias table with `O(log n)` lookups, built from a birth.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct AliasTable {
        // Sorted by alias: binary search beats hashing for the small
        // tables devices announce, and needs no `std`.
        entries: Vec<(u32, String, Option<String>)>,
    }

    impl AliasTable {
        /// Copies the entries of `birth`, rejecting repeated aliases.
        pub fn from_birth(birth: &BirthView<'_>) -> Result<Self, DuplicateAlias> {
            let mut entries: Vec<_> = birth
                .entries()
                .map(|e| (e.alias, String::from(e.name), e.unit.map(String::from)))
                .collect();
            entries.sort_unstable_by_key(|e| e.0);
            if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(DuplicateAlias { alias: w[0].0 });
            }
            Ok(Self { entries })
        }

        /// Adds or replaces an entry.
        pub fn insert(&mut self, alias: u32, name: impl Into<String>, unit: Option<String>) {
            let entry = (alias, name.into(), unit);
            match self.entries.binary_search_by_key(&alias, |e| e.0) {
                Ok(i) => self.entries[i] = entry,
                Err(i) => self.entries.insert(i, entry),
            }
        }

        /// Number of entries.
        pub fn len(&self) -> usize {
            self.entries.len()
        }

        /// Whether the table is empty.
        pub fn is_empty(&self) -> bool {
            self.entries.is_empty()
        }

        fn get(&self, alias: u32) -> Option<&(u32, String, Option<String>)> {
            self.entries
                .binary_search_by_key(&alias, |e| e.0)
                .ok()
                .map(|i| &self.entries[i])
        }
    }

    impl AliasResolver for AliasTable {
        fn name_of(&self, alias: u32) -> Option<&str> {
            self.get(alias).map(|e| e.1.as_str())
        }
        fn unit_of(&self, alias: u32) -> Option<&str> {
            self.get(alias).and_then(|e| e.2.as_deref())
        }
    }
}
