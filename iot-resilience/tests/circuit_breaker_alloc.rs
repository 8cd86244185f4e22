//! Steady-state calls through a closed breaker do not allocate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::noop_waker_ref;
use iot_resilience::ManualClock;
use iot_resilience::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerLayer, SlidingWindow};
use tower::{Layer, Service, service_fn};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_per_1000_calls(config: CircuitBreakerConfig, leak: bool) -> u64 {
    let mut layer = CircuitBreakerLayer::with_clock(config, ManualClock::new()).unwrap();
    if leak {
        layer = layer.leak();
    }
    let mut svc = layer.layer(service_fn(|n: u64| {
        std::future::ready(if n % 7 == 0 { Err(()) } else { Ok(n) })
    }));
    let mut cx = Context::from_waker(noop_waker_ref());
    let mut run = |n: u64| {
        assert!(svc.poll_ready(&mut cx).is_ready());
        let fut = pin!(svc.call(n));
        assert!(matches!(fut.poll(&mut cx), Poll::Ready(_)));
    };
    for n in 0..1000 {
        run(n); // warm up: fill the window
    }
    let before = ALLOCS.with(Cell::get);
    for n in 0..1000 {
        run(n);
    }
    ALLOCS.with(Cell::get) - before
}

#[test]
fn closed_breaker_calls_do_not_allocate() {
    // The counter works: one box is one allocation.
    let before = ALLOCS.with(Cell::get);
    drop(std::hint::black_box(Box::new(1u64)));
    assert_eq!(ALLOCS.with(Cell::get) - before, 1);

    let count = CircuitBreakerConfig::default();
    assert_eq!(allocations_per_1000_calls(count.clone(), false), 0);
    assert_eq!(allocations_per_1000_calls(count.clone(), true), 0);
    let slow = count.slow_call_duration_threshold(Duration::from_secs(1));
    assert_eq!(allocations_per_1000_calls(slow.clone(), false), 0);
    let time = slow.sliding_window(SlidingWindow::time(Duration::from_secs(60)));
    assert_eq!(allocations_per_1000_calls(time, false), 0);
}
