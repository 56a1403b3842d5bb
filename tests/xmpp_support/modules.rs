// The example's XMPP modules and the shared test support, declared at the root of the crate
// that includes this file (`include!`: tests/xmpp_*.rs and benches/xmpp_agent.rs), because the
// support refers to `crate::xml` and `crate::xmpp`. Paths are relative to this file.

#[path = "../../examples/xmpp_agent/stream.rs"]
#[allow(dead_code, unused_imports)] // (imports of its unit tests, in a bench without them)
mod stream;
#[path = "../../examples/xmpp_agent/xml.rs"]
#[allow(dead_code, unused_imports)]
mod xml;
#[path = "../../examples/xmpp_agent/xmpp.rs"]
#[allow(dead_code)]
mod xmpp;

#[path = "mod.rs"]
#[allow(dead_code)] // each includer uses part of it
mod support;
