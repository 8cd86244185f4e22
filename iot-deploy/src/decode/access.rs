//! serde access helpers for sequences, mappings and enums over nodes.

use serde::de::{self, DeserializeSeed, IntoDeserializer};

use super::{DeError, NodeDe, Sink, join};
use crate::source::{Key, Node};

pub(crate) struct SeqDe<'a> {
    pub(crate) items: std::slice::Iter<'a, Node>,
    pub(crate) index: usize,
    pub(crate) path: &'a str,
    pub(crate) sink: &'a Sink,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{}]", self.path, self.index);
        self.index += 1;
        let de = NodeDe::new(node, path, self.sink);
        de.guard(|de| seed.deserialize(de)).map(Some)
    }
}

pub(crate) struct MapDe<'a> {
    pub(crate) entries: Vec<&'a (Key, Node)>,
    pub(crate) next: usize,
    pub(crate) path: &'a str,
    pub(crate) sink: &'a Sink,
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, _)) = self.entries.get(self.next) else {
            return Ok(None);
        };
        let de: de::value::StrDeserializer<'_, DeError> = key.name.as_str().into_deserializer();
        seed.deserialize(de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (key, node) = self.entries[self.next];
        self.next += 1;
        let de = NodeDe::new(node, join(self.path, &key.name), self.sink);
        de.guard(|de| seed.deserialize(de))
    }
}

/// A unit variant named by a string.
pub(crate) struct UnitVariant<'a>(pub(crate) &'a str);

impl<'de> de::EnumAccess<'de> for UnitVariant<'_> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let de: de::value::StrDeserializer<'_, DeError> = self.0.into_deserializer();
        Ok((seed.deserialize(de)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, DeError> {
        Err(de::Error::custom("expected a plain value"))
    }

    fn tuple_variant<V: de::Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(de::Error::custom("expected a plain value"))
    }

    fn struct_variant<V: de::Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(de::Error::custom("expected a plain value"))
    }
}
