//! How pages put domain values into words: anonymous profiles as rows of a summary list, with
//! the taxonomy's labels, and what k-anonymity withheld said plainly.

use domain::{Catalogue, Vocabulary};
use matching::anonymity::AnonymousProfile;

const WITHHELD: &str = "Not shown, to keep this organisation anonymous";

/// The label of `id` in `vocabulary`, or `id` itself.
pub fn label(vocabulary: &Vocabulary, id: &str) -> String {
    vocabulary.label(id).unwrap_or(id).to_owned()
}

/// The labels of `ids`, joined.
pub fn labels(vocabulary: &Vocabulary, ids: &[String]) -> String {
    ids.iter().map(|id| label(vocabulary, id)).collect::<Vec<_>>().join(", ")
}

/// A region, a nation or the whole UK, in words.
pub fn area(catalogue: &Catalogue, id: &str) -> String {
    let taxonomy = &catalogue.taxonomy;
    taxonomy
        .regions
        .label(id)
        .map(str::to_owned)
        .or_else(|| taxonomy.areas().into_iter().find(|a| a.id == id).map(|a| a.label))
        .unwrap_or_else(|| id.to_owned())
}

/// An anonymous profile as `(what, value)` rows.
pub fn profile_rows(catalogue: &Catalogue, profile: &AnonymousProfile) -> Vec<(String, String)> {
    let taxonomy = &catalogue.taxonomy;
    let shown = &profile.shown;
    let or_withheld = |value: Option<String>| value.unwrap_or_else(|| WITHHELD.to_owned());
    let mut rows = vec![
        ("Kind".to_owned(), or_withheld(shown.kind.map(|k| label(&taxonomy.kinds, k.as_str())))),
        ("Sectors".to_owned(), or_withheld(Some(labels(&taxonomy.sectors, &shown.sectors)).filter(|s| !s.is_empty()))),
        ("Where".to_owned(), or_withheld(shown.region.as_deref().map(|r| area(catalogue, r)))),
        ("Size".to_owned(), or_withheld(shown.size_band.as_deref().map(|s| label(&taxonomy.size_bands, s)))),
        (
            "Stage of innovation".to_owned(),
            or_withheld(shown.innovation_stage.as_deref().map(|s| label(&taxonomy.innovation_stages, s))),
        ),
    ];
    if !profile.capabilities_offered.is_empty() {
        rows.push(("Offers".to_owned(), labels(&taxonomy.capabilities, &profile.capabilities_offered)));
    }
    if !profile.capabilities_sought.is_empty() {
        rows.push(("Looks for".to_owned(), labels(&taxonomy.capabilities, &profile.capabilities_sought)));
    }
    if let Some(summary) = &profile.anonymous_summary {
        rows.push(("In its own words".to_owned(), summary.clone()));
    }
    rows
}
