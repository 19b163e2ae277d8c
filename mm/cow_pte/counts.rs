// SPDX-License-Identifier: GPL-2.0

//! The per-mm counters a PTE table contributes to the mms that map it.
//!
//! Zapping an entry adjusts counters of its mm: the RSS counters, and the
//! KSM zero page counts for a zero page KSM mapped.  While a table is
//! shared its entries do not change (see `share.rs`), so its counts are
//! taken once, when the table first becomes shared, and kept packed in one
//! word of its `ptdesc`: fork adds the RSS to the child, and an mm that
//! lets go of the table subtracts what a zap of it would have.

use kernel::bindings;
use kernel::error::{code::EINVAL, Result};

/// Number of RSS counters (`MM_FILEPAGES`, `MM_ANONPAGES`, ...).
pub(crate) const RSS_COUNTERS: usize = bindings::NR_MM_COUNTERS as usize;

/// Number of counts: the RSS counters, then the KSM zero pages.
pub(crate) const COUNTS: usize = RSS_COUNTERS + 1;

/// Index of the KSM zero page count.
const KSM_ZERO: usize = RSS_COUNTERS;

/// Bits per packed count: a table has at most 512 entries.
const BITS: u32 = 12;
const MASK: u64 = (1 << BITS) - 1;

// Every count must fit in its lane, and all lanes in one word.
const _: () = assert!(bindings::PTRS_PER_PTE < (1 << BITS));
const _: () = assert!(COUNTS as u32 * BITS <= u64::BITS);

/// The counts of one PTE table: RSS counters in `MM_*` order, then the
/// KSM zero pages.
///
/// # Invariants
///
/// Every count is in `0..=PTRS_PER_PTE`, and so is their sum: each entry
/// of a table counts in at most one of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TableCounts([i32; COUNTS]);

impl TableCounts {
    /// Checks and wraps counts, in the order above.
    pub(crate) fn new(counts: [i32; COUNTS]) -> Result<TableCounts> {
        let max = i32::try_from(bindings::PTRS_PER_PTE).map_err(|_| EINVAL)?;
        let mut sum: i32 = 0;
        for &count in &counts {
            if !(0..=max).contains(&count) {
                return Err(EINVAL);
            }
            sum = sum.checked_add(count).ok_or(EINVAL)?;
        }
        if sum > max {
            return Err(EINVAL);
        }
        // INVARIANT: Every count and their sum were checked just above.
        Ok(TableCounts(counts))
    }

    /// Checks and wraps RSS counters and a KSM zero page count.
    pub(crate) fn from_parts(rss: [i32; RSS_COUNTERS], ksm_zero: i32) -> Result<TableCounts> {
        let mut counts = [ksm_zero; COUNTS];
        for (count, &value) in counts.iter_mut().zip(rss.iter()) {
            *count = value;
        }
        TableCounts::new(counts)
    }

    /// All counts, in the order above.
    pub(crate) fn counts(&self) -> &[i32; COUNTS] {
        &self.0
    }

    /// The RSS counters, in `MM_*` order.
    pub(crate) fn rss(&self) -> &[i32] {
        &self.0[..RSS_COUNTERS]
    }

    /// The zero pages KSM mapped in the table.
    pub(crate) fn ksm_zero(&self) -> i32 {
        self.0[KSM_ZERO]
    }

    /// Whether the table holds swap entries (swapoff must find its mms).
    pub(crate) fn has_swap(&self) -> bool {
        self.0[bindings::MM_SWAPENTS as usize] > 0
    }

    /// Packs the counts into one word, `BITS` bits each.
    pub(crate) fn pack(&self) -> u64 {
        let mut packed = 0;
        for (lane, &count) in self.0.iter().enumerate() {
            // CAST: By the type invariant `count` is in `0..=512`.
            packed |= (count as u64 & MASK) << (lane as u32 * BITS);
        }
        packed
    }

    /// Unpacks a word made by [`TableCounts::pack`]; `EINVAL` for anything
    /// else.
    pub(crate) fn unpack(packed: u64) -> Result<TableCounts> {
        let mut counts = [0; COUNTS];
        for (lane, count) in counts.iter_mut().enumerate() {
            // CAST: The lane is masked to `BITS` bits.
            *count = ((packed >> (lane as u32 * BITS)) & MASK) as i32;
        }
        if packed.checked_shr(COUNTS as u32 * BITS).unwrap_or(0) != 0 {
            return Err(EINVAL);
        }
        TableCounts::new(counts)
    }
}
