//! [`CpuMap`]: libvirt's x86 CPU map (`index.xml` and the `x86_*.xml` files it includes), parsed
//! from text; reading it from a directory is in `load.rs`.

use super::{CpuError, CpuidData, CpuidLeaf, MsrBits};
use crate::xml::{Document, Element};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A CPU vendor (`<vendor name='Intel' string='GenuineIntel'/>`).
///
/// ```
/// use kvmhost_core::cpu::Vendor;
/// let v = Vendor { name: "Intel".into(), string: "GenuineIntel".into() };
/// assert_eq!(v.cpuid().ebx, u32::from_le_bytes(*b"Genu"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vendor {
    /// libvirt's name (`Intel`, `AMD`, `Hygon`).
    pub name: String,
    /// The 12-character CPUID vendor string.
    pub string: String,
}

impl Vendor {
    /// The CPUID leaf 0 registers spelling the vendor string (`EBX`, `EDX`, `ECX`).
    ///
    /// ```
    /// use kvmhost_core::cpu::Vendor;
    /// let v = Vendor { name: "AMD".into(), string: "AuthenticAMD".into() };
    /// assert_eq!(v.cpuid().ecx, u32::from_le_bytes(*b"cAMD"));
    /// ```
    pub fn cpuid(&self) -> CpuidLeaf {
        let mut b = [0u8; 12];
        for (d, s) in b.iter_mut().zip(self.string.bytes()) {
            *d = s;
        }
        let reg = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        CpuidLeaf { ebx: reg(0), edx: reg(4), ecx: reg(8), ..Default::default() }
    }
}

/// Another name of a feature (`<alias name='nodeid-msr' source='qemu'/>`).
///
/// ```
/// let a = kvmhost_core::cpu::FeatureAlias { name: "sse4_1".into(), source: Some("qemu".into()) };
/// assert_eq!(a.name, "sse4_1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureAlias {
    /// The other name.
    pub name: String,
    /// Who uses it (`qemu`, `linux`).
    pub source: Option<String>,
}

/// A CPU feature: its name and the CPUID / MSR bits that mean it.
///
/// ```
/// use kvmhost_core::cpu::{CpuidData, Feature};
/// let f = Feature { name: "x".into(), data: CpuidData::new(), migratable: true, aliases: vec![] };
/// assert!(f.migratable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feature {
    /// libvirt's name (`avx2`).
    pub name: String,
    /// The bits.
    pub data: CpuidData,
    /// `false` for `migratable='no'` (e.g. `invtsc`).
    pub migratable: bool,
    /// Other names.
    pub aliases: Vec<FeatureAlias>,
}

/// A CPU signature a model matches (`<signature family='6' model='85' stepping='5-7'/>`).
///
/// ```
/// let s = kvmhost_core::cpu::Signature { family: 6, model: 85, stepping: Some((5, 7)) };
/// assert!(s.matches(6, 85, 6) && !s.matches(6, 85, 4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// CPU family.
    pub family: u32,
    /// CPU model number.
    pub model: u32,
    /// Inclusive stepping range, if restricted.
    pub stepping: Option<(u32, u32)>,
}

impl Signature {
    /// Whether a CPU of this family / model / stepping has this signature.
    ///
    /// ```
    /// let s = kvmhost_core::cpu::Signature { family: 6, model: 60, stepping: None };
    /// assert!(s.matches(6, 60, 3));
    /// ```
    pub fn matches(&self, family: u32, model: u32, stepping: u32) -> bool {
        self.family == family
            && self.model == model
            && self.stepping.map_or(true, |(lo, hi)| (lo..=hi).contains(&stepping))
    }
}

/// A CPU model: vendor, signatures and features (with inheritance already applied).
///
/// ```
/// let map = kvmhost_core::cpu::CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let m = map.model("Haswell").unwrap();
/// assert_eq!(m.vendor.as_deref(), Some("Intel"));
/// assert!(m.features.iter().any(|f| f == "avx2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    /// The model's name (`Haswell`).
    pub name: String,
    /// The vendor's name, if the model has one.
    pub vendor: Option<String>,
    /// Signatures (`family`/`model`/`stepping`) of real CPUs of this model.
    pub signatures: Vec<Signature>,
    /// The ancestor named by `<model name='…'/>`, whose data this model started from.
    pub parent: Option<String>,
    /// Feature names, inherited ones first.
    pub features: Vec<String>,
    /// Features marked `removed='yes'` (not part of the model's data; not inherited).
    pub removed_features: Vec<String>,
    /// The union of the features' bits.
    pub data: CpuidData,
    /// `<decode host='on'/>`: may name a host CPU decoded from CPUID (default on).
    pub decode_host: bool,
    /// `<decode guest='on'/>`: may name a guest CPU (baseline, host-model) (default on).
    pub decode_guest: bool,
}

/// libvirt's x86 CPU map: vendors, features and models.
///
/// Parsed from its XML ([`CpuMap::parse_index`]: `index.xml` and the files it includes;
/// [`CpuMap::parse`]: one self-contained document) or read from the directory libvirt installs
/// ([`CpuMap::load`] of [`CpuMap::default_path`], the I/O edge). The examples of the CPU engine
/// parse an excerpt of libvirt 9.0.0's map shipped with this crate (`src/cpu/cpu_map_excerpt.xml`:
/// seven Intel and AMD models and the features they use).
///
/// ```
/// use kvmhost_core::cpu::CpuMap;
/// // a few of libvirt's models; CpuMap::load(CpuMap::default_path()) reads the installed map
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap();
/// assert!(map.vendor("AMD").is_some());
/// assert!(map.feature("vmx").is_some());
/// assert!(map.model("Penryn").is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CpuMap {
    vendors: Vec<Vendor>,
    features: Vec<Feature>,
    models: Vec<Model>,
}

/// Where a CPU map element is, for error messages.
struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, element: impl Into<String>, message: impl Into<String>) -> CpuError {
        CpuError::InvalidMap { path: self.path.to_path_buf(), element: element.into(), message: message.into() }
    }

    fn name<'e>(&self, el: &'e Element, what: &str) -> Result<&'e str, CpuError> {
        match el.attr("name") {
            Some(n) if !n.is_empty() => Ok(n),
            _ => Err(self.err(what, format!("<{}> without a name", el.name))),
        }
    }

    fn num(&self, el: &Element, attr: &str, at: &str, required: bool) -> Result<u32, CpuError> {
        let Some(v) = el.attr(attr) else {
            return if required { Err(self.err(at, format!("missing {attr}"))) } else { Ok(0) };
        };
        let v = v.trim();
        let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => v.parse(),
        };
        parsed.map_err(|_| self.err(at, format!("invalid {attr}='{v}'")))
    }
}

fn parse_doc(path: &Path, text: &str) -> Result<Document, CpuError> {
    Document::parse(text).map_err(|e| CpuError::Xml { path: path.to_path_buf(), message: e.to_string() })
}

impl CpuMap {
    /// A CPU map from one self-contained document: `<cpus><arch name='x86'>` holding the
    /// vendors, features and models inline (an `<include>` in it is an error: see
    /// [`CpuMap::parse_index`] for libvirt's `index.xml` and the files it includes). Errors
    /// name the document `index.xml`.
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuError, CpuMap};
    /// let map = CpuMap::parse("<cpus><arch name='x86'>\
    ///     <vendor name='Intel' string='GenuineIntel'/>\
    ///     <feature name='vmx'><cpuid eax_in='0x01' ecx='0x00000020'/></feature>\
    ///     <model name='mine'><vendor name='Intel'/><feature name='vmx'/></model>\
    ///   </arch></cpus>").unwrap();
    /// assert_eq!(map.model("mine").unwrap().features, ["vmx"]);
    /// let index = "<cpus><arch name='x86'><include filename='x86_features.xml'/></arch></cpus>";
    /// assert!(matches!(CpuMap::parse(index), Err(CpuError::InvalidMap { .. })));
    /// ```
    pub fn parse(xml: &str) -> Result<CpuMap, CpuError> {
        CpuMap::parse_index(xml, |file| {
            Err(CpuError::InvalidMap {
                path: "index.xml".into(),
                element: "arch[name='x86']/include".into(),
                message: format!("includes {file}: a self-contained map has no included files (CpuMap::parse_index)"),
            })
        })
    }

    /// A CPU map from libvirt's `index.xml` and the files its `x86` section includes: `include`
    /// is called with each `<include filename='…'/>`, in order, and returns that file's text
    /// (or an error, which is passed on). The `x86` section's inline elements come first, then
    /// the included files; in each, vendors, then features, then models, as libvirt reads them.
    /// No I/O of its own: [`CpuMap::load`] is this plus reading the files from a directory.
    /// Errors name `index.xml` or the included file's name.
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuMap;
    /// let files = [
    ///     ("x86_vendors.xml", "<cpus><vendor name='AMD' string='AuthenticAMD'/></cpus>"),
    ///     ("x86_features.xml", "<cpus><feature name='svm'>\
    ///         <cpuid eax_in='0x80000001' ecx='0x00000004'/></feature></cpus>"),
    /// ];
    /// let index = "<cpus><arch name='x86'><include filename='x86_vendors.xml'/>\
    ///     <include filename='x86_features.xml'/></arch></cpus>";
    /// let map = CpuMap::parse_index(index, |name| {
    ///     let (_, xml) = files.iter().find(|(n, _)| *n == name).expect("a file of the map");
    ///     Ok(xml.to_string())
    /// })
    /// .unwrap();
    /// assert!(map.vendor("AMD").is_some() && map.feature("svm").is_some());
    /// ```
    pub fn parse_index<F>(index_xml: &str, mut include: F) -> Result<CpuMap, CpuError>
    where
        F: FnMut(&str) -> Result<String, CpuError>,
    {
        let index = Path::new("index.xml");
        CpuMap::parse_files(index, index_xml, |file| include(file).map(|text| (PathBuf::from(file), text)))
    }

    /// [`CpuMap::parse_index`], errors naming `index` for the index document and, for each
    /// included file, the path `include` returns with its text.
    pub(super) fn parse_files<F>(index: &Path, index_xml: &str, mut include: F) -> Result<CpuMap, CpuError>
    where
        F: FnMut(&str) -> Result<(PathBuf, String), CpuError>,
    {
        let doc = parse_doc(index, index_xml)?;
        let ctx = Ctx { path: index };
        let mut map = CpuMap::default();
        let x86 = doc.root.children_named("arch").find(|a| a.attr("name") == Some("x86"));
        let Some(x86) = x86 else {
            return Err(ctx.err(doc.root.name.as_str(), "no <arch name='x86'>"));
        };
        map.load_elements(x86, &ctx)?;
        for inc in x86.children_named("include") {
            let Some(file) = inc.attr("filename") else {
                return Err(ctx.err("arch[name='x86']/include", "missing filename"));
            };
            let (path, text) = include(file)?;
            let doc = parse_doc(&path, &text)?;
            map.load_elements(&doc.root, &Ctx { path: &path })?;
        }
        Ok(map)
    }

    fn load_elements(&mut self, parent: &Element, ctx: &Ctx<'_>) -> Result<(), CpuError> {
        for v in parent.children_named("vendor") {
            self.load_vendor(v, ctx)?;
        }
        for f in parent.children_named("feature") {
            self.load_feature(f, ctx)?;
        }
        for m in parent.children_named("model") {
            self.load_model(m, ctx)?;
        }
        Ok(())
    }

    fn load_vendor(&mut self, el: &Element, ctx: &Ctx<'_>) -> Result<(), CpuError> {
        let name = ctx.name(el, "vendor")?;
        let at = format!("vendor[name='{name}']");
        if self.vendor(name).is_some() {
            return Err(ctx.err(at, "duplicate vendor"));
        }
        let string = el.attr("string").ok_or_else(|| ctx.err(&at, "missing string"))?;
        if string.len() != 12 {
            return Err(ctx.err(at, format!("vendor string '{string}' is not 12 characters")));
        }
        self.vendors.push(Vendor { name: name.into(), string: string.into() });
        Ok(())
    }

    fn load_feature(&mut self, el: &Element, ctx: &Ctx<'_>) -> Result<(), CpuError> {
        let name = ctx.name(el, "feature")?;
        let at = format!("feature[name='{name}']");
        if self.feature(name).is_some() {
            return Err(ctx.err(at, "duplicate feature"));
        }
        let migratable = match el.attr("migratable") {
            None | Some("yes") => true,
            Some("no") => false,
            Some(v) => return Err(ctx.err(at, format!("invalid migratable='{v}'"))),
        };
        let mut data = CpuidData::new();
        let mut aliases = Vec::new();
        for child in el.elements() {
            let cat = format!("{at}/{}", child.name);
            match child.name.as_str() {
                "cpuid" => data.add_cpuid(CpuidLeaf {
                    eax_in: ctx.num(child, "eax_in", &cat, true)?,
                    ecx_in: ctx.num(child, "ecx_in", &cat, false)?,
                    eax: ctx.num(child, "eax", &cat, false)?,
                    ebx: ctx.num(child, "ebx", &cat, false)?,
                    ecx: ctx.num(child, "ecx", &cat, false)?,
                    edx: ctx.num(child, "edx", &cat, false)?,
                }),
                "msr" => data.add_msr(MsrBits {
                    index: ctx.num(child, "index", &cat, true)?,
                    eax: ctx.num(child, "eax", &cat, true)?,
                    edx: ctx.num(child, "edx", &cat, true)?,
                }),
                "alias" => aliases.push(FeatureAlias {
                    name: ctx.name(child, &cat)?.into(),
                    source: child.attr("source").map(Into::into),
                }),
                other => return Err(ctx.err(cat, format!("unexpected element <{other}>"))),
            }
        }
        self.features.push(Feature { name: name.into(), data, migratable, aliases });
        Ok(())
    }

    fn load_model(&mut self, el: &Element, ctx: &Ctx<'_>) -> Result<(), CpuError> {
        let name = ctx.name(el, "model")?;
        let at = format!("model[name='{name}']");
        if self.model(name).is_some() {
            return Err(ctx.err(at, "duplicate model"));
        }
        let mut model = Model {
            name: name.into(),
            vendor: None,
            signatures: Vec::new(),
            parent: None,
            features: Vec::new(),
            removed_features: Vec::new(),
            data: CpuidData::new(),
            decode_host: true,
            decode_guest: true,
        };
        let (mut decode_host, mut decode_guest) = (true, true);
        if let Some(d) = el.child("decode") {
            let flag = |attr: &str| match d.attr(attr) {
                None | Some("on") => Ok(true),
                Some("off") => Ok(false),
                Some(v) => Err(ctx.err(format!("{at}/decode"), format!("invalid {attr}='{v}'"))),
            };
            decode_host = flag("host")?;
            decode_guest = flag("guest")?;
        }
        if let Some(anc) = el.child("model") {
            let anc_name = ctx.name(anc, &format!("{at}/model"))?;
            let Some(parent) = self.model(anc_name) else {
                let msg = format!("ancestor model {anc_name} not found");
                return Err(ctx.err(format!("{at}/model"), msg));
            };
            // libvirt's x86ModelParseAncestor: the ancestor's data without the features it
            // removed; removed features themselves are not inherited
            let mut data = parent.data.clone();
            for r in &parent.removed_features {
                if let Some(f) = self.feature(r) {
                    data.subtract(&f.data);
                }
            }
            model = Model {
                name: name.into(),
                parent: Some(anc_name.into()),
                removed_features: Vec::new(),
                data,
                ..parent.clone()
            };
        }
        model.decode_host = decode_host;
        model.decode_guest = decode_guest;
        let sigs: Vec<&Element> = el.children_named("signature").collect();
        if !sigs.is_empty() {
            model.signatures.clear();
        }
        for sig in sigs {
            let sat = format!("{at}/signature");
            let stepping = match sig.attr("stepping") {
                None => None,
                Some(s) => Some(parse_range(s).ok_or_else(|| ctx.err(&sat, format!("invalid stepping='{s}'")))?),
            };
            model.signatures.push(Signature {
                family: ctx.num(sig, "family", &sat, true)?,
                model: ctx.num(sig, "model", &sat, true)?,
                stepping,
            });
        }
        if let Some(v) = el.child("vendor") {
            let vname = ctx.name(v, &format!("{at}/vendor"))?;
            if self.vendor(vname).is_none() {
                return Err(ctx.err(format!("{at}/vendor"), format!("unknown vendor {vname}")));
            }
            model.vendor = Some(vname.into());
        }
        for f in el.children_named("feature") {
            let fname = ctx.name(f, &format!("{at}/feature"))?;
            let fat = format!("{at}/feature[name='{fname}']");
            let Some(feature) = self.feature(fname) else {
                return Err(ctx.err(fat, format!("unknown feature {fname}")));
            };
            match f.attr("removed") {
                Some("yes") => model.removed_features.push(fname.into()),
                None | Some("no") => {
                    model.data.union_with(&feature.data);
                    model.features.push(fname.into());
                }
                Some(v) => return Err(ctx.err(fat, format!("invalid removed='{v}'"))),
            }
        }
        self.models.push(model);
        Ok(())
    }

    /// All vendors, in map order.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuMap::default().vendors().is_empty());
    /// ```
    pub fn vendors(&self) -> &[Vendor] {
        &self.vendors
    }

    /// All features, in map order.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuMap::default().features().is_empty());
    /// ```
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// All models, in map order.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuMap::default().models().is_empty());
    /// ```
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// The vendor called `name`.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuMap::default().vendor("Intel").is_none());
    /// ```
    pub fn vendor(&self, name: &str) -> Option<&Vendor> {
        self.vendors.iter().find(|v| v.name == name)
    }

    /// The feature called `name` (by libvirt's name, not an alias).
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuMap::default().feature("vmx").is_none());
    /// ```
    pub fn feature(&self, name: &str) -> Option<&Feature> {
        self.features.iter().find(|f| f.name == name)
    }

    /// The model called `name`.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuMap::default().model("Haswell").is_none());
    /// ```
    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The bits implied by an optional model plus extra features.
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuError, CpuMap};
    /// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
    /// let penryn = map.expand(Some("Penryn"), &[]).unwrap();
    /// let more = map.expand(Some("Penryn"), &["vmx"]).unwrap();
    /// assert!(penryn.is_subset_of(&more) && penryn != more);
    /// assert_eq!(map.expand(Some("Bogus"), &[]), Err(CpuError::UnknownModel("Bogus".into())));
    /// ```
    pub fn expand(&self, model: Option<&str>, features: &[&str]) -> Result<CpuidData, CpuError> {
        let mut data = match model {
            Some(m) => self.model(m).ok_or_else(|| CpuError::UnknownModel(m.into()))?.data.clone(),
            None => CpuidData::new(),
        };
        for f in features {
            data.union_with(&self.feature_data(f)?.clone());
        }
        Ok(data)
    }

    /// The feature called `name` or having `name` as an alias (QEMU's spelling, `sse4_1`).
    ///
    /// ```
    /// let map = kvmhost_core::cpu::CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
    /// assert_eq!(map.feature_by_any_name("sse4_1").unwrap().name, "sse4.1");
    /// ```
    pub fn feature_by_any_name(&self, name: &str) -> Option<&Feature> {
        self.feature(name).or_else(|| self.features.iter().find(|f| f.aliases.iter().any(|a| a.name == name)))
    }

    /// The leaf 0 bits spelling the vendor called `name`.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuMap::default().vendor_data("Intel").is_none());
    /// ```
    pub fn vendor_data(&self, name: &str) -> Option<CpuidData> {
        let v = self.vendor(name)?;
        let mut d = CpuidData::new();
        d.add_cpuid(v.cpuid());
        Some(d)
    }

    /// The bits of the feature called `name`.
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuError, CpuMap};
    /// let e = CpuMap::default().feature_data("bogus").unwrap_err();
    /// assert_eq!(e, CpuError::UnknownFeature("bogus".into()));
    /// ```
    pub fn feature_data(&self, name: &str) -> Result<&CpuidData, CpuError> {
        self.feature(name).map(|f| &f.data).ok_or_else(|| CpuError::UnknownFeature(name.into()))
    }

    /// The names of the features whose bits are all in `data`, in map order.
    ///
    /// ```
    /// let map = kvmhost_core::cpu::CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
    /// let d = map.expand(None, &["vmx", "sse4.2"]).unwrap();
    /// assert_eq!(map.feature_names(&d), vec!["vmx", "sse4.2"]);
    /// ```
    pub fn feature_names(&self, data: &CpuidData) -> Vec<&str> {
        self.features
            .iter()
            .filter(|f| !f.data.is_empty() && f.data.is_subset_of(data))
            .map(|f| f.name.as_str())
            .collect()
    }
}

/// `"5"` or `"5-7"` as an inclusive range.
fn parse_range(s: &str) -> Option<(u32, u32)> {
    let (lo, hi) = s.split_once('-').unwrap_or((s, s));
    let (lo, hi) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
    (lo <= hi).then_some((lo, hi))
}
