//! What counts as a label, and a small set of labels.

/// Whether `ch` may be a label: ASCII letters (numpy's 52) or, as our
/// extension, any other Unicode alphabetic character.
pub fn is_label(ch: char) -> bool {
    ch.is_ascii_alphabetic() || (!ch.is_ascii() && ch.is_alphabetic())
}

/// A set of labels: a bit mask for ASCII, a sorted list for the rest.
#[derive(Default)]
pub(crate) struct LabelSet {
    ascii: u128,
    other: Vec<char>,
}

impl LabelSet {
    /// Inserts `label`; returns whether it was new.
    pub(crate) fn insert(&mut self, label: char) -> bool {
        if label.is_ascii() {
            let bit = 1u128 << (label as u32);
            let new = self.ascii & bit == 0;
            self.ascii |= bit;
            new
        } else {
            match self.other.binary_search(&label) {
                Ok(_) => false,
                Err(at) => {
                    self.other.insert(at, label);
                    true
                }
            }
        }
    }

    pub(crate) fn contains(&self, label: char) -> bool {
        if label.is_ascii() {
            self.ascii & (1u128 << (label as u32)) != 0
        } else {
            self.other.binary_search(&label).is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_letters_only() {
        for ch in ['a', 'z', 'A', 'Z', 'α', 'Ω', '漢'] {
            assert!(is_label(ch), "{ch:?}");
        }
        for ch in [
            '0', '9', '_', ' ', '.', '-', '>', ',', '\t', '→', '٣', '\u{0}',
        ] {
            assert!(!is_label(ch), "{ch:?}");
        }
    }

    #[test]
    fn set_handles_ascii_and_beyond() {
        let mut set = LabelSet::default();
        assert!(set.insert('a') && set.insert('Z') && set.insert('β') && set.insert('α'));
        assert!(!set.insert('a') && !set.insert('α'));
        assert!(set.contains('Z') && set.contains('β') && !set.contains('b') && !set.contains('γ'));
    }
}
