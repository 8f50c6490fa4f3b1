//! k-anonymous profiles (CONTRACT.md, confidentiality invariant 6). An anonymous profile
//! shows an organisation's kind, region, size band, innovation stage and sectors only in a
//! combination that at least `k` organisations of the population fit, not counting the viewer
//! (who knows it is not the one shown). A rarer combination is generalised: the region to its
//! nation, then to `uk` (or `outside_uk`), then withheld; the size band, the stage and the kind
//! withheld; the sectors narrowed to those the viewer shares, then fewer, then none.
//!
//! Which fields survive is chosen, not fixed: of every generalisation that `k` organisations
//! fit, the one that keeps the most useful information wins, by the weights of [`Usefulness`]
//! (kind first, then stage and shared sectors, then region, and the size band last, since
//! Matchwell matches on fit rather than size).
//!
//! The [`AnonymityIndex`] is built from the population (every verified organisation) and
//! answers counts from memory; callers rebuild it when the population changes.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::catalogue::{OUTSIDE_UK, Taxonomy, UK};
use crate::kind::OrgKind;

/// The fields of an organisation that could single it out, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuasiIdentifiers {
    pub kind: Option<OrgKind>,
    pub region: Option<String>,
    pub size_band: Option<String>,
    pub innovation_stage: Option<String>,
    pub sectors: Vec<String>,
}

/// What an anonymous profile shows of those fields: a combination that at least `k`
/// organisations fit (`None` and fewer sectors where a value was generalised away).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    pub kind: Option<OrgKind>,
    /// A region, a nation, `uk` or `outside_uk`.
    pub region: Option<String>,
    pub size_band: Option<String>,
    pub innovation_stage: Option<String>,
    pub sectors: Vec<String>,
}

/// Where an organisation is, at some level of detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Area {
    Region(u8),
    Nation(u8),
    /// `true`: the UK; `false`: outside it.
    Country(bool),
    Any,
}

/// One organisation, packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Packed {
    kind: u8,
    region: Option<u8>,
    nation: Option<u8>,
    uk: Option<bool>,
    size: Option<u8>,
    stage: Option<u8>,
    sectors: u64,
}

/// A generalised combination: the organisations that fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Pattern {
    kind: Option<u8>,
    area: Area,
    size: Option<u8>,
    stage: Option<u8>,
    sectors: u64,
}

impl Pattern {
    fn fits(&self, org: &Packed) -> bool {
        let area = match self.area {
            Area::Region(r) => org.region == Some(r),
            Area::Nation(n) => org.nation == Some(n),
            Area::Country(uk) => org.uk == Some(uk),
            Area::Any => true,
        };
        area && self.kind.is_none_or(|k| org.kind == k)
            && self.size.is_none_or(|s| org.size == Some(s))
            && self.stage.is_none_or(|s| org.stage == Some(s))
            && org.sectors & self.sectors == self.sectors
    }
}

/// Who will read an anonymous profile.
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    /// A known organisation: it is not counted among those that fit, and sectors it shares
    /// are preferred.
    Organisation(&'a QuasiIdentifiers),
    /// Any member (a public surface): one organisation fewer is counted, since the reader may
    /// be one of those that fit.
    Anyone,
}

/// How much each field shown is worth when choosing among generalisations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usefulness {
    pub kind: u32,
    pub stage: u32,
    /// Per sector shown that the viewer shares.
    pub shared_sector: u32,
    /// Per sector shown that the viewer does not have.
    pub other_sector: u32,
    pub region: u32,
    pub nation: u32,
    pub country: u32,
    pub size_band: u32,
}

impl Default for Usefulness {
    fn default() -> Usefulness {
        Usefulness {
            kind: 64,
            stage: 12,
            shared_sector: 8,
            other_sector: 3,
            region: 10,
            nation: 7,
            country: 3,
            size_band: 2,
        }
    }
}

/// The population's quasi-identifiers, for generalising anonymous profiles.
#[derive(Debug)]
pub struct AnonymityIndex {
    k: usize,
    usefulness: Usefulness,
    orgs: Vec<Packed>,
    regions: Vec<String>,
    nations: Vec<String>,
    sizes: Vec<String>,
    stages: Vec<String>,
    sectors: Vec<String>,
    /// Regions' nations, by region position; `None` for `outside_uk`.
    region_nation: Vec<Option<u8>>,
    counts: Mutex<HashMap<Pattern, u32>>,
}

fn position(ids: &[String], id: Option<&str>) -> Option<u8> {
    let id = id?;
    ids.iter().position(|x| x == id).and_then(|p| u8::try_from(p).ok())
}

impl AnonymityIndex {
    /// An index of `population` in which every shown combination must fit `k` organisations.
    pub fn new(taxonomy: &Taxonomy, k: usize, population: &[QuasiIdentifiers]) -> AnonymityIndex {
        let ids = |v: &crate::Vocabulary| v.terms().iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        let regions = ids(&taxonomy.regions);
        let nations: Vec<String> = taxonomy.nations.iter().map(|n| n.id.clone()).collect();
        let region_nation =
            regions.iter().map(|r| taxonomy.nation_of(r).and_then(|n| position(&nations, Some(&n.id)))).collect();
        let mut index = AnonymityIndex {
            k,
            usefulness: Usefulness::default(),
            orgs: Vec::with_capacity(population.len()),
            regions,
            nations,
            sizes: ids(&taxonomy.size_bands),
            stages: ids(&taxonomy.innovation_stages),
            sectors: ids(&taxonomy.sectors),
            region_nation,
            counts: Mutex::new(HashMap::new()),
        };
        index.orgs = population.iter().map(|q| index.pack(q)).collect();
        index
    }

    /// The least number of organisations a shown combination must fit.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Organisations in the population.
    pub fn len(&self) -> usize {
        self.orgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orgs.is_empty()
    }

    fn pack(&self, q: &QuasiIdentifiers) -> Packed {
        let region = position(&self.regions, q.region.as_deref());
        let nation = region.and_then(|r| self.region_nation[usize::from(r)]);
        Packed {
            // An organisation without a kind fits no pattern that shows one.
            kind: q.kind.map_or(u8::MAX, OrgKind::index),
            region,
            nation,
            uk: region.map(|_| q.region.as_deref() != Some(OUTSIDE_UK)),
            size: position(&self.sizes, q.size_band.as_deref()),
            stage: position(&self.stages, q.innovation_stage.as_deref()),
            sectors: q.sectors.iter().filter_map(|s| position(&self.sectors, Some(s))).fold(0, |bits, p| bits | 1 << p),
        }
    }

    /// Organisations of the population that fit `pattern`.
    fn count(&self, pattern: &Pattern) -> u32 {
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(&n) = counts.get(pattern) {
            return n;
        }
        let n = self.orgs.iter().filter(|o| pattern.fits(o)).count() as u32;
        counts.insert(*pattern, n);
        n
    }

    /// What `viewer` may be shown of `subject`: the most useful generalisation that at least
    /// `k` organisations other than the viewer fit.
    pub fn generalise(&self, subject: &QuasiIdentifiers, viewer: Viewer<'_>) -> Shown {
        let me = self.pack(subject);
        let viewer_packed = match viewer {
            Viewer::Organisation(v) => Some(self.pack(v)),
            Viewer::Anyone => None,
        };
        let shared_bits = viewer_packed.map_or(0, |v| v.sectors) & me.sectors;
        let u = self.usefulness;

        let kinds: Vec<Option<u8>> = if me.kind == u8::MAX { vec![None] } else { vec![Some(me.kind), None] };
        let mut areas = vec![];
        if let Some(r) = me.region {
            areas.push(Area::Region(r));
            if let Some(n) = me.nation {
                // Wales, Scotland and Northern Ireland are regions and nations at once.
                if self.regions[usize::from(r)] != self.nations[usize::from(n)] {
                    areas.push(Area::Nation(n));
                }
            }
            if me.uk == Some(true) {
                areas.push(Area::Country(true));
            }
        }
        areas.push(Area::Any);
        let sizes: Vec<Option<u8>> = me.size.map_or(vec![None], |s| vec![Some(s), None]);
        let stages: Vec<Option<u8>> = me.stage.map_or(vec![None], |s| vec![Some(s), None]);
        let sector_sets = self.sector_chain(me.sectors, shared_bits);

        let area_value = |area: &Area| match area {
            Area::Region(_) => u.region,
            Area::Nation(_) => u.nation,
            Area::Country(_) => u.country,
            Area::Any => 0,
        };
        let mut candidates = Vec::new();
        for kind in &kinds {
            for area in &areas {
                for size in &sizes {
                    for stage in &stages {
                        for &sectors in &sector_sets {
                            let shared = (sectors & shared_bits).count_ones();
                            let other = (sectors & !shared_bits).count_ones();
                            let value = kind.map_or(0, |_| u.kind)
                                + area_value(area)
                                + size.map_or(0, |_| u.size_band)
                                + stage.map_or(0, |_| u.stage)
                                + shared * u.shared_sector
                                + other * u.other_sector;
                            let pattern = Pattern { kind: *kind, area: *area, size: *size, stage: *stage, sectors };
                            candidates.push((value, pattern));
                        }
                    }
                }
            }
        }
        // Most useful first; ties keep the order of the loops above (kind, area, size, stage,
        // then more sectors), so the choice is deterministic.
        candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
        let k = self.k as u32;
        let chosen = candidates
            .iter()
            .map(|(_, pattern)| pattern)
            .find(|pattern| {
                let viewer_fits = viewer_packed.is_none_or(|v| pattern.fits(&v));
                self.count(pattern).saturating_sub(u32::from(viewer_fits)) >= k
            })
            .copied()
            .unwrap_or(Pattern { kind: None, area: Area::Any, size: None, stage: None, sectors: 0 });
        self.show(&chosen)
    }

    /// The sector sets to try, from all of the subject's to none: all, those the viewer shares,
    /// then the shared ones with the rarest left out one by one.
    fn sector_chain(&self, all: u64, shared: u64) -> Vec<u64> {
        let mut chain = vec![all];
        let mut current = shared;
        loop {
            if !chain.contains(&current) {
                chain.push(current);
            }
            if current == 0 {
                break;
            }
            let rarest = (0..64)
                .filter(|bit| current & (1 << bit) != 0)
                .min_by_key(|&bit| self.orgs.iter().filter(|o| o.sectors & (1 << bit) != 0).count())
                .unwrap_or(0);
            current &= !(1 << rarest);
        }
        chain
    }

    fn show(&self, pattern: &Pattern) -> Shown {
        let name = |ids: &[String], p: u8| ids.get(usize::from(p)).cloned();
        Shown {
            kind: pattern.kind.and_then(|k| OrgKind::ALL.get(usize::from(k)).copied()),
            region: match pattern.area {
                Area::Region(r) => name(&self.regions, r),
                Area::Nation(n) => name(&self.nations, n),
                Area::Country(true) => Some(UK.to_owned()),
                Area::Country(false) => Some(OUTSIDE_UK.to_owned()),
                Area::Any => None,
            },
            size_band: pattern.size.and_then(|s| name(&self.sizes, s)),
            innovation_stage: pattern.stage.and_then(|s| name(&self.stages, s)),
            sectors: (0..self.sectors.len())
                .filter(|&p| pattern.sectors & (1 << p) != 0)
                .map(|p| self.sectors[p].clone())
                .collect(),
        }
    }

    /// How many organisations of the population fit what `shown` says (for tests and reports).
    pub fn fitting(&self, shown: &Shown) -> usize {
        let uk = shown.region.as_deref() == Some(UK);
        let area = match shown.region.as_deref() {
            None => Area::Any,
            Some(_) if uk => Area::Country(true),
            Some(OUTSIDE_UK) => Area::Region(position(&self.regions, Some(OUTSIDE_UK)).unwrap_or(u8::MAX)),
            Some(id) => match position(&self.regions, Some(id)) {
                Some(r) => Area::Region(r),
                None => position(&self.nations, Some(id)).map_or(Area::Any, Area::Nation),
            },
        };
        let pattern = Pattern {
            kind: shown.kind.map(OrgKind::index),
            area,
            size: position(&self.sizes, shown.size_band.as_deref()),
            stage: position(&self.stages, shown.innovation_stage.as_deref()),
            sectors: shown.sectors.iter().filter_map(|s| position(&self.sectors, Some(s))).fold(0, |b, p| b | 1 << p),
        };
        self.orgs.iter().filter(|o| pattern.fits(o)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalogue;

    fn org(kind: OrgKind, region: &str, size: &str, stage: &str, sectors: &[&str]) -> QuasiIdentifiers {
        QuasiIdentifiers {
            kind: Some(kind),
            region: Some(region.to_owned()),
            size_band: Some(size.to_owned()),
            innovation_stage: Some(stage.to_owned()),
            sectors: sectors.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn taxonomy() -> Taxonomy {
        Catalogue::builtin().expect("catalogue").taxonomy
    }

    #[test]
    fn a_common_combination_is_shown_as_it_is() {
        let same = org(OrgKind::Sme, "london", "micro", "prototype", &["digital_health"]);
        let population = vec![same.clone(); 6];
        let index = AnonymityIndex::new(&taxonomy(), 5, &population);
        let shown = index.generalise(&same, Viewer::Anyone);
        assert_eq!(shown.kind, Some(OrgKind::Sme));
        assert_eq!(shown.region.as_deref(), Some("london"));
        assert_eq!(shown.size_band.as_deref(), Some("micro"));
        assert_eq!(shown.innovation_stage.as_deref(), Some("prototype"));
        assert_eq!(shown.sectors, ["digital_health"]);
    }

    #[test]
    fn a_public_reader_counts_as_one_that_might_fit() {
        let same = org(OrgKind::Sme, "london", "micro", "prototype", &["digital_health"]);
        let index = AnonymityIndex::new(&taxonomy(), 5, &vec![same.clone(); 5]);
        assert_eq!(index.generalise(&same, Viewer::Anyone), Shown::default(), "4 others are not enough");
    }

    #[test]
    fn a_rare_size_band_is_withheld_before_anything_else() {
        let mut population = vec![org(OrgKind::Sme, "london", "micro", "prototype", &["digital_health"]); 6];
        let rare = org(OrgKind::Sme, "london", "large", "prototype", &["digital_health"]);
        population.push(rare.clone());
        let index = AnonymityIndex::new(&taxonomy(), 5, &population);
        let shown = index.generalise(&rare, Viewer::Anyone);
        assert_eq!(shown.size_band, None);
        assert_eq!(shown.region.as_deref(), Some("london"));
        assert_eq!(shown.innovation_stage.as_deref(), Some("prototype"));
        assert!(index.fitting(&shown) >= 5);
    }

    #[test]
    fn a_rare_region_becomes_its_nation_then_the_uk() {
        let mut population: Vec<QuasiIdentifiers> = ["london", "south_east", "north_east", "south_west"]
            .iter()
            .map(|r| org(OrgKind::Sme, r, "micro", "idea", &[]))
            .collect();
        let subject = org(OrgKind::Sme, "london", "micro", "idea", &[]);
        let outsider = org(OrgKind::Academic, "scotland", "large", "scale", &[]);
        population.push(org(OrgKind::Sme, "wales", "micro", "idea", &[]));
        let index = AnonymityIndex::new(&taxonomy(), 4, &population);
        assert_eq!(index.generalise(&subject, Viewer::Organisation(&outsider)).region.as_deref(), Some("england"));
        let index = AnonymityIndex::new(&taxonomy(), 5, &population);
        assert_eq!(index.generalise(&subject, Viewer::Organisation(&outsider)).region.as_deref(), Some("uk"));
        let index = AnonymityIndex::new(&taxonomy(), 6, &population);
        let shown = index.generalise(&subject, Viewer::Organisation(&outsider));
        assert_eq!((shown.region, shown.kind), (None, None), "6 organisations cannot fit a population of 5");
    }

    #[test]
    fn the_viewer_is_not_counted_and_sees_only_sectors_it_shares() {
        let subject = org(OrgKind::HealthOrg, "wales", "large", "adoption", &["ageing_frailty", "genomics"]);
        let viewer = org(OrgKind::Sme, "wales", "micro", "prototype", &["ageing_frailty"]);
        let mut population = vec![subject.clone()];
        for _ in 0..4 {
            population.push(org(OrgKind::HealthOrg, "wales", "large", "adoption", &["ageing_frailty"]));
        }
        population.push(viewer.clone());
        let index = AnonymityIndex::new(&taxonomy(), 5, &population);
        let shown = index.generalise(&subject, Viewer::Organisation(&viewer));
        assert_eq!(shown.sectors, ["ageing_frailty"], "genomics is rare and not the viewer's");
        assert_eq!(shown.kind, Some(OrgKind::HealthOrg));
        assert_eq!(shown.region.as_deref(), Some("wales"));
        // A viewer that fits the combination is left out of the count: here only four others
        // remain, so nothing at all can be shown.
        let twin_viewer = org(OrgKind::HealthOrg, "wales", "large", "adoption", &["ageing_frailty"]);
        let mut smaller = vec![subject.clone(), twin_viewer.clone()];
        smaller.extend(vec![org(OrgKind::HealthOrg, "wales", "large", "adoption", &["ageing_frailty"]); 3]);
        let index = AnonymityIndex::new(&taxonomy(), 5, &smaller);
        let shown = index.generalise(&subject, Viewer::Organisation(&twin_viewer));
        assert_eq!(shown, Shown::default());
    }

    #[test]
    fn every_shown_combination_fits_k_organisations_besides_the_viewer() {
        // A deterministic spread of 400 organisations over the taxonomy.
        let t = taxonomy();
        let pick = |v: &crate::Vocabulary, i: usize| v.terms()[i % v.terms().len()].id.clone();
        let population: Vec<QuasiIdentifiers> = (0..400usize)
            .map(|i| QuasiIdentifiers {
                kind: Some(OrgKind::ALL[(i * 7) % 4]),
                region: Some(pick(&t.regions, i * 13 + i / 7)),
                size_band: Some(pick(&t.size_bands, i * 5 + i / 3)),
                innovation_stage: Some(pick(&t.innovation_stages, i * 3 + i / 11)),
                sectors: vec![pick(&t.sectors, i), pick(&t.sectors, i * 11 + 3)],
            })
            .collect();
        for k in [2, 5, 10] {
            let index = AnonymityIndex::new(&t, k, &population);
            for (i, subject) in population.iter().enumerate().step_by(7) {
                let viewer = &population[(i * 31 + 5) % population.len()];
                let shown = index.generalise(subject, Viewer::Organisation(viewer));
                let viewer_fits = index.fitting_one(&shown, viewer);
                assert!(index.fitting(&shown) - usize::from(viewer_fits) >= k, "k={k}: {shown:?}");
                assert!(shown.sectors.iter().all(|s| subject.sectors.contains(s)));
            }
        }
    }

    impl AnonymityIndex {
        fn fitting_one(&self, shown: &Shown, org: &QuasiIdentifiers) -> bool {
            let single = AnonymityIndex::new(&taxonomy(), 1, std::slice::from_ref(org));
            single.fitting(shown) == 1
        }
    }
}
