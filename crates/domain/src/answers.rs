//! A member's answers to the questionnaire, checked as a whole: all of them are valid, or
//! none is taken.

use std::collections::BTreeMap;

use scoring::{Importance, QuestionAnswer};

use crate::catalogue::Questionnaire;
use crate::errors::FieldErrors;

/// An answer as it arrives, ids as strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAnswer {
    pub question_id: String,
    pub answer: String,
    pub acceptable: Vec<String>,
    pub importance: String,
}

/// One checked answer, as option indices of its question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub option: u8,
    /// Bit `o` set when option `o` is acceptable; never empty.
    pub acceptable: u32,
    pub importance: Importance,
}

/// A valid set of answers, at most one per question, keyed by the question's global index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerSet {
    answers: BTreeMap<usize, Answer>,
}

/// The importance with this wire name.
pub fn parse_importance(raw: &str) -> Result<Importance, String> {
    Importance::ALL
        .into_iter()
        .find(|level| importance_name(*level) == raw)
        .ok_or_else(|| "must be one of irrelevant, a_little, somewhat, very, mandatory".to_owned())
}

/// The wire name of an importance.
pub fn importance_name(level: Importance) -> &'static str {
    match level {
        Importance::Irrelevant => "irrelevant",
        Importance::ALittle => "a_little",
        Importance::Somewhat => "somewhat",
        Importance::Very => "very",
        Importance::Mandatory => "mandatory",
    }
}

impl AnswerSet {
    /// Checks every answer against the questionnaire; errors are keyed `answers[i].field`.
    pub fn parse(questionnaire: &Questionnaire, raw: &[RawAnswer]) -> Result<AnswerSet, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut answers = BTreeMap::new();
        for (i, answer) in raw.iter().enumerate() {
            let field = |name: &str| format!("answers[{i}].{name}");
            let Some((index, question)) = questionnaire.question(&answer.question_id) else {
                errors.add(field("question_id"), "unknown question");
                continue;
            };
            let option = |id: &str| question.options.iter().position(|o| o.id == id);
            let own = option(&answer.answer);
            if own.is_none() {
                errors.add(field("answer"), format!("{:?} is not an option of this question", answer.answer));
            }
            let mut acceptable = 0u32;
            for id in &answer.acceptable {
                match option(id) {
                    Some(o) => acceptable |= 1 << o,
                    None => errors.add(field("acceptable"), format!("{id:?} is not an option of this question")),
                }
            }
            if answer.acceptable.is_empty() {
                errors.add(field("acceptable"), "choose at least one answer you would accept");
            }
            let importance = errors.check(&field("importance"), parse_importance(&answer.importance));
            if answers.contains_key(&index) {
                errors.add(field("question_id"), "this question is answered twice");
                continue;
            }
            if let (Some(own), Some(importance)) = (own, importance) {
                answers.insert(index, Answer { option: own as u8, acceptable, importance });
            }
        }
        errors.into_result(AnswerSet { answers })
    }

    /// Rebuilds a set from stored rows, which were checked when saved; rows that no longer fit
    /// the questionnaire are skipped.
    pub fn from_stored(questionnaire: &Questionnaire, rows: impl IntoIterator<Item = RawAnswer>) -> AnswerSet {
        let answers = rows
            .into_iter()
            .filter_map(|raw| {
                let set = AnswerSet::parse(questionnaire, std::slice::from_ref(&raw)).ok()?;
                set.answers.into_iter().next()
            })
            .collect();
        AnswerSet { answers }
    }

    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// Answers by global question index.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Answer)> {
        self.answers.iter().map(|(i, a)| (*i, a))
    }

    /// The answers in wire form (ids and names), in questionnaire order.
    pub fn to_raw(&self, questionnaire: &Questionnaire) -> Vec<RawAnswer> {
        self.iter()
            .map(|(index, answer)| {
                let question = questionnaire.question_at(index);
                let id = |o: usize| question.options[o].id.clone();
                RawAnswer {
                    question_id: question.id.clone(),
                    answer: id(usize::from(answer.option)),
                    acceptable: (0..question.options.len())
                        .filter(|o| answer.acceptable >> o & 1 == 1)
                        .map(id)
                        .collect(),
                    importance: importance_name(answer.importance).to_owned(),
                }
            })
            .collect()
    }

    /// One entry per question of the questionnaire, as the engine takes them.
    pub fn to_scoring(&self, questionnaire: &Questionnaire) -> Vec<Option<QuestionAnswer>> {
        (0..questionnaire.question_count())
            .map(|index| {
                self.answers.get(&index).map(|a| QuestionAnswer {
                    answer: a.option,
                    acceptable: a.acceptable,
                    importance: a.importance,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalogue;

    fn raw(question_id: &str, answer: &str, acceptable: &[&str], importance: &str) -> RawAnswer {
        RawAnswer {
            question_id: question_id.into(),
            answer: answer.into(),
            acceptable: acceptable.iter().map(|s| (*s).to_owned()).collect(),
            importance: importance.into(),
        }
    }

    #[test]
    fn a_valid_set_round_trips() {
        let catalogue = Catalogue::builtin().expect("valid");
        let q = &catalogue.questionnaire;
        let question = q.question_at(1);
        let (a, b) = (&question.options[0].id, &question.options[1].id);
        let input = vec![raw(&question.id, a, &[a, b], "very")];
        let set = AnswerSet::parse(q, &input).expect("valid");
        assert_eq!(set.len(), 1);
        assert_eq!(set.to_raw(q), input);
        let scoring = set.to_scoring(q);
        assert_eq!(scoring.len(), q.question_count());
        assert_eq!(scoring[1], Some(QuestionAnswer { answer: 0, acceptable: 0b11, importance: Importance::Very }));
        assert_eq!(AnswerSet::from_stored(q, input), set);
    }

    #[test]
    fn every_problem_is_reported_against_its_field() {
        let catalogue = Catalogue::builtin().expect("valid");
        let q = &catalogue.questionnaire;
        let question = q.question_at(0);
        let option = &question.options[0].id;
        let cases = [
            (raw("values.nope", option, &[option], "very"), "answers[0].question_id"),
            (raw(&question.id, "nope", &[option], "very"), "answers[0].answer"),
            (raw(&question.id, option, &[], "very"), "answers[0].acceptable"),
            (raw(&question.id, option, &["nope"], "very"), "answers[0].acceptable"),
            (raw(&question.id, option, &[option], "extremely"), "answers[0].importance"),
        ];
        for (input, field) in cases {
            let errors = AnswerSet::parse(q, std::slice::from_ref(&input)).expect_err(field);
            assert_eq!(errors.fields().keys().collect::<Vec<_>>(), [field], "{input:?}");
        }
        let twice = [raw(&question.id, option, &[option], "very"), raw(&question.id, option, &[option], "very")];
        let errors = AnswerSet::parse(q, &twice).expect_err("duplicate");
        assert!(errors.fields().contains_key("answers[1].question_id"));
    }
}
