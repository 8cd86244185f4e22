//! How many permits a request costs.

/// The number of permits a request takes.
///
/// Implemented by [`UnitCost`] (every request takes one permit, the
/// default) and by every `Fn(&Req) -> u32` closure. Where the permit is
/// taken depends on which (see the [module docs](super#weighted-requests)):
/// unit costs in `poll_ready`, weighted costs in `call`.
pub trait RequestCost<Req> {
    /// Whether every request costs exactly one permit, known without
    /// seeing it. Only [`UnitCost`] says yes.
    const UNIT: bool = false;

    /// The request's cost in permits.
    fn cost(&self, req: &Req) -> u32;
}

/// Every request costs one permit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitCost;

impl<Req> RequestCost<Req> for UnitCost {
    const UNIT: bool = true;

    #[inline]
    fn cost(&self, _: &Req) -> u32 {
        1
    }
}

impl<Req, F: Fn(&Req) -> u32> RequestCost<Req> for F {
    #[inline]
    fn cost(&self, req: &Req) -> u32 {
        self(req)
    }
}
