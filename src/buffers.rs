//! Batch-sized buffers kept from one invocation to the next.
//!
//! A warm Lambda invocation needs the same large buffers as the one before it: the base64-decoded
//! event, the decompressed CloudWatch Logs JSON (~1 MiB) and the `_bulk` body (~2.5 MiB). Freed
//! and allocated again, they cost fresh pages every invocation (the allocator hands large blocks
//! back to the kernel). Kept here instead, a warm invocation writes into pages it already has.
//!
//! - [`with_scratch`]: a per-thread buffer for a step that finishes before it returns (base64 and
//!   gzip decoding: the JSON parse copies what it keeps).
//! - [`body`] and [`recycle`]: `_bulk` bodies, which outlive the encoding (they are sent, possibly
//!   from another thread in the CLI), go back to a small shared pool once sent.
//!
//! What is kept is bounded: at most [`POOLED_BODIES`] bodies, and no buffer over
//! [`MAX_KEPT_BYTES`] is kept (an outsized batch's buffer is freed, not held for the life of the
//! process). Contents are never carried over: a buffer is cleared before it is handed out.

use std::cell::RefCell;
use std::sync::Mutex;

/// Largest buffer kept for the next invocation. A CloudWatch Logs batch is ~1 MiB decompressed
/// and its body ~2.5 MiB; a 10,000-event CLI batch's body is ~20 MiB.
pub const MAX_KEPT_BYTES: usize = 32 * 1024 * 1024;

/// Bodies kept at once: one per request in flight of a backfill (its default is 2) and the one
/// being encoded.
pub const POOLED_BODIES: usize = 4;

/// Which per-thread scratch buffer: each step that nests inside another needs its own.
#[derive(Debug, Clone, Copy)]
pub enum Scratch {
    /// The base64 layer's output (the gzipped payload).
    Base64,
    /// The gzip layer's output (the CloudWatch Logs JSON).
    Decompressed,
}

thread_local! {
    static BASE64: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static DECOMPRESSED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

static BODIES: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Runs `f` with this thread's `which` buffer, empty. The buffer is taken out while `f` runs, so
/// a nested call for the same buffer gets a fresh one; the larger is kept afterwards.
pub fn with_scratch<T>(which: Scratch, f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    let key = match which {
        Scratch::Base64 => &BASE64,
        Scratch::Decompressed => &DECOMPRESSED,
    };
    let mut buffer = key.take();
    let result = f(&mut buffer);
    if buffer.capacity() <= MAX_KEPT_BYTES {
        buffer.clear();
        key.with_borrow_mut(|slot| {
            if slot.capacity() < buffer.capacity() {
                *slot = buffer;
            }
        });
    }
    result
}

/// An empty body buffer with room for at least `bytes`: the largest one kept, else a new one.
pub fn body(bytes: usize) -> Vec<u8> {
    let kept = BODIES.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
    let mut buffer = kept.unwrap_or_default();
    buffer.clear();
    buffer.reserve(bytes);
    buffer
}

/// Gives a body back once sent. When the pool is full, the smallest buffer is dropped; one over
/// [`MAX_KEPT_BYTES`] is never kept.
pub fn recycle(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > MAX_KEPT_BYTES {
        return;
    }
    buffer.clear();
    let mut pool = BODIES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    pool.push(buffer);
    // The largest last, so `body` hands it out first.
    pool.sort_unstable_by_key(Vec::capacity);
    if pool.len() > POOLED_BODIES {
        pool.remove(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_buffer_is_empty_when_handed_out_and_its_pages_are_kept() {
        let first = with_scratch(Scratch::Decompressed, |buffer| {
            assert!(buffer.is_empty());
            buffer.extend_from_slice(&[7; 100_000]);
            buffer.as_ptr() as usize
        });
        let second = with_scratch(Scratch::Decompressed, |buffer| {
            assert!(buffer.is_empty(), "nothing is carried over from the last use");
            assert!(buffer.capacity() >= 100_000, "the pages of the last use are reused");
            buffer.as_ptr() as usize
        });
        assert_eq!(first, second);
    }

    #[test]
    fn a_nested_use_of_the_same_scratch_gets_its_own_buffer() {
        with_scratch(Scratch::Base64, |outer| {
            outer.extend_from_slice(b"outer");
            with_scratch(Scratch::Base64, |inner| {
                assert!(inner.is_empty());
                inner.extend_from_slice(b"inner");
            });
            assert_eq!(outer, b"outer");
        });
    }

    #[test]
    fn an_outsized_scratch_buffer_is_not_kept() {
        with_scratch(Scratch::Base64, |buffer| buffer.reserve(MAX_KEPT_BYTES + 1));
        with_scratch(Scratch::Base64, |buffer| assert!(buffer.capacity() <= MAX_KEPT_BYTES));
    }

    #[test]
    fn bodies_come_back_cleared_and_the_pool_is_bounded() {
        // The pool is shared by the whole test binary: only what this test can rely on is checked.
        let mut sent = body(1 << 20);
        sent.extend_from_slice(b"{\"index\":{}}\n");
        recycle(sent);
        let again = body(10);
        assert!(again.is_empty(), "a recycled body is handed out empty");
        for _ in 0..POOLED_BODIES + 3 {
            recycle(Vec::with_capacity(1024));
        }
        recycle(Vec::with_capacity(3 << 20));
        {
            let pool = BODIES.lock().unwrap();
            assert!(pool.len() <= POOLED_BODIES);
            assert!(pool.iter().any(|b| b.capacity() >= 3 << 20), "small buffers do not keep a large one out");
        }
        recycle(Vec::with_capacity(MAX_KEPT_BYTES + 1));
        assert!(BODIES.lock().unwrap().iter().all(|b| b.capacity() <= MAX_KEPT_BYTES));
    }
}
