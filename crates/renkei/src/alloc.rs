//! The process's memory allocator: mimalloc instead of the system's (glibc's malloc on
//! Linux), and its settings. `renkei-bench` compiles this same file into its binary, so that
//! the engine and the store it runs in-process allocate as a deployment does.
//!
//! **Why.** A server and its sandbox allocate and free small objects without pause (JSON
//! values, rows, strings, a page of people), from many threads. In a profile of a 100,000
//! people import (docs/benchmarks.md, "People import", the "fourth measurement"), glibc's
//! allocator took about a fifth of all CPU, much of it coalescing free chunks
//! (`malloc_consolidate`, `unlink_chunk`) after the emulator had seeded a large heap. With mimalloc the same imports
//! ran 1.3 to 2 times as fast.
//!
//! **Memory.** Two settings keep the resident size where glibc's was (the import's target is
//! 100 MB): no transparent huge pages (the `no_thp` feature: a 2 MiB page is resident as soon
//! as one byte of it is touched), and freed memory given back to the OS after 50 ms instead
//! of mimalloc's default of one second.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`, by its position in `mi_option_e` (`mimalloc.h`), which
/// the Rust bindings do not name. The test below checks it against the option's default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays with the allocator before it is returned to the OS.
const PURGE_DELAY_MS: std::ffi::c_long = 50;

/// Applies the settings above; call it first thing in `main`. mimalloc reads the purge delay
/// each time it purges, so setting it after the allocator started is effective.
pub fn configure() {
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table; it has no
    // preconditions and is safe to call from any thread at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

#[cfg(test)]
mod tests {
    /// The option at `MI_OPTION_PURGE_DELAY` has the purge delay's default (1,000 ms in
    /// mimalloc 3, `options.c`), so the constant names the option it claims to.
    #[test]
    fn the_option_set_is_the_purge_delay() {
        // SAFETY: reading an option has no preconditions.
        let default = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(default, 1_000);
    }
}
