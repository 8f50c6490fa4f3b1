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
