// SPDX-License-Identifier: GPL-2.0

//! COW PTE: copy-on-write sharing of PTE tables at fork.
//!
//! This crate is the policy core of COW PTE.  The C side (hooks in mm/,
//! kernel/sys.c and fs/, and `mm/cow_pte_glue.c`) calls the `extern "C"`
//! functions below, declared in `include/linux/cow_pte.h`.  They decide
//! whether a process shares its PTE tables at fork, and own the state
//! transitions of a shared table: share, break, let go (`share.rs`).  The
//! per-entry loops stay in C next to the fork code they reuse.
//!
//! See `Documentation/mm/cow_pte.rst` for the design.

#[path = "cow_pte/counts.rs"]
mod counts;
#[path = "cow_pte/mm.rs"]
mod mm;
#[path = "cow_pte/mode.rs"]
mod mode;
#[path = "cow_pte/pgtable.rs"]
mod pgtable;
#[path = "cow_pte/prctl.rs"]
mod prctl;
#[path = "cow_pte/share.rs"]
mod share;
#[path = "cow_pte/stats.rs"]
mod stats;

use crate::counts::{TableCounts, COUNTS};
use crate::mm::{Mm, Vma};
use crate::mode::Mode;
use crate::pgtable::Pmd;
use crate::share::{Alloc, ZapKind};
use crate::stats::Event;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::error::{code::EINVAL, from_result};
use kernel::ffi::{c_char, c_int, c_ulong};
use kernel::str::CStr;

/// `prctl(PR_SET_COW_PTE, flags, arg3, arg4, arg5)` for `mm`.
///
/// # Safety
///
/// `mm` must be NULL or point to a valid `mm_struct` (the caller's own).
#[no_mangle]
pub unsafe extern "C" fn cow_pte_prctl_set(
    mm: *mut kernel::bindings::mm_struct,
    flags: c_ulong,
    arg3: c_ulong,
    arg4: c_ulong,
    arg5: c_ulong,
) -> c_int {
    from_result(|| {
        if mm.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `mm` is not NULL, so by the contract of this function it
        // is the caller's valid mm for the duration of the call.
        let mm = unsafe { Mm::from_raw(mm) };
        prctl::set(mm, flags, arg3, arg4, arg5)?;
        Ok(0)
    })
}

/// `prctl(PR_GET_COW_PTE, arg2, arg3, arg4, arg5)` for `mm`.
///
/// # Safety
///
/// `mm` must be NULL or point to a valid `mm_struct` (the caller's own).
#[no_mangle]
pub unsafe extern "C" fn cow_pte_prctl_get(
    mm: *mut kernel::bindings::mm_struct,
    arg2: c_ulong,
    arg3: c_ulong,
    arg4: c_ulong,
    arg5: c_ulong,
) -> c_int {
    from_result(|| {
        if mm.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `mm` is not NULL, so by the contract of this function it
        // is the caller's valid mm for the duration of the call.
        let mm = unsafe { Mm::from_raw(mm) };
        let flags = prctl::get(mm, arg2, arg3, arg4, arg5)?;
        // The flags are the two low bits: the conversion cannot fail.
        c_int::try_from(flags).map_err(|_| EINVAL)
    })
}

/// Applies execve's rule to the new `mm`: COW PTE survives only if asked.
///
/// # Safety
///
/// `mm` must point to a valid `mm_struct` not yet visible to other tasks.
#[no_mangle]
pub unsafe extern "C" fn cow_pte_exec_mm(mm: *mut kernel::bindings::mm_struct) {
    // SAFETY: By the contract of this function `mm` is valid.
    prctl::exec_mm(unsafe { Mm::from_raw(mm) });
}

/// The value of the "CowPte:" line of `/proc/<pid>/status`.
///
/// # Safety
///
/// `mm` must point to a valid `mm_struct` (the caller holds a reference).
#[no_mangle]
pub unsafe extern "C" fn cow_pte_mm_status(mm: *mut kernel::bindings::mm_struct) -> *const c_char {
    // SAFETY: By the contract of this function `mm` is valid.
    prctl::status(unsafe { Mm::from_raw(mm) }).as_char_ptr()
}

/// Parses a `cow_pte=` boot parameter value: the mode, or `-EINVAL`.
///
/// # Safety
///
/// `value` must be NULL or point to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn cow_pte_mode_parse(value: *const c_char) -> c_int {
    from_result(|| {
        if value.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: By the contract of this function `value` is a valid
        // NUL-terminated string that outlives this call.
        let value = unsafe { CStr::from_char_ptr(value) };
        let mode = Mode::parse(value)?;
        c_int::try_from(mode.to_raw()).map_err(|_| EINVAL)
    })
}

/// The system-wide mode now in force (`COW_PTE_MODE_*`).
#[no_mangle]
pub extern "C" fn cow_pte_mode_get() -> c_int {
    // The modes are small constants: the conversion cannot fail.
    c_int::try_from(Mode::current().to_raw()).unwrap_or(0)
}

/// Sets the system-wide mode; `-EINVAL` for a value that is not a mode.
#[no_mangle]
pub extern "C" fn cow_pte_mode_set(mode: c_int) -> c_int {
    from_result(|| {
        let raw = u32::try_from(mode).map_err(|_| EINVAL)?;
        Mode::from_raw(raw)?.set();
        Ok(0)
    })
}

/// Checks `PR_SET_COW_PTE` arguments without applying them (for KUnit).
#[no_mangle]
pub extern "C" fn cow_pte_prctl_check(
    flags: c_ulong,
    arg3: c_ulong,
    arg4: c_ulong,
    arg5: c_ulong,
) -> c_int {
    from_result(|| {
        prctl::check_set(flags, arg3, arg4, arg5)?;
        Ok(0)
    })
}

/// Fork: shares the PTE table under `src_pmd` with the child, or returns
/// false so that the caller copies it.
///
/// # Safety
///
/// Called from `copy_pmd_range()`: both VMAs are valid, both mmap locks
/// are held for write, `src_pmd` and `dst_pmd` are the PMD entries of
/// `[addr, end)` in the parent and in the child, and `src_pmd` maps a PTE
/// table.
#[no_mangle]
pub unsafe extern "C" fn cow_pte_fork(
    dst_vma: *mut bindings::vm_area_struct,
    src_vma: *mut bindings::vm_area_struct,
    dst_pmd: *mut bindings::pmd_t,
    src_pmd: *mut bindings::pmd_t,
    addr: c_ulong,
    end: c_ulong,
) -> bool {
    // SAFETY: By the contract of this function both VMAs are valid and
    // fixed while the mmap locks are held.
    let (dst, src) = unsafe { (Vma::from_raw(dst_vma), Vma::from_raw(src_vma)) };
    // SAFETY: The entries belong to the page tables of these mms, which the
    // mmap locks keep allocated.
    let pmds = unsafe { (Pmd::new(dst.mm(), dst_pmd), Pmd::new(src.mm(), src_pmd)) };
    match pmds {
        (Ok(dst_pmd), Ok(src_pmd)) => share::fork(dst, src, &dst_pmd, &src_pmd, addr, end),
        _ => false,
    }
}

/// Breaks the share of the table under `pmd` for `vma`'s mm.
///
/// Returns 0 or `-ENOMEM`; nothing changed on failure.
///
/// # Safety
///
/// `vma` is valid and kept stable by the caller (mmap, VMA or rmap lock),
/// `pmd` is the PMD entry of `addr` in its mm, and the caller holds no page
/// table lock.
#[no_mangle]
pub unsafe extern "C" fn cow_pte_break(
    vma: *mut bindings::vm_area_struct,
    pmd: *mut bindings::pmd_t,
    addr: c_ulong,
    gfp: bindings::gfp_t,
) -> c_int {
    // SAFETY: By the contract of this function the VMA is valid and stable.
    let vma = unsafe { Vma::from_raw(vma) };
    from_result(|| {
        // SAFETY: `pmd` is an entry of the mm's page tables, kept allocated
        // by the lock that keeps the VMA stable.
        let pmd = unsafe { Pmd::new(vma.mm(), pmd) }?;
        share::break_share(vma, &pmd, addr, Alloc::Gfp(gfp))
            .inspect_err(|_| stats::count(Event::BreakFail))?;
        Ok(0)
    })
}

/// Breaks every shared table in `[start, end)` of `vma`.
///
/// # Safety
///
/// `vma` is valid and the caller holds its mm's mmap lock.
#[no_mangle]
pub unsafe extern "C" fn cow_pte_break_range(
    vma: *mut bindings::vm_area_struct,
    start: c_ulong,
    end: c_ulong,
) -> c_int {
    // SAFETY: By the contract of this function the VMA is valid and stable.
    let vma = unsafe { Vma::from_raw(vma) };
    from_result(|| {
        share::break_range(vma, start, end).inspect_err(|_| stats::count(Event::BreakFail))?;
        Ok(0)
    })
}

/// Breaks the shared tables a VMA boundary at `start` or `end` would cut.
///
/// # Safety
///
/// `mm` is valid and the caller holds its mmap lock.
#[no_mangle]
pub unsafe extern "C" fn cow_pte_break_boundaries(
    mm: *mut bindings::mm_struct,
    start: c_ulong,
    end: c_ulong,
) -> c_int {
    // SAFETY: By the contract of this function the mm is valid.
    let mm = unsafe { Mm::from_raw(mm) };
    from_result(|| {
        // SAFETY: The caller holds the mmap lock.
        unsafe { share::break_boundaries(mm, start, end) }
            .inspect_err(|_| stats::count(Event::BreakFail))?;
        Ok(0)
    })
}

/// Zap: lets go of the shared table under `pmd` if all of it goes, or makes
/// it the mm's own.  Returns true when nothing is left to zap.
///
/// # Safety
///
/// Called from `zap_pmd_range()`: `vma` is valid and stable, `pmd` is the
/// entry of `[addr, end)` in its mm, and no page table lock is held;
/// `reserve` is NULL or the caller's, used by this thread only.
#[no_mangle]
pub unsafe extern "C" fn cow_pte_zap(
    vma: *mut bindings::vm_area_struct,
    pmd: *mut bindings::pmd_t,
    addr: c_ulong,
    end: c_ulong,
    kind: bindings::cow_pte_zap,
    reserve: *mut bindings::cow_pte_reserve,
) -> bool {
    // SAFETY: By the contract of this function the VMA is valid and stable.
    let vma = unsafe { Vma::from_raw(vma) };
    let kind = ZapKind::from_raw(kind);
    // SAFETY: `pmd` is an entry of the mm's page tables, kept allocated by
    // whatever keeps the VMA stable during the zap.
    match unsafe { Pmd::new(vma.mm(), pmd) } {
        Ok(pmd) => share::zap(vma, &pmd, addr, end, kind, NonNull::new(reserve)),
        Err(_) => false,
    }
}

/// Packs the counts of a table, `NR_MM_COUNTERS` RSS counters then the KSM
/// zero pages (for KUnit); `-EINVAL` if out of range.
///
/// # Safety
///
/// `counts` points to `NR_MM_COUNTERS + 1` integers.
#[no_mangle]
pub unsafe extern "C" fn cow_pte_counts_pack(counts: *const c_int) -> kernel::ffi::c_long {
    let mut lanes = [0; COUNTS];
    for (i, lane) in lanes.iter_mut().enumerate() {
        // SAFETY: By the contract of this function `counts` has `COUNTS`
        // elements.
        *lane = unsafe { *counts.add(i) };
    }
    from_result(|| {
        let packed = TableCounts::new(lanes)?.pack();
        kernel::ffi::c_long::try_from(packed).map_err(|_| EINVAL)
    })
}

/// Unpacks what `cow_pte_counts_pack()` made (for KUnit); `-EINVAL` if
/// invalid.
///
/// # Safety
///
/// `counts` points to room for `NR_MM_COUNTERS + 1` integers.
#[no_mangle]
pub unsafe extern "C" fn cow_pte_counts_unpack(packed: c_ulong, counts: *mut c_int) -> c_int {
    from_result(|| {
        // CAST: `c_ulong` is 64 bits wide on the only architecture built.
        let unpacked = TableCounts::unpack(packed as u64)?;
        for (i, &count) in unpacked.counts().iter().enumerate() {
            // SAFETY: By the contract of this function `counts` has room
            // for `COUNTS` elements.
            unsafe { *counts.add(i) = count };
        }
        Ok(0)
    })
}
