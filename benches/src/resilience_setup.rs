//! The middleware compared by `benches/resilience.rs`, each configured for
//! its happy path, built here so the benchmark, the allocation test and the
//! setup tests (`tests/resilience_*.rs`) use the very same setups.
//!
//! Two families:
//!
//! * [`Layered`]: tower services over the bare [`Echo`] service, driven by
//!   [`resilience_driver::call`](crate::resilience_driver::call). Overhead
//!   = time of the variant - time of [`Layered::Bare`].
//! * [`Direct`]: plain function calls without tower (a limiter's check, a
//!   breaker guarding a closure), against [`Direct::BareClosure`].
//!
//! Happy path means: every call is admitted and succeeds at once. The
//! limits are high enough never to reject (10^9 permits per second, burst
//! 10^9, where a call takes at least tens of nanoseconds), the breakers are
//! closed, the retry's first attempt succeeds (budget on, as by default),
//! timeouts are 1 s.

use std::fmt;
use std::hint::black_box;
use std::io;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use iot_resilience::bulkhead::{Bulkhead, BulkheadConfig, BulkheadLayer};
use iot_resilience::circuit_breaker::{
    CircuitBreaker, CircuitBreakerConfig, CircuitBreakerHandle, CircuitBreakerLayer,
};
use iot_resilience::rate_limit::{
    RateLimit, RateLimitConfig, RateLimitLayer, RateLimiter, UnitCost,
};
use iot_resilience::retry::{Retry, RetryBudget, RetryConfig, RetryLayer};
use iot_resilience::timeout::{Timeout, TimeoutConfig, TimeoutLayer};
use iot_resilience::{Clock, QuantaClock, TokioClock};
use tower::{Layer, Service};
use tower_resilience::circuitbreaker as trcb;
use tower_resilience::ratelimiter as trrl;

use crate::resilience_driver::{Echo, call};

/// The `name` of every configured layer.
pub const NAME: &str = "bench";

/// Permits per second of every limiter in the benchmark (and its burst):
/// one per nanosecond, more than any driver loop can use.
pub const BENCH_RATE: u32 = 1_000_000_000;

/// The request sent by every benchmark call.
pub const REQUEST: u64 = 7;

// ---------------------------------------------------------------- configs

/// The breaker: defaults (count window of 100, 50 % failure threshold,
/// slow-call detection off), closed.
pub fn breaker_config() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default().name(NAME)
}

/// [`BENCH_RATE`] per second, burst [`BENCH_RATE`], reject mode.
pub fn rate_limit_config() -> RateLimitConfig {
    RateLimitConfig::per(BENCH_RATE, Duration::from_secs(1)).name(NAME)
}

/// Defaults: 3 attempts, full-jitter backoff, the retry budget on.
pub fn retry_config() -> RetryConfig {
    RetryConfig::default().name(NAME)
}

/// 1 s per call.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::new(Duration::from_secs(1)).name(NAME)
}

/// 64 calls at once, rejecting beyond.
pub fn bulkhead_config() -> BulkheadConfig {
    BulkheadConfig::new(64).name(NAME)
}

/// The composed stack's configuration, outermost layer first.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Outermost: shed load first.
    pub rate_limit: RateLimitConfig,
    /// Fail fast while the backend is sick.
    pub breaker: CircuitBreakerConfig,
    /// Leak the breaker (no `Arc` clone per call), see
    /// `CircuitBreakerHandle::leak`.
    pub leak_breaker: bool,
    /// Retry with a shared budget.
    pub retry: RetryConfig,
    /// Innermost: bounds each attempt.
    pub timeout: TimeoutConfig,
}

impl Default for StackConfig {
    /// The benchmark's configuration.
    fn default() -> Self {
        Self {
            rate_limit: rate_limit_config(),
            breaker: breaker_config(),
            leak_breaker: false,
            retry: retry_config(),
            timeout: timeout_config(),
        }
    }
}

// ------------------------------------------------------------ our layers

/// iot-resilience's circuit breaker around `inner`, and its handle.
pub fn iot_breaker<S>(
    inner: S,
    config: CircuitBreakerConfig,
) -> (CircuitBreaker<S>, CircuitBreakerHandle) {
    let layer = CircuitBreakerLayer::new(config).expect("valid breaker config");
    let handle = layer.handle().clone();
    (layer.layer(inner), handle)
}

/// Same, with the breaker leaked (services skip the `Arc` clone per call).
pub fn iot_breaker_leaked<S>(
    inner: S,
    config: CircuitBreakerConfig,
) -> (CircuitBreaker<S>, CircuitBreakerHandle) {
    let layer = CircuitBreakerLayer::new(config)
        .expect("valid breaker config")
        .leak();
    let handle = layer.handle().clone();
    (layer.layer(inner), handle)
}

/// iot-resilience's rate limit layer around `inner`, and its limiter.
pub fn iot_rate_limit<S>(inner: S, config: RateLimitConfig) -> (RateLimit<S>, RateLimiter) {
    let layer = RateLimitLayer::new(config).expect("valid rate limit config");
    let limiter = layer.limiter().clone();
    (layer.layer(inner), limiter)
}

/// The bare limiter, checked by hand.
pub fn iot_limiter(config: RateLimitConfig) -> RateLimiter {
    RateLimiter::new(config).expect("valid rate limit config")
}

/// The bare limiter on `QuantaClock`, governor's clock source.
pub fn iot_limiter_quanta(config: RateLimitConfig) -> RateLimiter<QuantaClock> {
    RateLimiter::with_clock(config, QuantaClock::new()).expect("valid rate limit config")
}

/// iot-resilience's retry layer around `inner`, and its budget.
pub fn iot_retry<S>(inner: S, config: RetryConfig) -> (Retry<S>, Option<Arc<RetryBudget>>) {
    let layer = RetryLayer::new(config).expect("valid retry config");
    let budget = layer.budget().cloned();
    (layer.layer(inner), budget)
}

/// iot-resilience's timeout layer around `inner`.
pub fn iot_timeout<S>(inner: S, config: TimeoutConfig) -> Timeout<S> {
    TimeoutLayer::new(config)
        .expect("valid timeout config")
        .layer(inner)
}

/// iot-resilience's bulkhead around `inner`.
pub fn iot_bulkhead<S>(inner: S, config: BulkheadConfig) -> Bulkhead<S> {
    BulkheadLayer::new(config)
        .expect("valid bulkhead config")
        .layer(inner)
}

/// The composed stack: rate limit -> breaker -> retry -> timeout -> `S`.
pub type IotStack<S> = RateLimit<CircuitBreaker<Retry<Timeout<S>>>>;

/// What a test needs to look inside a built stack.
#[derive(Debug, Clone)]
pub struct StackParts {
    /// The outermost layer's limiter.
    pub limiter: RateLimiter,
    /// The breaker.
    pub breaker: CircuitBreakerHandle,
    /// The retry budget, if configured.
    pub budget: Option<Arc<RetryBudget>>,
}

/// Builds the composed stack around `inner` with the order the crate docs
/// recommend, as `ServiceBuilder` would (outermost layer first).
pub fn iot_stack<S>(inner: S, config: StackConfig) -> (IotStack<S>, StackParts) {
    let timeout = iot_timeout(inner, config.timeout);
    let (retry, budget) = iot_retry(timeout, config.retry);
    let (breaker, handle) = if config.leak_breaker {
        iot_breaker_leaked(retry, config.breaker)
    } else {
        iot_breaker(retry, config.breaker)
    };
    let (service, limiter) = iot_rate_limit(breaker, config.rate_limit);
    let parts = StackParts {
        limiter,
        breaker: handle,
        budget,
    };
    (service, parts)
}

/// The composed stack with every clock on `QuantaClock` (limiter, breaker,
/// retry budget and deadline) and the breaker leaked: the fastest
/// configuration the crate offers.
pub type IotStackQuanta<S> = RateLimit<CircuitBreaker<Retry<Timeout<S>>>, UnitCost, QuantaClock>;

/// Builds [`IotStackQuanta`] around `inner`.
pub fn iot_stack_quanta<S>(inner: S, config: StackConfig) -> IotStackQuanta<S> {
    let clock = QuantaClock::new();
    let timeout = iot_timeout(inner, config.timeout);
    let budget_config = config
        .retry
        .budget
        .clone()
        .expect("the bench retries with a budget");
    let budget = RetryBudget::with_clock(budget_config, clock.clone()).expect("valid budget");
    let retry = RetryLayer::new(config.retry)
        .expect("valid retry config")
        .with_budget(Arc::new(budget))
        .with_clock(clock.clone())
        .layer(timeout);
    let breaker = CircuitBreakerLayer::with_clock(config.breaker, clock.clone())
        .expect("valid breaker config")
        .leak()
        .layer(retry);
    RateLimitLayer::with_clock(config.rate_limit, clock)
        .expect("valid rate limit config")
        .layer(breaker)
}

// ----------------------------------------------------------------- peers

/// tower's `RateLimit` (`num` requests per `per`, a fixed window) around
/// `inner`. Needs a tokio runtime context (it creates its sleep at once).
pub fn tower_rate_limit<S>(inner: S, num: u64, per: Duration) -> tower::limit::RateLimit<S> {
    tower::limit::RateLimitLayer::new(num, per).layer(inner)
}

/// tower's `Timeout` around `inner`.
pub fn tower_timeout<S>(inner: S, timeout: Duration) -> tower::timeout::Timeout<S> {
    tower::timeout::TimeoutLayer::new(timeout).layer(inner)
}

/// governor's direct (un-keyed) limiter with `quota` (quanta clock).
pub fn governor_limiter(quota: governor::Quota) -> governor::DefaultDirectRateLimiter {
    governor::RateLimiter::direct(quota)
}

/// The benchmark's governor quota: [`BENCH_RATE`] per second, burst
/// [`BENCH_RATE`] (one permit per nanosecond, like ours).
pub fn governor_bench_quota() -> governor::Quota {
    governor::Quota::per_second(NonZeroU32::new(BENCH_RATE).expect("non-zero"))
}

/// failsafe's breaker with its default policy (success rate over a time
/// window, or else consecutive failures), `failsafe::Config::new().build()`.
pub fn failsafe_breaker() -> impl failsafe::CircuitBreaker {
    failsafe::Config::new().build()
}

/// tower-resilience's circuit breaker (builder defaults) around `inner`,
/// and its handle.
pub fn tr_breaker<S>(
    inner: S,
) -> (
    trcb::CircuitBreaker<S, trcb::DefaultClassifier>,
    trcb::CircuitBreakerHandle,
) {
    let (layer, handle) = trcb::CircuitBreakerLayer::builder()
        .name(NAME)
        .build_with_handle()
        .expect("valid tower-resilience breaker config");
    (layer.layer(inner), handle)
}

/// tower-resilience's rate limiter (fixed window, reject mode): `limit` per
/// `period`, waiting at most `timeout` for a permit.
pub fn tr_rate_limiter<S>(
    inner: S,
    limit: usize,
    period: Duration,
    timeout: Duration,
) -> trrl::RateLimiter<S> {
    trrl::RateLimiterLayer::builder()
        .name(NAME)
        .limit_for_period(limit)
        .refresh_period(period)
        .timeout_duration(timeout)
        .build()
        .expect("valid tower-resilience rate limiter config")
        .layer(inner)
}

// ------------------------------------------------------- layered variants

/// The tower services compared, each over [`Echo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layered {
    /// [`Echo`] alone: the baseline.
    Bare,
    /// Our closed breaker.
    IotCircuitBreaker,
    /// Our closed breaker, leaked handle.
    IotCircuitBreakerLeaked,
    /// Our rate limit layer.
    IotRateLimit,
    /// Our retry layer, budget on, first attempt succeeds.
    IotRetry,
    /// Our timeout layer.
    IotTimeout,
    /// Our bulkhead.
    IotBulkhead,
    /// Rate limit -> breaker -> retry -> timeout.
    IotStack,
    /// The same with the breaker leaked.
    IotStackLeaked,
    /// The same with the breaker leaked and every clock on `QuantaClock`.
    IotStackQuanta,
    /// `tower::limit::RateLimit`.
    TowerRateLimit,
    /// `tower::timeout::Timeout`.
    TowerTimeout,
    /// tower-resilience's circuit breaker.
    TrCircuitBreaker,
    /// tower-resilience's rate limiter.
    TrRateLimiter,
    /// [`Echo`] again, measured last: drift of the baseline during the run.
    BareEnd,
}

impl Layered {
    /// Every variant, in benchmark order.
    pub const ALL: [Layered; 15] = [
        Layered::Bare,
        Layered::IotCircuitBreaker,
        Layered::IotCircuitBreakerLeaked,
        Layered::IotRateLimit,
        Layered::IotRetry,
        Layered::IotTimeout,
        Layered::IotBulkhead,
        Layered::IotStack,
        Layered::IotStackLeaked,
        Layered::IotStackQuanta,
        Layered::TowerRateLimit,
        Layered::TowerTimeout,
        Layered::TrCircuitBreaker,
        Layered::TrRateLimiter,
        Layered::BareEnd,
    ];

    /// The criterion benchmark id.
    pub fn id(self) -> &'static str {
        match self {
            Layered::Bare => "bare",
            Layered::IotCircuitBreaker => "iot_circuit_breaker",
            Layered::IotCircuitBreakerLeaked => "iot_circuit_breaker_leaked",
            Layered::IotRateLimit => "iot_rate_limit",
            Layered::IotRetry => "iot_retry",
            Layered::IotTimeout => "iot_timeout",
            Layered::IotBulkhead => "iot_bulkhead",
            Layered::IotStack => "iot_stack",
            Layered::IotStackLeaked => "iot_stack_leaked",
            Layered::IotStackQuanta => "iot_stack_quanta",
            Layered::TowerRateLimit => "tower_rate_limit",
            Layered::TowerTimeout => "tower_timeout",
            Layered::TrCircuitBreaker => "tower_resilience_circuit_breaker",
            Layered::TrRateLimiter => "tower_resilience_rate_limiter",
            Layered::BareEnd => "bare_end",
        }
    }

    /// The row label in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Layered::Bare => "bare service (baseline)",
            Layered::IotCircuitBreaker => "iot-resilience circuit breaker, closed",
            Layered::IotCircuitBreakerLeaked => {
                "iot-resilience circuit breaker, closed, leaked handle"
            }
            Layered::IotRateLimit => "iot-resilience rate limit layer",
            Layered::IotRetry => "iot-resilience retry (budget on, first attempt succeeds)",
            Layered::IotTimeout => "iot-resilience timeout",
            Layered::IotBulkhead => "iot-resilience bulkhead",
            Layered::IotStack => "iot-resilience stack: rate limit -> breaker -> retry -> timeout",
            Layered::IotStackLeaked => "iot-resilience stack, breaker leaked",
            Layered::IotStackQuanta => "iot-resilience stack, breaker leaked, `QuantaClock`",
            Layered::TowerRateLimit => "tower `RateLimit`",
            Layered::TowerTimeout => "tower `Timeout`",
            Layered::TrCircuitBreaker => "tower-resilience circuit breaker, closed",
            Layered::TrRateLimiter => "tower-resilience rate limiter",
            Layered::BareEnd => "bare service, measured last (drift check)",
        }
    }

    /// Whether this is one of iot-resilience's layers.
    pub fn ours(self) -> bool {
        matches!(
            self,
            Layered::IotCircuitBreaker
                | Layered::IotCircuitBreakerLeaked
                | Layered::IotRateLimit
                | Layered::IotRetry
                | Layered::IotTimeout
                | Layered::IotBulkhead
                | Layered::IotStack
                | Layered::IotStackLeaked
                | Layered::IotStackQuanta
        )
    }
}

/// Receives each built [`Layered`] service with its concrete type, so
/// callers (the benchmark) monomorphise their loop per variant.
pub trait ServiceVisitor {
    /// Called once with the built service.
    fn visit<S>(&mut self, which: Layered, service: S)
    where
        S: Service<u64, Response = u64> + 'static,
        S::Error: fmt::Debug;
}

/// Builds `which` in its benchmark configuration and hands it to `visitor`.
/// Needs a tokio runtime context (tower's `RateLimit` creates a sleep).
pub fn build_layered(which: Layered, visitor: &mut impl ServiceVisitor) {
    let second = Duration::from_secs(1);
    match which {
        Layered::Bare | Layered::BareEnd => visitor.visit(which, Echo),
        Layered::IotCircuitBreaker => visitor.visit(which, iot_breaker(Echo, breaker_config()).0),
        Layered::IotCircuitBreakerLeaked => {
            visitor.visit(which, iot_breaker_leaked(Echo, breaker_config()).0)
        }
        Layered::IotRateLimit => visitor.visit(which, iot_rate_limit(Echo, rate_limit_config()).0),
        Layered::IotRetry => visitor.visit(which, iot_retry(Echo, retry_config()).0),
        Layered::IotTimeout => visitor.visit(which, iot_timeout(Echo, timeout_config())),
        Layered::IotBulkhead => visitor.visit(which, iot_bulkhead(Echo, bulkhead_config())),
        Layered::IotStack => visitor.visit(which, iot_stack(Echo, StackConfig::default()).0),
        Layered::IotStackLeaked => {
            let config = StackConfig {
                leak_breaker: true,
                ..StackConfig::default()
            };
            visitor.visit(which, iot_stack(Echo, config).0)
        }
        Layered::IotStackQuanta => {
            visitor.visit(which, iot_stack_quanta(Echo, StackConfig::default()))
        }
        Layered::TowerRateLimit => {
            visitor.visit(which, tower_rate_limit(Echo, u64::from(BENCH_RATE), second))
        }
        Layered::TowerTimeout => visitor.visit(which, tower_timeout(Echo, second)),
        Layered::TrCircuitBreaker => visitor.visit(which, tr_breaker(Echo).0),
        Layered::TrRateLimiter => visitor.visit(
            which,
            tr_rate_limiter(
                Echo,
                BENCH_RATE as usize,
                second,
                Duration::from_millis(100),
            ),
        ),
    }
}

/// Builds `which` and returns a closure making one call through it (for
/// tests; the indirection does not matter there).
pub fn layered_caller(which: Layered) -> Box<dyn FnMut() -> u64> {
    struct Boxer(Option<Box<dyn FnMut() -> u64>>);
    impl ServiceVisitor for Boxer {
        fn visit<S>(&mut self, which: Layered, mut service: S)
        where
            S: Service<u64, Response = u64> + 'static,
            S::Error: fmt::Debug,
        {
            self.0 = Some(Box::new(move || {
                call(&mut service, black_box(REQUEST))
                    .unwrap_or_else(|e| panic!("{}: {e:?}", which.id()))
            }));
        }
    }
    let mut boxer = Boxer(None);
    build_layered(which, &mut boxer);
    boxer.0.expect("visited")
}

// -------------------------------------------------------- direct variants

/// Plain calls without tower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direct {
    /// `Ok(black_box(x))`: the baseline of the closures below.
    BareClosure,
    /// `RateLimiter::check(1)` of iot-resilience.
    IotRateLimiterCheck,
    /// The same on `QuantaClock` (feature `quanta`), governor's clock.
    IotRateLimiterCheckQuanta,
    /// `DefaultDirectRateLimiter::check()` of governor.
    GovernorCheck,
    /// Our breaker by hand: `try_acquire`, the closure, `success`.
    IotBreakerPermit,
    /// The same, leaked handle.
    IotBreakerPermitLeaked,
    /// failsafe's `CircuitBreaker::call` with the closure.
    FailsafeCall,
    /// Diagnostic: `RateLimiter::check_at(1, now)` with `now` read once per
    /// 1024 calls, i.e. the check without its clock read.
    IotRateLimiterCheckAt,
    /// Diagnostic: `std::time::Instant::now()`.
    StdInstantNow,
    /// Diagnostic: iot-resilience's default clock, `TokioClock::now()`.
    TokioClockNow,
    /// Diagnostic: governor's default clock (quanta), `QuantaClock::now()`.
    QuantaClockNow,
    /// Diagnostic: `Arc::clone` + drop (two atomic read-modify-writes).
    ArcCloneDrop,
}

impl Direct {
    /// Every variant, in benchmark order.
    pub const ALL: [Direct; 12] = [
        Direct::BareClosure,
        Direct::IotRateLimiterCheck,
        Direct::IotRateLimiterCheckQuanta,
        Direct::GovernorCheck,
        Direct::IotBreakerPermit,
        Direct::IotBreakerPermitLeaked,
        Direct::FailsafeCall,
        Direct::IotRateLimiterCheckAt,
        Direct::StdInstantNow,
        Direct::TokioClockNow,
        Direct::QuantaClockNow,
        Direct::ArcCloneDrop,
    ];

    /// The criterion benchmark id.
    pub fn id(self) -> &'static str {
        match self {
            Direct::BareClosure => "bare_closure",
            Direct::IotRateLimiterCheck => "iot_rate_limiter_check",
            Direct::IotRateLimiterCheckQuanta => "iot_rate_limiter_check_quanta",
            Direct::GovernorCheck => "governor_check",
            Direct::IotBreakerPermit => "iot_breaker_permit",
            Direct::IotBreakerPermitLeaked => "iot_breaker_permit_leaked",
            Direct::FailsafeCall => "failsafe_call",
            Direct::IotRateLimiterCheckAt => "iot_rate_limiter_check_at",
            Direct::StdInstantNow => "std_instant_now",
            Direct::TokioClockNow => "tokio_clock_now",
            Direct::QuantaClockNow => "quanta_clock_now",
            Direct::ArcCloneDrop => "arc_clone_drop",
        }
    }

    /// The row label in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Direct::BareClosure => "bare closure (baseline)",
            Direct::IotRateLimiterCheck => "iot-resilience `RateLimiter::check(1)`",
            Direct::IotRateLimiterCheckQuanta => {
                "iot-resilience `RateLimiter::check(1)` on `QuantaClock`"
            }
            Direct::GovernorCheck => "governor `DefaultDirectRateLimiter::check()`",
            Direct::IotBreakerPermit => "iot-resilience breaker by hand: `try_acquire` + `success`",
            Direct::IotBreakerPermitLeaked => "the same, leaked handle",
            Direct::FailsafeCall => "failsafe `Config::new().build()` + `call`",
            Direct::IotRateLimiterCheckAt => {
                "diagnostic: iot-resilience `check_at` (clock read once per 1024 calls)"
            }
            Direct::StdInstantNow => "diagnostic: `std::time::Instant::now()`",
            Direct::TokioClockNow => {
                "diagnostic: `TokioClock::now()` (iot-resilience's default clock)"
            }
            Direct::QuantaClockNow => "diagnostic: governor `QuantaClock::now()`",
            Direct::ArcCloneDrop => "diagnostic: `Arc::clone` + drop",
        }
    }

    /// Whether this is one of iot-resilience's primitives.
    pub fn ours(self) -> bool {
        matches!(
            self,
            Direct::IotRateLimiterCheck
                | Direct::IotRateLimiterCheckQuanta
                | Direct::IotBreakerPermit
                | Direct::IotBreakerPermitLeaked
        )
    }

    /// Whether this is a diagnostic row (not a compared variant).
    pub fn diagnostic(self) -> bool {
        matches!(
            self,
            Direct::IotRateLimiterCheckAt
                | Direct::StdInstantNow
                | Direct::TokioClockNow
                | Direct::QuantaClockNow
                | Direct::ArcCloneDrop
        )
    }
}

/// Receives each [`Direct`] variant as a closure with its concrete type.
pub trait FnVisitor {
    /// Called once with the closure making one call.
    fn visit<F: FnMut() -> u64 + 'static>(&mut self, which: Direct, f: F);
}

/// The closure every breaker guards: `Ok(x)`, `x` hidden from the optimiser.
#[inline]
pub fn guarded() -> Result<u64, io::Error> {
    Ok(black_box(REQUEST))
}

/// Builds `which` in its benchmark configuration and hands it to `visitor`.
pub fn build_direct(which: Direct, visitor: &mut impl FnVisitor) {
    match which {
        Direct::BareClosure => visitor.visit(which, || guarded().expect("ok")),
        Direct::IotRateLimiterCheck => {
            let limiter = iot_limiter(rate_limit_config());
            visitor.visit(which, move || {
                limiter.check(1).expect("the bench limit never rejects");
                1
            })
        }
        Direct::IotRateLimiterCheckQuanta => {
            let limiter = iot_limiter_quanta(rate_limit_config());
            visitor.visit(which, move || {
                limiter.check(1).expect("the bench limit never rejects");
                1
            })
        }
        Direct::GovernorCheck => {
            let limiter = governor_limiter(governor_bench_quota());
            visitor.visit(which, move || {
                limiter.check().expect("the bench quota never rejects");
                1
            })
        }
        Direct::IotBreakerPermit | Direct::IotBreakerPermitLeaked => {
            let (_, mut handle) = iot_breaker(Echo, breaker_config());
            if which == Direct::IotBreakerPermitLeaked {
                handle = handle.leak();
            }
            visitor.visit(which, move || {
                let permit = handle.try_acquire().expect("closed");
                let result = guarded();
                match &result {
                    Ok(_) => permit.success(),
                    Err(_) => permit.failure(),
                }
                result.expect("ok")
            })
        }
        Direct::FailsafeCall => {
            use failsafe::CircuitBreaker as _;
            let breaker = failsafe_breaker();
            visitor.visit(which, move || breaker.call(guarded).expect("closed"))
        }
        Direct::IotRateLimiterCheckAt => {
            let limiter = iot_limiter(rate_limit_config());
            let clock = TokioClock;
            let mut now = clock.now();
            let mut n = 0u32;
            visitor.visit(which, move || {
                n = n.wrapping_add(1);
                if n % 1024 == 0 {
                    now = clock.now();
                }
                limiter
                    .check_at(1, black_box(now))
                    .expect("the bench limit never rejects");
                1
            })
        }
        Direct::StdInstantNow => visitor.visit(which, || {
            black_box(std::time::Instant::now());
            1
        }),
        Direct::TokioClockNow => visitor.visit(which, || {
            black_box(TokioClock.now());
            1
        }),
        Direct::QuantaClockNow => {
            use governor::clock::Clock as _;
            let clock = governor::clock::QuantaClock::default();
            visitor.visit(which, move || {
                black_box(clock.now());
                1
            })
        }
        Direct::ArcCloneDrop => {
            let shared = Arc::new(REQUEST);
            visitor.visit(which, move || *black_box(Arc::clone(&shared)))
        }
    }
}

/// Builds `which` and returns its closure boxed (for tests).
pub fn direct_caller(which: Direct) -> Box<dyn FnMut() -> u64> {
    struct Boxer(Option<Box<dyn FnMut() -> u64>>);
    impl FnVisitor for Boxer {
        fn visit<F: FnMut() -> u64 + 'static>(&mut self, _: Direct, f: F) {
            self.0 = Some(Box::new(f));
        }
    }
    let mut boxer = Boxer(None);
    build_direct(which, &mut boxer);
    boxer.0.expect("visited")
}

// ------------------------------------------------ services for the tests

/// Inner services for the setup tests: a flaky one and one that never
/// answers.
pub mod test_services {
    use super::*;
    use std::future::{Pending, Ready, pending, ready};
    use std::task::{Context, Poll};

    /// Fails its first `n` calls (shared by clones), then echoes; counts
    /// calls.
    #[derive(Debug, Clone, Default)]
    pub struct Flaky {
        failures_left: Arc<AtomicU32>,
        calls: Arc<AtomicU32>,
    }

    impl Flaky {
        /// Fails the next `n` calls.
        pub fn failing(n: u32) -> Self {
            Self {
                failures_left: Arc::new(AtomicU32::new(n)),
                calls: Arc::default(),
            }
        }

        /// Calls so far, by all clones.
        pub fn calls(&self) -> u32 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl Service<u64> for Flaky {
        type Response = u64;
        type Error = io::Error;
        type Future = Ready<Result<u64, io::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: u64) -> Self::Future {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let fail = self
                .failures_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            ready(if fail {
                Err(io::Error::other("flaky"))
            } else {
                Ok(request)
            })
        }
    }

    /// Always ready; its response never comes.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Never;

    impl Service<u64> for Never {
        type Response = u64;
        type Error = io::Error;
        type Future = Pending<Result<u64, io::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: u64) -> Self::Future {
            pending()
        }
    }
}
