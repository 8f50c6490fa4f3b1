//! `matchwell anonymity-report`: what k-anonymity costs the anonymous profiles that members
//! see. For every match card in the database (each side of each match), which fields were
//! generalised or withheld so that at least k organisations fit what is shown. Aggregates
//! only: no organisation is named.

use std::fmt;
use std::sync::Arc;

use anyhow::Context;
use domain::Catalogue;
use matching::anonymity::Anonymity;
use store::Store;

/// Shares of match cards that lost each field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub k: usize,
    pub organisations: usize,
    pub cards: usize,
    pub kind_withheld: usize,
    pub region_generalised: usize,
    pub region_withheld: usize,
    pub size_band_withheld: usize,
    pub stage_withheld: usize,
    pub sectors_narrowed: usize,
    pub sectors_withheld: usize,
    /// Cards shown exactly as stored.
    pub unchanged: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let share = |n: usize| if self.cards == 0 { 0.0 } else { 100.0 * n as f64 / self.cards as f64 };
        writeln!(f, "k = {}: {} match cards among {} organisations", self.k, self.cards, self.organisations)?;
        for (label, n) in [
            ("shown as stored", self.unchanged),
            ("kind withheld", self.kind_withheld),
            ("region generalised (to nation or UK)", self.region_generalised),
            ("region withheld", self.region_withheld),
            ("size band withheld", self.size_band_withheld),
            ("stage withheld", self.stage_withheld),
            ("sectors narrowed", self.sectors_narrowed),
            ("sectors all withheld", self.sectors_withheld),
        ] {
            writeln!(f, "{label:<40} {n:>6}  {:>5.1}%", share(n))?;
        }
        Ok(())
    }
}

/// Counts, over every match card, what generalisation took away.
pub async fn anonymity(store: &Store, catalogue: Arc<Catalogue>, k: usize) -> anyhow::Result<Report> {
    let anonymity = Anonymity::new(catalogue, k);
    let snapshot = anonymity.current(store).await.context("failed to load the population")?;
    let population = snapshot.population();
    let stored: std::collections::HashMap<_, _> = population.iter().map(|(id, q)| (*id, q)).collect();
    let mut report = Report { k, organisations: population.len(), ..Report::default() };
    for (viewer, _) in population {
        for view in store.matches_for(*viewer).await.context("failed to load matches")? {
            let Some(stored) = stored.get(&view.counterpart) else { continue };
            let shown = snapshot.profile(*viewer, view.counterpart, &view.counterpart_profile).shown;
            report.cards += 1;
            let mut changed = false;
            let mut count = |lost: bool, field: &mut usize| {
                if lost {
                    *field += 1;
                    changed = true;
                }
            };
            count(stored.kind.is_some() && shown.kind.is_none(), &mut report.kind_withheld);
            count(stored.region.is_some() && shown.region.is_none(), &mut report.region_withheld);
            count(shown.region.is_some() && shown.region != stored.region, &mut report.region_generalised);
            count(stored.size_band.is_some() && shown.size_band.is_none(), &mut report.size_band_withheld);
            count(stored.innovation_stage.is_some() && shown.innovation_stage.is_none(), &mut report.stage_withheld);
            let narrowed = !shown.sectors.is_empty() && shown.sectors.len() < stored.sectors.len();
            count(narrowed, &mut report.sectors_narrowed);
            count(!stored.sectors.is_empty() && shown.sectors.is_empty(), &mut report.sectors_withheld);
            if !changed {
                report.unchanged += 1;
            }
        }
    }
    Ok(report)
}
