//! Baselines of CPUs with `disable` / `forbid` (and `optional`, `force`) features, compared live
//! with libvirt 9.0 itself. The inputs are generated at test time from libvirt's cputest data:
//! the QEMU-expanded host CPUs (`x86_64-cpuid-*-json.xml`, custom guest CPUs that disable what
//! the host lacks), the decoded guest CPUs (`*-guest.xml`) and host CPUs (`*-host.xml`), plus
//! variants (disable turned into forbid, random extra features of every policy), combined into
//! single CPUs, pairs (every AMD pair) and triples.
//!
//! - Guest-typed inputs go to libvirt's x86 driver as `cputest.c` and `qemuConnectBaselineHypervisorCPU`
//!   give them (`virCPUDefListParse(…, VIR_CPU_TYPE_AUTO)` then `virCPUBaseline`): libvirt's
//!   public API has no other way to baseline a guest CPU without a hypervisor restricting the
//!   result, so the test calls those two functions of the installed `libvirt.so.0` (exported for
//!   libvirt's own daemons) through `dlsym`; it skips when they are not there.
//! - The same sets written as host CPUs (with `<arch>`, policies left in the XML) go through
//!   `virConnectBaselineCPU` on `test:///default`, which reads every input as a host CPU and so
//!   ignores the policies.
//! - [`migration_safe_cpu`] of cputest host CPUs against `virsh cpu-baseline --migratable` on
//!   the embedded QEMU driver (`qemuConnectBaselineCPU`: host CPUs, migratable, then
//!   `virQEMUCapsCPUFilterFeatures`).

use kvmhost_core::cpu::{baseline, migration_safe_cpu, BaselineOptions, ClusterHost, CpuDef, CpuKind, CpuMap};
use kvmhost_core::domain::FeaturePolicy;
use kvmhost_core::xml::Document;
use std::path::Path;
use virt::connect::Connect;

/// libvirt's own CPU baseline, called in-process.
mod libvirt_driver {
    use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
    use std::ptr::{null, null_mut};

    extern "C" {
        fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    }
    const RTLD_NOW: c_int = 2;
    /// `virCPUType`: `VIR_CPU_TYPE_HOST`, `VIR_CPU_TYPE_AUTO`.
    const VIR_CPU_TYPE_HOST: c_int = 0;
    const VIR_CPU_TYPE_AUTO: c_int = 2;

    type ListParse = unsafe extern "C" fn(*const *const c_char, c_uint, c_int) -> *mut *mut c_void;
    type Baseline =
        unsafe extern "C" fn(c_int, *mut *mut c_void, c_uint, *mut c_void, *const *const c_char, bool) -> *mut c_void;
    type Expand = unsafe extern "C" fn(c_int, *mut c_void) -> c_int;
    type Format = unsafe extern "C" fn(*mut c_void, *mut c_void) -> *mut c_char;
    type Free = unsafe extern "C" fn(*mut c_void);
    type ListFree = unsafe extern "C" fn(*mut *mut c_void);
    type ArchFromString = unsafe extern "C" fn(*const c_char) -> c_int;
    type LastMessage = unsafe extern "C" fn() -> *const c_char;

    /// The functions `cputest.c` uses, from the installed `libvirt.so.0`.
    pub struct Driver {
        list_parse: ListParse,
        baseline: Baseline,
        expand: Expand,
        format: Format,
        def_free: Free,
        list_free: ListFree,
        g_free: Free,
        last_message: LastMessage,
        x86_64: c_int,
    }

    impl Driver {
        /// `None` when libvirt or one of its (private, exported) CPU functions is missing.
        pub fn load() -> Option<Driver> {
            // SAFETY: dlopen/dlsym with NUL-terminated names; each symbol is cast to the
            // signature it has in libvirt 9.0 (src/conf/cpu_conf.h, src/cpu/cpu.h,
            // src/util/virarch.h, include/libvirt/virterror.h).
            unsafe {
                let h = dlopen(c"libvirt.so.0".as_ptr(), RTLD_NOW);
                if h.is_null() {
                    return None;
                }
                let sym = |name: &CStr| {
                    let p = dlsym(h, name.as_ptr());
                    (!p.is_null()).then_some(p)
                };
                let arch: ArchFromString = std::mem::transmute(sym(c"virArchFromString")?);
                Some(Driver {
                    list_parse: std::mem::transmute::<*mut c_void, ListParse>(sym(c"virCPUDefListParse")?),
                    baseline: std::mem::transmute::<*mut c_void, Baseline>(sym(c"virCPUBaseline")?),
                    expand: std::mem::transmute::<*mut c_void, Expand>(sym(c"virCPUExpandFeatures")?),
                    format: std::mem::transmute::<*mut c_void, Format>(sym(c"virCPUDefFormat")?),
                    def_free: std::mem::transmute::<*mut c_void, Free>(sym(c"virCPUDefFree")?),
                    list_free: std::mem::transmute::<*mut c_void, ListFree>(sym(c"virCPUDefListFree")?),
                    g_free: std::mem::transmute::<*mut c_void, Free>(sym(c"g_free")?),
                    last_message: std::mem::transmute::<*mut c_void, LastMessage>(sym(c"virGetLastErrorMessage")?),
                    x86_64: arch(c"x86_64".as_ptr()),
                })
            }
        }

        fn error(&self) -> String {
            // SAFETY: virGetLastErrorMessage returns a static or thread-local string.
            unsafe { CStr::from_ptr((self.last_message)()).to_string_lossy().into_owned() }
        }

        /// `virCPUDefListParse` (`auto`: `VIR_CPU_TYPE_AUTO`, else `VIR_CPU_TYPE_HOST`), then
        /// `virCPUBaseline` for x86_64 without hypervisor models or features, then
        /// `virCPUExpandFeatures` when asked, formatted by `virCPUDefFormat`.
        pub fn baseline(&self, xmls: &[String], auto: bool, expand: bool, migratable: bool) -> Result<String, String> {
            let strings: Vec<CString> = xmls.iter().map(|x| CString::new(x.as_str()).unwrap()).collect();
            let ptrs: Vec<*const c_char> = strings.iter().map(|c| c.as_ptr()).collect();
            let n = ptrs.len() as c_uint;
            let kind = if auto { VIR_CPU_TYPE_AUTO } else { VIR_CPU_TYPE_HOST };
            // SAFETY: `ptrs` holds `n` valid C strings that outlive the calls; every object
            // libvirt returns is freed once with its own destructor.
            unsafe {
                let cpus = (self.list_parse)(ptrs.as_ptr(), n, kind);
                if cpus.is_null() {
                    return Err(self.error());
                }
                let cpu = (self.baseline)(self.x86_64, cpus, n, null_mut(), null(), migratable);
                let result = if cpu.is_null() {
                    Err(self.error())
                } else {
                    let r = if expand && (self.expand)(self.x86_64, cpu) < 0 {
                        Err(self.error())
                    } else {
                        let s = (self.format)(cpu, null_mut());
                        if s.is_null() {
                            Err(self.error())
                        } else {
                            let out = CStr::from_ptr(s).to_string_lossy().into_owned();
                            (self.g_free)(s.cast());
                            Ok(out)
                        }
                    };
                    (self.def_free)(cpu);
                    r
                };
                (self.list_free)(cpus);
                result
            }
        }
    }
}

/// A small deterministic generator (reproducible cases without an extra crate).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// One input CPU: a model, a vendor and features with policies.
#[derive(Clone)]
struct Input {
    label: String,
    model: String,
    vendor: Option<String>,
    features: Vec<(String, Option<FeaturePolicy>)>,
    host: bool,
}

impl Input {
    fn from_file(path: &Path) -> Input {
        let def = CpuDef::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        Input {
            label: name.trim_start_matches("x86_64-cpuid-").trim_end_matches(".xml").to_string(),
            model: def.cpu.model_name().unwrap().to_string(),
            vendor: def.cpu.vendor.clone(),
            features: def.cpu.features.iter().map(|f| (f.name.clone(), f.policy.clone())).collect(),
            host: def.kind == CpuKind::Host,
        }
    }

    /// A custom guest CPU (policies count) or a host CPU (with `<arch>`; the policies are
    /// written but libvirt ignores them).
    fn xml(&self) -> String {
        let mut out = if self.host {
            String::from("<cpu>\n  <arch>x86_64</arch>\n")
        } else {
            String::from("<cpu mode='custom' match='exact'>\n")
        };
        match (self.model.as_str(), self.host) {
            ("", _) => {}
            (m, true) => out += &format!("  <model>{m}</model>\n"),
            (m, false) => out += &format!("  <model fallback='forbid'>{m}</model>\n"),
        }
        if let Some(v) = &self.vendor {
            out += &format!("  <vendor>{v}</vendor>\n");
        }
        for (name, policy) in &self.features {
            match policy {
                Some(p) => out += &format!("  <feature policy='{}' name='{name}'/>\n", p.as_str()),
                None => out += &format!("  <feature name='{name}'/>\n"),
            }
        }
        out + "</cpu>\n"
    }

    fn as_host(&self) -> Input {
        Input { host: true, ..self.clone() }
    }

    fn with_forbid(&self) -> Input {
        let features = self
            .features
            .iter()
            .map(|(n, p)| match p {
                Some(FeaturePolicy::Disable) => (n.clone(), Some(FeaturePolicy::Forbid)),
                _ => (n.clone(), p.clone()),
            })
            .collect();
        Input { label: format!("{} (forbid)", self.label), features, ..self.clone() }
    }

    /// Up to four features of the map set to random policies (new or overriding).
    fn mutated(&self, map: &CpuMap, rng: &mut Lcg) -> Input {
        let policies = [
            FeaturePolicy::Require,
            FeaturePolicy::Force,
            FeaturePolicy::Optional,
            FeaturePolicy::Disable,
            FeaturePolicy::Forbid,
        ];
        let mut out = self.clone();
        let mut changes = Vec::new();
        for _ in 0..1 + rng.next(4) {
            // half the time a feature the CPU already lists, else any feature of the map
            let name = match (rng.next(2), out.features.len()) {
                (0, n) if n > 0 => out.features[rng.next(n)].0.clone(),
                _ => map.features()[rng.next(map.features().len())].name.clone(),
            };
            let p = policies[rng.next(policies.len())].clone();
            changes.push(format!("{}{name}", p.as_str().chars().next().unwrap()));
            match out.features.iter_mut().find(|(n, _)| *n == name) {
                Some(f) => f.1 = Some(p),
                None => out.features.push((name, Some(p))),
            }
        }
        out.label = format!("{} ({})", self.label, changes.join(" "));
        out
    }
}

struct Case {
    inputs: Vec<Input>,
    expand: bool,
    migratable: bool,
}

impl Case {
    fn name(&self) -> String {
        let labels: Vec<&str> = self.inputs.iter().map(|i| i.label.as_str()).collect();
        let flags = match (self.expand, self.migratable) {
            (true, true) => " [expand, migratable]",
            (true, false) => " [expand]",
            (false, true) => " [migratable]",
            _ => "",
        };
        format!("{}{flags}", labels.join(" + "))
    }
}

fn inputs(dir: &Path, suffix: &str) -> Vec<Input> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("x86_64-cpuid-") && n.ends_with(suffix)
        })
        .collect();
    files.sort();
    files.iter().map(|p| Input::from_file(p)).collect()
}

/// Every generated case: single CPUs, every AMD pair and triple, same-vendor pairs of the
/// QEMU-expanded CPUs, random same-vendor pairs and triples of every kind (guest, host, forbid
/// and mutated variants), and a few refusals (vendors differ, no model).
fn cases(dir: &Path, map: &CpuMap) -> Vec<Case> {
    let json = inputs(dir, "-json.xml");
    let guest = inputs(dir, "-guest.xml");
    let host = inputs(dir, "-host.xml");
    assert!(json.len() >= 20 && guest.len() >= 20 && host.len() >= 20, "cputest data incomplete");
    let mut rng = Lcg(0xba5e_11e5);
    let disabling: Vec<&Input> =
        json.iter().chain(&guest).filter(|i| i.features.iter().any(|f| f.1.is_some())).collect();
    let mut pool: Vec<Input> = json.iter().chain(&guest).chain(&host).cloned().collect();
    pool.extend(disabling.iter().map(|i| i.with_forbid()));
    let mutated: Vec<Input> = (0..120).map(|k| pool[k * 7 % pool.len()].mutated(map, &mut rng)).collect();
    pool.extend(mutated);

    let mut sets: Vec<Vec<Input>> = Vec::new();
    // every input alone
    sets.extend(pool.iter().map(|i| vec![i.clone()]));
    // every AMD pair and triple of the QEMU-expanded and guest CPUs
    let amd: Vec<&Input> = json.iter().chain(&guest).filter(|i| i.vendor.as_deref() == Some("AMD")).collect();
    for a in 0..amd.len() {
        for b in a + 1..amd.len() {
            sets.push(vec![amd[a].clone(), amd[b].clone()]);
            for c in b + 1..amd.len() {
                sets.push(vec![amd[a].clone(), amd[b].clone(), amd[c].clone()]);
            }
        }
    }
    // every same-vendor pair of the QEMU-expanded CPUs
    for a in 0..json.len() {
        for b in a + 1..json.len() {
            if json[a].vendor == json[b].vendor {
                sets.push(vec![json[a].clone(), json[b].clone()]);
            }
        }
    }
    // random same-vendor pairs and triples of everything
    for k in 0..400 {
        let first = pool[rng.next(pool.len())].clone();
        let same: Vec<&Input> = pool.iter().filter(|i| i.vendor == first.vendor).collect();
        let mut set = vec![first];
        for _ in 0..1 + k % 2 {
            set.push(same[rng.next(same.len())].clone());
        }
        sets.push(set);
    }
    // refusals
    for k in 0..8 {
        let intel = json.iter().filter(|i| i.vendor.as_deref() == Some("Intel")).nth(k).unwrap();
        let amd = &amd[k % amd.len()];
        sets.push(vec![intel.clone(), (*amd).clone()]);
    }
    // virCPUBaseline refuses a CPU without a model, even among CPUs that have one
    let mut no_model = amd[0].clone();
    no_model.label = "no model".into();
    no_model.model.clear();
    sets.push(vec![amd[1].clone(), no_model.clone()]);
    sets.push(vec![no_model.clone()]);
    no_model.features.clear();
    sets.push(vec![amd[2].clone(), no_model]);

    sets.into_iter()
        .enumerate()
        .map(|(i, inputs)| Case { inputs, expand: i % 3 == 1, migratable: i % 5 == 2 })
        .collect()
}

/// Our baseline of XML texts, as XML or the error's text.
fn ours(map: &CpuMap, xmls: &[String], expand: bool, migratable: bool) -> Result<String, String> {
    let cpus = xmls.iter().map(|x| CpuDef::parse(x)).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    baseline(map, &cpus, &BaselineOptions::new().expand_features(expand).migratable(migratable))
        .map(|c| c.to_xml())
        .map_err(|e| e.to_string())
}

fn same(a: &str, b: &str) -> bool {
    match (Document::parse(a), Document::parse(b)) {
        (Ok(x), Ok(y)) => x.root.semantically_eq(&y.root),
        _ => false,
    }
}

/// Outcome counts of one comparison run.
#[derive(Default)]
struct Tally {
    identical: usize,
    /// Of those, the same text byte for byte.
    verbatim: usize,
    refused: usize,
    failures: Vec<String>,
}

impl Tally {
    fn add(&mut self, name: &str, xmls: &[String], theirs: Result<String, String>, mine: Result<String, String>) {
        match (&theirs, &mine) {
            (Ok(t), Ok(m)) if same(t, m) => {
                self.identical += 1;
                self.verbatim += usize::from(t.trim() == m.trim());
            }
            (Err(_), Err(_)) => self.refused += 1,
            _ => self.failures.push(format!(
                "{name}:\n{}--- libvirt\n{}\n--- kvmhost\n{}",
                xmls.concat(),
                theirs.unwrap_or_else(|e| format!("error: {e}")),
                mine.unwrap_or_else(|e| format!("error: {e}"))
            )),
        }
    }

    fn check(&self, what: &str, total: usize) {
        println!(
            "{what}: {total} cases: {} identical baselines ({} byte for byte), {} refused by both, {} differences",
            self.identical,
            self.verbatim,
            self.refused,
            self.failures.len()
        );
        assert!(self.identical * 10 >= total * 8, "too few successful cases");
        assert!(self.failures.is_empty(), "{}", self.failures.iter().take(3).cloned().collect::<Vec<_>>().join("\n\n"));
    }
}

fn setup() -> Option<(std::path::PathBuf, CpuMap)> {
    let Some(corpus) = kvmhost_testdata::libvirt_corpus() else {
        println!("SKIP: libvirt test corpus not found");
        return None;
    };
    // libvirt uses the installed /usr/share/libvirt/cpu_map: compare with the same map
    let map_dir = CpuMap::default_path();
    if !map_dir.join("index.xml").exists() {
        println!("SKIP: libvirt's cpu_map is not installed");
        return None;
    }
    // errors are compared as values; libvirt must not also print them to stderr
    virt::error::clear_error_callback();
    Some((corpus.join("cputest"), CpuMap::load(&map_dir).unwrap()))
}

#[test]
fn guest_cpu_baselines_match_libvirts_cpu_driver() {
    let Some((dir, map)) = setup() else { return };
    let Some(driver) = libvirt_driver::Driver::load() else {
        println!("SKIP: libvirt.so.0 with virCPUBaseline and virCPUDefListParse not found");
        return;
    };
    let cases = cases(&dir, &map);
    let mut tally = Tally::default();
    for case in &cases {
        let xmls: Vec<String> = case.inputs.iter().map(Input::xml).collect();
        let theirs = driver.baseline(&xmls, true, case.expand, case.migratable);
        let mine = ours(&map, &xmls, case.expand, case.migratable);
        tally.add(&case.name(), &xmls, theirs, mine);
    }
    tally.check("virCPUBaseline (VIR_CPU_TYPE_AUTO)", cases.len());
}

#[test]
fn host_cpu_baselines_match_the_test_driver() {
    let Some((dir, map)) = setup() else { return };
    let conn = Connect::open(Some("test:///default")).expect("test:///default opens");
    let cases = cases(&dir, &map);
    let mut tally = Tally::default();
    for case in &cases {
        // the test driver reads every input as a host CPU and has no MIGRATABLE flag
        let xmls: Vec<String> = case.inputs.iter().map(|i| i.as_host().xml()).collect();
        let refs: Vec<&str> = xmls.iter().map(String::as_str).collect();
        let flags = if case.expand { virt::sys::VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES } else { 0 };
        let theirs = conn.baseline_cpu(&refs, flags).map_err(|e| e.to_string());
        let mine = ours(&map, &xmls, case.expand, false);
        tally.add(&case.name(), &xmls, theirs, mine);
    }
    tally.check("virConnectBaselineCPU on test:///default (host CPUs)", cases.len());
}

fn virsh(uri: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("virsh").arg("-c").arg(uri).args(args).output().expect("virsh runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn migration_safe_cpu_matches_qemu_driver_baseline() {
    let Some((dir, map)) = setup() else { return };
    if !Path::new("/usr/bin/qemu-system-x86_64").exists() {
        println!("SKIP: needs qemu-system-x86_64 for qemu:///embed");
        return;
    }
    let root = std::env::temp_dir().join(format!("kvmhost-cpu-safe-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let uri = format!("qemu:///embed?root={}", root.display());
    let host = inputs(&dir, "-host.xml");
    let json = inputs(&dir, "-json.xml");
    let mut rng = Lcg(0x5afe);
    let mut sets: Vec<Vec<Input>> = Vec::new();
    for k in 0..60 {
        let pool = if k % 3 == 0 { &json } else { &host };
        let first = pool[rng.next(pool.len())].as_host();
        let same: Vec<&Input> = pool.iter().filter(|i| i.vendor == first.vendor).collect();
        let mut set = vec![first];
        for _ in 0..1 + k % 2 {
            set.push(same[rng.next(same.len())].as_host());
        }
        sets.push(set);
    }
    let file = root.join("cpus.xml");
    std::fs::write(&file, "<cpu><arch>x86_64</arch><model>Penryn</model></cpu>").unwrap();
    let (ok, out) = virsh(&uri, &["cpu-baseline", file.to_str().unwrap()]);
    if !ok {
        std::fs::remove_dir_all(&root).ok();
        println!("SKIP: cpu-baseline on qemu:///embed does not work here: {out}");
        return;
    }
    let mut tally = Tally::default();
    for set in &sets {
        let xmls: Vec<String> = set.iter().map(Input::xml).collect();
        std::fs::write(&file, xmls.concat()).unwrap();
        let (ok, out) = virsh(&uri, &["cpu-baseline", "--migratable", file.to_str().unwrap()]);
        let theirs = if ok { Ok(out.trim().to_string()) } else { Err(out) };
        let hosts: Vec<ClusterHost> = xmls
            .iter()
            .enumerate()
            .map(|(i, x)| ClusterHost::new(format!("h{i}"), CpuDef::parse(x).unwrap()))
            .collect();
        let mine = migration_safe_cpu(&map, &hosts).map(|c| c.to_xml()).map_err(|e| e.to_string());
        let name = set.iter().map(|i| i.label.as_str()).collect::<Vec<_>>().join(" + ");
        tally.add(&name, &xmls, theirs, mine);
    }
    std::fs::remove_dir_all(&root).ok();
    tally.check("migration_safe_cpu vs qemu:///embed cpu-baseline --migratable", sets.len());
}
