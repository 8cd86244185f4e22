//! What a store writes: one [`Row`] per reading, and the one conversion
//! from received frames to rows ([`Batch`]), with a typed reason for every
//! reading that cannot be stored.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use iot_core::codec::{AliasResolver, Channel, FrameView, NoAliases, Value};
use iot_core::mqtt::ReceivedFrame;

use crate::sink::SinkRequest;

/// Earliest storable reading time: 0000-01-01T00:00:00Z, in ms since the
/// Unix epoch (the range SQLite's date functions and ISO 8601 cover;
/// PostgreSQL's `timestamptz` covers more).
pub const MIN_TS_MS: i64 = -62_167_219_200_000;
/// Latest storable reading time: 9999-12-31T23:59:59.999Z.
pub const MAX_TS_MS: i64 = 253_402_300_799_999;

/// The type a reading was sent with (column `kind`), so a value reads back
/// as the type it was sent as (`f32` is stored in the `f64` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `Value::F64`, column `v_float`.
    F64,
    /// `Value::F32`, column `v_float` (widened exactly).
    F32,
    /// `Value::I64`, column `v_int`.
    I64,
    /// `Value::U64`, column `v_uint`.
    U64,
    /// `Value::Bool`, column `v_bool`.
    Bool,
    /// `Value::Str`, column `v_text`.
    Str,
    /// `Value::Bytes`, column `v_bytes`.
    Bytes,
}

impl Kind {
    /// Every kind, in the order of the schema's `CHECK`.
    pub const ALL: [Kind; 7] = [
        Kind::F64,
        Kind::F32,
        Kind::I64,
        Kind::U64,
        Kind::Bool,
        Kind::Str,
        Kind::Bytes,
    ];

    /// The `kind` column's text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::F64 => "f64",
            Kind::F32 => "f32",
            Kind::I64 => "i64",
            Kind::U64 => "u64",
            Kind::Bool => "bool",
            Kind::Str => "str",
            Kind::Bytes => "bytes",
        }
    }

    /// The kind a `kind` column's text names.
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A reading's value, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum RowValue {
    /// 64-bit float; NaN is stored as SQL `NULL` (see `docs/sinks.md`).
    F64(f64),
    /// 32-bit float.
    F32(f32),
    /// Signed integer.
    I64(i64),
    /// Unsigned integer, stored losslessly up to `u64::MAX`.
    U64(u64),
    /// Boolean.
    Bool(bool),
    /// Text without NUL characters.
    Str(String),
    /// Opaque bytes.
    Bytes(Vec<u8>),
}

impl RowValue {
    /// The value's kind.
    pub fn kind(&self) -> Kind {
        match self {
            RowValue::F64(_) => Kind::F64,
            RowValue::F32(_) => Kind::F32,
            RowValue::I64(_) => Kind::I64,
            RowValue::U64(_) => Kind::U64,
            RowValue::Bool(_) => Kind::Bool,
            RowValue::Str(_) => Kind::Str,
            RowValue::Bytes(_) => Kind::Bytes,
        }
    }

    /// Compares bit for bit, except that every NaN equals every NaN (the
    /// stores keep that a value was NaN, not its bits).
    pub fn same_as(&self, other: &RowValue) -> bool {
        match (self, other) {
            (RowValue::F64(a), RowValue::F64(b)) => {
                (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
            }
            (RowValue::F32(a), RowValue::F32(b)) => {
                (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
            }
            _ => self == other,
        }
    }

    /// The value split into the schema's value columns (at most one set).
    pub fn columns(&self) -> Columns<'_> {
        let mut c = Columns::default();
        match self {
            RowValue::F64(v) => c.float = (!v.is_nan()).then_some(*v),
            RowValue::F32(v) => c.float = (!v.is_nan()).then_some(f64::from(*v)),
            RowValue::I64(v) => c.int = Some(*v),
            RowValue::U64(v) => c.uint = Some(*v),
            RowValue::Bool(v) => c.boolean = Some(*v),
            RowValue::Str(v) => c.text = Some(v),
            RowValue::Bytes(v) => c.bytes = Some(v),
        }
        c
    }

    /// The value back from its `kind` and value columns: what the stores'
    /// readers use, so both dialects decode alike.
    pub fn from_columns(kind: Kind, c: Columns<'_>) -> Result<RowValue, String> {
        let missing = || format!("kind {} without its value column", kind.as_str());
        Ok(match kind {
            // A float kind with a NULL value column is a NaN reading.
            Kind::F64 => RowValue::F64(c.float.unwrap_or(f64::NAN)),
            Kind::F32 => RowValue::F32(c.float.map_or(f32::NAN, |v| v as f32)),
            Kind::I64 => RowValue::I64(c.int.ok_or_else(missing)?),
            Kind::U64 => RowValue::U64(c.uint.ok_or_else(missing)?),
            Kind::Bool => RowValue::Bool(c.boolean.ok_or_else(missing)?),
            Kind::Str => RowValue::Str(c.text.ok_or_else(missing)?.to_owned()),
            Kind::Bytes => RowValue::Bytes(c.bytes.ok_or_else(missing)?.to_vec()),
        })
    }
}

/// The value columns of one row (`v_float` ... `v_bytes`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Columns<'a> {
    /// `v_float`.
    pub float: Option<f64>,
    /// `v_int`.
    pub int: Option<i64>,
    /// `v_uint`.
    pub uint: Option<u64>,
    /// `v_bool`.
    pub boolean: Option<bool>,
    /// `v_text`.
    pub text: Option<&'a str>,
    /// `v_bytes`.
    pub bytes: Option<&'a [u8]>,
}

/// One reading as stored. The key is `(device, channel, ts, epoch, seq)`:
/// the same frame written twice gives the same keys, so the second write
/// stores nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The sending device.
    pub device: Arc<str>,
    /// The sender's session epoch (`0`: none), at most `i64::MAX`.
    pub epoch: i64,
    /// The frame's sequence number, at most `i64::MAX`.
    pub seq: i64,
    /// The channel name (an alias resolved, or `#<alias>` when it could
    /// not be).
    pub channel: String,
    /// Reading time: frame timestamp + the reading's offset, ms since the
    /// Unix epoch, within [`MIN_TS_MS`]..=[`MAX_TS_MS`].
    pub ts_ms: i64,
    /// The value.
    pub value: RowValue,
    /// The unit: the reading's, else the one its alias was announced with.
    pub unit: Option<String>,
}

impl Row {
    /// Compares two rows, values with [`RowValue::same_as`].
    pub fn same_as(&self, other: &Row) -> bool {
        self.device == other.device
            && self.epoch == other.epoch
            && self.seq == other.seq
            && self.channel == other.channel
            && self.ts_ms == other.ts_ms
            && self.value.same_as(&other.value)
            && self.unit == other.unit
    }

    /// Why this row cannot be stored, if it cannot: what [`Batch::push_row`]
    /// checks, and [`Batch::push_frame`] for every reading.
    pub fn check(&self) -> Result<(), RejectReason> {
        if self.epoch < 0 {
            return Err(RejectReason::KeyOutOfRange {
                field: KeyField::Epoch,
            });
        }
        if self.seq < 0 {
            return Err(RejectReason::KeyOutOfRange {
                field: KeyField::Seq,
            });
        }
        if !(MIN_TS_MS..=MAX_TS_MS).contains(&self.ts_ms) {
            return Err(RejectReason::TimestampOutOfRange);
        }
        let texts = [
            (TextField::Device, Some(&*self.device)),
            (TextField::Channel, Some(self.channel.as_str())),
            (TextField::Unit, self.unit.as_deref()),
            (
                TextField::Value,
                match &self.value {
                    RowValue::Str(s) => Some(s.as_str()),
                    _ => None,
                },
            ),
        ];
        for (field, text) in texts {
            if text.is_some_and(|t| t.contains('\0')) {
                return Err(RejectReason::NulInText { field });
            }
        }
        Ok(())
    }
}

/// Which key field is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyField {
    /// The session epoch.
    Epoch,
    /// The sequence number.
    Seq,
}

/// Which text holds a NUL character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextField {
    /// The device id.
    Device,
    /// The channel name.
    Channel,
    /// The unit.
    Unit,
    /// A string value.
    Value,
}

/// Why a reading cannot be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The frame's epoch or sequence number is above `i64::MAX`: SQL
    /// `bigint` keys cannot hold it (no publisher of this project sends
    /// one: epochs are milliseconds, sequence numbers count from 0).
    KeyOutOfRange {
        /// Epoch or sequence number.
        field: KeyField,
    },
    /// Frame timestamp + offset is before year 0 or after year 9999.
    TimestampOutOfRange,
    /// PostgreSQL's `text` cannot hold NUL (`\0`); rejected in both
    /// dialects so they store the same rows.
    NulInText {
        /// Where the NUL is.
        field: TextField,
    },
    /// An earlier reading of the same frame has the same channel and time:
    /// the key would collide and one of them would be dropped silently.
    DuplicateInFrame,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::KeyOutOfRange { field } => {
                write!(f, "{field:?} above i64::MAX (SQL bigint key)")
            }
            RejectReason::TimestampOutOfRange => {
                f.write_str("reading time outside years 0000..=9999")
            }
            RejectReason::NulInText { field } => write!(f, "NUL character in {field:?} text"),
            RejectReason::DuplicateInFrame => {
                f.write_str("same channel and time as an earlier reading of the frame")
            }
        }
    }
}

/// A reading that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The sending device.
    pub device: Arc<str>,
    /// The frame's epoch.
    pub epoch: u64,
    /// The frame's sequence number.
    pub seq: u64,
    /// The reading's position in the frame (`None` for a row pushed with
    /// [`Batch::push_row`]).
    pub index: Option<usize>,
    /// Why.
    pub reason: RejectReason,
}

/// Rows on their way to a store, built from frames (or rows), with the
/// readings that could not be converted set aside and counted.
///
/// The rows are shared (`Arc`): a store that writes on a blocking thread
/// takes them without copying, and the batch can be written again after a
/// failure (writes are idempotent).
#[derive(Debug, Clone, Default)]
pub struct Batch {
    rows: Arc<Vec<Row>>,
    rejected: Vec<Rejected>,
    unresolved_aliases: u64,
    frames: u64,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// The rows to write.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The rows, shared.
    pub fn shared_rows(&self) -> Arc<Vec<Row>> {
        self.rows.clone()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Frames pushed.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The readings set aside, with their reasons.
    pub fn rejected(&self) -> &[Rejected] {
        &self.rejected
    }

    /// Rows whose channel alias could not be resolved (stored as
    /// `#<alias>`).
    pub fn unresolved_aliases(&self) -> u64 {
        self.unresolved_aliases
    }

    /// Empties the batch (for reuse) and returns what it held.
    pub fn take(&mut self) -> Batch {
        std::mem::take(self)
    }

    /// Adds one row after [`Row::check`].
    pub fn push_row(&mut self, row: Row) -> Result<(), RejectReason> {
        if let Err(reason) = row.check() {
            self.rejected.push(Rejected {
                device: row.device,
                epoch: row.epoch as u64,
                seq: row.seq as u64,
                index: None,
                reason,
            });
            return Err(reason);
        }
        Arc::make_mut(&mut self.rows).push(row);
        Ok(())
    }

    /// Adds a frame as the gateway's pipeline hands it to a sink.
    pub fn push_request(&mut self, req: &SinkRequest) -> FrameOutcome {
        let view = req.frame.view();
        match req.alias_table() {
            Some(t) => self.push_view(req.device.clone(), &view, t),
            None => self.push_view(req.device.clone(), &view, &NoAliases),
        }
    }

    /// Adds a received frame; its own alias table (from the birth that
    /// preceded it) is used, else `aliases`.
    pub fn push_received(
        &mut self,
        frame: &ReceivedFrame,
        aliases: Option<&dyn AliasResolver>,
    ) -> FrameOutcome {
        let view = frame.view();
        let device: Arc<str> = Arc::from(frame.device_id());
        match (frame.aliases(), aliases) {
            (Some(t), _) => self.push_view(device, &view, t),
            (None, Some(t)) => self.push_view(device, &view, t),
            (None, None) => self.push_view(device, &view, &NoAliases),
        }
    }

    /// Adds a decoded frame, resolving aliases with `aliases` (e.g. an
    /// `AliasTable`, a `BirthView`, or `NoAliases`).
    pub fn push_frame(
        &mut self,
        view: &FrameView<'_>,
        aliases: &dyn AliasResolver,
    ) -> FrameOutcome {
        self.push_view(Arc::from(view.device_id()), view, aliases)
    }

    fn push_view(
        &mut self,
        device: Arc<str>,
        view: &FrameView<'_>,
        aliases: &dyn AliasResolver,
    ) -> FrameOutcome {
        self.frames += 1;
        let mut outcome = FrameOutcome::default();
        let (epoch, seq) = (view.epoch(), view.seq());
        let key = match (i64::try_from(epoch), i64::try_from(seq)) {
            (Ok(e), Ok(s)) => Ok((e, s)),
            (Err(_), _) => Err(RejectReason::KeyOutOfRange {
                field: KeyField::Epoch,
            }),
            (_, Err(_)) => Err(RejectReason::KeyOutOfRange {
                field: KeyField::Seq,
            }),
        };
        let rows = Arc::make_mut(&mut self.rows);
        let first = rows.len();
        let mut seen: Option<HashSet<(String, i64)>> = None;
        for (index, reading) in view.readings().enumerate() {
            let mut unresolved = false;
            let (channel, alias_unit) = match reading.channel {
                Channel::Name(n) => (n.to_owned(), None),
                Channel::Alias(a) => match aliases.name_of(a) {
                    Some(n) => (n.to_owned(), aliases.unit_of(a)),
                    None => {
                        unresolved = true;
                        (format!("#{a}"), None)
                    }
                },
            };
            let ts =
                i128::from(view.timestamp_ms()) + i128::from(reading.time_offset_ms.unwrap_or(0));
            let row = key.and_then(|(epoch, seq)| {
                let row = Row {
                    device: device.clone(),
                    epoch,
                    seq,
                    channel,
                    // Out of i64 range: clamped to a value `check` rejects.
                    ts_ms: i64::try_from(ts).unwrap_or(i64::MAX),
                    value: owned(reading.value),
                    unit: reading.unit.or(alias_unit).map(str::to_owned),
                };
                row.check()?;
                if duplicate(&rows[first..], &mut seen, &row) {
                    return Err(RejectReason::DuplicateInFrame);
                }
                Ok(row)
            });
            match row {
                Ok(row) => {
                    rows.push(row);
                    outcome.rows += 1;
                    if unresolved {
                        self.unresolved_aliases += 1;
                        outcome.unresolved_aliases += 1;
                    }
                }
                Err(reason) => {
                    outcome.rejected += 1;
                    self.rejected.push(Rejected {
                        device: device.clone(),
                        epoch,
                        seq,
                        index: Some(index),
                        reason,
                    });
                }
            }
        }
        outcome
    }
}

/// Whether `row`'s channel and time already appear in `frame_rows` (the
/// rows of the same frame so far); a set takes over from the linear scan
/// for large frames.
fn duplicate(frame_rows: &[Row], seen: &mut Option<HashSet<(String, i64)>>, row: &Row) -> bool {
    const SCAN: usize = 32;
    if frame_rows.len() < SCAN {
        return frame_rows
            .iter()
            .any(|r| r.ts_ms == row.ts_ms && r.channel == row.channel);
    }
    let set = seen.get_or_insert_with(|| {
        frame_rows
            .iter()
            .map(|r| (r.channel.clone(), r.ts_ms))
            .collect()
    });
    // `frame_rows` grew by one since the last call: add that row first.
    if let Some(last) = frame_rows.last() {
        set.insert((last.channel.clone(), last.ts_ms));
    }
    set.contains(&(row.channel.clone(), row.ts_ms))
}

/// What became of one frame's readings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameOutcome {
    /// Readings added as rows.
    pub rows: usize,
    /// ... of which with an unresolved alias (`#<alias>`).
    pub unresolved_aliases: usize,
    /// Readings set aside (see [`Batch::rejected`]).
    pub rejected: usize,
}

fn owned(value: Value<'_>) -> RowValue {
    match value {
        Value::F64(v) => RowValue::F64(v),
        Value::F32(v) => RowValue::F32(v),
        Value::I64(v) => RowValue::I64(v),
        Value::U64(v) => RowValue::U64(v),
        Value::Bool(v) => RowValue::Bool(v),
        Value::Str(v) => RowValue::Str(v.to_owned()),
        Value::Bytes(v) => RowValue::Bytes(v.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_core::codec::{FrameHeader, Limits, Reading, decode_frame, encode_frame};

    fn batch_of(readings: &[Reading<'_>]) -> Batch {
        let mut buf = vec![0u8; 16 * 1024];
        let header = FrameHeader::new("dev-1", 5, 1_000).with_epoch(2);
        let n = encode_frame(&header, readings, &mut buf).unwrap();
        let view = decode_frame(&buf[..n], &Limits::default()).unwrap();
        let mut batch = Batch::new();
        batch.push_frame(&view, &NoAliases);
        batch
    }

    fn channel(i: usize) -> Channel<'static> {
        Channel::Name(Box::leak(format!("c{i}").into_boxed_str()))
    }

    /// Duplicates are found by the linear scan (small frames) and by the
    /// set that takes over from the 33rd reading on, wherever they are.
    #[test]
    fn duplicates_in_frames_of_every_size() {
        for len in [1, 2, 31, 32, 33, 34, 100, 300] {
            let distinct: Vec<Reading<'_>> = (0..len)
                .map(|i| Reading::new(channel(i), Value::U64(i as u64)))
                .collect();
            let batch = batch_of(&distinct);
            assert_eq!((batch.len(), batch.rejected().len()), (len, 0), "{len}");
            for dup_of in [0, len / 2, len - 1] {
                let mut readings = distinct.clone();
                // Same channel and time as an earlier reading, other value;
                // also a same-channel reading at another time (kept).
                readings.push(Reading::new(channel(dup_of), Value::Bool(true)));
                readings.push(Reading::new(channel(dup_of), Value::I64(1)).with_offset_ms(1));
                readings.push(Reading::new(channel(len + 1), Value::I64(2)));
                let batch = batch_of(&readings);
                assert_eq!(batch.len(), len + 2, "{len} {dup_of}");
                let rejected = batch.rejected();
                assert_eq!(rejected.len(), 1, "{len} {dup_of}");
                assert_eq!(rejected[0].reason, RejectReason::DuplicateInFrame);
                assert_eq!(rejected[0].index, Some(len));
                assert_eq!(batch.rows()[dup_of].value, RowValue::U64(dup_of as u64));
            }
        }
    }

    #[test]
    fn rows_carry_the_frame_key_and_time() {
        let batch = batch_of(&[
            Reading::new(Channel::Name("a"), Value::F32(1.5)).with_offset_ms(-1_000),
            Reading::new(Channel::Alias(3), Value::Str("x")).with_unit("u"),
        ]);
        let rows = batch.rows();
        assert_eq!((rows[0].epoch, rows[0].seq, rows[0].ts_ms), (2, 5, 0));
        assert_eq!(&*rows[0].device, "dev-1");
        assert_eq!(rows[1].channel, "#3");
        assert_eq!(rows[1].unit.as_deref(), Some("u"));
        assert_eq!(batch.unresolved_aliases(), 1);
        assert_eq!(batch.frames(), 1);
    }

    #[test]
    fn push_row_checks_like_frames_do() {
        let row = Row {
            device: Arc::from("d"),
            epoch: 0,
            seq: -1,
            channel: "c".into(),
            ts_ms: 0,
            value: RowValue::Bool(true),
            unit: None,
        };
        let mut batch = Batch::new();
        assert_eq!(
            batch.push_row(row.clone()),
            Err(RejectReason::KeyOutOfRange {
                field: KeyField::Seq
            })
        );
        assert_eq!(batch.rejected()[0].index, None);
        let ok = Row { seq: 1, ..row };
        assert_eq!(batch.push_row(ok), Ok(()));
        assert_eq!(batch.len(), 1);
    }

    #[test]
    fn values_come_back_from_their_columns() {
        let values = [
            RowValue::F64(f64::NAN),
            RowValue::F64(-0.0),
            RowValue::F32(f32::NAN),
            RowValue::F32(0.1),
            RowValue::I64(i64::MIN),
            RowValue::U64(u64::MAX),
            RowValue::Bool(false),
            RowValue::Str("s".into()),
            RowValue::Bytes(vec![0, 1]),
        ];
        for v in values {
            let back = RowValue::from_columns(v.kind(), v.columns()).unwrap();
            assert!(back.same_as(&v), "{v:?} -> {back:?}");
            assert_eq!(Kind::parse(v.kind().as_str()), Some(v.kind()));
        }
        assert!(RowValue::from_columns(Kind::I64, Columns::default()).is_err());
    }
}
