//! The compatibility chart of a match or a search card: one bar per dimension of the vector,
//! drawn as SVG on the server (no script), with a title and a description that say the same in
//! words for screen readers. The template `macros.html` (`chart`) draws it from these numbers.

use std::collections::BTreeMap;

use domain::Catalogue;

/// Width of the drawing, in its own units; the page scales it.
const WIDTH: u32 = 480;
const LABEL_WIDTH: u32 = 190;
const BAR_WIDTH: u32 = 230;
const ROW: u32 = 26;

/// One bar: a dimension, its value, and where it is drawn.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub percent: u32,
    pub y: u32,
    pub text_y: u32,
    pub width: u32,
}

/// A chart, ready to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Unique on its page (for the title's and description's ids).
    pub id: String,
    pub title: String,
    pub description: String,
    pub bars: Vec<Bar>,
    pub width: u32,
    pub height: u32,
    pub bar_x: u32,
    pub bar_width: u32,
    pub value_x: u32,
}

/// The label of a dimension of the vector: a section of the questionnaire, or one of the
/// profile's dimensions.
pub fn dimension_label<'a>(catalogue: &'a Catalogue, id: &'a str) -> &'a str {
    match id {
        "capabilities" => "Complementary capabilities",
        "sectors" => "Sectors in common",
        "standards" => "Shared standards",
        _ => catalogue.questionnaire.sections.iter().find(|s| s.id == id).map_or(id, |s| s.title.as_str()),
    }
}

/// The chart of `compatibility` (values 0–1), in the order of the questionnaire and then the
/// profile's dimensions.
pub fn compatibility(catalogue: &Catalogue, id: &str, subject: &str, compatibility: &BTreeMap<String, f64>) -> Chart {
    let mut order: Vec<&str> = catalogue.questionnaire.sections.iter().map(|s| s.id.as_str()).collect();
    order.extend(["capabilities", "sectors", "standards"]);
    let mut bars = Vec::new();
    for dimension in order {
        let Some(value) = compatibility.get(dimension) else { continue };
        let value = value.clamp(0.0, 1.0);
        let row = bars.len() as u32;
        bars.push(Bar {
            label: dimension_label(catalogue, dimension).to_owned(),
            percent: (value * 100.0).round() as u32,
            y: row * ROW + 6,
            text_y: row * ROW + 19,
            width: (value * f64::from(BAR_WIDTH)).round() as u32,
        });
    }
    let description = bars.iter().map(|b| format!("{} {}%", b.label, b.percent)).collect::<Vec<_>>().join("; ");
    Chart {
        id: id.to_owned(),
        title: format!("Compatibility with {subject}, by dimension"),
        description: format!("{description}."),
        height: bars.len() as u32 * ROW + 8,
        bars,
        width: WIDTH,
        bar_x: LABEL_WIDTH,
        bar_width: BAR_WIDTH,
        value_x: LABEL_WIDTH + BAR_WIDTH + 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_follow_the_vector_and_the_description_says_it_in_words() {
        let catalogue = Catalogue::builtin().expect("the built-in catalogue");
        let first = &catalogue.questionnaire.sections[0];
        let vector: BTreeMap<String, f64> =
            [(first.id.clone(), 0.8), ("capabilities".to_owned(), 1.4), ("sectors".to_owned(), 0.0)].into();
        let chart = compatibility(&catalogue, "c1", "Amber Heron", &vector);
        assert_eq!(chart.bars.len(), 3);
        assert_eq!((chart.bars[0].percent, chart.bars[0].width), (80, 184));
        assert_eq!(chart.bars[1].percent, 100, "values are clamped to 0–1");
        assert_eq!(chart.bars[2].width, 0);
        assert!(chart.description.contains(&format!("{} 80%", first.title)));
        assert!(chart.description.contains("Sectors in common 0%"));
        assert!(chart.title.contains("Amber Heron"));
    }
}
