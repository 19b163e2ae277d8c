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
//!    sharer zaps T normally.  A zap that leaves the page tables in place
//!    (MADV_DONTNEED, truncation) maps a new, empty table instead, as a
//!    stock zap leaves an empty table behind.
//! 5. Each mm counts T's pages in its RSS and T in its page-table bytes:
//!    fork adds T's cached RSS to the child, and an mm that lets go of T
//!    subtracts it, and the KSM zero pages a zap of T would have uncounted.
//! 6. A shared table is always covered by one VMA of each mm that maps it
//!    (fork only shares such tables, and VMA boundaries never cut one), so
//!    every operation below deals with exactly one VMA.
//! 7. No VMA with `VM_LOCKED` maps a shared table: fork copies locked
//!    ranges, and mlock breaks the share first.  So letting go of T never
//!    has pages to munlock, and `mm->locked_vm` stays exact.
//!
//! Locks: the PMD lock of M, then T's PTE lock, nested.  The mmap lock, a
//! VMA lock or an rmap lock keeps the VMA and M's page-table pages alive.

use crate::counts::{TableCounts, RSS_COUNTERS};
use crate::mm::{Mm, Vma};
use crate::pgtable::{LockedPmd, LockedTable, Pmd, TableState};
use crate::prctl;
use crate::stats::{self, Event, Fallback};
use core::ptr::NonNull;
use kernel::bindings;
use kernel::error::{
    code::{EINVAL, ENOMEM},
    Result,
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
    // Rule 7.  The child's VMA is never locked (fork clears VM_LOCKED).
    // CAST: `VM_*` flags are `vm_flags_t` values in C.
    if src.flags() & bindings::VM_LOCKED as bindings::vm_flags_t != 0 {
        return Err(Fallback::Mlock);
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

    let (counts, prepared) = if entry.is_shared() {
        // Rule 1: the entries have not changed since the table became
        // shared, so the counts cached then are still right.
        (
            locked.counts().map_err(|_| Fallback::Entry)?,
            state.prepared,
        )
    } else {
        let counts = scan(src, base, &locked)?;
        locked.set_counts(&counts);
        // From now on the parent may not write through this table.  Its
        // stale TLB entries are flushed by the flush_tlb_mm() at the end of
        // dup_mmap(), before the parent's mmap lock is released and before
        // the child runs, exactly as for the PTEs stock fork
        // write-protects.  GUP-fast pins in the parent are kept off by
        // mm->write_protect_seq, held by copy_page_range().
        src_locked.set(entry.mkshared());
        (counts, false)
    };
    locked.set_state(TableState { sharers, prepared });
    dst_pmd.populate_child(entry.mkshared(), &locked);
    // The child's KSM zero page counts were copied with its mm_struct and
    // added to the global one by ksm_fork(), as for a stock fork.
    dst.mm().add_rss(counts.rss(), 1);
    dst.mm().inc_nr_ptes();
    if counts.has_swap() {
        // SAFETY: Both mms are valid; the function takes `mmlist_lock`.
        unsafe { bindings::cow_pte_mmlist_add(dst.mm().as_raw(), src.mm().as_raw()) };
    }
    Ok(())
}

/// Counts what a table that is becoming shared contributes to the counters
/// of an mm, and checks it can be shared.
fn scan(
    vma: &Vma,
    base: usize,
    table: &LockedTable<'_>,
) -> core::result::Result<TableCounts, Fallback> {
    let check_pins = vma.mm().test_flag(bindings::MMF_HAS_PINNED);
    let mut rss = [0i32; RSS_COUNTERS];
    let mut ksm_zero = 0i32;
    // SAFETY: The VMA covers the table, whose lock we hold; `rss` has room
    // for `NR_MM_COUNTERS` counters.
    let raw = unsafe {
        bindings::cow_pte_scan_table(
            vma.as_raw(),
            base,
            table.entries(),
            check_pins,
            rss.as_mut_ptr(),
            &mut ksm_zero,
        )
    };
    if let Some(reason) = Fallback::from_scan(raw) {
        return Err(reason);
    }
    TableCounts::from_parts(rss, ksm_zero).map_err(|_| Fallback::Entry)
}

/// Where a break gets the table it copies into.
#[derive(Clone, Copy)]
pub(crate) enum Alloc {
    /// Allocates it with these flags, sleeping only if they allow it.
    Gfp(bindings::gfp_t),
    /// Takes it from a reserve, or allocates it without sleeping; if both
    /// fail, records the need in the reserve and fails.  For zaps under the
    /// i_mmap lock, which refill the reserve without the lock and retry.
    Reserve(NonNull<bindings::cow_pte_reserve>),
}

impl Alloc {
    /// A new, empty table.
    fn table(self) -> Result<NonNull<bindings::ptdesc>> {
        let table = match self {
            // SAFETY: The allocation may sleep only if `gfp` allows it,
            // which the caller chose for its context.
            Alloc::Gfp(gfp) => unsafe { bindings::cow_pte_alloc_table(gfp) },
            // SAFETY: The reserve is the caller's, and only this thread
            // uses it (the zap that passes it holds it on its stack).
            Alloc::Reserve(reserve) => unsafe { bindings::cow_pte_reserve_table(reserve.as_ptr()) },
        };
        NonNull::new(table).ok_or(ENOMEM)
    }

    /// A swap count continuation for `entry`, without page table locks.
    fn swap_continuation(self, entry: bindings::swp_entry_t) -> Result {
        let ret = match self {
            // SAFETY: `entry` is a swap entry of the shared table; the
            // allocation sleeps only if `gfp` allows it.
            Alloc::Gfp(gfp) => unsafe { bindings::cow_pte_swap_continuation(entry, gfp) },
            // SAFETY: As above; the reserve is the caller's.
            Alloc::Reserve(reserve) => unsafe {
                bindings::cow_pte_reserve_swap(reserve.as_ptr(), entry)
            },
        };
        if ret < 0 {
            return Err(ENOMEM);
        }
        Ok(())
    }
}

/// A new table for a break: empty, or a full copy of the shared table.
///
/// # Invariants
///
/// `table` is a PTE table that no PMD maps until `install` consumes the
/// copy.  Unless `filled`, all its entries are none; once filled, the
/// table holds a copy of a shared table of `vma`, with the references of
/// its entries taken, and `rss` counts them.
struct TableCopy<'a> {
    vma: &'a Vma,
    base: usize,
    table: NonNull<bindings::ptdesc>,
    rss: [i32; RSS_COUNTERS],
    filled: bool,
    installed: bool,
}

impl<'a> TableCopy<'a> {
    /// Gets an empty table to copy the table at `base` of `vma` into.
    fn new(vma: &'a Vma, base: usize, alloc: Alloc) -> Result<Self> {
        let table = alloc.table()?;
        // INVARIANT: A new, zeroed table, mapped nowhere.
        Ok(TableCopy {
            vma,
            base,
            table,
            rss: [0; RSS_COUNTERS],
            filled: false,
            installed: false,
        })
    }

    /// Copies `src`, locked and mapped by the PMD lock this thread holds.
    ///
    /// All or nothing: on failure the copy is empty again and the error is
    /// the swap entry that needs a swap count continuation.
    fn fill(&mut self, src: &LockedTable<'_>) -> core::result::Result<(), bindings::swp_entry_t> {
        let mut swap = bindings::swp_entry_t { val: 0 };
        // SAFETY: The new table is ours and empty; we hold the PMD lock of
        // the mm and the lock of `src`, which that PMD maps; the VMA covers
        // the table (rule 6).
        let ret = unsafe {
            bindings::cow_pte_copy_table(
                self.vma.as_raw(),
                self.base,
                bindings::cow_pte_table_entries(self.table.as_ptr()),
                src.entries(),
                self.rss.as_mut_ptr(),
                &mut swap,
            )
        };
        if ret != 0 {
            // INVARIANT: `cow_pte_copy_table()` left the table empty.
            return Err(swap);
        }
        // INVARIANT: The table holds the copy, whose RSS `rss` counts.
        self.filled = true;
        Ok(())
    }

    /// Maps the copy (finished, or empty) at `pmd`, in place of the
    /// shared table.
    fn install(mut self, pmd: &LockedPmd<'_, '_>) {
        pmd.install(self.table);
        // Now the mm's table: `drop` leaves it alone.
        self.installed = true;
    }
}

impl Drop for TableCopy<'_> {
    fn drop(&mut self) {
        // A filled copy is installed at once, under the locks it was
        // filled under, so a copy dropped here was never installed and is
        // empty: free the table, which no PMD ever mapped (so no TLB
        // flush).  Never free a filled one: that would leak the references
        // of its entries.
        if self.installed || self.filled {
            return;
        }
        // SAFETY: By the type invariant the table is ours, unmapped and
        // empty.
        unsafe { bindings::cow_pte_free_table(self.table.as_ptr()) };
    }
}

/// Breaks the share of the table under `pmd` for `vma`'s mm (rule 3).
///
/// Afterwards the PMD is none or maps a table the mm may change.  On
/// failure nothing changed.  `alloc` says how the copy may be allocated
/// in the caller's context.
pub(crate) fn break_share(vma: &Vma, pmd: &Pmd<'_>, addr: usize, alloc: Alloc) -> Result {
    let mm = vma.mm();
    let base = table_base(addr);
    let table_end = base.checked_add(PMD_SIZE).ok_or(EINVAL)?;
    let mut copy: Option<TableCopy<'_>> = None;

    loop {
        let locked_pmd = pmd.lock();
        let entry = locked_pmd.get();
        if !entry.is_shared() {
            // Broken, dropped or reused meanwhile: nothing left to do (an
            // unused copy is freed when dropped).
            return Ok(());
        }
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

        let Some(current) = copy.as_mut() else {
            // Allocate without page table locks, then look again.
            drop(locked);
            drop(locked_pmd);
            copy = Some(TableCopy::new(vma, base, alloc)?);
            continue;
        };
        let old_counts = locked.counts()?;
        if let Err(entry) = current.fill(&locked) {
            drop(locked);
            drop(locked_pmd);
            alloc.swap_continuation(entry)?;
            continue;
        }
        // What the copy counts, less what the shared table counted: one
        // update, so that no reader sees both (VmHWM).  The KSM zero pages
        // the copy maps stay counted in the mm, as through the shared one.
        let mut rss_change = current.rss;
        for (change, &old) in rss_change.iter_mut().zip(old_counts.rss()) {
            *change -= old;
        }
        if let Some(done) = copy.take() {
            done.install(&locked_pmd);
        }
        // The mm now reaches its pages through its own table.  Flush what
        // its CPUs may have cached through the shared one before letting
        // go of the share: from then on the last sharer may change it.
        flush(mm, base);
        mm.add_rss(&rss_change, 1);
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

/// What a zap takes away (`enum cow_pte_zap`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZapKind {
    /// Only some of the pages (zap details): a shared table is broken.
    SomePages,
    /// Every page, and the tables stay (MADV_DONTNEED, truncation).
    AllPages,
    /// Every page, then the tables are freed (munmap, exit, OOM reaper).
    Unmap,
}

impl ZapKind {
    /// Converts an `enum cow_pte_zap` value; unknown values zap carefully.
    pub(crate) fn from_raw(raw: u32) -> ZapKind {
        match raw {
            bindings::cow_pte_zap_COW_PTE_ZAP_ALL => ZapKind::AllPages,
            bindings::cow_pte_zap_COW_PTE_ZAP_UNMAP => ZapKind::Unmap,
            _ => ZapKind::SomePages,
        }
    }
}

/// Zap: `[addr, end)` of the table under `pmd` is being unmapped (rule 4).
///
/// Returns `true` when nothing is left to zap: the mm let go of the whole
/// table, or, with a `reserve`, it lacked memory and the caller zaps again
/// once it refilled the reserve.  Returns `false` when the caller must zap
/// the table, now the mm's own.
pub(crate) fn zap(
    vma: &Vma,
    pmd: &Pmd<'_>,
    addr: usize,
    end: usize,
    kind: ZapKind,
    reserve: Option<NonNull<bindings::cow_pte_reserve>>,
) -> bool {
    let base = table_base(addr);
    let covers_table = addr == base && base.checked_add(PMD_SIZE) == Some(end);
    let alloc = match reserve {
        Some(reserve) => Alloc::Reserve(reserve),
        // Zaps under the i_mmap lock and MADV_DONTNEED pass a reserve;
        // munmap and exit break what a VMA boundary or the range would cut
        // beforehand (rule 6), and unmap whole tables; the OOM reaper
        // unmaps whole VMAs.  So this is not reached; if it were, the zap
        // would hold only the mmap lock, like a page fault, and cannot
        // fail.
        None => Alloc::Gfp(bindings::GFP_KERNEL | bindings::__GFP_NOFAIL),
    };
    let done = if kind == ZapKind::SomePages || !covers_table {
        // Part of the table, or only some of its pages: the mm needs a
        // table of its own.
        break_share(vma, pmd, addr, alloc).map(|()| false)
    } else {
        let empty = match kind {
            ZapKind::Unmap => None,
            _ => Some(alloc),
        };
        drop_share(vma, pmd, base, empty)
    };
    done.unwrap_or_else(|_| {
        stats::count(Event::BreakFail);
        true
    })
}

/// Lets go of the whole shared table at `base` without per-page work, and
/// maps an empty table of the mm's own in its place if `empty` says where
/// to get one.  `Ok(true)` when done; `Ok(false)` when the mm is the last
/// sharer and took the table back, for the caller to zap.
///
/// A shared table holds no userfaultfd write-protect bits (fork does not
/// share them, and write-protecting breaks first), so zapping it whole
/// leaves no PTE marker behind, even in a VMA registered since.
fn drop_share(vma: &Vma, pmd: &Pmd<'_>, base: usize, empty: Option<Alloc>) -> Result<bool> {
    let mm = vma.mm();
    let mut new_table: Option<TableCopy<'_>> = None;
    loop {
        let locked_pmd = pmd.lock();
        let entry = locked_pmd.get();
        if !entry.is_shared() {
            return Ok(false);
        }
        let table = entry.table().ok_or(EINVAL)?;
        let locked = table.lock();
        let state = locked.state();
        if state.sharers <= 1 {
            // The last sharer zaps the table normally.
            reuse(vma, base, &locked_pmd, &locked);
            return Ok(false);
        }
        let counts = locked.counts()?;
        match (empty, new_table.take()) {
            (None, _) => {
                locked_pmd.clear();
                mm.dec_nr_ptes();
            }
            (Some(alloc), None) => {
                // Allocate without page table locks, then look again.
                drop(locked);
                drop(locked_pmd);
                new_table = Some(TableCopy::new(vma, base, alloc)?);
                continue;
            }
            // One table of the mm's own for another: the same count.
            (Some(_), Some(new_table)) => new_table.install(&locked_pmd),
        }
        // Flush what the mm's CPUs may have cached through the shared
        // table before letting go of it (see `break_share`).
        flush(mm, base);
        mm.add_rss(counts.rss(), -1);
        mm.unmap_ksm_zero_pages(counts.ksm_zero());
        locked.set_state(TableState {
            sharers: state.sharers - 1,
            ..state
        });
        stats::count(Event::Drop);
        return Ok(true);
    }
}

/// Breaks every shared table in `[start, end)` of `vma`.
pub(crate) fn break_range(vma: &Vma, start: usize, end: usize) -> Result {
    let mut addr = table_base(start);
    while addr < end {
        break_at(vma, addr)?;
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
            break_at(vma, cut)?;
        }
    }
    Ok(())
}

/// Breaks the table that maps `addr` in `vma`, if it is shared.
fn break_at(vma: &Vma, addr: usize) -> Result {
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
    break_share(vma, &pmd, addr, Alloc::Gfp(bindings::GFP_KERNEL))
}
