//! Doc tests (only built by `cargo test --doc`) that pin the API-stability
//! attributes: outside the crate, an exhaustive `match` on an enum that may
//! grow, or a struct expression for a configuration, must not compile
//! (`#[non_exhaustive]`), while the same code with a wildcard arm, or with
//! `Default` and the builders, does. Removing an attribute fails its test.

macro_rules! non_exhaustive_enum {
    ($name:ident, $ty:literal, $arms:literal) => {
        #[doc = concat!(
            "```compile_fail,E0004\n",
            "use iot_resilience::{*, backoff::*, bulkhead::*, circuit_breaker::*, fallback::*, rate_limit::*, retry::*, timeout::*};\n",
            "fn f(x: ", $ty, ") { match x { ", $arms, " } }\n",
            "```\n\n",
            "```\n",
            "use iot_resilience::{*, backoff::*, bulkhead::*, circuit_breaker::*, fallback::*, rate_limit::*, retry::*, timeout::*};\n",
            "#[allow(unreachable_patterns)]\n",
            "fn f(x: ", $ty, ") { match x { ", $arms, " _ => {} } }\n",
            "```\n",
        )]
        pub struct $name;
    };
}

macro_rules! non_exhaustive_config {
    ($name:ident, $ty:literal) => {
        #[doc = concat!(
            "```compile_fail,E0639\n",
            "use iot_resilience::{backoff::*, bulkhead::*, circuit_breaker::*, fallback::*, rate_limit::*, retry::*, timeout::*};\n",
            "let _ = ", $ty, " { ..Default::default() };\n",
            "```\n\n",
            "```\n",
            "use iot_resilience::{backoff::*, bulkhead::*, circuit_breaker::*, fallback::*, rate_limit::*, retry::*, timeout::*};\n",
            "let mut config = ", $ty, "::default();\n",
            "config.name = \"changed\".into();\n",
            "```\n",
        )]
        pub struct $name;
    };
}

non_exhaustive_enum!(
    RateLimitErrorGrows,
    "RateLimitError<()>",
    "RateLimitError::Rejected { .. } | RateLimitError::InsufficientCapacity { .. } | RateLimitError::NotReady | RateLimitError::Inner(()) => {}"
);
non_exhaustive_enum!(
    CheckErrorGrows,
    "CheckError",
    "CheckError::NotUntil(_) | CheckError::InsufficientCapacity { .. } => {}"
);
non_exhaustive_enum!(
    RateLimitModeGrows,
    "RateLimitMode",
    "RateLimitMode::Reject | RateLimitMode::Wait => {}"
);
non_exhaustive_enum!(
    CircuitBreakerErrorGrows,
    "CircuitBreakerError<()>",
    "CircuitBreakerError::Open { .. } | CircuitBreakerError::Inner(()) | CircuitBreakerError::NotReady => {}"
);
non_exhaustive_enum!(
    OutcomeGrows,
    "Outcome",
    "Outcome::Success | Outcome::Failure | Outcome::Ignored => {}"
);
non_exhaustive_enum!(
    SlidingWindowGrows,
    "SlidingWindow",
    "SlidingWindow::CountBased { .. } | SlidingWindow::TimeBased { .. } => {}"
);
non_exhaustive_enum!(
    TransitionReasonGrows,
    "TransitionReason",
    "TransitionReason::FailureRateExceeded | TransitionReason::SlowCallRateExceeded | TransitionReason::OpenDurationElapsed | TransitionReason::ProbesSucceeded | TransitionReason::HalfOpenTimedOut | TransitionReason::Manual => {}"
);
non_exhaustive_enum!(
    RetryErrorGrows,
    "RetryError<()>",
    "RetryError::Failed { .. } | RetryError::NotReady => {}"
);
non_exhaustive_enum!(
    GiveUpReasonGrows,
    "GiveUpReason",
    "GiveUpReason::MaxAttempts | GiveUpReason::BackoffExhausted | GiveUpReason::Deadline | GiveUpReason::BudgetExhausted | GiveUpReason::NotRetryable | GiveUpReason::ServerSaidDoNotRetry | GiveUpReason::ReadinessFailed => {}"
);
non_exhaustive_enum!(
    BulkheadErrorGrows,
    "BulkheadError<()>",
    "BulkheadError::Full { .. } | BulkheadError::NotReady | BulkheadError::Inner(()) => {}"
);
non_exhaustive_enum!(
    TimeoutErrorGrows,
    "TimeoutError<()>",
    "TimeoutError::Elapsed { .. } | TimeoutError::Inner(()) | TimeoutError::NotReady => {}"
);
non_exhaustive_enum!(
    FallbackErrorGrows,
    "FallbackError<(), ()>",
    "FallbackError::Inner(()) | FallbackError::Fallback { .. } | FallbackError::NotReady => {}"
);
non_exhaustive_enum!(
    BackoffStrategyGrows,
    "BackoffStrategy",
    "BackoffStrategy::Constant | BackoffStrategy::Exponential | BackoffStrategy::FullJitter | BackoffStrategy::EqualJitter | BackoffStrategy::DecorrelatedJitter => {}"
);
non_exhaustive_enum!(
    HintGrows,
    "Hint",
    "Hint::None | Hint::DoNotRetry | Hint::RetryAfter(_) => {}"
);

non_exhaustive_config!(RateLimitConfigGrows, "RateLimitConfig");
non_exhaustive_config!(KeyedRateLimitConfigGrows, "KeyedRateLimitConfig");
non_exhaustive_config!(CircuitBreakerConfigGrows, "CircuitBreakerConfig");
non_exhaustive_config!(RetryConfigGrows, "RetryConfig");
non_exhaustive_config!(BulkheadConfigGrows, "BulkheadConfig");
non_exhaustive_config!(TimeoutConfigGrows, "TimeoutConfig");
non_exhaustive_config!(FallbackConfigGrows, "FallbackConfig");

/// ```compile_fail,E0639
/// use iot_resilience::circuit_breaker::*;
/// let _ = StateTransition { from: State::Closed, to: State::Open, reason: TransitionReason::Manual };
/// ```
///
/// ```compile_fail,E0639
/// use iot_resilience::retry::*;
/// let _ = RetryBudgetConfig { ..Default::default() };
/// ```
///
/// ```compile_fail,E0639
/// use iot_resilience::circuit_breaker::*;
/// let _ = KeyedCircuitBreakerConfig { ..Default::default() };
/// ```
///
/// ```compile_fail,E0639
/// use iot_resilience::backoff::*;
/// let _ = BackoffConfig { ..Default::default() };
/// ```
pub struct OtherStructsGrow;
