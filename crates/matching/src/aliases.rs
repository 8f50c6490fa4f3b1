//! Random aliases for anonymous profiles: two words and a number, drawn afresh for every
//! party of every match, so that nothing links one organisation's appearances.

use rand::seq::IndexedRandom;
use rand::{Rng, RngExt};

const COLOURS: &[&str] = &[
    "Amber", "Azure", "Cedar", "Coral", "Copper", "Crimson", "Ember", "Fern", "Golden", "Granite", "Hazel", "Indigo",
    "Ivory", "Jade", "Juniper", "Lilac", "Linen", "Maple", "Marine", "Moss", "Ochre", "Olive", "Opal", "Pearl", "Plum",
    "Quartz", "Russet", "Saffron", "Sage", "Scarlet", "Silver", "Slate", "Teal", "Umber", "Violet", "Willow",
];

const CREATURES: &[&str] = &[
    "Avocet",
    "Badger",
    "Bittern",
    "Curlew",
    "Dipper",
    "Dunlin",
    "Egret",
    "Falcon",
    "Fox",
    "Gannet",
    "Hare",
    "Heron",
    "Ibis",
    "Kestrel",
    "Kingfisher",
    "Lapwing",
    "Linnet",
    "Marten",
    "Merlin",
    "Newt",
    "Osprey",
    "Otter",
    "Owl",
    "Plover",
    "Puffin",
    "Raven",
    "Redstart",
    "Robin",
    "Sandpiper",
    "Shrike",
    "Skylark",
    "Stoat",
    "Swift",
    "Tern",
    "Wagtail",
    "Wren",
];

/// The alias that `seed` (eight bytes from a keyed hash) stands for: the same seed, the same
/// alias, so a searcher sees one card under one alias, while seeds keyed to other searchers
/// give unrelated ones.
pub fn alias_from(seed: [u8; 8]) -> String {
    let value = u64::from_le_bytes(seed);
    let colour = COLOURS[(value % COLOURS.len() as u64) as usize];
    let creature = CREATURES[((value / 64) % CREATURES.len() as u64) as usize];
    format!("{colour} {creature} {}", 10 + (value / 4096) % 90)
}

/// An alias such as "Teal Kestrel 42".
pub fn random_alias(rng: &mut impl Rng) -> String {
    let colour = COLOURS.choose(rng).copied().unwrap_or("Teal");
    let creature = CREATURES.choose(rng).copied().unwrap_or("Kestrel");
    format!("{colour} {creature} {}", rng.random_range(10..100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_vary() {
        let mut rng = rand::rng();
        let aliases: std::collections::HashSet<String> = (0..50).map(|_| random_alias(&mut rng)).collect();
        assert!(aliases.len() > 40, "{aliases:?}");
        assert!(aliases.iter().all(|a| a.split(' ').count() == 3));
    }
}
