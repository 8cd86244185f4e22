//! Weighing items for the `max_bytes` trigger.

/// Weighs one item against [`max_bytes`](super::BatchConfig::max_bytes):
/// its encoded size in bytes, its row or parameter count, whatever the
/// backend limits per batch.
///
/// Implemented by [`Unweighed`] (items weigh nothing; the layer's default,
/// which refuses a `max_bytes`) and by every `Fn(&Req) -> usize` closure.
/// The worker calls it once per item, when it takes the item into a batch.
pub trait Weigh<Req> {
    /// The weight of `req`.
    fn weigh(&self, req: &Req) -> usize;
}

/// No weighing: batches are cut by count and age only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unweighed;

impl<Req> Weigh<Req> for Unweighed {
    #[inline]
    fn weigh(&self, _: &Req) -> usize {
        0
    }
}

impl<Req, F: Fn(&Req) -> usize> Weigh<Req> for F {
    #[inline]
    fn weigh(&self, req: &Req) -> usize {
        self(req)
    }
}
