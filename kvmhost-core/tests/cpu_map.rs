//! `CpuMap::load` against libvirt 9.0's cpu_map; `CpuMap::parse_index` on broken maps (no I/O).

use kvmhost_core::cpu::{CpuError, CpuMap};
use std::path::{Path, PathBuf};

fn cpu_map_dir() -> Option<PathBuf> {
    let dir = kvmhost_testdata::libvirt_corpus().map(|c| c.join("cpu_map"));
    if dir.is_none() {
        println!("SKIP: libvirt test corpus not found");
    }
    dir
}

/// Occurrences of `needle` in the files, like `grep -c` (one per line at most).
fn grep_c(files: &[PathBuf], needle: &str) -> usize {
    files.iter().map(|f| std::fs::read_to_string(f).unwrap().lines().filter(|l| l.contains(needle)).count()).sum()
}

fn x86_model_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("x86_") && n != "x86_features.xml" && n != "x86_vendors.xml"
        })
        .collect();
    v.sort();
    v
}

#[test]
fn counts_match_the_files() {
    let Some(dir) = cpu_map_dir() else { return };
    let map = CpuMap::load(&dir).unwrap();
    assert_eq!(map.vendors().len(), grep_c(&[dir.join("x86_vendors.xml")], "<vendor name="));
    assert_eq!(map.features().len(), grep_c(&[dir.join("x86_features.xml")], "<feature name="));
    let models = x86_model_files(&dir);
    assert_eq!(map.models().len(), grep_c(&models, "  <model name="));
    assert_eq!(map.models().len(), 58);
    assert_eq!(map.vendors().len(), 3);
    assert_eq!(map.features().len(), 212);
    let invtsc = map.feature("invtsc").unwrap();
    assert!(!invtsc.migratable);
    assert!(map.feature("vmx").unwrap().migratable);
    let sse42 = map.feature("sse4.2").unwrap();
    assert!(sse42.aliases.iter().any(|a| a.name == "sse4_2" && a.source.as_deref() == Some("qemu")));
    let rdctl = map.feature("rdctl-no").unwrap();
    assert_eq!(rdctl.data.msr().len(), 1);
    assert_eq!((rdctl.data.msr()[0].index, rdctl.data.msr()[0].eax), (0x10a, 1));
    let xsaves = map.feature("xsaves").unwrap().data.cpuid()[0];
    assert_eq!((xsaves.eax_in, xsaves.ecx_in, xsaves.eax), (0x0d, 1, 8));
    assert_eq!(map.vendor("Intel").unwrap().string, "GenuineIntel");
    // every model's data is exactly the union of its features
    for m in map.models() {
        let names: Vec<&str> = m.features.iter().map(String::as_str).collect();
        assert_eq!(map.expand(None, &names).unwrap(), m.data, "{}", m.name);
    }
}

#[test]
fn known_models() {
    let Some(dir) = cpu_map_dir() else { return };
    let map = CpuMap::load(&dir).unwrap();
    let haswell = map.model("Haswell").unwrap();
    assert!(haswell.features.iter().any(|f| f == "avx2"));
    assert_eq!(haswell.vendor.as_deref(), Some("Intel"));
    assert!(haswell.signatures.iter().any(|s| s.matches(6, 60, 1)));
    let avx2 = map.feature_data("avx2").unwrap();
    assert!(avx2.is_subset_of(&haswell.data));
    assert!(!avx2.is_subset_of(&map.model("SandyBridge").unwrap().data));
    let skl = map.model("Skylake-Client").unwrap();
    assert_eq!(skl.vendor.as_deref(), Some("Intel"));
    assert_eq!(skl.signatures.len(), 4);
    assert!(map.model("Broadwell").unwrap().data.is_subset_of(&skl.data));
    let sks = map.model("Skylake-Server").unwrap();
    assert!(sks.signatures.iter().any(|s| s.stepping == Some((0, 4))));
    assert!(sks.signatures.iter().any(|s| s.matches(6, 85, 3) && !s.matches(6, 85, 5)));
    let g3 = map.model("Opteron_G3").unwrap();
    assert_eq!(g3.removed_features, vec!["monitor"]);
    assert!(!map.feature_data("monitor").unwrap().is_subset_of(&g3.data));
    assert!(map.model("pentium3").unwrap().vendor.is_none());
    let json = serde_json::to_string(&map).unwrap();
    assert_eq!(serde_json::from_str::<CpuMap>(&json).unwrap(), map);
}

/// `index.xml` including `files` in order (and an arch the x86 engine ignores).
fn index_of(files: &[(&str, &str)]) -> String {
    let includes: String = files.iter().map(|(n, _)| format!("<include filename='{n}'/>")).collect();
    format!("<cpus><arch name='x86'>{includes}</arch><arch name='ppc64'/></cpus>")
}

/// A map parsed from `index.xml` and `files`, without I/O.
fn parse(files: &[(&str, &str)]) -> Result<CpuMap, CpuError> {
    CpuMap::parse_index(&index_of(files), |name| {
        let (_, text) = files.iter().find(|(n, _)| *n == name).expect("only listed files are included");
        Ok(text.to_string())
    })
}

/// A throwaway cpu_map directory (index.xml + x86 files), for the I/O edge `CpuMap::load`.
struct TempMap(PathBuf);

impl TempMap {
    fn new(tag: &str, files: &[(&str, &str)]) -> TempMap {
        let dir = std::env::temp_dir().join(format!("kvmhost-cpu-map-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.xml"), index_of(files)).unwrap();
        for (n, text) in files {
            std::fs::write(dir.join(n), text).unwrap();
        }
        TempMap(dir)
    }
}

impl Drop for TempMap {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const VENDORS: &str = "<cpus><vendor name='Intel' string='GenuineIntel'/></cpus>";
const FEATURES: &str = "<cpus><feature name='a'><cpuid eax_in='0x01' edx='0x1'/></feature>\
    <feature name='b'><cpuid eax_in='0x07' ecx_in='0' ebx='0x20'/></feature>\
    <feature name='c'><msr index='0x10a' edx='0' eax='0x2'/></feature></cpus>";

#[test]
fn model_inheritance() {
    let models = "<cpus><model name='Base'><signature family='6' model='1'/><vendor name='Intel'/>\
        <feature name='a'/></model>\
        <model name='Child'><model name='Base'/><feature name='b'/></model>\
        <model name='Other'><model name='Child'/><signature family='6' model='2' stepping='1-3'/>\
        <feature name='c'/></model></cpus>";
    let map = parse(&[("v.xml", VENDORS), ("f.xml", FEATURES), ("m.xml", models)]).unwrap();
    let child = map.model("Child").unwrap();
    assert_eq!(child.parent.as_deref(), Some("Base"));
    assert_eq!(child.vendor.as_deref(), Some("Intel"));
    assert_eq!(child.signatures, map.model("Base").unwrap().signatures);
    assert_eq!(child.features, vec!["a", "b"]);
    assert_eq!(child.data, map.expand(None, &["a", "b"]).unwrap());
    let other = map.model("Other").unwrap();
    assert_eq!(other.features, vec!["a", "b", "c"]);
    assert_eq!(other.signatures.len(), 1);
    assert_eq!(other.signatures[0].stepping, Some((1, 3)));
    assert_eq!(map.expand(Some("Other"), &[]).unwrap().msr().len(), 1);
}

fn parse_err(files: &[(&str, &str)]) -> CpuError {
    parse(files).unwrap_err()
}

fn assert_invalid(err: CpuError, file: &str, element: &str, msg: &str) {
    match &err {
        CpuError::InvalidMap { path, element: el, message } => {
            assert!(path.ends_with(file), "{err}");
            assert_eq!(el, element, "{err}");
            assert!(message.contains(msg), "{err}");
        }
        other => panic!("expected InvalidMap, got {other:?}"),
    }
}

#[test]
fn bad_maps_give_typed_errors() {
    let m = |body: &str| format!("<cpus>{body}</cpus>");
    let e = parse_err(&[("f.xml", FEATURES), ("m.xml", &m("<model name='M'><feature name='zz'/></model>"))]);
    assert_invalid(e, "m.xml", "model[name='M']/feature[name='zz']", "unknown feature zz");
    let e = parse_err(&[("m.xml", &m("<model name='M'><vendor name='Zilog'/></model>"))]);
    assert_invalid(e, "m.xml", "model[name='M']/vendor", "unknown vendor Zilog");
    let e = parse_err(&[("m.xml", &m("<model name='M'><model name='Nope'/></model>"))]);
    assert_invalid(e, "m.xml", "model[name='M']/model", "ancestor model Nope not found");
    let e = parse_err(&[("f.xml", FEATURES), ("g.xml", &m("<feature name='a'><cpuid eax_in='1' ecx='1'/></feature>"))]);
    assert_invalid(e, "g.xml", "feature[name='a']", "duplicate feature");
    let e = parse_err(&[("f.xml", &m("<feature name='x'><cpuid eax_in='0xZZ'/></feature>"))]);
    assert_invalid(e, "f.xml", "feature[name='x']/cpuid", "invalid eax_in='0xZZ'");
    let e = parse_err(&[("f.xml", &m("<feature name='x'><cpuid ecx='1'/></feature>"))]);
    assert_invalid(e, "f.xml", "feature[name='x']/cpuid", "missing eax_in");
    let e = parse_err(&[("f.xml", &m("<feature name='x'><msr index='0x10a' eax='1'/></feature>"))]);
    assert_invalid(e, "f.xml", "feature[name='x']/msr", "missing edx");
    let e = parse_err(&[("v.xml", &m("<vendor name='V' string='short'/>"))]);
    assert_invalid(e, "v.xml", "vendor[name='V']", "not 12 characters");
    let e = parse_err(&[("f.xml", &m("<feature><cpuid eax_in='1'/></feature>"))]);
    assert_invalid(e, "f.xml", "feature", "without a name");
    let e = parse_err(&[("m.xml", &m("<model name='M'><signature family='6' model='1' stepping='9-2'/></model>"))]);
    assert_invalid(e, "m.xml", "model[name='M']/signature", "invalid stepping='9-2'");
    let e = parse_err(&[("m.xml", "<cpus><model name='M'></cpus>")]);
    assert!(matches!(&e, CpuError::Xml { path, .. } if path.ends_with("m.xml")), "{e}");
    let e = CpuMap::parse_index("<cpus><arch name='ppc64'/></cpus>", |_| unreachable!()).unwrap_err();
    assert_invalid(e, "index.xml", "cpus", "no <arch name='x86'>");
    let e = CpuMap::parse_index("<cpus><arch name='x86'><include/></arch></cpus>", |_| unreachable!()).unwrap_err();
    assert_invalid(e, "index.xml", "arch[name='x86']/include", "missing filename");
    // an error of the caller's include function is passed on
    let gone = |name: &str| Err(CpuError::Io { path: name.into(), message: "gone".into() });
    let e = CpuMap::parse_index(&index_of(&[("gone.xml", "")]), gone).unwrap_err();
    assert!(matches!(&e, CpuError::Io { path, message } if path.ends_with("gone.xml") && message == "gone"), "{e}");
    // a self-contained map includes nothing
    let e = CpuMap::parse(&index_of(&[("f.xml", FEATURES)])).unwrap_err();
    assert_invalid(e, "index.xml", "arch[name='x86']/include", "includes f.xml");
}

#[test]
fn load_reads_the_directory_and_names_full_paths() {
    let files = [("v.xml", VENDORS), ("f.xml", FEATURES)];
    let tmp = TempMap::new("load", &files);
    assert_eq!(CpuMap::load(&tmp.0).unwrap(), parse(&files).unwrap());
    let e = CpuMap::load(tmp.0.join("nope")).unwrap_err();
    assert!(matches!(&e, CpuError::Io { path, .. } if *path == tmp.0.join("nope/index.xml")), "{e}");
    std::fs::write(tmp.0.join("m.xml"), "<cpus><model name='M'></cpus>").unwrap();
    std::fs::write(tmp.0.join("index.xml"), index_of(&[("v.xml", ""), ("m.xml", ""), ("gone.xml", "")])).unwrap();
    let e = CpuMap::load(&tmp.0).unwrap_err();
    assert!(matches!(&e, CpuError::Xml { path, .. } if *path == tmp.0.join("m.xml")), "{e}");
    std::fs::write(tmp.0.join("index.xml"), index_of(&[("v.xml", ""), ("gone.xml", "")])).unwrap();
    let e = CpuMap::load(&tmp.0).unwrap_err();
    assert!(matches!(&e, CpuError::Io { path, .. } if *path == tmp.0.join("gone.xml")), "{e}");
    let e = CpuMap::load(&tmp.0).unwrap_err();
    assert!(e.to_string().starts_with(&format!("cannot read {}", tmp.0.join("gone.xml").display())), "{e}");
}

#[test]
fn removed_features_and_decode_flags() {
    // like libvirt's x86ModelParseAncestor: an ancestor's removed features are subtracted from
    // the child's data and not inherited; <decode> flags are per model
    let models = "<cpus><model name='Base'><decode host='on' guest='off'/><vendor name='Intel'/>\
        <feature name='a'/><feature name='b' removed='yes'/></model>\
        <model name='Child'><decode host='off' guest='on'/><model name='Base'/><feature name='c'/></model></cpus>";
    let map = parse(&[("v.xml", VENDORS), ("f.xml", FEATURES), ("m.xml", models)]).unwrap();
    let base = map.model("Base").unwrap();
    assert_eq!(base.removed_features, vec!["b"]);
    assert!(!map.feature_data("b").unwrap().is_subset_of(&base.data));
    assert!(base.decode_host && !base.decode_guest);
    let child = map.model("Child").unwrap();
    assert!(child.removed_features.is_empty());
    assert!(!child.decode_host && child.decode_guest);
    assert_eq!(child.data, map.expand(None, &["a", "c"]).unwrap());
    let bad = "<cpus><model name='X'><decode host='maybe' guest='on'/></model></cpus>";
    let e = parse(&[("v.xml", VENDORS), ("f.xml", FEATURES), ("m.xml", bad)]);
    assert!(matches!(e, Err(CpuError::InvalidMap { .. })));
}
