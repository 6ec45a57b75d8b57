//! Timestamps as stored and exchanged: whole milliseconds since the Unix epoch, UTC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since the Unix epoch (UTC).
///
/// Integer milliseconds compare and index the same way in SQLite and PostgreSQL, which is why the
/// stores keep time in this form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time.
    #[must_use]
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// A timestamp from milliseconds since the epoch.
    #[must_use]
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// This time plus `duration`, saturating.
    #[must_use]
    pub fn saturating_add(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(duration)))
    }

    /// This time minus `duration`, saturating.
    #[must_use]
    pub fn saturating_sub(self, duration: Duration) -> Self {
        Self(self.0.saturating_sub(duration_millis(duration)))
    }

    /// How long after `earlier` this is; zero when it is not after.
    #[must_use]
    pub fn duration_since(self, earlier: Self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// The same instant as a [`SystemTime`].
    #[must_use]
    pub fn to_system_time(self) -> SystemTime {
        match u64::try_from(self.0) {
            Ok(ms) => UNIX_EPOCH + Duration::from_millis(ms),
            Err(_) => UNIX_EPOCH - Duration::from_millis(self.0.unsigned_abs()),
        }
    }
}

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

impl Timestamp {
    /// RFC 3339 in UTC with milliseconds, as Partner Center writes instants:
    /// `2026-11-25T10:00:00.123Z`.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let (days, ms) = (self.0.div_euclid(DAY_MS), self.0.rem_euclid(DAY_MS));
        let (year, month, day) = civil_from_days(days);
        let (hour, minute) = (ms / 3_600_000, ms / 60_000 % 60);
        let (second, milli) = (ms / 1000 % 60, ms % 1000);
        let Some(year) = u32::try_from(year).ok().filter(|year| *year <= 9999) else {
            // A year outside 0-9999: as many digits (and a sign) as it takes.
            return format!(
                "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z"
            );
        };
        // Each field in its fixed place: a fraction of the cost of `format!` with padding, paid
        // for every instant of every cart, order and subscription written.
        let mut text = *b"0000-00-00T00:00:00.000Z";
        let mut put = |end: usize, width: usize, mut value: u64| {
            for digit in text[end - width..end].iter_mut().rev() {
                *digit = b"0123456789"[usize::try_from(value % 10).unwrap_or(0)];
                value /= 10;
            }
        };
        put(4, 4, u64::from(year));
        put(7, 2, u64::from(month));
        put(10, 2, u64::from(day));
        for (end, width, value) in [
            (13, 2, hour),
            (16, 2, minute),
            (19, 2, second),
            (23, 3, milli),
        ] {
            put(end, width, value.unsigned_abs());
        }
        text.iter().map(|&byte| char::from(byte)).collect()
    }

    /// Midnight (UTC) of this instant's day.
    #[must_use]
    pub const fn start_of_day(self) -> Self {
        Self(self.0.div_euclid(DAY_MS) * DAY_MS)
    }

    /// The same time of day `months` calendar months later; a day past the end of the month
    /// becomes the month's last (January 31 plus one month is February 28 or 29).
    #[must_use]
    pub fn add_months(self, months: u32) -> Self {
        let (days, ms) = (self.0.div_euclid(DAY_MS), self.0.rem_euclid(DAY_MS));
        let (year, month, day) = civil_from_days(days);
        let total = i64::from(month) - 1 + i64::from(months);
        let (year, month) = (year + total.div_euclid(12), total.rem_euclid(12) + 1);
        let month = u32::try_from(month).unwrap_or(1);
        let day = day.min(days_in_month(year, month));
        Self(days_from_civil(year, month, day).saturating_mul(DAY_MS) + ms)
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = u32::try_from(day_of_year - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(duration_millis(after)),
            Err(before) => Self(-duration_millis(before.duration())),
        }
    }
}

fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_round_trips_system_time() {
        let t = Timestamp::from_millis(1_000);
        assert_eq!(t.saturating_add(Duration::from_secs(2)).as_millis(), 3_000);
        assert_eq!(t.saturating_sub(Duration::from_secs(2)).as_millis(), -1_000);
        assert_eq!(
            Timestamp::from_millis(i64::MAX)
                .saturating_add(Duration::MAX)
                .as_millis(),
            i64::MAX
        );
        assert_eq!(Timestamp::from(t.to_system_time()), t);
        assert_eq!(Timestamp::from_millis(5).duration_since(t), Duration::ZERO);
    }

    #[test]
    fn instants_are_written_in_rfc3339_and_months_follow_the_calendar() {
        // 2026-11-25T10:00:00.123Z
        let t = Timestamp::from_millis(1_795_600_800_123);
        assert_eq!(t.to_rfc3339(), "2026-11-25T10:00:00.123Z");
        assert_eq!(t.start_of_day().to_rfc3339(), "2026-11-25T00:00:00.000Z");
        assert_eq!(t.add_months(12).to_rfc3339(), "2027-11-25T10:00:00.123Z");
        assert_eq!(t.add_months(2).to_rfc3339(), "2027-01-25T10:00:00.123Z");
        assert_eq!(
            Timestamp::from_millis(0).to_rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_millis(-1).to_rfc3339(),
            "1969-12-31T23:59:59.999Z"
        );
        // Years of other than four digits.
        assert_eq!(
            Timestamp::from_millis(days_from_civil(12_345, 6, 7) * DAY_MS + 3_723_004).to_rfc3339(),
            "12345-06-07T01:02:03.004Z"
        );
        assert_eq!(
            Timestamp::from_millis(days_from_civil(-1, 12, 31) * DAY_MS + DAY_MS - 1).to_rfc3339(),
            "-001-12-31T23:59:59.999Z"
        );
        assert_eq!(
            Timestamp::from_millis(days_from_civil(9999, 12, 31) * DAY_MS).to_rfc3339(),
            "9999-12-31T00:00:00.000Z"
        );
        // January 31 plus one month: the end of February, leap years included.
        let jan31 = Timestamp::from_millis(days_from_civil(2028, 1, 31) * DAY_MS);
        assert_eq!(jan31.add_months(1).to_rfc3339(), "2028-02-29T00:00:00.000Z");
        assert_eq!(
            jan31.add_months(13).to_rfc3339(),
            "2029-02-28T00:00:00.000Z"
        );
        // The two conversions agree over four centuries.
        for days in (-200_000..200_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        // Instants whose text was computed independently (Python's datetime).
        for (ms, text) in [
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(Timestamp::from_millis(ms).to_rfc3339(), text);
        }
    }
}
