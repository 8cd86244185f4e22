//! A serde `Serializer` producing the ordered [`Value`] tree.
//!
//! Struct fields keep declaration order; fields serialized as `None` are
//! left out, so the small Kubernetes types need no `skip_serializing_if`.

use serde::ser::{self, Serialize};

use super::Value;

/// Converts any serializable value to a [`Value`].
pub fn to_value<T: Serialize + ?Sized>(v: &T) -> Value {
    v.serialize(ValueSer)
        .unwrap_or_else(|e| Value::Str(format!("<unserializable: {e}>")))
}

/// The only failure: a map key that is not a string.
#[derive(Debug)]
pub struct SerError(String);

impl std::fmt::Display for SerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SerError(msg.to_string())
    }
}

struct ValueSer;

type R = Result<Value, SerError>;

/// Collects sequence items or map/struct entries.
pub struct Collect {
    items: Vec<Value>,
    entries: Vec<(String, Value)>,
    key: Option<String>,
    variant: Option<&'static str>,
}

impl Collect {
    fn new(variant: Option<&'static str>) -> Self {
        Collect {
            items: Vec::new(),
            entries: Vec::new(),
            key: None,
            variant,
        }
    }

    fn wrap(self, v: Value) -> Value {
        match self.variant {
            Some(name) => Value::map().with(name, v),
            None => v,
        }
    }
}

impl ser::Serializer for ValueSer {
    type Ok = Value;
    type Error = SerError;
    type SerializeSeq = Collect;
    type SerializeTuple = Collect;
    type SerializeTupleStruct = Collect;
    type SerializeTupleVariant = Collect;
    type SerializeMap = Collect;
    type SerializeStruct = Collect;
    type SerializeStructVariant = Collect;

    fn serialize_bool(self, v: bool) -> R {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> R {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> R {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> R {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> R {
        Ok(Value::Int(v))
    }
    fn serialize_u8(self, v: u8) -> R {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> R {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> R {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> R {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| ser::Error::custom("integer above i64::MAX"))
    }
    fn serialize_f32(self, v: f32) -> R {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> R {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> R {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> R {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        Ok(Value::Seq(
            v.iter().map(|b| Value::Int((*b).into())).collect(),
        ))
    }
    fn serialize_none(self) -> R {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> R {
        v.serialize(self)
    }
    fn serialize_unit(self) -> R {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> R {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> R {
        Ok(Value::Str(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> R {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> R {
        Ok(Value::map().with(variant, v.serialize(self)?))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Collect, SerError> {
        Ok(Collect::new(None))
    }
    fn serialize_tuple(self, _: usize) -> Result<Collect, SerError> {
        Ok(Collect::new(None))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Collect, SerError> {
        Ok(Collect::new(None))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
        _: usize,
    ) -> Result<Collect, SerError> {
        Ok(Collect::new(Some(v)))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Collect, SerError> {
        Ok(Collect::new(None))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Collect, SerError> {
        Ok(Collect::new(None))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
        _: usize,
    ) -> Result<Collect, SerError> {
        Ok(Collect::new(Some(v)))
    }
}

impl ser::SerializeSeq for Collect {
    type Ok = Value;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.items.push(v.serialize(ValueSer)?);
        Ok(())
    }
    fn end(self) -> R {
        Ok(Value::Seq(self.items))
    }
}

impl ser::SerializeTuple for Collect {
    type Ok = Value;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> R {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Collect {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> R {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for Collect {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(mut self) -> R {
        let items = Value::Seq(std::mem::take(&mut self.items));
        Ok(self.wrap(items))
    }
}

impl ser::SerializeMap for Collect {
    type Ok = Value;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), SerError> {
        match k.serialize(ValueSer)? {
            Value::Str(s) => self.key = Some(s),
            Value::Int(i) => self.key = Some(i.to_string()),
            _ => return Err(ser::Error::custom("map keys must be strings")),
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <SerError as ser::Error>::custom("value without key"))?;
        self.entries.push((key, v.serialize(ValueSer)?));
        Ok(())
    }
    fn end(self) -> R {
        Ok(Value::Map(self.entries))
    }
}

impl ser::SerializeStruct for Collect {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        let v = v.serialize(ValueSer)?;
        if v != Value::Null {
            self.entries.push((key.to_string(), v));
        }
        Ok(())
    }
    fn end(self) -> R {
        Ok(Value::Map(self.entries))
    }
}

impl ser::SerializeStructVariant for Collect {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        ser::SerializeStruct::serialize_field(self, key, v)
    }
    fn end(mut self) -> R {
        let entries = Value::Map(std::mem::take(&mut self.entries));
        Ok(self.wrap(entries))
    }
}
