// SPDX-License-Identifier: GPL-2.0

//! The page-table pieces the state machine works on: PMD entries, PTE
//! tables and their locks.
//!
//! Lock order: the PMD lock of an mm, then the PTE lock of a table it maps
//! (nested), as everywhere else in mm/.  The PTE lock lives in the table's
//! `ptdesc`, so it is the same lock for every mm that shares the table:
//! it protects the table's entries and its COW state (sharers, RSS).

use crate::counts::TableCounts;
use crate::mm::Mm;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::error::{code::EINVAL, Result};

/// Lockdep subclass of a PTE lock taken inside a PMD lock.
const SINGLE_DEPTH_NESTING: i32 = 1;

/// A page-table spinlock held by this thread, released when dropped.
///
/// # Invariants
///
/// The pointer is a spinlock this thread holds and that stays allocated
/// while the guard exists.
struct SpinGuard(*mut bindings::spinlock_t);

impl Drop for SpinGuard {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this thread holds the lock.
        unsafe { bindings::spin_unlock(self.0) };
    }
}

/// The value of a PMD entry.
#[derive(Clone, Copy)]
pub(crate) struct PmdVal(bindings::pmd_t);

impl PmdVal {
    /// Whether the entry maps a PTE table read-only: a COW-shared table.
    pub(crate) fn is_shared(self) -> bool {
        // SAFETY: Looks at a value only.
        unsafe { bindings::cow_pte_pmd_shared(self.0) }
    }

    /// Whether the entry maps a PTE table (shared or not).
    pub(crate) fn is_table(self) -> bool {
        // SAFETY: Looks at a value only.
        unsafe { bindings::cow_pte_pmd_is_table(self.0) }
    }

    /// The same entry without write permission: the table becomes shared.
    pub(crate) fn mkshared(self) -> PmdVal {
        // SAFETY: Computes a value only.
        PmdVal(unsafe { bindings::cow_pte_pmd_mkshared(self.0) })
    }

    /// The same entry with write permission: the table is private again.
    pub(crate) fn mkprivate(self) -> PmdVal {
        // SAFETY: Computes a value only.
        PmdVal(unsafe { bindings::cow_pte_pmd_mkprivate(self.0) })
    }

    /// The PTE table the entry maps, if it maps one.
    pub(crate) fn table(self) -> Option<PteTable> {
        if !self.is_table() {
            return None;
        }
        // SAFETY: The entry maps a PTE table, whose `ptdesc` this finds.
        let ptdesc = unsafe { bindings::cow_pte_pmd_table(self.0) };
        // INVARIANT: The table is mapped by a PMD entry; the caller keeps
        // it mapped (by holding that PMD's lock) while it uses the table.
        NonNull::new(ptdesc).map(PteTable)
    }
}

/// A PMD entry of one mm.
///
/// # Invariants
///
/// `ptr` points to a PMD entry of `mm`'s page tables, and the PMD table
/// holding it stays allocated for `'a`: the caller holds the mmap lock,
/// a VMA lock or an rmap lock of a VMA covering it.
pub(crate) struct Pmd<'a> {
    mm: &'a Mm,
    ptr: NonNull<bindings::pmd_t>,
}

impl<'a> Pmd<'a> {
    /// Wraps a PMD entry of `mm`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a PMD entry of `mm` that stays allocated for
    /// `'a`.
    pub(crate) unsafe fn new(mm: &'a Mm, ptr: *mut bindings::pmd_t) -> Result<Pmd<'a>> {
        let ptr = NonNull::new(ptr).ok_or(EINVAL)?;
        // INVARIANT: The caller guarantees that the entry stays allocated.
        Ok(Pmd { mm, ptr })
    }

    /// Reads the entry without its lock: it may change at any time.
    pub(crate) fn read(&self) -> PmdVal {
        // SAFETY: By the type invariant the entry is allocated.
        PmdVal(unsafe { bindings::pmdp_get_lockless(self.ptr.as_ptr()) })
    }

    /// Fills an entry of a child's page tables during fork, under the lock
    /// of the table it maps.
    ///
    /// The child's PMD table is new and only this fork writes its entries
    /// for this range; rmap walkers of the child may read the entry at any
    /// time, but change it only after taking the table's lock, which the
    /// caller holds.  So no PMD lock is needed, and the entry never shows a
    /// writable mapping of a shared table.
    pub(crate) fn populate_child(&self, value: PmdVal, _table: &LockedTable<'_>) {
        // SAFETY: By the type invariant the entry is allocated; see above
        // for why writing it without its lock is safe.
        unsafe { bindings::set_pmd(self.ptr.as_ptr(), value.0) };
    }

    /// Takes the PMD lock that covers the entry.
    pub(crate) fn lock(&self) -> LockedPmd<'_, 'a> {
        // SAFETY: By the type invariant the entry belongs to `mm`, which is
        // valid; `pmd_lock()` returns the lock it took.
        let lock = unsafe { bindings::pmd_lock(self.mm.as_raw(), self.ptr.as_ptr()) };
        // INVARIANT: `pmd_lock()` took the lock, which lives in the PMD
        // table's `ptdesc` (or the mm) and so outlives the guard.
        LockedPmd {
            pmd: self,
            _guard: SpinGuard(lock),
        }
    }
}

/// A PMD entry whose lock this thread holds: nobody else changes it.
pub(crate) struct LockedPmd<'p, 'a> {
    pmd: &'p Pmd<'a>,
    _guard: SpinGuard,
}

impl LockedPmd<'_, '_> {
    /// The entry.
    pub(crate) fn get(&self) -> PmdVal {
        self.pmd.read()
    }

    /// Replaces the entry.
    pub(crate) fn set(&self, value: PmdVal) {
        // SAFETY: The entry is allocated and we hold its lock.
        unsafe { bindings::set_pmd(self.pmd.ptr.as_ptr(), value.0) };
    }

    /// Clears the entry.
    pub(crate) fn clear(&self) {
        // SAFETY: The entry is allocated and we hold its lock.
        unsafe { bindings::pmd_clear(self.pmd.ptr.as_ptr()) };
    }

    /// Maps `table`, a new table of this mm's own whose entries are ready.
    pub(crate) fn install(&self, table: NonNull<bindings::ptdesc>) {
        // SAFETY: The entry is allocated, we hold its lock, and `table` is
        // a PTE table of this mm that nothing maps yet.
        unsafe {
            bindings::cow_pte_install_table(
                self.pmd.mm.as_raw(),
                self.pmd.ptr.as_ptr(),
                table.as_ptr(),
            )
        };
    }
}

/// A PTE table (`struct ptdesc`).
///
/// # Invariants
///
/// The pointer is a PTE table page, allocated for as long as its user keeps
/// a PMD entry that maps it locked or holds one of its sharer references.
#[derive(Clone, Copy)]
pub(crate) struct PteTable(NonNull<bindings::ptdesc>);

impl PteTable {
    /// Takes the table's PTE lock, nested in a PMD lock.
    pub(crate) fn lock(&self) -> LockedTable<'_> {
        // SAFETY: By the type invariant the table is allocated; split PTE
        // locks live in its `ptdesc`.
        let lock = unsafe { bindings::ptlock_ptr(self.0.as_ptr()) };
        // SAFETY: `ptlock_ptr()` returned the table's initialised lock.
        unsafe { bindings::spin_lock_nested(lock, SINGLE_DEPTH_NESTING) };
        // INVARIANT: We took the lock, which lives as long as the table.
        LockedTable {
            table: self,
            _guard: SpinGuard(lock),
        }
    }

    /// The `ptdesc` of the table.
    pub(crate) fn as_raw(&self) -> *mut bindings::ptdesc {
        self.0.as_ptr()
    }
}

/// Bit of the state word: the entries are already as fork leaves them.
const PREPARED: u32 = bindings::COW_PTE_STATE_PREPARED;
/// Bits of the state word that count the sharers.
const SHARERS: u32 = bindings::COW_PTE_STATE_SHARERS;

/// The COW state of a PTE table, kept in its `ptdesc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TableState {
    /// How many mms map the table (1 when it is not shared).
    pub(crate) sharers: u32,
    /// The entries are write-protected and nothing they map is marked
    /// exclusive, as fork leaves the parent's entries: a break did that to
    /// all of them since the table became shared.
    pub(crate) prepared: bool,
}

/// A PTE table whose lock this thread holds: its entries and COW state
/// are stable, except for accessed bits the hardware sets.
pub(crate) struct LockedTable<'t> {
    table: &'t PteTable,
    _guard: SpinGuard,
}

impl LockedTable<'_> {
    /// The COW state of the table.
    pub(crate) fn state(&self) -> TableState {
        // SAFETY: The table is allocated and we hold its lock.
        let raw = unsafe { bindings::ptdesc_cow_state(self.table.as_raw()) };
        TableState {
            sharers: raw & SHARERS,
            prepared: raw & PREPARED != 0,
        }
    }

    /// Records the COW state of the table, and counts it among the tables
    /// that several mms share while it is one (see `cow_pte_report.c`).
    pub(crate) fn set_state(&self, state: TableState) {
        let was_shared = self.state().sharers >= 2;
        let is_shared = state.sharers >= 2;
        if was_shared != is_shared {
            // SAFETY: Only updates an atomic counter.
            unsafe { bindings::cow_pte_shared_tables_add(if is_shared { 1 } else { -1 }) };
        }
        let raw = state.sharers | if state.prepared { PREPARED } else { 0 };
        // SAFETY: The table is allocated and we hold its lock.
        unsafe { bindings::ptdesc_set_cow_state(self.table.as_raw(), raw) };
    }

    /// The counts recorded when the table became shared.
    pub(crate) fn counts(&self) -> Result<TableCounts> {
        // SAFETY: The table is allocated and we hold its lock.
        let packed = unsafe { bindings::ptdesc_cow_rss(self.table.as_raw()) };
        // CAST: COW PTE is 64-bit only: `unsigned long` is a `u64`.
        TableCounts::unpack(packed as u64)
    }

    /// Records the counts of the table as it becomes shared.
    pub(crate) fn set_counts(&self, counts: &TableCounts) {
        // CAST: COW PTE is 64-bit only: `unsigned long` holds a `u64`.
        let packed = counts.pack() as kernel::ffi::c_ulong;
        // SAFETY: The table is allocated and we hold its lock.
        unsafe { bindings::ptdesc_set_cow_rss(self.table.as_raw(), packed) };
    }

    /// The table's entries.
    pub(crate) fn entries(&self) -> *mut bindings::pte_t {
        // SAFETY: The table is allocated; x86-64 page tables are always
        // mapped in the kernel (no highmem).
        unsafe { bindings::cow_pte_table_entries(self.table.as_raw()) }
    }
}
