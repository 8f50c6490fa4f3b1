//! The kinds of organisation that take part.

/// What an organisation is. The order is the taxonomy's and the engine's bit order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrgKind {
    Sme,
    HealthOrg,
    Academic,
    Other,
}

impl OrgKind {
    pub const ALL: [OrgKind; 4] = [OrgKind::Sme, OrgKind::HealthOrg, OrgKind::Academic, OrgKind::Other];

    pub fn parse(raw: &str) -> Result<OrgKind, String> {
        OrgKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| "must be one of sme, health_org, academic, other".to_owned())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Sme => "sme",
            OrgKind::HealthOrg => "health_org",
            OrgKind::Academic => "academic",
            OrgKind::Other => "other",
        }
    }

    /// Bit index in the engine's kind sets.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// Whether organisations of this kind may post challenges.
    pub fn posts_challenges(self) -> bool {
        matches!(self, OrgKind::HealthOrg | OrgKind::Academic)
    }
}

/// Written as its wire name (`sme`, `health_org`, …).
impl serde::Serialize for OrgKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in OrgKind::ALL {
            assert_eq!(OrgKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(OrgKind::parse("hospital").is_err());
        assert!(OrgKind::HealthOrg.posts_challenges() && !OrgKind::Sme.posts_challenges());
    }
}
