//! Dates as feeds and manifests carry them: RFC 822 (RSS), RFC 3339 (manifests), and the
//! `str(datetime)` form Archipel's feed writer put in `pubDate` (`2016-11-07 09:51:30.123456`).
//! All in UTC seconds since the epoch; no time-zone database needed.
//!
//! ```
//! use kvmhost_templates::date::{parse, rfc822, rfc3339};
//! let t = parse("Mon, 07 Nov 2016 09:51:30 +0000").unwrap();
//! assert_eq!(parse("2016-11-07 09:51:30.123456"), Some(t));
//! assert_eq!(parse("2016-11-07T10:51:30+01:00"), Some(t));
//! assert_eq!(rfc822(t), "Mon, 07 Nov 2016 09:51:30 +0000");
//! assert_eq!(rfc3339(t), "2016-11-07T09:51:30Z");
//! ```

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn split(t: i64) -> (i64, u32, u32, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// RFC 822 / 2822 form, as RSS wants it (`Mon, 07 Nov 2016 09:51:30 +0000`).
pub fn rfc822(t: i64) -> String {
    let (y, m, d, hh, mm, ss) = split(t);
    let wd = DAYS[t.div_euclid(86_400).rem_euclid(7) as usize];
    format!("{wd}, {d:02} {} {y:04} {hh:02}:{mm:02}:{ss:02} +0000", MONTHS[m as usize - 1])
}

/// RFC 3339 form in UTC (`2016-11-07T09:51:30Z`).
pub fn rfc3339(t: i64) -> String {
    let (y, m, d, hh, mm, ss) = split(t);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Seconds since the epoch now.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn build(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, offset_secs: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64 - offset_secs)
}

fn hms(s: &str) -> Option<(u32, u32, u32)> {
    let s = s.split('.').next()?; // fractional seconds dropped
    let mut it = s.split(':');
    let h = num(it.next()?)?;
    let m = num(it.next()?)?;
    let sec = match it.next() {
        Some(x) => num(x)?,
        None => 0,
    };
    if it.next().is_some() {
        return None;
    }
    Some((h, m, sec))
}

fn zone(z: &str) -> Option<i64> {
    match z {
        "GMT" | "UT" | "UTC" | "Z" | "z" => return Some(0),
        "EST" => return Some(-5 * 3600),
        "EDT" => return Some(-4 * 3600),
        "CST" => return Some(-6 * 3600),
        "CDT" => return Some(-5 * 3600),
        "MST" => return Some(-7 * 3600),
        "MDT" => return Some(-6 * 3600),
        "PST" => return Some(-8 * 3600),
        "PDT" => return Some(-7 * 3600),
        _ => {}
    }
    let (sign, rest) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    let rest = rest.replace(':', "");
    if rest.len() != 4 {
        return None;
    }
    let h = num(&rest[..2])? as i64;
    let m = num(&rest[2..])? as i64;
    Some(sign * (h * 3600 + m * 60))
}

fn parse_rfc822(s: &str) -> Option<i64> {
    let s = match s.split_once(',') {
        Some((_, rest)) => rest,
        None => s,
    };
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() < 4 || parts.len() > 5 {
        return None;
    }
    let d = num(parts[0])?;
    let mo = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(parts[1]))? as u32 + 1;
    let y = num(parts[2])? as i64;
    let y = match (parts[2].len(), y) {
        (2, y) if y < 50 => 2000 + y,
        (2, y) => 1900 + y,
        _ => y,
    };
    let (h, mi, sec) = hms(parts[3])?;
    let off = match parts.get(4) {
        Some(z) => zone(z)?,
        None => 0,
    };
    build(y, mo, d, h, mi, sec, off)
}

fn parse_iso(s: &str) -> Option<i64> {
    // `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|±HH:MM]`; without a zone, UTC (Archipel wrote the
    // host's local time, which a reader cannot know).
    if s.len() < 16 {
        return None;
    }
    let (date, time) = (s.get(..10)?, s.get(11..)?);
    if !matches!(s.as_bytes()[10], b' ' | b'T' | b't') {
        return None;
    }
    let mut dp = date.split('-');
    let y = num(dp.next()?)? as i64;
    let mo = num(dp.next()?)?;
    let d = num(dp.next()?)?;
    let zpos = time.find(['Z', 'z', '+', '-']);
    let (clock, off) = match zpos {
        Some(i) => (&time[..i], zone(&time[i..])?),
        None => (time, 0),
    };
    let (h, mi, sec) = hms(clock.trim())?;
    build(y, mo, d, h, mi, sec, off)
}

/// Parses any of the forms above; `None` for anything else.
pub fn parse(s: &str) -> Option<i64> {
    let s = s.trim();
    parse_iso(s).or_else(|| parse_rfc822(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_and_known_values() {
        for t in [0i64, 951_782_400, 1_478_512_290, 4_102_444_800, -86_400] {
            assert_eq!(parse(&rfc822(t)), Some(t), "{}", rfc822(t));
            assert_eq!(parse(&rfc3339(t)), Some(t));
        }
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(parse("Tue, 10 Jun 2003 04:00:00 GMT"), Some(1_055_217_600));
        assert_eq!(parse("10 Jun 03 04:00 EST"), Some(1_055_217_600 + 5 * 3600));
        assert_eq!(parse("2016-11-07 09:51:30"), parse("2016-11-07 09:51:30.999999"));
        for bad in ["", "yesterday", "2016-13-07 09:51:30", "Mon, 07 Foo 2016 09:51:30 +0000", "2016-11-07 99:00"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
