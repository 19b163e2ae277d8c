// SPDX-License-Identifier: GPL-2.0

//! The life of a COW-shared PTE table: shared at fork, broken, let go of.
//!
//! A table T is *shared* by an mm when that mm's PMD entry maps T without
//! write permission.  The rules, relied on throughout this file:
//!
//! 1. While T is mapped read-only by any PMD, nobody changes its entries
//!    except to clear accessed bits, write-protect, or clear the
//!    swap-exclusive marker.  Anything else first *breaks* the share for
//!    the mm that wants to change it ([`break_share`]).
//! 2. T holds one reference and one mapcount of each page it maps, as one
//!    mm's table would, however many mms share it.  Its sharer count and
//!    its cached RSS live in its `ptdesc` and are protected by its PTE
//!    lock, which is the same lock for every sharer.
//! 3. Breaking for mm M while others still share T copies T into a new
//!    table N doing fork's per-entry work (which also leaves T's entries as
//!    fork leaves the parent's: write-protected, nothing exclusive), maps N
//!    in M's PMD (the PMD never goes through none), flushes M's TLB, and
//!    only then lets go of M's share.  The last sharer keeps T: unless a
//!    break already did, it first does the parent's half of fork's work to
//!    T's entries (write-protect, clear exclusive markers), so that pages
//!    referenced before or during the share are copied on its next write
//!    as after a stock fork; then it makes its PMD writable again (no
//!    flush: permissions only grow).
//! 4. Letting go of a whole shared table (unmap, exit) clears M's PMD,
//!    flushes M's TLB and drops M's share, without per-page work; the last
//!    sharer zaps T normally.
//! 5. Each mm counts T's pages in its RSS and T in its page-table bytes:
//!    fork adds T's cached RSS to the child, and an mm that lets go of T
//!    subtracts it.
//! 6. A shared table is always covered by one VMA of each mm that maps it
//!    (fork only shares such tables, and VMA boundaries never cut one), so
//!    every operation below deals with exactly one VMA.
//!
//! Locks: the PMD lock of M, then T's PTE lock, nested.  The mmap lock, a
//! VMA lock or an rmap lock keeps the VMA and M's page-table pages alive.

use crate::mm::{Mm, Vma};
use crate::pgtable::{LockedPmd, LockedTable, Pmd, PmdVal, TableState};
use crate::prctl;
use crate::rss::{Rss, COUNTERS};
use crate::stats::{self, Event, Fallback};
use core::ptr::NonNull;
use kernel::bindings;
use kernel::error::{
    code::{EINVAL, ENOMEM},
    Error, Result,
};

const PMD_SIZE: usize = bindings::PMD_SIZE as usize;
const PMD_MASK: usize = !(PMD_SIZE - 1);

/// No table gets more sharers than this (the count is an `atomic_t`).
const MAX_SHARERS: u32 = 1 << 30;

/// First address of the table that maps `addr`.
fn table_base(addr: usize) -> usize {
    addr & PMD_MASK
}

/// Flushes `mm`'s TLB for the table at `base` (see `cow_pte_flush()`).
fn flush(mm: &Mm, base: usize) {
    // SAFETY: The mm is valid; flushing has no other requirement.
    unsafe { bindings::cow_pte_flush(mm.as_raw(), base) };
}

/// Fork: shares the table under `src_pmd` with the child.
///
/// Returns `false` when the caller must copy the table as usual.  The
/// mmap locks of both mms are held for write.
pub(crate) fn fork(
    dst: &Vma,
    src: &Vma,
    dst_pmd: &Pmd<'_>,
    src_pmd: &Pmd<'_>,
    addr: usize,
    end: usize,
) -> bool {
    if !prctl::wants_sharing(src.mm()) {
        return false;
    }
    match share(dst, src, dst_pmd, src_pmd, addr, end) {
        Ok(()) => {
            stats::count(Event::Share);
            true
        }
        Err(reason) => {
            stats::count(Event::Fallback(reason));
            false
        }
    }
}

fn share(
    dst: &Vma,
    src: &Vma,
    dst_pmd: &Pmd<'_>,
    src_pmd: &Pmd<'_>,
    addr: usize,
    end: usize,
) -> core::result::Result<(), Fallback> {
    let base = table_base(addr);
    let table_end = base.checked_add(PMD_SIZE).ok_or(Fallback::Partial)?;
    if addr != base || end != table_end || !src.covers(base, table_end) {
        return Err(Fallback::Partial);
    }
    // CAST: `VM_*` flags are `vm_flags_t` values in C.
    let special = (bindings::VM_PFNMAP | bindings::VM_MIXEDMAP) as bindings::vm_flags_t;
    if !src.is_cow_mapping() || src.flags() & special != 0 {
        return Err(Fallback::Vma);
    }
    if src.uffd_wp() || dst.uffd_wp() {
        return Err(Fallback::UffdWp);
    }

    let src_locked = src_pmd.lock();
    let entry = src_locked.get();
    // Not a table any more: let copy_pte_range() see what it is.
    let table = entry.table().ok_or(Fallback::Vma)?;
    let locked = table.lock();
    let state = locked.state();
    let sharers = state
        .sharers
        .checked_add(1)
        .filter(|&n| n <= MAX_SHARERS)
        .ok_or(Fallback::Limit)?;

    let (rss, prepared) = if entry.is_shared() {
        // Rule 1: the entries have not changed since the table became
        // shared, so the RSS cached then is still right.
        (locked.rss().map_err(|_| Fallback::Entry)?, state.prepared)
    } else {
        let rss = scan(src, base, &locked)?;
        locked.set_rss(&rss);
        // From now on the parent may not write through this table.  Its
        // stale TLB entries are flushed by the flush_tlb_mm() at the end of
        // dup_mmap(), before the parent's mmap lock is released and before
        // the child runs, exactly as for the PTEs stock fork
        // write-protects.  GUP-fast pins in the parent are kept off by
        // mm->write_protect_seq, held by copy_page_range().
        src_locked.set(entry.mkshared());
        (rss, false)
    };
    locked.set_state(TableState { sharers, prepared });
    dst_pmd.populate_child(entry.mkshared(), &locked);
    dst.mm().add_rss(&rss, 1);
    dst.mm().inc_nr_ptes();
    if rss.has_swap() {
        // SAFETY: Both mms are valid; the function takes `mmlist_lock`.
        unsafe { bindings::cow_pte_mmlist_add(dst.mm().as_raw(), src.mm().as_raw()) };
    }
    Ok(())
}

/// Counts the RSS of a table that is becoming shared and checks it can be.
fn scan(vma: &Vma, base: usize, table: &LockedTable<'_>) -> core::result::Result<Rss, Fallback> {
    let check_pins = vma.mm().test_flag(bindings::MMF_HAS_PINNED);
    let mut counts = [0i32; COUNTERS];
    // SAFETY: The VMA covers the table, whose lock we hold; `counts` has
    // room for `NR_MM_COUNTERS` counters.
    let raw = unsafe {
        bindings::cow_pte_scan_table(
            vma.as_raw(),
            base,
            table.entries(),
            check_pins,
            counts.as_mut_ptr(),
        )
    };
    if let Some(reason) = Fallback::from_scan(raw) {
        return Err(reason);
    }
    Rss::new(counts).map_err(|_| Fallback::Entry)
}

/// What a copy needs before it can go on, and gets without locks held.
enum Need {
    /// A page to copy a maybe-pinned anonymous page into.
    Page,
    /// A swap count continuation for this entry.
    SwapContinuation(bindings::swp_entry_t),
    /// A page that had to be copied is poisoned.
    Poisoned,
}

/// A new table for a break, being filled from the shared one.
///
/// # Invariants
///
/// `table` is a PTE table of `vma`'s mm that no PMD maps until `install`
/// consumes the copy; entries `[0, next)` hold copies made from `source`,
/// with their references taken, and `rss` counts them.  `prealloc` is NULL
/// or a page allocated for the copy.
struct TableCopy<'a> {
    vma: &'a Vma,
    base: usize,
    source: PmdVal,
    table: NonNull<bindings::ptdesc>,
    next: i32,
    rss: [i32; COUNTERS],
    prealloc: *mut bindings::folio,
    installed: bool,
}

impl<'a> TableCopy<'a> {
    /// Allocates an empty table to copy the table `source` maps into.
    fn new(vma: &'a Vma, base: usize, source: PmdVal, gfp: bindings::gfp_t) -> Result<Self> {
        // SAFETY: The mm is valid; the allocation may sleep only if `gfp`
        // allows it, which the caller chose for its context.
        let table = unsafe { bindings::cow_pte_alloc_table(vma.mm().as_raw(), gfp) };
        let table = NonNull::new(table).ok_or(ENOMEM)?;
        // INVARIANT: A new table, mapped nowhere, with nothing copied.
        Ok(TableCopy {
            vma,
            base,
            source,
            table,
            next: 0,
            rss: [0; COUNTERS],
            prealloc: core::ptr::null_mut(),
            installed: false,
        })
    }

    /// Copies what is left of `src` (locked, mapped by `source`).
    fn fill(&mut self, src: &LockedTable<'_>) -> core::result::Result<(), Need> {
        let mut swap = bindings::swp_entry_t { val: 0 };
        // SAFETY: The new table is ours and unmapped; we hold the PMD lock
        // of the mm and the lock of `src`, which `source` maps in it; the
        // VMA covers the table (rule 6).
        let ret = unsafe {
            bindings::cow_pte_copy_entries(
                self.vma.as_raw(),
                self.base,
                bindings::cow_pte_table_entries(self.table.as_ptr()),
                src.entries(),
                &mut self.next,
                self.rss.as_mut_ptr(),
                &mut self.prealloc,
                &mut swap,
            )
        };
        // INVARIANT: `cow_pte_copy_entries()` advanced `next` over what it
        // copied and counted it in `rss`.
        match ret {
            0 => Ok(()),
            r if r == -(bindings::EAGAIN as i32) => Err(Need::Page),
            r if r == -(bindings::EIO as i32) => Err(Need::SwapContinuation(swap)),
            _ => Err(Need::Poisoned),
        }
    }

    /// Gets what `fill` needs, without page table locks held.
    fn provide(&mut self, need: Need, gfp: bindings::gfp_t) -> Result {
        match need {
            Need::Page => {
                // A page copy may sleep: never from contexts that cannot.
                if gfp & bindings::__GFP_DIRECT_RECLAIM == 0 {
                    return Err(ENOMEM);
                }
                let addr = self.base + self.next as usize * kernel::page::PAGE_SIZE;
                // SAFETY: The VMA is valid and covers `addr`.
                let folio = unsafe { bindings::cow_pte_prealloc_page(self.vma.as_raw(), addr) };
                if folio.is_null() {
                    return Err(ENOMEM);
                }
                self.put_prealloc();
                // INVARIANT: A page allocated for the copy.
                self.prealloc = folio;
                Ok(())
            }
            Need::SwapContinuation(entry) => {
                // SAFETY: `entry` is a swap entry of the shared table.
                if unsafe { bindings::cow_pte_swap_continuation(entry, gfp) } < 0 {
                    return Err(ENOMEM);
                }
                Ok(())
            }
            // CAST: `EHWPOISON` is a small errno.
            Need::Poisoned => Err(Error::from_errno(-(bindings::EHWPOISON as i32))),
        }
    }

    /// The RSS of the copy.
    fn rss(&self) -> Result<Rss> {
        Rss::new(self.rss)
    }

    /// Maps the finished copy at `pmd`, in place of the shared table.
    fn install(mut self, pmd: &LockedPmd<'_, '_>) {
        pmd.install(self.table);
        self.installed = true;
    }

    fn put_prealloc(&mut self) {
        if !self.prealloc.is_null() {
            // SAFETY: By the type invariant `prealloc` is our page.
            unsafe { bindings::folio_put(self.prealloc) };
            self.prealloc = core::ptr::null_mut();
        }
    }
}

impl Drop for TableCopy<'_> {
    fn drop(&mut self) {
        self.put_prealloc();
        if self.installed {
            return;
        }
        // The copy lost a race or failed: drop the references it took and
        // free the table, which no PMD ever mapped (so no TLB flush).
        // SAFETY: By the type invariant entries `[0, next)` are copies
        // with references taken, and the table is ours and unmapped.
        unsafe {
            bindings::cow_pte_discard_entries(
                self.vma.as_raw(),
                self.base,
                bindings::cow_pte_table_entries(self.table.as_ptr()),
                self.next,
            );
            bindings::cow_pte_free_table(self.vma.mm().as_raw(), self.table.as_ptr());
        }
    }
}

/// Breaks the share of the table under `pmd` for `vma`'s mm (rule 3).
///
/// Afterwards the PMD is none or maps a table the mm may change.  On
/// failure nothing changed.  `gfp` is how the copy may be allocated in the
/// caller's context.
pub(crate) fn break_share(vma: &Vma, pmd: &Pmd<'_>, addr: usize, gfp: bindings::gfp_t) -> Result {
    let mm = vma.mm();
    let base = table_base(addr);
    let mut copy: Option<TableCopy<'_>> = None;

    loop {
        let locked_pmd = pmd.lock();
        let entry = locked_pmd.get();
        if !entry.is_shared() {
            // Broken, dropped or reused meanwhile: nothing left to do (a
            // copy in progress is undone when dropped).
            return Ok(());
        }
        let table_end = base.checked_add(PMD_SIZE).ok_or(EINVAL)?;
        if !vma.covers(base, table_end) {
            // Rule 6 broken: refuse rather than copy entries of another VMA.
            return Err(EINVAL);
        }
        let table = entry.table().ok_or(EINVAL)?;
        let locked = table.lock();
        let state = locked.state();
        if state.sharers <= 1 {
            reuse(vma, base, &locked_pmd, &locked);
            return Ok(());
        }

        let current = match copy.as_mut() {
            Some(c) if c.source.same(entry) => c,
            _ => {
                // No copy yet, or one of a table this PMD no longer maps.
                drop(locked);
                drop(locked_pmd);
                drop(copy.take());
                copy = Some(TableCopy::new(vma, base, entry, gfp)?);
                continue;
            }
        };
        if let Err(need) = current.fill(&locked) {
            drop(locked);
            drop(locked_pmd);
            current.provide(need, gfp)?;
            continue;
        }

        let old_rss = locked.rss()?;
        let new_rss = current.rss()?;
        if let Some(done) = copy.take() {
            done.install(&locked_pmd);
        }
        mm.inc_nr_ptes();
        mm.add_rss(&new_rss, 1);
        // The mm now reaches its pages through its own table.  Flush what
        // its CPUs may have cached through the shared one before letting
        // go of the share: from then on the last sharer may change it.
        flush(mm, base);
        mm.add_rss(&old_rss, -1);
        mm.dec_nr_ptes();
        // The copy left every entry of the table as fork leaves them.
        locked.set_state(TableState {
            sharers: state.sharers - 1,
            prepared: true,
        });
        stats::count(Event::BreakCopy);
        return Ok(());
    }
}

/// The last sharer takes the table back (rule 3).
fn reuse(vma: &Vma, base: usize, pmd: &LockedPmd<'_, '_>, table: &LockedTable<'_>) {
    if !table.state().prepared {
        // SAFETY: We hold the table's lock; no PMD maps it writable; the
        // VMA covers it (rule 6).
        unsafe { bindings::cow_pte_prepare_entries(vma.as_raw(), base, table.entries()) };
    }
    table.set_state(TableState {
        sharers: 1,
        prepared: false,
    });
    // More permission: stale read-only TLB entries only cause spurious
    // faults, so no flush.
    pmd.set(pmd.get().mkprivate());
    stats::count(Event::BreakReuse);
}

/// Zap: `[addr, end)` of the table under `pmd` is being unmapped (rule 4).
///
/// `whole`: nothing restricts what is zapped (no zap details).  Returns
/// `true` when the mm let go of the whole table and nothing is left to
/// zap; `false` when the caller must zap the table, now the mm's own.
pub(crate) fn zap(vma: &Vma, pmd: &Pmd<'_>, addr: usize, end: usize, whole: bool) -> bool {
    let mm = vma.mm();
    let base = table_base(addr);
    let covers_table = addr == base && base.checked_add(PMD_SIZE) == Some(end);

    // With userfaultfd write-protection the zap may leave PTE markers.
    if whole && covers_table && !vma.uffd_wp() {
        let locked_pmd = pmd.lock();
        let entry = locked_pmd.get();
        if !entry.is_shared() {
            return false;
        }
        let Some(table) = entry.table() else {
            return false;
        };
        let locked = table.lock();
        let state = locked.state();
        if state.sharers <= 1 {
            // The last sharer zaps the table normally.
            reuse(vma, base, &locked_pmd, &locked);
            return false;
        }
        if let Ok(rss) = locked.rss() {
            locked_pmd.clear();
            flush(mm, base);
            mm.add_rss(&rss, -1);
            mm.dec_nr_ptes();
            locked.set_state(TableState {
                sharers: state.sharers - 1,
                ..state
            });
            stats::count(Event::Drop);
            return true;
        }
    }

    // Part of the table, or only some of its pages: the mm needs a table
    // of its own.  A zap cannot fail, so the copy may not either.
    let gfp = bindings::GFP_KERNEL | bindings::__GFP_NOFAIL;
    if break_share(vma, pmd, addr, gfp).is_err() {
        // Only a poisoned page that had to be copied gets here.  Leave the
        // table mapped rather than change it under the other sharers.
        stats::count(Event::BreakFail);
        return true;
    }
    false
}

/// Breaks every shared table in `[start, end)` of `vma`.
pub(crate) fn break_range(vma: &Vma, start: usize, end: usize) -> Result {
    let mut addr = table_base(start);
    while addr < end {
        break_at(vma, addr, bindings::GFP_KERNEL)?;
        addr = addr.checked_add(PMD_SIZE).ok_or(EINVAL)?;
    }
    Ok(())
}

/// Breaks the shared tables a cut at `start` or `end` would split.
///
/// # Safety
///
/// The caller holds `mm`'s mmap lock.
pub(crate) unsafe fn break_boundaries(mm: &Mm, start: usize, end: usize) -> Result {
    for cut in [start, end] {
        if table_base(cut) == cut {
            continue;
        }
        // SAFETY: The caller holds the mmap lock.
        if let Some(vma) = unsafe { mm.vma_at(cut) } {
            break_at(vma, cut, bindings::GFP_KERNEL)?;
        }
    }
    Ok(())
}

/// Breaks the table that maps `addr` in `vma`, if it is shared.
fn break_at(vma: &Vma, addr: usize, gfp: bindings::gfp_t) -> Result {
    // SAFETY: The mm is valid and its mmap lock is held by our callers.
    let ptr = unsafe { bindings::cow_pte_find_pmd(vma.mm().as_raw(), addr) };
    if ptr.is_null() {
        return Ok(());
    }
    // SAFETY: `cow_pte_find_pmd()` found a PMD entry of the mm, which the
    // mmap lock keeps allocated.
    let pmd = unsafe { Pmd::new(vma.mm(), ptr) }?;
    if !pmd.read().is_shared() {
        return Ok(());
    }
    break_share(vma, &pmd, addr, gfp)
}
