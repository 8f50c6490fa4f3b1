//! The facilitators' funnel: how many organisations reached each stage (registered, answered
//! the whole questionnaire, matched, revealed, connected, and each outcome), in total and broken
//! down by kind, sector, region and week of registration; and how many matches did.
//!
//! Invariants: aggregates only, never who was suggested to whom. A count from 1 to
//! `threshold - 1` is suppressed (`None`), so that no organisation can be singled out, and so is
//! any count from which a suppressed one could be worked out:
//! - the stages nest (revealed within matched, connected within revealed, each outcome within
//!   connected, everything within registered), so a suppressed stage hides the stages within
//!   it in the same row (a shown `connected` would otherwise bound a hidden `revealed`);
//! - where a breakdown partitions the organisations (kind, region, week: each organisation is
//!   in exactly one group), a lone suppressed count in a stage would follow from the total
//!   minus the others, so the smallest other non-zero count of that stage goes with it;
//! - a sector's count is suppressed when the organisations outside the sector are too few (the
//!   total minus it), as well as when it is too few itself.
//!
//! These rules are applied until nothing changes.

use chrono::{DateTime, Datelike, Utc};

use crate::OrgKind;

/// The stages of the funnel, in order.
pub const STAGES: [&str; 8] =
    ["registered", "answered", "matched", "revealed", "connected", "met", "collaborating", "no_fit"];

/// What the funnel needs of one organisation (nothing that names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgFacts {
    pub kind: OrgKind,
    pub sectors: Vec<String>,
    pub region: Option<String>,
    pub registered_at: DateTime<Utc>,
    /// Whether it reached each of [`STAGES`].
    pub reached: [bool; 8],
}

/// How many matches reached each state (counted once per match, or per party for reveals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MatchFacts {
    pub matches: u64,
    pub reveals: u64,
    pub connections: u64,
    pub met: u64,
    pub collaborating: u64,
    pub no_fit: u64,
}

/// A count as published: `None` when suppressed.
pub type Shown = Option<u64>;

/// One row of counts, one per stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub group: String,
    pub counts: [Shown; 8],
}

/// The funnel as facilitators may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funnel {
    pub threshold: u64,
    pub totals: Row,
    pub by_kind: Vec<Row>,
    pub by_sector: Vec<Row>,
    pub by_region: Vec<Row>,
    /// By ISO week of registration (`2026-W49`), oldest first.
    pub by_week: Vec<Row>,
    /// `matches`, `reveals`, `connections`, `met`, `collaborating`, `no_fit`.
    pub matches: Vec<(&'static str, Shown)>,
}

/// The group name of organisations whose region is not given.
pub const UNKNOWN: &str = "unknown";

/// The funnel of `orgs` and `matches`, with counts under `threshold` suppressed.
pub fn funnel(orgs: &[OrgFacts], matches: MatchFacts, threshold: u64) -> Funnel {
    let small = |n: u64| n > 0 && n < threshold;
    let suppress = |n: u64| if small(n) { None } else { Some(n) };
    let all = tally(orgs.iter());
    let mut totals = all.map(suppress);
    nest(&mut totals);
    let totals = Row { group: "all".to_owned(), counts: totals };
    let by_kind = partition(orgs, threshold, |o| o.kind.as_str().to_owned());
    let by_region = partition(orgs, threshold, |o| o.region.clone().unwrap_or_else(|| UNKNOWN.to_owned()));
    let by_week = partition(orgs, threshold, |o| week(o.registered_at));
    let mut sectors: Vec<&String> = orgs.iter().flat_map(|o| &o.sectors).collect();
    sectors.sort();
    sectors.dedup();
    let by_sector = sectors
        .into_iter()
        .map(|sector| {
            let raw = tally(orgs.iter().filter(|o| o.sectors.contains(sector)));
            let mut counts: [Shown; 8] = std::array::from_fn(|s| {
                let (n, outside) = (raw[s], all[s] - raw[s]);
                if small(n) || small(outside) { None } else { Some(n) }
            });
            nest(&mut counts);
            Row { group: sector.clone(), counts }
        })
        .collect();
    let m = matches;
    let matches = vec![
        ("matches", suppress(m.matches)),
        ("reveals", suppress(m.reveals)),
        ("connections", suppress(m.connections)),
        ("met", suppress(m.met)),
        ("collaborating", suppress(m.collaborating)),
        ("no_fit", suppress(m.no_fit)),
    ];
    Funnel { threshold, totals, by_kind, by_sector, by_region, by_week, matches }
}

/// The stage each stage lies within (registered lies within nothing).
const WITHIN: [Option<usize>; 8] = [None, Some(0), Some(0), Some(2), Some(3), Some(4), Some(4), Some(4)];

/// Hides, in one row, every stage that lies within a hidden one; whether anything changed.
fn nest(counts: &mut [Shown; 8]) -> bool {
    let mut changed = false;
    for stage in 1..STAGES.len() {
        if let Some(outer) = WITHIN[stage]
            && counts[outer].is_none()
            && counts[stage].is_some()
        {
            counts[stage] = None;
            changed = true;
        }
    }
    changed
}

/// The ISO week of `at`, as `2026-W49`.
pub fn week(at: DateTime<Utc>) -> String {
    let week = at.iso_week();
    format!("{}-W{:02}", week.year(), week.week())
}

fn tally<'a>(orgs: impl Iterator<Item = &'a OrgFacts>) -> [u64; 8] {
    let mut counts = [0u64; 8];
    for org in orgs {
        for (count, reached) in counts.iter_mut().zip(org.reached) {
            *count += u64::from(reached);
        }
    }
    counts
}

/// Rows of a breakdown in which every organisation is in exactly one group, sorted by group,
/// with small counts suppressed and no suppressed count recoverable from the total.
fn partition(orgs: &[OrgFacts], threshold: u64, group_of: impl Fn(&OrgFacts) -> String) -> Vec<Row> {
    let mut groups: std::collections::BTreeMap<String, [u64; 8]> = std::collections::BTreeMap::new();
    for org in orgs {
        let counts = groups.entry(group_of(org)).or_default();
        for (count, reached) in counts.iter_mut().zip(org.reached) {
            *count += u64::from(reached);
        }
    }
    let raw: Vec<(String, [u64; 8])> = groups.into_iter().collect();
    let mut shown: Vec<[Shown; 8]> =
        raw.iter().map(|(_, counts)| counts.map(|n| if n > 0 && n < threshold { None } else { Some(n) })).collect();
    loop {
        let mut changed = false;
        for row in shown.iter_mut() {
            changed |= nest(row);
        }
        for stage in 0..STAGES.len() {
            let suppressed = shown.iter().filter(|row| row[stage].is_none()).count();
            if suppressed == 1 {
                // The smallest other non-zero count goes too.
                let other = (0..raw.len())
                    .filter(|&i| shown[i][stage].is_some_and(|n| n > 0))
                    .min_by_key(|&i| (raw[i].1[stage], i));
                if let Some(i) = other {
                    shown[i][stage] = None;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    raw.into_iter().zip(shown).map(|((group, _), counts)| Row { group, counts }).collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn org(kind: OrgKind, region: &str, sectors: &[&str], stages: usize) -> OrgFacts {
        let mut reached = [false; 8];
        for r in reached.iter_mut().take(stages) {
            *r = true;
        }
        OrgFacts {
            kind,
            sectors: sectors.iter().map(|s| (*s).to_owned()).collect(),
            region: Some(region.to_owned()),
            registered_at: Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).single().expect("a time"),
            reached,
        }
    }

    #[test]
    fn counts_under_the_threshold_are_suppressed_and_zero_and_larger_ones_are_not() {
        let orgs: Vec<OrgFacts> = (0..7).map(|i| org(OrgKind::Sme, "wales", &["cancer"], 1 + i % 3)).collect();
        let f = funnel(&orgs, MatchFacts { matches: 4, connections: 5, ..MatchFacts::default() }, 5);
        // registered 7, answered 4 (i % 3 >= 1), matched 2 (i % 3 == 2): 4 and 2 are suppressed,
        // and revealed (0) with matched, within which it lies.
        assert_eq!(f.totals.counts[..4], [Some(7), None, None, None]);
        let unmatched: Vec<OrgFacts> = (0..5).map(|_| org(OrgKind::Sme, "wales", &[], 1)).collect();
        assert_eq!(funnel(&unmatched, MatchFacts::default(), 5).totals.counts[2], Some(0), "a zero is shown");
        assert_eq!(f.matches[0], ("matches", None));
        assert_eq!(f.matches[2], ("connections", Some(5)));
        assert_eq!(f.by_sector[0].counts[0], Some(7));
    }

    #[test]
    fn a_lone_suppressed_group_takes_the_next_smallest_with_it() {
        let mut orgs: Vec<OrgFacts> = (0..10).map(|_| org(OrgKind::Sme, "wales", &[], 1)).collect();
        orgs.extend((0..6).map(|_| org(OrgKind::Academic, "scotland", &[], 1)));
        orgs.push(org(OrgKind::HealthOrg, "london", &[], 1));
        let f = funnel(&orgs, MatchFacts::default(), 5);
        let registered: Vec<(&str, Shown)> = f.by_kind.iter().map(|r| (r.group.as_str(), r.counts[0])).collect();
        // The lone health organisation is hidden, and so is the next smallest group, so that
        // 17 - 10 - 6 cannot tell it.
        assert_eq!(registered, [("academic", None), ("health_org", None), ("sme", Some(10))]);
        assert_eq!(f.totals.counts[0], Some(17));
        let regions: Vec<Shown> = f.by_region.iter().map(|r| r.counts[0]).collect();
        assert_eq!(regions.iter().filter(|c| c.is_none()).count(), 2);
    }

    #[test]
    fn no_suppressed_count_follows_from_the_total_in_any_partition() {
        // Every mix of three groups of sizes 0..9: whenever a group is suppressed, at least
        // two are, or the total itself is.
        for a in 0..9u64 {
            for b in 0..9u64 {
                for c in 0..9u64 {
                    let mut orgs = Vec::new();
                    for (n, kind) in [(a, OrgKind::Sme), (b, OrgKind::Academic), (c, OrgKind::Other)] {
                        orgs.extend((0..n).map(|_| org(kind, "wales", &[], 1)));
                    }
                    let f = funnel(&orgs, MatchFacts::default(), 5);
                    let hidden = f.by_kind.iter().filter(|r| r.counts[0].is_none()).count();
                    assert!(hidden != 1 || f.totals.counts[0].is_none(), "{a} {b} {c}: {:?}", f.by_kind);
                }
            }
        }
    }

    /// An organisation that reached `matched`, `revealed` and `connected` as given.
    fn progress(kind: OrgKind, matched: bool, revealed: bool, connected: bool) -> OrgFacts {
        let mut facts = org(kind, "wales", &["cancer"], 2);
        facts.reached[2] = matched;
        facts.reached[3] = revealed;
        facts.reached[4] = connected;
        facts
    }

    #[test]
    fn a_hidden_stage_hides_the_stages_within_it_so_no_bound_gives_it_away() {
        // Health organisations: 7 matched, 2 revealed, 0 connected; universities: 5 of each;
        // SMEs: 20 matched, 10 revealed, 9 connected.
        let mut orgs = Vec::new();
        orgs.extend((0..7).map(|i| progress(OrgKind::HealthOrg, true, i < 2, false)));
        orgs.extend((0..5).map(|_| progress(OrgKind::Academic, true, true, true)));
        orgs.extend((0..20).map(|i| progress(OrgKind::Sme, true, i < 10, i < 9)));
        let f = funnel(&orgs, MatchFacts::default(), 5);
        let academic = f.by_kind.iter().find(|r| r.group == "academic").expect("universities");
        // Its revealed count went as the complement of the health organisations' 2; had its
        // connected 5 stayed, revealed (between connected and matched, both 5) would be 5,
        // and the health organisations' 17 - 10 - 5 = 2.
        assert_eq!(academic.counts[3], None);
        assert_eq!(academic.counts[4], None, "within a hidden stage");
        for row in &f.by_kind {
            for (stage, outer) in WITHIN.iter().enumerate() {
                if let Some(outer) = outer {
                    assert!(row.counts[*outer].is_some() || row.counts[stage].is_none(), "{row:?}");
                }
            }
        }
    }

    #[test]
    fn a_sector_that_leaves_out_too_few_is_suppressed() {
        let mut orgs: Vec<OrgFacts> = (0..39).map(|_| org(OrgKind::Sme, "wales", &["cancer"], 1)).collect();
        orgs.push(org(OrgKind::Sme, "wales", &["mental_health"], 1));
        let f = funnel(&orgs, MatchFacts::default(), 5);
        let cancer = f.by_sector.iter().find(|r| r.group == "cancer").expect("cancer");
        assert_eq!(cancer.counts[0], None, "40 - 39 would single out the one outside it");
        assert_eq!(f.totals.counts[0], Some(40));
    }

    #[test]
    fn weeks_are_iso_weeks() {
        let at = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single().expect("a time");
        assert_eq!(week(at), "2026-W53");
    }
}
