//! How often a member hears of what is new: the digest's frequency and its periods.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};

/// How often a member gets a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Frequency {
    Daily,
    #[default]
    Weekly,
    Off,
}

impl Frequency {
    pub const ALL: [Frequency; 3] = [Frequency::Daily, Frequency::Weekly, Frequency::Off];

    pub fn parse(raw: &str) -> Result<Frequency, String> {
        Frequency::ALL.into_iter().find(|f| f.as_str() == raw).ok_or_else(|| "choose daily, weekly or off".to_owned())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Off => "off",
        }
    }

    /// The last whole period that ended at or before `now`: a UTC day, or a week from Monday
    /// 00:00 UTC; `None` for `off`.
    pub fn last_period(self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let today = Utc.from_utc_datetime(&now.date_naive().and_hms_opt(0, 0, 0)?);
        match self {
            Frequency::Daily => Some((today - Duration::days(1), today)),
            Frequency::Weekly => {
                let monday = today - Duration::days(i64::from(now.weekday().num_days_from_monday()));
                Some((monday - Duration::days(7), monday))
            }
            Frequency::Off => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_round_trip_and_unknown_ones_are_refused() {
        for frequency in Frequency::ALL {
            assert_eq!(Frequency::parse(frequency.as_str()), Ok(frequency));
        }
        assert!(Frequency::parse("hourly").is_err());
        assert_eq!(Frequency::default(), Frequency::Weekly);
    }

    #[test]
    fn the_last_period_is_the_previous_whole_day_or_week() {
        // Wednesday 2 December 2026, 05:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 5, 0, 0).single().expect("a time");
        let day = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).single().expect("a time");
        let december = |d: u32| Utc.with_ymd_and_hms(2026, 12, d, 0, 0, 0).single().expect("a time");
        assert_eq!(Frequency::Daily.last_period(now), Some((december(1), december(2))));
        assert_eq!(Frequency::Weekly.last_period(now), Some((day(23), day(30))), "Monday to Monday");
        assert_eq!(Frequency::Off.last_period(now), None);
        // On a Monday the week that just ended is the one before it.
        let monday = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 1).single().expect("a time");
        assert_eq!(Frequency::Weekly.last_period(monday), Some((day(23), day(30))));
    }
}
