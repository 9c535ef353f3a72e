//! Hints to the processor and the kernel: they need `unsafe` (or a system call) to name, but
//! cannot change what a program computes — only how fast.

use crate::{cvt, Result};

/// Starts loading the cache line holding `*v` into all cache levels, without waiting for it.
///
/// A hint only: it never faults, never changes memory and never blocks the instructions after
/// it (unlike a plain load, which holds its place in the reorder window until the line comes).
/// The flow table issues one per packet of a group, several packets ahead of the update that
/// needs the line, so the misses of a table far larger than the caches overlap.
#[inline(always)]
pub fn prefetch<T>(v: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: PREFETCHT0 (SSE, present on every x86_64) reads nothing architecturally and
        // cannot fault; the pointer comes from a live reference anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((v as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// Asks the kernel to back the memory of `v`'s whole capacity with transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`), where the system allows them on request
/// (`/sys/kernel/mm/transparent_hugepage/enabled` = `madvise` or `always`).
///
/// Call it before the memory is first written: pages already faulted in stay small until the
/// kernel's background collapse gets to them. A table of a million flows spans 120 MB; in 4 KiB
/// pages nearly every lookup also misses the TLB, in 2 MiB pages almost none does.
pub fn advise_huge_pages<T>(v: &mut Vec<T>) -> Result<()> {
    let page = crate::page_size();
    let start = v.as_mut_ptr() as usize;
    let end = start + v.capacity() * size_of::<T>();
    // madvise wants a page-aligned start; only whole pages inside the allocation are named.
    let first = start.next_multiple_of(page);
    let last = end / page * page;
    if last <= first {
        return Ok(());
    }
    // SAFETY: [first, last) lies inside the allocation `v` owns (its capacity), which stays
    // alive across the call; MADV_HUGEPAGE changes no contents and no protection.
    let ret = unsafe {
        libc::madvise(
            first as *mut libc::c_void,
            last - first,
            libc::MADV_HUGEPAGE,
        )
    };
    cvt(ret, "madvise").map(drop)
}
