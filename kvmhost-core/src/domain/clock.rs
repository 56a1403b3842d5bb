//! `<clock>`: the guest clock offset and its timers.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_parse, attr_part, attr_string, child_part_named, children_parts, set_attr, set_child_named, set_children,
    ElementPath, XmlPart, YesNo,
};

use crate::domain::error::DomainError;
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// How the guest clock relates to the host's (`<clock offset=…>`).
    pub enum ClockOffset {
        Utc = "utc", LocalTime = "localtime", Timezone = "timezone", Variable = "variable", Absolute = "absolute"
    }
}

xml_enum! {
    /// A guest timer (`<timer name=…>`).
    pub enum TimerName {
        Platform = "platform", Pit = "pit", Rtc = "rtc", Hpet = "hpet", Tsc = "tsc", KvmClock = "kvmclock",
        HypervClock = "hypervclock", ArmVTimer = "armvtimer"
    }
}

xml_enum! {
    /// What to do with missed ticks (`tickpolicy`).
    pub enum TickPolicy { Delay = "delay", Catchup = "catchup", Merge = "merge", Discard = "discard" }
}

attr_part! {
    /// `<catchup threshold='123' slew='120' limit='10000'/>`.
    pub struct TimerCatchup = "catchup" {
        /// `threshold`.
        threshold: u64 = "threshold",
        /// `slew`.
        slew: u64 = "slew",
        /// `limit`.
        limit: u64 = "limit",
    }
}

/// A timer (`<timer name='rtc' tickpolicy='catchup' track='guest'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Timer {
    /// `name`.
    pub name: Option<TimerName>,
    /// `present`.
    pub present: Option<YesNo>,
    /// `tickpolicy`.
    pub tickpolicy: Option<TickPolicy>,
    /// `track` (`boot`, `guest`, `wall`, `realtime`).
    pub track: Option<String>,
    /// `frequency` (tsc).
    pub frequency: Option<u64>,
    /// `mode` (tsc: `auto`, `native`, `emulate`, `paravirt`, `smpsafe`).
    pub mode: Option<String>,
    /// `<catchup>`.
    pub catchup: Option<TimerCatchup>,
}

impl Timer {
    /// A timer named `name` with `present` set.
    pub fn new(name: TimerName, present: bool) -> Timer {
        Timer { name: Some(name), present: Some(if present { YesNo::Yes } else { YesNo::No }), ..Timer::default() }
    }
}

impl XmlPart for Timer {
    const TAG: &'static str = "timer";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Timer {
            name: el.attr("name").map(Into::into),
            present: el.attr("present").map(Into::into),
            tickpolicy: el.attr("tickpolicy").map(Into::into),
            track: attr_string(el, "track"),
            frequency: attr_parse(el, "frequency", path)?,
            mode: attr_string(el, "mode"),
            catchup: child_part_named(el, "catchup", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "name", self.name.as_ref());
        set_attr(el, "present", self.present.as_ref());
        set_attr(el, "tickpolicy", self.tickpolicy.as_ref());
        set_attr(el, "track", self.track.as_deref());
        set_attr(el, "frequency", self.frequency);
        set_attr(el, "mode", self.mode.as_deref());
        set_child_named(el, "catchup", self.catchup.as_ref(), &[]);
    }
}

/// `<clock offset='utc'><timer …/></clock>`.
///
/// ```
/// use kvmhost_core::domain::{Clock, ClockOffset, Domain, TickPolicy, Timer, TimerName, XmlPart};
/// let d = Domain::parse("<domain><clock offset='localtime'>\
///   <timer name='rtc' tickpolicy='catchup'/><timer name='hpet' present='no'/></clock></domain>").unwrap();
/// let c = d.clock().unwrap().unwrap();
/// assert_eq!(c.offset, Some(ClockOffset::LocalTime));
/// assert_eq!(c.timers[0].tickpolicy, Some(TickPolicy::Catchup));
/// let c = Clock::utc().with_timer(Timer::new(TimerName::Hpet, false));
/// assert_eq!(c.to_element().child("timer").unwrap().attr("present"), Some("no"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Clock {
    /// `offset`.
    pub offset: Option<ClockOffset>,
    /// `adjustment` (seconds, or `reset`).
    pub adjustment: Option<String>,
    /// `timezone` (offset `timezone`).
    pub timezone: Option<String>,
    /// `basis` (`utc`, `localtime`).
    pub basis: Option<String>,
    /// `start` (offset `absolute`, epoch seconds).
    pub start: Option<u64>,
    /// `<timer>` list.
    pub timers: Vec<Timer>,
}

impl Clock {
    /// `offset='utc'`.
    pub fn utc() -> Clock {
        Clock { offset: Some(ClockOffset::Utc), ..Clock::default() }
    }

    /// Builder: appends a timer.
    pub fn with_timer(mut self, timer: Timer) -> Clock {
        self.timers.push(timer);
        self
    }
}

impl XmlPart for Clock {
    const TAG: &'static str = "clock";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Clock {
            offset: el.attr("offset").map(Into::into),
            adjustment: attr_string(el, "adjustment"),
            timezone: attr_string(el, "timezone"),
            basis: attr_string(el, "basis"),
            start: attr_parse(el, "start", path)?,
            timers: children_parts(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "offset", self.offset.as_ref());
        set_attr(el, "adjustment", self.adjustment.as_deref());
        set_attr(el, "timezone", self.timezone.as_deref());
        set_attr(el, "basis", self.basis.as_deref());
        set_attr(el, "start", self.start);
        set_children(el, &self.timers, &["timer"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn catchup_and_variable_offset_round_trip() {
        let xml = "<clock offset='variable' adjustment='-123' basis='utc'>\
                   <timer name='rtc' tickpolicy='catchup' track='guest'><catchup threshold='123' slew='120' limit='10000'/></timer>\
                   <timer name='tsc' frequency='3504000000' mode='native'/></clock>";
        let d = Document::parse(xml).unwrap();
        let c = Clock::decode(&d.root, &ElementPath::root("clock")).unwrap();
        assert_eq!(c.timers[0].catchup.as_ref().unwrap().slew, Some(120));
        assert_eq!(c.timers[1].frequency, Some(3_504_000_000));
        let mut el = d.root.clone();
        c.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
        assert!(c.to_element().semantically_eq(&d.root));
    }
}
