//! k-anonymous profiles (CONTRACT.md, confidentiality invariant 6). An anonymous profile shows
//! an organisation's kind, region, size band, innovation stage and sectors only as a
//! combination that at least `k` organisations fit besides the viewer, and, more than that,
//! that at least `k` organisations besides the viewer are *shown*: the population is divided
//! into groups of at least `k + 1` organisations, and every organisation of a group is shown
//! alike. (Generalising each profile on its own would not do: an organisation shown as
//! "England" among neighbours shown as "London" would stand out by the very generalisation
//! that was meant to hide it.)
//!
//! The groups come from splitting the whole population top-down, one field at a time, and
//! only where every part keeps at least `k + 1` organisations (in the manner of Mondrian,
//! LeFevre et al., 2006). A group shows what all its organisations have in common: their kind;
//! their region, or the nation or `uk` (`outside_uk`) they share; their size band and stage
//! when all have the same; the sectors they all work in. The order of the splits decides which
//! fields survive: kind first, then the country, the stage, a first sector, the nation, more
//! sectors, the region, and the size band last, since Matchwell matches on fit, not size.
//!
//! The viewer may know more than what is shown. It knows which kinds it can be matched with
//! (both sides must welcome each other's kind), so a group counts only the organisations that
//! could be its counterpart, and never the viewer itself; when fewer than `k` remain, nothing
//! is shown. It is shown only the group's sectors that it works in itself.

use std::collections::{BTreeMap, HashMap};

use crate::catalogue::{OUTSIDE_UK, Taxonomy, UK};
use crate::kind::OrgKind;

/// What is known of an organisation for its anonymous profile: the fields that could single it
/// out, and the kinds it welcomes as partners (which tells who could be matched with it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuasiIdentifiers {
    pub kind: Option<OrgKind>,
    pub region: Option<String>,
    pub size_band: Option<String>,
    pub innovation_stage: Option<String>,
    pub sectors: Vec<String>,
    /// Empty: every kind.
    pub seeking_kinds: Vec<OrgKind>,
}

/// What an anonymous profile shows of those fields (`None`, and fewer sectors, where a value
/// was generalised away).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    pub kind: Option<OrgKind>,
    /// A region, a nation, `uk` or `outside_uk`.
    pub region: Option<String>,
    pub size_band: Option<String>,
    pub innovation_stage: Option<String>,
    pub sectors: Vec<String>,
}

/// Who will read an anonymous profile. A known viewer is not counted among those shown
/// alike, only organisations that could be matched with it are counted, and it is shown only
/// the sectors it works in.
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    /// The organisation at this position of the population the index was built from.
    Member(usize),
    /// An organisation outside that population (it joined after the index was built).
    Outsider(&'a QuasiIdentifiers),
    /// Any member (a public surface): one organisation fewer is counted, since the reader may
    /// be one of the group.
    Anyone,
}

/// Filters on what a search card shows, resolved to the index's own numbering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CardFilter {
    kind: Option<u8>,
    sector: Option<u64>,
    stage: Option<u8>,
    area: Option<Area>,
    /// A filter named a value the taxonomy does not know: nothing passes.
    impossible: bool,
}

/// Where an organisation is, at some level of detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Area {
    Any,
    /// `true`: the UK; `false`: outside it.
    Country(bool),
    Nation(u8),
    Region(u8),
}

/// One organisation, packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Packed {
    kind: Option<u8>,
    region: Option<u8>,
    nation: Option<u8>,
    uk: Option<bool>,
    size: Option<u8>,
    stage: Option<u8>,
    sectors: u64,
    /// Kinds welcomed, as bits of `OrgKind::index`; every bit set for "every kind".
    welcomes: u8,
}

const EVERY_KIND: u8 = 0b1111;

impl Packed {
    /// Whether this organisation and `other` could be matched (each welcomes the other's
    /// kind).
    fn compatible(&self, other: &Packed) -> bool {
        let welcomes = |a: &Packed, b: &Packed| b.kind.is_none_or(|k| a.welcomes & (1 << k) != 0);
        welcomes(self, other) && welcomes(other, self)
    }

    fn area_at(&self, level: AreaLevel) -> Option<Area> {
        match level {
            AreaLevel::Country => self.uk.map(Area::Country),
            AreaLevel::Nation => self.nation.map(Area::Nation),
            AreaLevel::Region => self.region.map(Area::Region),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AreaLevel {
    Country,
    Nation,
    Region,
}

/// What a group shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Level {
    kind: Option<u8>,
    area: Area,
    size: Option<u8>,
    stage: Option<u8>,
    sectors: u64,
}

/// A field a split refines, in the order splits are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Kind,
    Area(AreaLevel),
    Stage,
    FirstSector,
    MoreSectors,
    Size,
}

const STEPS: [Step; 8] = [
    Step::Kind,
    Step::Area(AreaLevel::Country),
    Step::Stage,
    Step::FirstSector,
    Step::Area(AreaLevel::Nation),
    Step::MoreSectors,
    Step::Area(AreaLevel::Region),
    Step::Size,
];

/// Fields a group may no longer split on (its rest kept the coarser value).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Frozen {
    kind: bool,
    area: bool,
    stage: bool,
    size: bool,
    /// Sectors tried and left out.
    sectors: u64,
}

#[derive(Debug)]
struct Group {
    members: Vec<u32>,
    level: Level,
    frozen: Frozen,
}

/// A final group: what it shows, and its members counted by (kind, kinds welcomed).
#[derive(Debug, Clone)]
struct Class {
    level: Level,
    pool: Vec<((Option<u8>, u8), u32)>,
}

/// A kind of viewer, as far as who could be its counterpart goes: its kind and the kinds it
/// welcomes.
type ViewerKind = (Option<u8>, u8);

/// The population divided into groups that are shown alike.
#[derive(Debug)]
pub struct AnonymityIndex {
    k: usize,
    orgs: Vec<Packed>,
    class_of: Vec<u32>,
    classes: Vec<Class>,
    regions: Vec<String>,
    nations: Vec<String>,
    sizes: Vec<String>,
    stages: Vec<String>,
    sectors: Vec<String>,
    region_nation: Vec<Option<u8>>,
    /// [`AnonymityIndex::counterparts_per_group`], by kind of viewer.
    counterparts: std::sync::Mutex<HashMap<ViewerKind, std::sync::Arc<Vec<u32>>>>,
}

fn position(ids: &[String], id: Option<&str>) -> Option<u8> {
    let id = id?;
    ids.iter().position(|x| x == id).and_then(|p| u8::try_from(p).ok())
}

impl AnonymityIndex {
    /// Divides `population` into groups of at least `k + 1` organisations shown alike.
    pub fn new(taxonomy: &Taxonomy, k: usize, population: &[QuasiIdentifiers]) -> AnonymityIndex {
        let ids = |v: &crate::Vocabulary| v.terms().iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        let regions = ids(&taxonomy.regions);
        let nations: Vec<String> = taxonomy.nations.iter().map(|n| n.id.clone()).collect();
        let region_nation =
            regions.iter().map(|r| taxonomy.nation_of(r).and_then(|n| position(&nations, Some(&n.id)))).collect();
        let mut index = AnonymityIndex {
            k: k.max(1),
            orgs: Vec::new(),
            class_of: vec![0; population.len()],
            classes: Vec::new(),
            regions,
            nations,
            sizes: ids(&taxonomy.size_bands),
            stages: ids(&taxonomy.innovation_stages),
            sectors: ids(&taxonomy.sectors),
            region_nation,
            counterparts: std::sync::Mutex::new(HashMap::new()),
        };
        index.orgs = population.iter().map(|q| index.pack(q)).collect();
        index.partition();
        index
    }

    /// The least number of organisations, besides the viewer, shown alike.
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
        let welcomes = q.seeking_kinds.iter().fold(0u8, |bits, k| bits | 1 << k.index());
        Packed {
            kind: q.kind.map(OrgKind::index),
            region,
            nation,
            uk: region.map(|_| q.region.as_deref() != Some(OUTSIDE_UK)),
            size: position(&self.sizes, q.size_band.as_deref()),
            stage: position(&self.stages, q.innovation_stage.as_deref()),
            sectors: q.sectors.iter().filter_map(|s| position(&self.sectors, Some(s))).fold(0, |b, p| b | 1 << p),
            welcomes: if welcomes == 0 { EVERY_KIND } else { welcomes },
        }
    }

    /// Splits the population top-down into the final groups.
    fn partition(&mut self) {
        let least = self.k + 1;
        let everyone = Group {
            members: (0..self.orgs.len() as u32).collect(),
            level: Level { kind: None, area: Area::Any, size: None, stage: None, sectors: 0 },
            frozen: Frozen::default(),
        };
        let mut pending = vec![everyone];
        while let Some(mut group) = pending.pop() {
            match STEPS.iter().find_map(|step| self.split(&group, *step, least)) {
                Some((parts, rest_frozen)) => {
                    let (parts, rest) = parts;
                    for (members, level) in parts {
                        pending.push(Group { members, level, frozen: group.frozen });
                    }
                    if !rest.is_empty() {
                        group.members = rest;
                        group.frozen = rest_frozen;
                        pending.push(group);
                    }
                }
                None => self.close(group),
            }
        }
    }

    fn close(&mut self, group: Group) {
        let id = self.classes.len() as u32;
        let mut pool: BTreeMap<(Option<u8>, u8), u32> = BTreeMap::new();
        for &m in &group.members {
            self.class_of[m as usize] = id;
            let org = &self.orgs[m as usize];
            *pool.entry((org.kind, org.welcomes)).or_insert(0) += 1;
        }
        self.classes.push(Class { level: group.level, pool: pool.into_iter().collect() });
    }

    /// Splits `group` on `step`: parts of at least `least` organisations that show one more
    /// detail, and the rest (empty, or at least `least` too), which keeps the group's level
    /// and may no longer split on that field. `None` when no such split exists.
    #[allow(clippy::type_complexity)]
    fn split(&self, group: &Group, step: Step, least: usize) -> Option<((Vec<(Vec<u32>, Level)>, Vec<u32>), Frozen)> {
        let level = group.level;
        let mut frozen = group.frozen;
        // The value of each member at the finer level (None: it has none to show).
        let finer: Box<dyn Fn(&Packed) -> Option<Level>> = match step {
            Step::Kind if level.kind.is_none() && !frozen.kind => {
                frozen.kind = true;
                Box::new(move |o: &Packed| o.kind.map(|k| Level { kind: Some(k), ..level }))
            }
            Step::Area(target) if !frozen.area && area_below(level.area, target) => {
                frozen.area = true;
                Box::new(move |o: &Packed| o.area_at(target).map(|area| Level { area, ..level }))
            }
            Step::Stage if level.stage.is_none() && !frozen.stage => {
                frozen.stage = true;
                Box::new(move |o: &Packed| o.stage.map(|s| Level { stage: Some(s), ..level }))
            }
            Step::Size if level.size.is_none() && !frozen.size => {
                frozen.size = true;
                Box::new(move |o: &Packed| o.size.map(|s| Level { size: Some(s), ..level }))
            }
            Step::FirstSector | Step::MoreSectors => {
                if step == Step::FirstSector && level.sectors != 0 {
                    return None;
                }
                return self.split_on_a_sector(group, least);
            }
            _ => return None,
        };
        let mut parts: BTreeMap<(Option<u8>, Area, Option<u8>, Option<u8>), (Vec<u32>, Level)> = BTreeMap::new();
        let mut rest = Vec::new();
        for &m in &group.members {
            match finer(&self.orgs[m as usize]) {
                Some(l) => parts.entry((l.kind, l.area, l.stage, l.size)).or_insert_with(|| (vec![], l)).0.push(m),
                None => rest.push(m),
            }
        }
        let mut parts: Vec<(Vec<u32>, Level)> = parts.into_values().collect();
        // Parts too small join the rest; if the rest is then too small, the smallest parts
        // join it too, as long as one part remains.
        parts.sort_by_key(|(members, _)| std::cmp::Reverse(members.len()));
        while parts.last().is_some_and(|(members, _)| members.len() < least) {
            if let Some((members, _)) = parts.pop() {
                rest.extend(members);
            }
        }
        while !rest.is_empty() && rest.len() < least && parts.len() > 1 {
            if let Some((members, _)) = parts.pop() {
                rest.extend(members);
            }
        }
        if parts.is_empty() || (!rest.is_empty() && rest.len() < least) {
            return None;
        }
        // A split that changes nothing shown (one part, no rest, same level) is no split.
        if rest.is_empty() && parts.len() == 1 && parts[0].1 == level {
            return None;
        }
        // The parts may split on this field again at a finer level only through the next step.
        Some(((parts, rest), frozen))
    }

    /// Splits off the members that work in the most common sector not yet shown, if both
    /// they and the others are at least `least`.
    #[allow(clippy::type_complexity)]
    fn split_on_a_sector(&self, group: &Group, least: usize) -> Option<((Vec<(Vec<u32>, Level)>, Vec<u32>), Frozen)> {
        let open = !(group.level.sectors | group.frozen.sectors);
        let mut counts = [0usize; 64];
        for &m in &group.members {
            let bits = self.orgs[m as usize].sectors & open;
            for (bit, count) in counts.iter_mut().enumerate() {
                if bits & (1 << bit) != 0 {
                    *count += 1;
                }
            }
        }
        let mut candidates: Vec<usize> = (0..64).filter(|&b| counts[b] >= least).collect();
        candidates.sort_by_key(|&b| (std::cmp::Reverse(counts[b]), b));
        for bit in candidates {
            let (with, without): (Vec<u32>, Vec<u32>) =
                group.members.iter().partition(|&&m| self.orgs[m as usize].sectors & (1 << bit) != 0);
            if without.is_empty() || without.len() >= least {
                let level = Level { sectors: group.level.sectors | 1 << bit, ..group.level };
                let frozen = Frozen { sectors: group.frozen.sectors | 1 << bit, ..group.frozen };
                return Some(((vec![(with, level)], without), frozen));
            }
        }
        None
    }

    /// What `viewer` may be shown of the organisation at `member` (its position in the
    /// population the index was built from): its group's combination when at least `k`
    /// organisations of the group besides the viewer could be its counterpart; nothing
    /// otherwise.
    pub fn shown(&self, member: usize, viewer: Viewer<'_>) -> Shown {
        self.shown_with(member, viewer, true)
    }

    /// As [`AnonymityIndex::shown`], but with all of the group's sectors, not only those the
    /// viewer works in (search cards, where a member filters by sectors it may not have). The
    /// group's sectors are common to all of it, so this is as anonymous.
    pub fn shown_in_full(&self, member: usize, viewer: Viewer<'_>) -> Shown {
        self.shown_with(member, viewer, false)
    }

    /// Groups in the index (their numbers are `0..group_count()`).
    pub fn group_count(&self) -> usize {
        self.classes.len()
    }

    /// Resolves filters on what cards show (`region` may be a region, a nation, `uk` or
    /// `outside_uk`).
    pub fn card_filter(
        &self,
        kind: Option<OrgKind>,
        sector: Option<&str>,
        stage: Option<&str>,
        region: Option<&str>,
    ) -> CardFilter {
        let mut filter = CardFilter { kind: kind.map(OrgKind::index), ..CardFilter::default() };
        if let Some(sector) = sector {
            match position(&self.sectors, Some(sector)) {
                Some(p) => filter.sector = Some(1 << p),
                None => filter.impossible = true,
            }
        }
        if let Some(stage) = stage {
            match position(&self.stages, Some(stage)) {
                Some(p) => filter.stage = Some(p),
                None => filter.impossible = true,
            }
        }
        if let Some(region) = region {
            filter.area = if region == UK {
                Some(Area::Country(true))
            } else if region == OUTSIDE_UK {
                Some(Area::Country(false))
            } else if let Some(r) = position(&self.regions, Some(region)) {
                Some(Area::Region(r))
            } else if let Some(n) = position(&self.nations, Some(region)) {
                Some(Area::Nation(n))
            } else {
                filter.impossible = true;
                None
            };
        }
        filter
    }

    /// For each group, how many of its organisations could be the counterpart of an
    /// organisation like the one at `viewer` (of its kind, welcoming the kinds it welcomes):
    /// worked out once per kind of viewer and kept.
    pub fn counterparts_per_group(&self, viewer: usize) -> std::sync::Arc<Vec<u32>> {
        let Some(v) = self.orgs.get(viewer) else { return std::sync::Arc::new(vec![0; self.classes.len()]) };
        let key = (v.kind, v.welcomes);
        let mut kept = self.counterparts.lock().unwrap_or_else(|p| p.into_inner());
        kept.entry(key)
            .or_insert_with(|| {
                let counterpart = |kind: Option<u8>, welcomes: u8| v.compatible(&Packed { kind, welcomes, ..*v });
                std::sync::Arc::new(
                    self.classes
                        .iter()
                        .map(|c| c.pool.iter().filter(|((k, w), _)| counterpart(*k, *w)).map(|(_, n)| n).sum())
                        .collect(),
                )
            })
            .clone()
    }

    /// What the member at `viewer` is shown of group `group`'s fields: its level, or nothing
    /// when fewer than `k` of it could be the viewer's counterpart.
    fn level_for(&self, group: usize, viewer: usize, counterparts: &[u32]) -> Option<Level> {
        let (class, v) = (self.classes.get(group)?, self.orgs.get(viewer)?);
        let mut candidates = counterparts.get(group).copied().unwrap_or(0);
        if self.class_of[viewer] as usize == group && v.compatible(v) {
            candidates = candidates.saturating_sub(1);
        }
        ((candidates as usize) >= self.k).then_some(class.level)
    }

    /// The share of sectors in common between what group `group` shows the member at
    /// `viewer` and the viewer's own (0 when it shows nothing), as the `sectors` dimension
    /// counts it.
    pub fn group_sector_share(&self, group: usize, viewer: usize, counterparts: &[u32]) -> f64 {
        match (self.level_for(group, viewer, counterparts), self.orgs.get(viewer)) {
            (Some(level), Some(v)) => {
                let smaller = level.sectors.count_ones().min(v.sectors.count_ones());
                if smaller == 0 {
                    0.0
                } else {
                    f64::from((level.sectors & v.sectors).count_ones()) / f64::from(smaller)
                }
            }
            _ => 0.0,
        }
    }

    /// Whether the cards of group `group`, as shown to the member at `viewer`, pass `filter`
    /// (with [`AnonymityIndex::shown_in_full`]: every sector of the group); `counterparts` is
    /// [`AnonymityIndex::counterparts_per_group`] of that viewer.
    pub fn group_passes(&self, group: usize, viewer: usize, filter: &CardFilter, counterparts: &[u32]) -> bool {
        if filter.impossible || self.classes.get(group).is_none() || self.orgs.get(viewer).is_none() {
            return false;
        }
        // Nothing shown: only an empty filter passes.
        let level = self.level_for(group, viewer, counterparts).unwrap_or(Level {
            kind: None,
            area: Area::Any,
            size: None,
            stage: None,
            sectors: 0,
        });
        let area = match (filter.area, level.area) {
            (None, _) => true,
            (Some(wanted), shown) if wanted == shown => true,
            (Some(Area::Country(true)), Area::Nation(_)) => true,
            (Some(Area::Country(true)), Area::Region(r)) => self.region_nation[usize::from(r)].is_some(),
            (Some(Area::Country(false)), Area::Region(r)) => self.regions[usize::from(r)] == OUTSIDE_UK,
            (Some(Area::Nation(n)), Area::Region(r)) => self.region_nation[usize::from(r)] == Some(n),
            _ => false,
        };
        area && filter.kind.is_none_or(|k| level.kind == Some(k))
            && filter.stage.is_none_or(|s| level.stage == Some(s))
            && filter.sector.is_none_or(|bit| level.sectors & bit != 0)
    }

    /// The group of the organisation at `member`: organisations of one group are shown alike
    /// to any one viewer.
    pub fn group_of(&self, member: usize) -> Option<usize> {
        self.class_of.get(member).map(|c| *c as usize)
    }

    fn shown_with(&self, member: usize, viewer: Viewer<'_>, narrow_sectors: bool) -> Shown {
        let Some(&class_id) = self.class_of.get(member) else { return Shown::default() };
        let class = &self.classes[class_id as usize];
        let (v, in_class) = match viewer {
            Viewer::Member(p) => match self.orgs.get(p) {
                Some(v) => (*v, self.class_of[p] == class_id),
                None => return Shown::default(),
            },
            Viewer::Outsider(q) => (self.pack(q), false),
            Viewer::Anyone => {
                let others = class.pool.iter().map(|(_, n)| n).sum::<u32>().saturating_sub(1);
                return if (others as usize) < self.k { Shown::default() } else { self.show(&class.level) };
            }
        };
        let counterpart = |kind: Option<u8>, welcomes: u8| v.compatible(&Packed { kind, welcomes, ..v });
        let mut candidates: u32 = class.pool.iter().filter(|((k, w), _)| counterpart(*k, *w)).map(|(_, n)| n).sum();
        if in_class && counterpart(v.kind, v.welcomes) {
            candidates = candidates.saturating_sub(1);
        }
        let sectors = if narrow_sectors { class.level.sectors & v.sectors } else { class.level.sectors };
        if (candidates as usize) < self.k {
            return Shown::default();
        }
        self.show(&Level { sectors, ..class.level })
    }

    /// The share of sectors in common between the group of `member` and the viewer at
    /// position `viewer`, as the compatibility vector's `sectors` dimension defines it (shared
    /// over the smaller set): what may be shown instead of the pair's exact overlap, which
    /// would tell the viewer more about the organisation than its group does.
    pub fn shown_sector_share(&self, member: usize, viewer: usize) -> f64 {
        let (Some(&class), Some(v)) = (self.class_of.get(member), self.orgs.get(viewer)) else { return 0.0 };
        let group = self.classes[class as usize].level.sectors;
        let smaller = group.count_ones().min(v.sectors.count_ones());
        if smaller == 0 { 0.0 } else { f64::from((group & v.sectors).count_ones()) / f64::from(smaller) }
    }

    fn show(&self, level: &Level) -> Shown {
        let name = |ids: &[String], p: u8| ids.get(usize::from(p)).cloned();
        Shown {
            kind: level.kind.and_then(|k| OrgKind::ALL.get(usize::from(k)).copied()),
            region: match level.area {
                Area::Region(r) => name(&self.regions, r),
                Area::Nation(n) => name(&self.nations, n),
                Area::Country(true) => Some(UK.to_owned()),
                Area::Country(false) => Some(OUTSIDE_UK.to_owned()),
                Area::Any => None,
            },
            size_band: level.size.and_then(|s| name(&self.sizes, s)),
            innovation_stage: level.stage.and_then(|s| name(&self.stages, s)),
            sectors: (0..self.sectors.len())
                .filter(|&p| level.sectors & (1 << p) != 0)
                .map(|p| self.sectors[p].clone())
                .collect(),
        }
    }
}

/// Whether `area` is coarser than `target`.
fn area_below(area: Area, target: AreaLevel) -> bool {
    let rank = |a: Area| match a {
        Area::Any => 0,
        Area::Country(_) => 1,
        Area::Nation(_) => 2,
        Area::Region(_) => 3,
    };
    let target = match target {
        AreaLevel::Country => 1,
        AreaLevel::Nation => 2,
        AreaLevel::Region => 3,
    };
    rank(area) < target
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
            seeking_kinds: vec![],
        }
    }

    fn taxonomy() -> Taxonomy {
        Catalogue::builtin().expect("catalogue").taxonomy
    }

    fn outsider() -> QuasiIdentifiers {
        org(OrgKind::Other, "outside_uk", "large", "scale", &[])
    }

    #[test]
    fn a_common_combination_is_shown_as_it_is() {
        let same = org(OrgKind::Sme, "london", "micro", "prototype", &["digital_health"]);
        let index = AnonymityIndex::new(&taxonomy(), 5, &vec![same.clone(); 6]);
        let shown = index.shown(0, Viewer::Member(1));
        assert_eq!(shown.kind, Some(OrgKind::Sme));
        assert_eq!(shown.region.as_deref(), Some("london"));
        assert_eq!(shown.size_band.as_deref(), Some("micro"));
        assert_eq!(shown.innovation_stage.as_deref(), Some("prototype"));
        assert_eq!(shown.sectors, ["digital_health"]);
    }

    #[test]
    fn an_organisation_that_stands_out_is_hidden_with_its_group_not_singled_out() {
        // Five London SMEs and one from the North West: shown each on its own, the fifth
        // would be "England" beside five "London"s, which names it. All six are shown alike.
        let mut population = vec![org(OrgKind::Sme, "london", "micro", "idea", &[]); 5];
        population.push(org(OrgKind::Sme, "north_west", "micro", "idea", &[]));
        let index = AnonymityIndex::new(&taxonomy(), 5, &population);
        let shown: Vec<Shown> = (0..6).map(|i| index.shown(i, Viewer::Outsider(&outsider()))).collect();
        assert!(shown.iter().all(|s| *s == shown[0]), "{shown:?}");
        assert_eq!(shown[0].region.as_deref(), Some("england"));
        assert_eq!(shown[0].size_band.as_deref(), Some("micro"));
    }

    #[test]
    fn a_rare_size_band_is_withheld_for_the_whole_group() {
        let mut population = vec![org(OrgKind::Sme, "london", "micro", "prototype", &["digital_health"]); 6];
        population.push(org(OrgKind::Sme, "london", "large", "prototype", &["digital_health"]));
        let index = AnonymityIndex::new(&taxonomy(), 5, &population);
        for i in 0..7 {
            let shown = index.shown(i, Viewer::Outsider(&outsider()));
            assert_eq!(shown.size_band, None);
            assert_eq!(shown.region.as_deref(), Some("london"));
            assert_eq!(shown.innovation_stage.as_deref(), Some("prototype"));
        }
    }

    #[test]
    fn regions_generalise_to_nations_then_the_uk() {
        let english: Vec<QuasiIdentifiers> = ["london", "south_east", "north_east", "south_west", "london"]
            .iter()
            .map(|r| org(OrgKind::Sme, r, "micro", "idea", &[]))
            .collect();
        let welsh = vec![org(OrgKind::Sme, "wales", "micro", "idea", &[]); 5];
        let outsider = outsider();
        let region = |index: &AnonymityIndex, i: usize| index.shown(i, Viewer::Outsider(&outsider)).region;
        let index = AnonymityIndex::new(&taxonomy(), 4, &english);
        assert_eq!(region(&index, 0).as_deref(), Some("england"), "no region has five");
        let both = [english.clone(), welsh].concat();
        let index = AnonymityIndex::new(&taxonomy(), 4, &both);
        assert_eq!(region(&index, 0).as_deref(), Some("england"));
        assert_eq!(region(&index, 7).as_deref(), Some("wales"));
        let index = AnonymityIndex::new(&taxonomy(), 5, &both);
        assert_eq!(region(&index, 0).as_deref(), Some("uk"), "six are needed per nation");
        assert_eq!(region(&index, 7).as_deref(), Some("uk"));
        let index = AnonymityIndex::new(&taxonomy(), 10, &both);
        assert_eq!(index.shown(0, Viewer::Outsider(&outsider)), Shown::default(), "too few for anything");
    }

    #[test]
    fn the_viewer_is_not_counted_and_sees_only_sectors_it_works_in() {
        let trust = org(OrgKind::HealthOrg, "wales", "large", "adoption", &["ageing_frailty", "genomics"]);
        let population = vec![trust.clone(); 6];
        let index = AnonymityIndex::new(&taxonomy(), 5, &population);
        let sme = org(OrgKind::Sme, "wales", "micro", "prototype", &["ageing_frailty"]);
        let shown = index.shown(0, Viewer::Outsider(&sme));
        assert_eq!(shown.sectors, ["ageing_frailty"], "genomics is not the viewer's");
        assert_eq!(shown.kind, Some(OrgKind::HealthOrg));
        // A viewer of the group itself leaves five, still enough; with k = 6 it would not be.
        assert_eq!(index.shown(0, Viewer::Member(1)).kind, Some(OrgKind::HealthOrg));
        let index = AnonymityIndex::new(&taxonomy(), 6, &population);
        assert_eq!(index.shown(0, Viewer::Member(1)), Shown::default());
        assert_eq!(index.shown(0, Viewer::Anyone), Shown::default(), "a public reader may be one of them");
    }

    #[test]
    fn only_organisations_that_could_be_the_viewers_counterpart_are_counted() {
        // A group of six health organisations in which four welcome only universities: an SME
        // viewer knows its counterpart is one of the other two.
        let mut population = vec![org(OrgKind::HealthOrg, "london", "large", "adoption", &[]); 2];
        let picky = QuasiIdentifiers { seeking_kinds: vec![OrgKind::Academic], ..population[0].clone() };
        population.extend(vec![picky; 4]);
        let index = AnonymityIndex::new(&taxonomy(), 5, &population);
        let sme = org(OrgKind::Sme, "london", "micro", "idea", &[]);
        assert_eq!(index.shown(0, Viewer::Outsider(&sme)), Shown::default());
        let university = org(OrgKind::Academic, "london", "large", "evidence", &[]);
        assert_eq!(index.shown(0, Viewer::Outsider(&university)).kind, Some(OrgKind::HealthOrg));
    }

    #[test]
    fn card_filters_match_what_a_group_shows() {
        let mut population = vec![org(OrgKind::Sme, "london", "micro", "idea", &["genomics"]); 3];
        population.extend(vec![org(OrgKind::HealthOrg, "wales", "large", "adoption", &["mental_health"]); 3]);
        let index = AnonymityIndex::new(&taxonomy(), 1, &population);
        let (smes, trusts) = (index.group_of(0).expect("group"), index.group_of(3).expect("group"));
        let viewer = 3;
        let counterparts = index.counterparts_per_group(viewer);
        let passes = |group, kind, sector: Option<&str>, stage: Option<&str>, region: Option<&str>| {
            index.group_passes(group, viewer, &index.card_filter(kind, sector, stage, region), &counterparts)
        };
        assert!(passes(smes, None, None, None, None));
        assert!(passes(smes, Some(OrgKind::Sme), Some("genomics"), Some("idea"), Some("london")));
        assert!(passes(smes, None, None, None, Some("england")) && passes(smes, None, None, None, Some("uk")));
        assert!(!passes(smes, None, None, None, Some("wales")));
        assert!(!passes(smes, Some(OrgKind::HealthOrg), None, None, None));
        assert!(passes(trusts, None, Some("mental_health"), None, Some("wales")));
        assert!(!passes(trusts, None, Some("astrology"), None, None), "an unknown value passes nothing");
        for (i, q) in population.iter().enumerate() {
            let shown = index.shown_in_full(i, Viewer::Member(viewer));
            let filter =
                index.card_filter(q.kind, q.sectors.first().map(String::as_str), None, shown.region.as_deref());
            assert!(index.group_passes(index.group_of(i).expect("group"), viewer, &filter, &counterparts), "{shown:?}");
        }
    }

    /// A deterministic spread of organisations over the taxonomy.
    fn spread(n: usize) -> Vec<QuasiIdentifiers> {
        let t = taxonomy();
        let pick = |v: &crate::Vocabulary, i: usize| v.terms()[i % v.terms().len()].id.clone();
        (0..n)
            .map(|i| QuasiIdentifiers {
                kind: Some(OrgKind::ALL[(i * 7) % 4]),
                region: Some(pick(&t.regions, i * 13 + i / 7)),
                size_band: Some(pick(&t.size_bands, i * 5 + i / 3)),
                innovation_stage: Some(pick(&t.innovation_stages, (i * 3 + i / 11) % 3)),
                sectors: vec![pick(&t.sectors, i % 4), pick(&t.sectors, i * 11 + 3)],
                seeking_kinds: if i % 5 == 0 { vec![OrgKind::HealthOrg] } else { vec![] },
            })
            .collect()
    }

    #[test]
    fn at_least_k_possible_counterparts_besides_the_viewer_are_shown_alike() {
        let t = taxonomy();
        let population = spread(600);
        for k in [2, 5, 10] {
            let index = AnonymityIndex::new(&t, k, &population);
            let mut shown_something = 0;
            for v in (0..population.len()).step_by(37) {
                let viewer = &population[v];
                let seen: Vec<Shown> = (0..population.len()).map(|s| index.shown(s, Viewer::Member(v))).collect();
                let pv = index.pack(viewer);
                for (s, shown) in seen.iter().enumerate() {
                    if *shown == Shown::default() {
                        continue;
                    }
                    shown_something += 1;
                    let alike = (0..population.len())
                        .filter(|&o| o != v && seen[o] == *shown && index.orgs[o].compatible(&pv))
                        .count();
                    assert!(alike >= k, "k={k}: {alike} shown like {s}: {shown:?}");
                    let subject = &population[s];
                    assert!(shown.sectors.iter().all(|x| subject.sectors.contains(x) && viewer.sectors.contains(x)));
                    assert!(shown.kind.is_none_or(|kind| subject.kind == Some(kind)));
                }
            }
            assert!(shown_something > 0, "k={k}: something is shown");
        }
    }

    #[test]
    fn a_large_population_keeps_most_fields() {
        let index = AnonymityIndex::new(&taxonomy(), 5, &spread(20_000));
        let viewer = org(OrgKind::Academic, "scotland", "large", "idea", &[]);
        let shown = index.shown(1, Viewer::Outsider(&viewer));
        assert!(shown.kind.is_some() && shown.innovation_stage.is_some() && shown.region.is_some(), "{shown:?}");
    }
}
