//! Workspace buffers by liveness: a temporary or a copy takes a free buffer
//! (the smallest that holds it, else the largest free one, grown) and gives
//! it back once read, so the workspace is the buffers' lengths summed.

use super::BufferId;
use crate::count::Count;

/// The buffers handed out so far, and which are free. Lengths are exact:
/// a plan too large to run is still fitted, for its report.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    lens: Vec<Count>,
    free: Vec<BufferId>,
}

impl Pool {
    /// A buffer of at least `len` elements, not in use.
    pub(crate) fn take(&mut self, len: Count) -> BufferId {
        let fitting = (0..self.free.len())
            .filter(|&i| self.lens[self.free[i].0] >= len)
            .min_by_key(|&i| (&self.lens[self.free[i].0], self.free[i]));
        let largest =
            || (0..self.free.len()).max_by_key(|&i| (&self.lens[self.free[i].0], self.free[i]));
        match fitting.or_else(largest) {
            Some(i) => {
                let id = self.free.swap_remove(i);
                if self.lens[id.0] < len {
                    self.lens[id.0] = len;
                }
                id
            }
            None => {
                self.lens.push(len);
                BufferId(self.lens.len() - 1)
            }
        }
    }

    /// `id` is no longer read: later values may take it.
    pub(crate) fn give_back(&mut self, id: BufferId) {
        if id.0 < self.lens.len() && !self.free.contains(&id) {
            self.free.push(id);
        }
    }

    /// Each buffer's length.
    pub(crate) fn into_lens(self) -> Vec<Count> {
        self.lens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_buffers_are_reused_and_grown() {
        let mut pool = Pool::default();
        let a = pool.take(Count::from(100usize));
        let b = pool.take(Count::from(10usize));
        assert_ne!(a, b);
        pool.give_back(a);
        // The freed 100 holds 50.
        assert_eq!(pool.take(Count::from(50usize)), a);
        pool.give_back(b);
        // Nothing free holds 200: the largest free one (b) grows.
        assert_eq!(pool.take(Count::from(200usize)), b);
        assert_eq!(
            pool.into_lens(),
            vec![Count::from(100usize), Count::from(200usize)]
        );
    }
}
