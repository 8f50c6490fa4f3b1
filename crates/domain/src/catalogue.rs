//! The catalogue shipped with Matchwell: the versioned questionnaire and the taxonomy of the
//! profile fields, embedded in the binary and checked when loaded.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::kind::OrgKind;

const QUESTIONNAIRE: &str = include_str!("../data/questionnaire-v1.toml");
const TAXONOMY: &str = include_str!("../data/taxonomy.toml");

/// Why the embedded catalogue is unusable (a bug caught by the tests, never by users).
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("the {file} file does not parse")]
    Syntax {
        file: &'static str,
        #[source]
        source: toml::de::Error,
    },
    #[error("catalogue: {0}")]
    Invalid(String),
}

/// One entry of a vocabulary, or an option of a question.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    pub id: String,
    pub label: String,
}

/// An ordered list of terms; a term's position is its bit in the engine's sets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Vocabulary {
    terms: Vec<Term>,
}

impl Vocabulary {
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        self.terms.iter().position(|t| t.id == id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.position(id).is_some()
    }

    pub fn label(&self, id: &str) -> Option<&str> {
        self.terms.iter().find(|t| t.id == id).map(|t| t.label.as_str())
    }

    /// The set of `ids` as bits (unknown ids are ignored; inputs are checked before).
    pub fn bits(&self, ids: &[String]) -> u64 {
        ids.iter().filter_map(|id| self.position(id)).fold(0, |bits, p| bits | 1 << p)
    }

    fn check(&self, name: &str) -> Result<(), CatalogueError> {
        let unique: HashSet<&str> = self.terms.iter().map(|t| t.id.as_str()).collect();
        if self.terms.is_empty() || self.terms.len() > 64 || unique.len() != self.terms.len() {
            return Err(CatalogueError::Invalid(format!("{name}: 1 to 64 terms with unique ids")));
        }
        Ok(())
    }
}

/// A nation of the UK and its regions (what a rare region is generalised to).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nation {
    pub id: String,
    pub label: String,
    pub regions: Vec<String>,
}

/// The region that stands for everywhere outside the UK.
pub const OUTSIDE_UK: &str = "outside_uk";
/// What a UK region or nation is generalised to last.
pub const UK: &str = "uk";

/// The vocabularies of the profile fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taxonomy {
    pub kinds: Vocabulary,
    pub sectors: Vocabulary,
    pub regions: Vocabulary,
    pub nations: Vec<Nation>,
    pub size_bands: Vocabulary,
    pub innovation_stages: Vocabulary,
    pub capabilities: Vocabulary,
}

/// A question: its own answer and the acceptable ones are options of `options`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    /// A short noun phrase used in explanations ("evidence standards").
    pub topic: String,
    pub text: String,
    pub options: Vec<Term>,
}

/// A section of the questionnaire; each is one dimension of the compatibility vector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title: String,
    pub description: String,
    pub questions: Vec<Question>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionnaireFile {
    version: u32,
    sections: Vec<Section>,
}

/// The questionnaire, with its questions numbered globally (section by section) as the
/// engine numbers them.
#[derive(Debug, Clone)]
pub struct Questionnaire {
    pub version: u32,
    pub sections: Vec<Section>,
    by_id: HashMap<String, usize>,
    questions: Vec<(usize, usize)>,
    layout: scoring::Layout,
}

impl Questionnaire {
    fn new(file: QuestionnaireFile) -> Result<Questionnaire, CatalogueError> {
        let invalid = |m: String| CatalogueError::Invalid(m);
        let mut by_id = HashMap::new();
        let mut questions = Vec::new();
        let mut topics = HashSet::new();
        for (s, section) in file.sections.iter().enumerate() {
            for (q, question) in section.questions.iter().enumerate() {
                if by_id.insert(question.id.clone(), questions.len()).is_some() {
                    return Err(invalid(format!("question id {} is used twice", question.id)));
                }
                if !topics.insert(question.topic.as_str()) {
                    return Err(invalid(format!("topic {:?} is used twice", question.topic)));
                }
                let option_ids: HashSet<&str> = question.options.iter().map(|o| o.id.as_str()).collect();
                if !(2..=5).contains(&question.options.len()) || option_ids.len() != question.options.len() {
                    return Err(invalid(format!("question {} needs 2 to 5 options with unique ids", question.id)));
                }
                questions.push((s, q));
            }
        }
        let layout = scoring::Layout::new(
            file.sections
                .iter()
                .map(|section| scoring::DimensionSpec {
                    label: section.title.to_lowercase(),
                    questions: section
                        .questions
                        .iter()
                        .map(|q| scoring::QuestionSpec { label: q.topic.clone(), options: q.options.len() as u8 })
                        .collect(),
                })
                .collect(),
        )
        .map_err(|e| invalid(e.to_string()))?;
        Ok(Questionnaire { version: file.version, sections: file.sections, by_id, questions, layout })
    }

    /// The question with this id and its global index.
    pub fn question(&self, id: &str) -> Option<(usize, &Question)> {
        let index = *self.by_id.get(id)?;
        Some((index, self.question_at(index)))
    }

    pub fn question_at(&self, index: usize) -> &Question {
        let (s, q) = self.questions[index];
        &self.sections[s].questions[q]
    }

    pub fn question_count(&self) -> usize {
        self.questions.len()
    }

    /// The engine's layout: one dimension per section.
    pub fn layout(&self) -> &scoring::Layout {
        &self.layout
    }
}

/// Questionnaire and taxonomy together.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub questionnaire: Questionnaire,
    pub taxonomy: Taxonomy,
}

impl Taxonomy {
    /// The nation of a UK region (`None` for `outside_uk` and unknown ids).
    pub fn nation_of(&self, region: &str) -> Option<&Nation> {
        self.nations.iter().find(|n| n.regions.iter().any(|r| r == region))
    }

    /// Every value an anonymous profile's region may take beyond the regions themselves: the
    /// nations, and `uk`.
    pub fn areas(&self) -> Vec<Term> {
        let mut areas: Vec<Term> =
            self.nations.iter().map(|n| Term { id: n.id.clone(), label: n.label.clone() }).collect();
        areas.push(Term { id: UK.to_owned(), label: "United Kingdom".to_owned() });
        areas
    }
}

impl Catalogue {
    /// The catalogue embedded in the binary. Built once at start-up and passed down.
    pub fn builtin() -> Result<Catalogue, CatalogueError> {
        let file = toml::from_str(QUESTIONNAIRE)
            .map_err(|source| CatalogueError::Syntax { file: "questionnaire-v1.toml", source })?;
        let taxonomy: Taxonomy =
            toml::from_str(TAXONOMY).map_err(|source| CatalogueError::Syntax { file: "taxonomy.toml", source })?;
        for (name, vocabulary) in [
            ("kinds", &taxonomy.kinds),
            ("sectors", &taxonomy.sectors),
            ("regions", &taxonomy.regions),
            ("size_bands", &taxonomy.size_bands),
            ("innovation_stages", &taxonomy.innovation_stages),
            ("capabilities", &taxonomy.capabilities),
        ] {
            vocabulary.check(name)?;
        }
        for region in taxonomy.regions.terms() {
            let nations = taxonomy.nations.iter().filter(|n| n.regions.contains(&region.id)).count();
            let expected = usize::from(region.id != OUTSIDE_UK);
            if nations != expected {
                return Err(CatalogueError::Invalid(format!("region {} must be in {expected} nation(s)", region.id)));
            }
        }
        let kinds: Vec<&str> = taxonomy.kinds.terms().iter().map(|t| t.id.as_str()).collect();
        let expected: Vec<&str> = OrgKind::ALL.iter().map(|k| k.as_str()).collect();
        if kinds != expected {
            return Err(CatalogueError::Invalid(format!("kinds must be {expected:?} in that order")));
        }
        Ok(Catalogue { questionnaire: Questionnaire::new(file)?, taxonomy })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalogue_loads_and_is_what_the_issue_asks_for() {
        let catalogue = Catalogue::builtin().expect("the shipped catalogue is valid");
        let questionnaire = &catalogue.questionnaire;
        let sections: Vec<&str> = questionnaire.sections.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(sections, ["values", "working_style", "org_health", "goals"]);
        assert!((30..=60).contains(&questionnaire.question_count()));
        assert_eq!(questionnaire.layout().dimensions().len(), 4);
        for section in &questionnaire.sections {
            for question in &section.questions {
                assert!((3..=5).contains(&question.options.len()), "{}", question.id);
                assert!(question.id.starts_with(&format!("{}.", section.id)), "{}", question.id);
            }
        }
        let taxonomy = &catalogue.taxonomy;
        for sector in ["woundcare_regenerative", "diagnostics_personalised", "digital_health", "medical_devices"] {
            assert!(taxonomy.sectors.contains(sector), "{sector}");
        }
        let stages: Vec<&str> = taxonomy.innovation_stages.terms().iter().map(|t| t.id.as_str()).collect();
        assert_eq!(stages, ["idea", "prototype", "evidence", "adoption", "scale"]);
        assert!(taxonomy.regions.contains("outside_uk") && taxonomy.regions.contains("wales"));
        for capability in ["clinical_evaluation", "regulatory_support", "health_economics", "co_funding_bids"] {
            assert!(taxonomy.capabilities.contains(capability), "{capability}");
        }
    }

    #[test]
    fn questions_are_found_by_id_in_engine_order() {
        let catalogue = Catalogue::builtin().expect("valid");
        let q = &catalogue.questionnaire;
        let first = &q.sections[0].questions[0];
        assert_eq!(q.question(&first.id).map(|(i, _)| i), Some(0));
        let last_section = &q.sections[3];
        let last = last_section.questions.last().expect("questions");
        assert_eq!(q.question(&last.id).map(|(i, _)| i), Some(q.question_count() - 1));
        assert_eq!(q.layout().question_label(0), first.topic);
        assert!(q.question("values.nope").is_none());
    }
}
