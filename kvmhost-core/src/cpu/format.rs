//! Writing a [`CpuDef`] the way libvirt's `virCPUDefFormat` does.

use super::{CpuDef, CpuKind};
use crate::domain::{CpuMatch, CpuMode, FeaturePolicy, ModelFallback};
use std::fmt::Write;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn policy_str(p: Option<&FeaturePolicy>) -> String {
    match p {
        None => "require".into(),
        Some(p) => p.as_str().to_string(),
    }
}

impl CpuDef {
    /// The `<cpu>` element as libvirt 9.0 formats it: a host CPU with `<arch>`, `<signature>`
    /// and plain features; a guest CPU with `mode`, `match`, the model's `fallback` and feature
    /// policies (libvirt's defaults filled in: `custom`, `exact`, `allow`, `require`).
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuDef;
    /// let g = CpuDef::parse("<cpu><model>Penryn</model><feature name='vmx'/></cpu>").unwrap();
    /// assert_eq!(
    ///     g.to_xml(),
    ///     "<cpu mode='custom' match='exact'>\n  <model fallback='allow'>Penryn</model>\n  \
    ///      <feature policy='require' name='vmx'/>\n</cpu>\n"
    /// );
    /// ```
    pub fn to_xml(&self) -> String {
        let c = &self.cpu;
        let guest = self.kind == CpuKind::Guest;
        let mut out = String::from("<cpu");
        if guest {
            let mode = c.mode.clone().unwrap_or(CpuMode::Custom);
            let _ = write!(out, " mode='{}'", esc(mode.as_str()));
            let model_mode = matches!(mode, CpuMode::Custom | CpuMode::HostModel);
            if c.model_name().is_some() && mode == CpuMode::Custom {
                let m = c.cpu_match.clone().unwrap_or(CpuMatch::Exact);
                let _ = write!(out, " match='{}'", esc(m.as_str()));
            }
            if let Some(check) = &c.check {
                let _ = write!(out, " check='{}'", esc(check.as_str()));
            }
            if let Some(m) = &c.migratable {
                let _ = write!(out, " migratable='{}'", esc(m.as_str()));
            }
            if !model_mode && c.features.is_empty() && c.topology.is_none() {
                out.push_str("/>\n");
                return out;
            }
        }
        out.push_str(">\n");
        if let (false, Some(arch)) = (guest, &self.arch) {
            let _ = writeln!(out, "  <arch>{}</arch>", esc(arch));
        }
        if let Some(m) = &c.model {
            if guest {
                let fb = m.fallback.clone().unwrap_or(ModelFallback::Allow);
                let _ = write!(out, "  <model fallback='{}'", esc(fb.as_str()));
                if let Some(v) = &m.vendor_id {
                    let _ = write!(out, " vendor_id='{}'", esc(v));
                }
            } else {
                out.push_str("  <model");
            }
            match &m.name {
                Some(n) => {
                    let _ = writeln!(out, ">{}</model>", esc(n));
                }
                None => out.push_str("/>\n"),
            }
        }
        if let Some(v) = &c.vendor {
            let _ = writeln!(out, "  <vendor>{}</vendor>", esc(v));
        }
        if let (false, Some(s)) = (guest, &self.signature) {
            let _ = writeln!(out, "  <signature family='{}' model='{}' stepping='{}'/>", s.family, s.model, s.stepping);
        }
        if let Some(t) = &c.topology {
            let v = |x: Option<u32>| x.unwrap_or(1);
            let _ = writeln!(
                out,
                "  <topology sockets='{}' dies='{}' cores='{}' threads='{}'/>",
                v(t.sockets),
                v(t.dies),
                v(t.cores),
                v(t.threads)
            );
        }
        for f in &c.features {
            if guest {
                let _ =
                    writeln!(out, "  <feature policy='{}' name='{}'/>", policy_str(f.policy.as_ref()), esc(&f.name));
            } else {
                let _ = writeln!(out, "  <feature name='{}'/>", esc(&f.name));
            }
        }
        out.push_str("</cpu>\n");
        out
    }
}
