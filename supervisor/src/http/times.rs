//! Time bounds in query strings: RFC 3339 with any offset (`2026-12-01T10:00:00+02:00`,
//! `...Z`, fractions, a leap second), and where a listing allows it a bare `YYYY-MM-DD` date
//! (UTC). Impossible dates (`2026-02-30`) are refused with the parameter's name.

use super::error::ApiError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, Time};

/// An RFC 3339 time. Times before 1970 are clamped to its start (nothing is stored earlier).
pub(super) fn instant(field: &str, raw: &str) -> Result<SystemTime, ApiError> {
    OffsetDateTime::parse(raw, &Rfc3339).map(system_time).map_err(|_| {
        ApiError::bad_request(format!("{field} must be an RFC 3339 time (for example 2026-12-01T10:00:00Z)"))
    })
}

/// An RFC 3339 time or a `YYYY-MM-DD` date: its first instant, or its last with `end_of_day`.
pub(super) fn instant_or_day(field: &str, raw: &str, end_of_day: bool) -> Result<SystemTime, ApiError> {
    if let Ok(day) = Date::parse(raw, format_description!("[year]-[month]-[day]")) {
        let at = if end_of_day { Time::MAX } else { Time::MIDNIGHT };
        return Ok(system_time(day.with_time(at).assume_utc()));
    }
    OffsetDateTime::parse(raw, &Rfc3339)
        .map(system_time)
        .map_err(|_| ApiError::bad_request(format!("{field} must be an RFC 3339 time or a YYYY-MM-DD date")))
}

/// What [`instant_or_day`] accepts, for the OpenAPI document: a date-time or a date.
pub(super) struct TimeOrDay;

impl utoipa::PartialSchema for TimeOrDay {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
        let string = |format| {
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(format)))
        };
        AnyOfBuilder::new().item(string(KnownFormat::DateTime)).item(string(KnownFormat::Date)).into()
    }
}

impl utoipa::ToSchema for TimeOrDay {}

fn system_time(t: OffsetDateTime) -> SystemTime {
    let nanos = t.unix_timestamp_nanos();
    if nanos <= 0 {
        UNIX_EPOCH
    } else {
        UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    #[test]
    fn offsets_fractions_and_leap_seconds_are_times() {
        let utc = secs(instant("from", "2026-12-01T10:00:00Z").expect("Z"));
        assert_eq!(secs(instant("from", "2026-12-01T12:00:00+02:00").expect("offset")), utc);
        assert_eq!(secs(instant("from", "2026-12-01t10:00:00.123456z").expect("lower case")), utc);
        assert_eq!(secs(instant("from", "2016-12-31T23:59:60Z").expect("leap second")), 1_483_228_799);
        assert_eq!(instant("from", "1900-01-01T00:00:00Z").expect("old"), UNIX_EPOCH);
    }

    #[test]
    fn dates_cover_their_day_and_impossible_ones_are_refused() {
        let start = secs(instant_or_day("from", "2026-12-01", false).expect("date"));
        let end = secs(instant_or_day("to", "2026-12-01", true).expect("date"));
        assert_eq!((start, end - start), (1_796_083_200, 86_399));
        for bad in ["2026-02-30", "2026-13-01", "2026-12-01 10:00", "yesterday", ""] {
            let e = instant_or_day("from", bad, false).expect_err(bad);
            assert!(e.body()["detail"].as_str().is_some_and(|d| d.contains("from")), "{bad}: {e:?}");
        }
        assert!(instant("to", "2026-12-01").is_err(), "a date is not a time where only times are allowed");
    }
}
