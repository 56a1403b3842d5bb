//! An error with its causes on one line, for the examples' messages (`opening x: No such file or
//! directory`); a cause whose text the line already holds is not repeated. Included by the
//! examples that need it (`#[path = "../common/error_chain.rs"] mod error_chain;`).

/// `e` and each of its sources, joined with `: `.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
