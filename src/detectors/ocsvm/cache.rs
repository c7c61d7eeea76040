//! libsvm's kernel-column cache, laid out by solver position.

use std::collections::BTreeSet;

use super::kernel::{PositionedRows, RbfKernel};

/// Memory for cached kernel columns: libsvm's default `cache_size`, 200 MB of `f32`.
const CACHE_BYTES: usize = 200 << 20;

/// libsvm's kernel cache: columns of `(Qfloat) K(i, ·)` by original row `i`, each laid out
/// by solver position and valid for a prefix of positions, like libsvm's `Cache`. libsvm
/// swaps two entries in every cached column whenever shrinking swaps two positions; here a
/// shrink that moves positions starts a new layout, and a column from an older layout is
/// re-ordered in one pass the next time it is used. Loops over a column then run over
/// contiguous memory. Beyond the memory budget the least recently used column is dropped
/// (never the two most recent: the working pair); a dropped column is recomputed
/// identically.
pub(super) struct ColumnCache<'a> {
    pub(super) kernel: RbfKernel<'a>,
    columns: Vec<Option<Column>>,
    /// For each layout so far, the position of every original row.
    layouts: Vec<Vec<u32>>,
    /// The rows in the current layout.
    pub(super) rows: PositionedRows,
    last_used: Vec<u64>,
    /// Held columns by (last use, row), oldest first.
    lru: BTreeSet<(u64, usize)>,
    clock: u64,
    held: usize,
    capacity: usize,
    /// Buffers of dropped columns, for reuse (fresh memory is slow to touch).
    spare: Vec<Vec<f32>>,
    /// The target of a re-ordering pass.
    scratch: Vec<f32>,
}

struct Column {
    data: Vec<f32>,
    /// Positions `0..valid` hold their entries.
    valid: usize,
    layout: usize,
}

impl<'a> ColumnCache<'a> {
    pub(super) fn new(kernel: RbfKernel<'a>) -> Self {
        let l = kernel.len();
        let capacity = (CACHE_BYTES / (4 * l.max(1))).max(3);
        let identity: Vec<usize> = (0..l).collect();
        ColumnCache {
            rows: PositionedRows::new(&kernel, &identity),
            kernel,
            columns: (0..l).map(|_| None).collect(),
            layouts: vec![(0..l as u32).collect()],
            last_used: vec![0; l],
            lru: BTreeSet::new(),
            clock: 0,
            held: 0,
            capacity,
            spare: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn current_layout(&self) -> usize {
        self.layouts.len() - 1
    }

    /// Starts a new layout after the solver moved positions: `order[p]` is the row at `p`.
    pub(super) fn relayout(&mut self, order: &[usize]) {
        let mut position = vec![0u32; order.len()];
        for (p, &row) in order.iter().enumerate() {
            position[row] = p as u32;
        }
        self.layouts.push(position);
        self.rows = PositionedRows::new(&self.kernel, order);
    }

    /// Records a use of column `i` (held or about to be).
    fn touch(&mut self, i: usize) {
        self.clock += 1;
        if self.columns[i].is_some() {
            self.lru.remove(&(self.last_used[i], i));
            self.lru.insert((self.clock, i));
        }
        self.last_used[i] = self.clock;
    }

    /// Takes a buffer for a new column, dropping the oldest column if the budget is used up.
    fn new_buffer(&mut self, i: usize) -> Vec<f32> {
        if self.held >= self.capacity {
            // The two most recently requested columns (the working pair) stay.
            let victim = self
                .lru
                .iter()
                .find(|&&(used, c)| c != i && used + 1 < self.clock)
                .copied()
                .expect("the cache holds at least three columns");
            self.lru.remove(&victim);
            let column = self.columns[victim.1].take().expect("held");
            self.held -= 1;
            self.spare.push(column.data);
        }
        self.spare
            .pop()
            .unwrap_or_else(|| vec![0.0; self.kernel.len()])
    }

    fn store(&mut self, i: usize, data: Vec<f32>, valid: usize, layout: usize) {
        self.columns[i] = Some(Column {
            data,
            valid,
            layout,
        });
        self.held += 1;
        self.lru.insert((self.last_used[i], i));
    }

    /// Stores a whole column in the first layout if there is room without dropping another.
    pub(super) fn insert_complete(&mut self, i: usize, data: Vec<f32>) {
        if self.held < self.capacity && self.columns[i].is_none() {
            self.touch(i);
            let l = self.kernel.len();
            self.store(i, data, l, 0);
        }
    }

    /// Makes column `i` hold its entries for positions `0..len` of the current layout, where
    /// `order[p]` is the row at position `p`.
    pub(super) fn ensure(&mut self, i: usize, order: &[usize], len: usize) {
        self.touch(i);
        if self.columns[i].is_none() {
            let data = self.new_buffer(i);
            let layout = self.current_layout();
            self.store(i, data, 0, layout);
        }
        let current = self.current_layout();
        let l = self.kernel.len();
        let column = self.columns[i].as_mut().expect("just stored");
        if column.layout != current {
            // Entries keep their value; only their positions change. The valid prefix is
            // what still maps onto valid entries.
            let old_position = &self.layouts[column.layout];
            self.scratch.resize(l, 0.0);
            let mut valid = 0;
            for (slot, &row) in self.scratch.iter_mut().zip(order) {
                let q = old_position[row] as usize;
                if q >= column.valid {
                    break;
                }
                *slot = column.data[q];
                valid += 1;
            }
            std::mem::swap(&mut column.data, &mut self.scratch);
            column.valid = valid;
            column.layout = current;
        }
        if column.valid < len {
            let from = column.valid;
            self.kernel
                .column_range_par(i, &self.rows, from, &mut column.data[from..len]);
            column.valid = len;
        }
    }

    /// Column `i` by position (valid up to what the last `ensure` asked for).
    pub(super) fn get(&self, i: usize) -> &[f32] {
        &self.columns[i].as_ref().expect("ensured").data
    }

    /// Column `i` if it is held whole in the first layout (during the initial gradient).
    pub(super) fn complete_column(&self, i: usize) -> Option<&[f32]> {
        match &self.columns[i] {
            Some(c) if c.layout == 0 && c.valid == self.kernel.len() => Some(&c.data),
            _ => None,
        }
    }
}
