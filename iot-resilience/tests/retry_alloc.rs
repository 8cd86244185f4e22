//! A call that succeeds at its first attempt allocates nothing: no
//! schedule, no sleep, no boxing (budget and deadline enabled).

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use iot_resilience::retry::{RetryConfig, RetryLayer};
use tower::{Layer, Service};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: forwards to the system allocator with the same layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone)]
struct Echo;

impl Service<u32> for Echo {
    type Response = u32;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<u32, std::io::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: u32) -> Self::Future {
        std::future::ready(Ok(request))
    }
}

#[test]
fn first_attempt_success_does_not_allocate() {
    let config = RetryConfig::default().deadline(Duration::from_secs(1));
    let mut service = RetryLayer::new(config).unwrap().layer(Echo);
    let mut cx = Context::from_waker(Waker::noop());

    let mut call = |i: u32| {
        assert!(service.poll_ready(&mut cx).is_ready());
        let future = pin!(service.call(i));
        assert!(matches!(future.poll(&mut cx), Poll::Ready(Ok(n)) if n == i));
    };
    call(0); // warm-up: lazily initialised statics
    let probe = ALLOCATIONS.load(Ordering::SeqCst);
    drop(std::hint::black_box(Box::new(0u64)));
    assert!(
        ALLOCATIONS.load(Ordering::SeqCst) > probe,
        "the counter counts"
    );
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for i in 1..1000 {
        call(i);
    }
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst) - before, 0);
}
