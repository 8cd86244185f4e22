//! Base-field resolution shared by the JSON and CBOR decoders.

use alloc::borrow::Cow;
use alloc::string::String;

use super::error::SenmlErrorKind;
use super::record::{Label, Record, SENML_VERSION, SenmlTime, SenmlValue, validate_name};

/// A SenML number as found in the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    /// A float (every JSON number, CBOR floats and decimal fractions).
    F64(f64),
    /// A negative CBOR integer.
    I64(i64),
    /// A non-negative CBOR integer.
    U64(u64),
}

impl Num {
    pub(crate) fn to_f64(self) -> f64 {
        match self {
            Num::F64(v) => v,
            Num::I64(v) => v as f64,
            Num::U64(v) => v as f64,
        }
    }

    /// A CBOR integer in `-2^64..2^64`.
    pub(crate) fn from_int(v: i128) -> Num {
        if let Ok(u) = u64::try_from(v) {
            Num::U64(u)
        } else if let Ok(i) = i64::try_from(v) {
            Num::I64(i)
        } else {
            Num::F64(v as f64)
        }
    }

    fn as_int(self) -> Option<i128> {
        match self {
            Num::F64(_) => None,
            Num::I64(v) => Some(i128::from(v)),
            Num::U64(v) => Some(i128::from(v)),
        }
    }

    /// `base + self`: exact when both are integers and the sum fits `i64` or
    /// `u64`, a float otherwise.
    fn plus(self, base: Num) -> Num {
        match (base.as_int(), self.as_int()) {
            (Some(b), Some(v)) => {
                let sum = b + v;
                if u64::try_from(sum).is_ok() || i64::try_from(sum).is_ok() {
                    Num::from_int(sum)
                } else {
                    Num::F64(base.to_f64() + self.to_f64())
                }
            }
            _ => Num::F64(base.to_f64() + self.to_f64()),
        }
    }

    fn into_value(self) -> SenmlValue<'static> {
        match self {
            Num::F64(v) => SenmlValue::Float(v),
            Num::I64(v) => SenmlValue::Int(v),
            Num::U64(v) => SenmlValue::UInt(v),
        }
    }
}

/// The fields of one record as found in the input, before resolution.
#[derive(Debug, Default)]
pub(crate) struct RawRecord<'a> {
    seen: u16,
    pub bver: Option<u64>,
    pub bn: Option<Cow<'a, str>>,
    pub bt: Option<f64>,
    pub bu: Option<Cow<'a, str>>,
    pub bv: Option<Num>,
    pub bs: Option<f64>,
    pub n: Option<Cow<'a, str>>,
    pub u: Option<Cow<'a, str>>,
    pub v: Option<Num>,
    pub vs: Option<Cow<'a, str>>,
    pub vb: Option<bool>,
    pub vd: Option<Cow<'a, [u8]>>,
    pub s: Option<f64>,
    pub t: Option<f64>,
    pub ut: Option<f64>,
}

const VALUE_BITS: u16 =
    Label::Value.bit() | Label::StringValue.bit() | Label::BoolValue.bit() | Label::DataValue.bit();

const BASE_BITS: u16 = Label::BaseVersion.bit()
    | Label::BaseName.bit()
    | Label::BaseTime.bit()
    | Label::BaseUnit.bit()
    | Label::BaseValue.bit()
    | Label::BaseSum.bit();

impl RawRecord<'_> {
    /// Registers that `label` is about to be read: rejects duplicates and a
    /// second value field.
    pub(crate) fn begin(&mut self, label: Label) -> Result<(), SenmlErrorKind> {
        let bit = label.bit();
        if self.seen & bit != 0 {
            return Err(SenmlErrorKind::DuplicateLabel);
        }
        if bit & VALUE_BITS != 0 && self.seen & VALUE_BITS != 0 {
            return Err(SenmlErrorKind::MultipleValues);
        }
        self.seen |= bit;
        Ok(())
    }
}

/// Checks a `bver` value as read from the input.
pub(crate) fn check_version(bver: u64) -> Result<u64, SenmlErrorKind> {
    if bver == 0 || bver > SENML_VERSION {
        Err(SenmlErrorKind::UnsupportedVersion { bver })
    } else {
        Ok(bver)
    }
}

/// Checks a time field (`bt`, `t`, `ut`) as read from the input.
pub(crate) fn check_time(secs: f64) -> Result<f64, SenmlErrorKind> {
    if secs.is_finite() {
        Ok(secs)
    } else {
        Err(SenmlErrorKind::NonFiniteTime)
    }
}

/// The base fields in effect, applied record by record.
#[derive(Debug, Default)]
pub(crate) struct Resolver<'a> {
    bn: Option<Cow<'a, str>>,
    bt: Option<f64>,
    bu: Option<Cow<'a, str>>,
    bv: Option<Num>,
    bs: Option<f64>,
    version: Option<u64>,
}

impl<'a> Resolver<'a> {
    /// Applies the record's base fields to the state and resolves it.
    ///
    /// Returns `Ok(None)` for a *base-only* record: one that carries base
    /// fields and no regular field (`n`, `u`, `v`, `vs`, `vb`, `vd`, `s`,
    /// `t`, `ut`), such as `{"bn":"urn:dev:ow:10e2073a01080063:"}` in RFC 8428
    /// §5.1.7. Such a record only sets context and yields no measurement.
    pub(crate) fn resolve(
        &mut self,
        raw: RawRecord<'a>,
    ) -> Result<Option<Record<'a>>, SenmlErrorKind> {
        // RFC 8428 §4.4: all records of a pack have the same version; the
        // first record fixes it (explicitly, or 10 by default).
        let version = raw.bver.or(self.version).unwrap_or(SENML_VERSION);
        match self.version {
            Some(expected) if expected != version => {
                return Err(SenmlErrorKind::VersionMismatch {
                    expected,
                    found: version,
                });
            }
            _ => self.version = Some(version),
        }

        let is_base_only = raw.seen & !BASE_BITS == 0;
        if raw.bn.is_some() {
            self.bn = raw.bn;
        }
        if raw.bt.is_some() {
            self.bt = raw.bt;
        }
        if raw.bu.is_some() {
            self.bu = raw.bu;
        }
        if raw.bv.is_some() {
            self.bv = raw.bv;
        }
        if raw.bs.is_some() {
            self.bs = raw.bs;
        }
        if is_base_only {
            return if raw.seen == 0 {
                Err(SenmlErrorKind::MissingValue)
            } else {
                Ok(None)
            };
        }

        let value = if let Some(v) = raw.v {
            Some(match self.bv {
                Some(bv) => v.plus(bv).into_value(),
                None => v.into_value(),
            })
        } else if let Some(s) = raw.vs {
            Some(SenmlValue::Str(s))
        } else if let Some(b) = raw.vb {
            Some(SenmlValue::Bool(b))
        } else {
            raw.vd.map(SenmlValue::Data)
        };
        let sum = match (self.bs, raw.s) {
            (None, None) => None,
            (bs, s) => Some(bs.unwrap_or(0.0) + s.unwrap_or(0.0)),
        };
        if value.is_none() && sum.is_none() {
            return Err(SenmlErrorKind::MissingValue);
        }

        let name = concat_name(self.bn.as_ref(), raw.n);
        if let Err(error) = validate_name(&name) {
            return Err(SenmlErrorKind::InvalidName {
                name: name.into_owned(),
                error,
            });
        }

        let secs = self.bt.unwrap_or(0.0) + raw.t.unwrap_or(0.0);
        let time = SenmlTime::from_secs(check_time(secs)?);

        Ok(Some(Record {
            name,
            unit: raw.u.or_else(|| self.bu.clone()),
            value,
            sum,
            time,
            update_time: raw.ut,
        }))
    }
}

/// Base name + name, borrowing whenever one of them is absent or empty.
fn concat_name<'a>(bn: Option<&Cow<'a, str>>, n: Option<Cow<'a, str>>) -> Cow<'a, str> {
    match (bn, n) {
        (Some(bn), Some(n)) if !bn.is_empty() && !n.is_empty() => {
            let mut s = String::with_capacity(bn.len() + n.len());
            s.push_str(bn);
            s.push_str(&n);
            Cow::Owned(s)
        }
        (Some(bn), None) => bn.clone(),
        (Some(bn), Some(n)) if n.is_empty() => bn.clone(),
        (_, Some(n)) => n,
        (None, None) => Cow::Borrowed(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_base_values_stay_exact() {
        assert_eq!(Num::U64(5).plus(Num::I64(-7)), Num::I64(-2));
        assert_eq!(
            Num::I64(-1).plus(Num::U64(u64::MAX)),
            Num::U64(u64::MAX - 1)
        );
        assert_eq!(
            Num::U64(u64::MAX).plus(Num::U64(1)),
            Num::F64(u64::MAX as f64 + 1.0)
        );
        assert_eq!(Num::F64(0.5).plus(Num::U64(1)), Num::F64(1.5));
        assert_eq!(Num::from_int(-(1 << 64)), Num::F64(-18446744073709551616.0));
    }

    #[test]
    fn names_borrow_when_possible() {
        let bn = Cow::Borrowed("a/");
        assert!(matches!(concat_name(Some(&bn), None), Cow::Borrowed("a/")));
        assert!(matches!(
            concat_name(None, Some(Cow::Borrowed("x"))),
            Cow::Borrowed("x")
        ));
        assert!(matches!(
            concat_name(Some(&Cow::Borrowed("")), Some(Cow::Borrowed("x"))),
            Cow::Borrowed("x")
        ));
        assert_eq!(concat_name(Some(&bn), Some(Cow::Borrowed("x"))), "a/x");
    }
}
