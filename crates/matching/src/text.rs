//! The full-text index of partner search: anonymous summaries and the labels of the
//! capabilities an organisation offers, in English, stemmed (Snowball: "fall" finds "falls",
//! "prevention" finds "preventing"), ranked by BM25. It lives in memory beside the search's
//! population, so SQLite and PostgreSQL give the same results, and a search never reads every
//! organisation from the database.

use std::collections::HashMap;

use rust_stemmers::{Algorithm, Stemmer};

/// Words too common to search by.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its", "of", "on",
    "or", "our", "that", "the", "their", "to", "we", "with", "you", "your",
];

/// BM25's parameters (the usual ones).
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// Stems of a text, in order, without stop words.
pub struct Analyzer {
    stemmer: Stemmer,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Analyzer(english)")
    }
}

impl Default for Analyzer {
    fn default() -> Analyzer {
        Analyzer { stemmer: Stemmer::create(Algorithm::English) }
    }
}

impl Analyzer {
    pub fn terms(&self, text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .filter(|w| !STOP_WORDS.contains(&w.as_str()))
            .map(|w| self.stemmer.stem(&w).into_owned())
            .collect()
    }
}

/// An inverted index over documents numbered `0..`.
#[derive(Debug, Default)]
pub struct TextIndex {
    analyzer: Analyzer,
    /// Term to (document, occurrences).
    postings: HashMap<String, HashMap<u32, u16>>,
    /// Each document's terms (to remove them when it changes) and its length.
    documents: Vec<(Vec<String>, u32)>,
    total_length: u64,
}

impl TextIndex {
    /// Sets the text of document `doc` (replacing what it had).
    pub fn set(&mut self, doc: usize, text: &str) {
        if doc >= self.documents.len() {
            self.documents.resize_with(doc + 1, Default::default);
        }
        let (old, old_length) = std::mem::take(&mut self.documents[doc]);
        self.total_length -= u64::from(old_length);
        for term in old {
            if let Some(docs) = self.postings.get_mut(&term) {
                docs.remove(&(doc as u32));
                if docs.is_empty() {
                    self.postings.remove(&term);
                }
            }
        }
        let terms = self.analyzer.terms(text);
        let length = terms.len() as u32;
        let mut distinct = Vec::new();
        for term in terms {
            let count = self.postings.entry(term.clone()).or_default().entry(doc as u32).or_insert(0);
            if *count == 0 {
                distinct.push(term);
            }
            *count = count.saturating_add(1);
        }
        self.total_length += u64::from(length);
        self.documents[doc] = (distinct, length);
    }

    /// BM25 scores of every document (0 for those without any term of `query`), for
    /// documents numbered `0..documents` at least.
    pub fn search(&self, query: &str, documents: usize) -> Vec<f32> {
        let n = self.documents.len().max(1) as f32;
        let average = (self.total_length as f32 / n).max(1.0);
        let mut scores = vec![0.0f32; documents.max(self.documents.len())];
        let mut terms = self.analyzer.terms(query);
        terms.sort();
        terms.dedup();
        for term in terms {
            let Some(docs) = self.postings.get(&term) else { continue };
            let df = docs.len() as f32;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for (&doc, &tf) in docs {
                let length = self.documents[doc as usize].1 as f32;
                let tf = f32::from(tf);
                let score = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length / average));
                scores[doc as usize] += score;
            }
        }
        scores
    }

    /// Whether `query` has any term to search by.
    pub fn has_terms(&self, query: &str) -> bool {
        !self.analyzer.terms(query).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_match_and_rarer_terms_rank_higher() {
        let mut index = TextIndex::default();
        index.set(0, "We prevent falls among older people at home");
        index.set(1, "A sensor that detected a fall, and software for care homes");
        index.set(2, "Wound dressings for leg ulcers");
        index.set(3, "Software for care homes and hospitals");
        let found = index.search("fall", 4);
        assert_eq!(found.iter().filter(|s| **s > 0.0).count(), 2, "falls and fall");
        assert!(found[0] > 0.0 && found[1] > 0.0);
        let found = index.search("preventing ulcers", 4);
        assert!(found[2] > 0.0 && found[0] > 0.0);
        let found = index.search("falls software", 4);
        assert!(found[1] > found[3], "both terms beat one");
        assert!(index.search("the and of", 4).iter().all(|s| *s == 0.0));
        assert!(!index.has_terms("the and"));
    }

    #[test]
    fn a_changed_document_is_found_by_its_new_text_only() {
        let mut index = TextIndex::default();
        index.set(0, "falls prevention");
        index.set(0, "wound care");
        assert!(index.search("falls", 1).iter().all(|s| *s == 0.0));
        assert_eq!(index.search("wounds", 1).iter().filter(|s| **s > 0.0).count(), 1);
        assert_eq!(index.total_length, 2);
    }
}
