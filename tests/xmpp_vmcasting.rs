//! The agent's VMCasting commands (`examples/xmpp_agent/vmcasting.rs`) end to end: a private
//! Prosody (`scripts/services/prosody.sh`) and a private nginx on loopback
//! (`scripts/services/http.sh`, its own directory and port), both stopped by PID even when an
//! assertion fails; a real appliance built with kvmhost-templates and published with a feed;
//! a client speaking Archipel's protocol.
//!
//! Asserted: `register` / `get` (the source and its appliance, status not installed, then
//! installed) / `downloadappliance` with `downloadqueue` showing the download in progress
//! (through nginx's 1 MiB/s `/slow/`) and then empty / `getinstalledappliances`; `attach` makes
//! the VM's definition use the instantiated disk (same bytes as the appliance's, name and UUID
//! kept, a fresh MAC); `detach`; `package` of a shut-off VM listed by `getinstalledappliances`
//! (and refused twice under one name); an Archipel `.xvm2` appliance downloaded and attached;
//! refusals without `vmcasting_get` / `appliance_get`, success
//! after `set`; hostile input (a URL that is not a feed, a `file://` URL, a package whose
//! checksum does not match the feed, a length larger than any disk) gives Archipel errors and leaves the agent serving; an agent
//! restarted keeps its feeds and appliances; `unregister` removes the feed; the hypervisor's
//! pushes (`archipel:push:vmcasting` `register`, `download_start`, `download_complete`,
//! `download_error`) on its pubsub node; `free` removes the attached disks, not the appliance.
//!
//! Needs `prosody`, `nginx` and root; otherwise it prints SKIP.

include!("xmpp_support/modules.rs");

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kvmhost::core::domain::Domain;
use kvmhost::templates::archive::{self, PackRequest};
use kvmhost::templates::feed::{self, GenerateOptions};
use kvmhost::templates::manifest::Metadata;
use kvmhost::templates::Format;
use support::archipel::{archipel_error, grant, ok, refused, subscribe_node, Inbox, CONTROL, HYP, PERMISSIONS};
use support::{acp, agent_binary, client, AgentProc, Prosody};
use xml::Element;
use xmpp::Client;

const VMCASTING: &str = "archipel:hypervisor:vmcasting";
const APPLIANCES: &str = "archipel:virtualmachine:vmcasting";
const HYP1: &str = "hyp1@localhost/agent";

/// The private nginx of `scripts/services/http.sh`; stopped by PID on drop.
struct Http {
    dir: PathBuf,
    port: u16,
    url: String,
    root: PathBuf,
}

impl Http {
    fn command(dir: &Path, port: u16, verb: &str) -> Command {
        let mut c = Command::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/services/http.sh"));
        c.arg(verb).env("KVMHOST_HTTP_DIR", dir).env("KVMHOST_HTTP_PORT", port.to_string());
        c
    }

    /// Starts it; `None` (after printing SKIP) without nginx.
    fn start() -> Option<Http> {
        let installed = Command::new("sh")
            .args(["-c", "command -v nginx || test -x /usr/sbin/nginx"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !installed {
            eprintln!("SKIP: xmpp_vmcasting needs nginx installed (scripts/services/http.sh packages)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = PathBuf::from(format!("/tmp/kvmhost-http-vmcasting-{}", std::process::id()));
        let out = Self::command(&dir, port, "start").output().expect("run http.sh");
        // From here on the guard stops it, whatever happens.
        let mut http = Http { dir, port, url: String::new(), root: PathBuf::new() };
        assert!(out.status.success(), "http.sh start: {}", String::from_utf8_lossy(&out.stderr));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(v) = line.strip_prefix("export KVMHOST_HTTP_URL=") {
                http.url = v.to_string();
            } else if let Some(v) = line.strip_prefix("export KVMHOST_HTTP_ROOT=") {
                http.root = PathBuf::from(v);
            }
        }
        assert!(!http.url.is_empty() && http.root.is_dir(), "http.sh printed {out:?}");
        Some(http)
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        let _ = Self::command(&self.dir, self.port, "stop").status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `n` bytes that do not compress (so the package is as large as the disk).
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn test_domain(name: &str, disk: &Path) -> String {
    format!(
        "<domain type='test'><name>{name}</name><memory unit='KiB'>262144</memory><vcpu>1</vcpu>\
         <os><type>hvm</type></os><devices><disk type='file' device='disk'><source file='{}'/>\
         <target dev='vda'/></disk><interface type='network'><mac address='52:54:00:00:00:01'/>\
         <source network='default'/></interface></devices></domain>",
        disk.display()
    )
}

/// Makes nginx's workers (another user) able to read what the test wrote.
fn readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

/// Packs a `name` appliance with the disk `image` into `dir/FILE` and writes the feed
/// (enclosures under `base`); returns the feed's UUID.
fn publish(dir: &Path, file: &str, name: &str, image: &Path, base: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let d = Domain::parse(&test_domain(name, image)).unwrap();
    let mut req = PackRequest::new(&d, vec![image.to_path_buf()]);
    if file.ends_with(".xvm2") {
        req.format = Format::Xvm2;
    }
    let mut meta = Metadata::named(name);
    meta.description = format!("{name} for the test");
    req.metadata = Some(meta);
    archive::pack(&req, &dir.join(file), &mut |_| {}).unwrap();
    let (_, f) = feed::generate(dir, base, &GenerateOptions::default()).unwrap();
    readable(dir);
    f.uuid.expect("the generated feed has a UUID")
}

fn generic_error(answer: &Element, code: &str) -> String {
    let (c, ns, text) = archipel_error(answer);
    assert_eq!((c.as_str(), ns.as_str()), (code, "archipel:error:generic"), "{answer}");
    text
}

/// `(uuid, status)` of the appliances of the source `url` in a `get`.
async fn appliances_of(c: &Client, url: &str) -> Option<Vec<(String, String, Element)>> {
    let q = ok(&acp(c, HYP1, VMCASTING, "get", &[], vec![]).await);
    let source = q.elements().find(|s| s.name == "source" && s.get_attr("url") == Some(url))?;
    Some(
        source
            .elements()
            .map(|a| (a.get_attr("uuid").unwrap().to_string(), a.get_attr("status").unwrap().to_string(), a.clone()))
            .collect(),
    )
}

/// Installed appliances: uuid → (path, name).
async fn installed(c: &Client) -> Vec<(String, String, String)> {
    let q = ok(&acp(c, HYP1, VMCASTING, "getinstalledappliances", &[], vec![]).await);
    q.elements()
        .map(|a| {
            let get = |k: &str| a.get_attr(k).unwrap_or_else(|| panic!("no {k}: {a:?}")).to_string();
            (get("uuid"), get("path"), get("name"))
        })
        .collect()
}

/// Polls `downloadqueue` until it is empty; returns the percentages seen for `uuid`.
async fn wait_queue_empty(c: &Client, uuid: &str) -> Vec<f64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let q = ok(&acp(c, HYP1, VMCASTING, "downloadqueue", &[], vec![]).await);
        let downloads: Vec<Element> = q.elements().cloned().collect();
        if downloads.is_empty() {
            return seen;
        }
        for d in downloads.iter().filter(|d| d.get_attr("uuid") == Some(uuid)) {
            assert!(d.get_attr("name").is_some_and(|n| !n.is_empty()), "{d:?}");
            assert!(d.get_attr("total").unwrap().parse::<u64>().unwrap() > 0, "{d:?}");
            seen.push(d.get_attr("percentage").unwrap().parse::<f64>().unwrap());
        }
        assert!(Instant::now() < deadline, "the download queue does not empty: {q:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const EVENTS: &str = "/archipel/hyp1@localhost/events";

#[test]
fn vmcasts_through_the_agent() {
    let started = Instant::now();
    let Some(http) = Http::start() else { return };
    let Some(prosody) = Prosody::start(&["hyp1@localhost"]) else { return };
    let bin = agent_binary();
    let work = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(scenario(&http, &prosody, &bin, work.path()));
    drop(prosody);
    drop(http);
    eprintln!("xmpp_vmcasting: {:.1} s", started.elapsed().as_secs_f64());
}

async fn scenario(http: &Http, prosody: &Prosody, bin: &Path, work: &Path) {
    let server = prosody.server();
    let state = work.join("state");

    // The appliance: a 3 MiB disk of noise, packed, published with its feed. Enclosures point
    // at nginx's 1 MiB/s location, so the download is seen under way.
    let image = work.join("vda.img");
    let content = noise(3 << 20, 0x9e37_79b9_7f4a_7c15);
    std::fs::write(&image, &content).unwrap();
    let good = http.root.join("good");
    let good_uuid = publish(&good, "tpl.vmcast", "tpl", &image, &format!("{}/slow/good", http.url));
    let good_url = format!("{}/good/rss.xml", http.url);
    let tpl = feed::item_uuid("tpl.vmcast");
    // A feed whose package is altered after the feed was written (same length, other bytes).
    let bad = http.root.join("bad");
    publish(&bad, "evil.vmcast", "evil", &image, &format!("{}/bad", http.url));
    let evil_path = bad.join("evil.vmcast");
    let mut evil_bytes = std::fs::read(&evil_path).unwrap();
    let mid = evil_bytes.len() / 2;
    evil_bytes[mid] ^= 0xff;
    std::fs::write(&evil_path, &evil_bytes).unwrap();
    let bad_url = format!("{}/bad/rss.xml", http.url);
    let evil = feed::item_uuid("evil.vmcast");
    std::fs::write(http.root.join("notxml.txt"), b"this is not a feed <<<").unwrap();
    readable(&http.root);

    let mut a1 = AgentProc::start(bin, "hyp1@localhost", &server, &state);
    a1.wait_line("online as hyp1@localhost").await;
    let (admin, admin_rx) = client(&server, "admin").await;
    let mut inbox = Inbox { rx: admin_rx, messages: Vec::new() };
    subscribe_node(&admin, EVENTS).await;
    let (alice, _alice_rx) = client(&server, "alice").await;

    // ---- permissions: Archipel's names, refusal then grant ----
    let q = ok(&acp(&admin, HYP1, PERMISSIONS, "list", &[], vec![]).await);
    let names: Vec<&str> = q.elements().filter_map(|p| p.get_attr("name")).collect();
    for p in ["vmcasting_get", "vmcasting_register", "vmcasting_unregister", "vmcasting_downloadappliance"] {
        assert!(names.contains(&p), "{p} not in {names:?}");
    }
    assert!(names.contains(&"vmcasting_downloadqueue") && names.contains(&"vmcasting_getinstalledappliances"));
    refused(&acp(&alice, HYP1, VMCASTING, "get", &[], vec![]).await, "get", VMCASTING);
    refused(
        &acp(&alice, HYP1, VMCASTING, "register", &[("url", good_url.as_str())], vec![]).await,
        "register",
        VMCASTING,
    );
    ok(&acp(&admin, HYP1, PERMISSIONS, "set", &[], vec![grant("alice@localhost", "vmcasting_get", "1")]).await);
    assert!(ok(&acp(&alice, HYP1, VMCASTING, "get", &[], vec![]).await).elements().next().is_none());
    // `vmcasting_get` does not grant the others.
    refused(
        &acp(&alice, HYP1, VMCASTING, "register", &[("url", good_url.as_str())], vec![]).await,
        "register",
        VMCASTING,
    );

    // ---- register, get ----
    ok(&acp(&admin, HYP1, VMCASTING, "register", &[("url", good_url.as_str())], vec![]).await);
    inbox.wait_push(EVENTS, "vmcasting", "register").await;
    let q = ok(&acp(&alice, HYP1, VMCASTING, "get", &[], vec![]).await);
    let source = q.elements().find(|s| s.get_attr("url") == Some(good_url.as_str())).expect("the source");
    assert_eq!(source.get_attr("uuid"), Some(good_uuid.as_str()), "{source:?}");
    let list = appliances_of(&admin, &good_url).await.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let (uuid, status, el) = &list[0];
    assert_eq!((uuid.as_str(), status.as_str()), (tpl.as_str(), "3"), "not installed yet: {el:?}");
    assert_eq!(el.get_attr("name"), Some("tpl"));
    let size: u64 = el.get_attr("size").unwrap().parse().unwrap();
    assert_eq!(size, std::fs::metadata(good.join("tpl.vmcast")).unwrap().len());
    assert!(size > 3 << 20, "the noise does not compress: {size}");
    assert!(el.get_attr("url").unwrap().contains("/slow/good/"), "{el:?}");

    // ---- download, queue, installed ----
    ok(&acp(&admin, HYP1, VMCASTING, "downloadappliance", &[("uuid", tpl.as_str())], vec![]).await);
    let again = acp(&admin, HYP1, VMCASTING, "downloadappliance", &[("uuid", tpl.as_str())], vec![]).await;
    assert!(generic_error(&again, "-6004").contains("already downloading"), "{again}");
    inbox.wait_push(EVENTS, "vmcasting", "download_start").await;
    let seen = wait_queue_empty(&admin, &tpl).await;
    inbox.wait_push(EVENTS, "vmcasting", "download_complete").await;
    assert!(!seen.is_empty(), "the download was never seen in the queue (3 MiB at 1 MiB/s)");
    assert!(seen.iter().any(|p| *p > 0.0 && *p < 100.0), "never seen in progress: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress goes backwards: {seen:?}");
    let list = appliances_of(&admin, &good_url).await.unwrap();
    assert_eq!(list[0].1, "1", "installed after the download: {list:?}");
    let inst = installed(&admin).await;
    let (_, tpl_path, tpl_name) = inst.iter().find(|a| a.0 == tpl).unwrap_or_else(|| panic!("{inst:?}"));
    assert_eq!(tpl_name, "tpl");
    assert!(tpl_path.starts_with(state.to_str().unwrap()), "in the state directory: {tpl_path}");
    assert_eq!(std::fs::read(tpl_path).unwrap(), std::fs::read(good.join("tpl.vmcast")).unwrap());
    let q = ok(&acp(&admin, HYP1, VMCASTING, "getappliances", &[("uuid", tpl.as_str())], vec![]).await);
    assert_eq!(q.get_child("appliance").and_then(|a| a.get_attr("path")), Some(tpl_path.as_str()), "{q:?}");

    // ---- attach on a VM ----
    let q = ok(&acp(&admin, HYP1, HYP, "alloc", &[("name", "web1")], vec![]).await);
    let vm_bare = q.get_child("virtualmachine").unwrap().get_attr("jid").unwrap().to_string();
    let vm_uuid = vm_bare.split('@').next().unwrap().to_string();
    let vm = format!("{vm_bare}/hyp1");
    refused(&acp(&alice, &vm, APPLIANCES, "get", &[], vec![]).await, "get", APPLIANCES);
    ok(&acp(&admin, &vm, PERMISSIONS, "set", &[], vec![grant("alice@localhost", "appliance_get", "1")]).await);
    let q = ok(&acp(&alice, &vm, APPLIANCES, "get", &[], vec![]).await);
    let a = q.elements().find(|a| a.get_attr("uuid") == Some(tpl.as_str())).expect("tpl listed");
    assert_eq!(a.get_attr("status"), Some("none"), "{q:?}");
    refused(&acp(&alice, &vm, APPLIANCES, "attach", &[("uuid", tpl.as_str())], vec![]).await, "attach", APPLIANCES);
    let unknown = acp(&admin, &vm, APPLIANCES, "attach", &[("uuid", evil.as_str())], vec![]).await;
    generic_error(&unknown, "-4001");
    ok(&acp(&admin, &vm, APPLIANCES, "attach", &[("uuid", tpl.as_str())], vec![]).await);
    let q = ok(&acp(&admin, &vm, CONTROL, "xmldesc", &[], vec![]).await);
    let d = q.get_child("domain").unwrap_or_else(|| panic!("defined: {q:?}"));
    assert_eq!(d.get_child("name").unwrap().text_content(), "web1");
    assert_eq!(d.get_child("uuid").unwrap().text_content(), vm_uuid);
    let devices = d.get_child("devices").unwrap();
    let disk = devices.elements().find(|e| e.name == "disk").expect("a disk");
    let disk_path = disk.get_child("source").and_then(|s| s.get_attr("file")).unwrap().to_string();
    assert!(disk_path.starts_with(state.join("vmcasts/vms").join(&vm_uuid).to_str().unwrap()), "{disk_path}");
    assert_eq!(std::fs::read(&disk_path).unwrap(), content, "the instantiated disk holds the appliance's bytes");
    let mac = devices.elements().find(|e| e.name == "interface").and_then(|i| i.get_child("mac")).unwrap();
    assert_ne!(mac.get_attr("address"), Some("52:54:00:00:00:01"), "a fresh MAC");
    let q = ok(&acp(&alice, &vm, APPLIANCES, "get", &[], vec![]).await);
    let a = q.elements().find(|a| a.get_attr("uuid") == Some(tpl.as_str())).unwrap();
    assert_eq!(a.get_attr("status"), Some("installed"), "{q:?}");
    let twice = acp(&admin, &vm, APPLIANCES, "attach", &[("uuid", tpl.as_str())], vec![]).await;
    assert!(generic_error(&twice, "-4001").contains("detach"), "{twice}");
    ok(&acp(&admin, &vm, APPLIANCES, "detach", &[], vec![]).await);
    generic_error(&acp(&admin, &vm, APPLIANCES, "detach", &[], vec![]).await, "-4003");

    // ---- package a shut-off VM ----
    let disk2 = work.join("db.img");
    std::fs::write(&disk2, noise(256 << 10, 7)).unwrap();
    let q = ok(&acp(&admin, HYP1, HYP, "alloc", &[("name", "db1")], vec![]).await);
    let db = format!("{}/hyp1", q.get_child("virtualmachine").unwrap().get_attr("jid").unwrap());
    let undefined = acp(&admin, &db, APPLIANCES, "package", &[("name", "nothing")], vec![]).await;
    assert!(generic_error(&undefined, "-4004").contains("not defined"), "{undefined}");
    let db_uuid = db.split('@').next().unwrap();
    let mut def = xml::parse_str(&test_domain("db1", &disk2), "", &xml::Limits::default()).unwrap();
    def.children.insert(0, xml::Node::Element(Element::new("uuid", "").text(db_uuid)));
    def.rebase_ns("", "archipel:vm:definition");
    ok(&acp(&admin, &db, "archipel:vm:definition", "define", &[], vec![def]).await);
    ok(&acp(&admin, &db, APPLIANCES, "package", &[("name", "dbpkg")], vec![]).await);
    let dup = acp(&admin, &db, APPLIANCES, "package", &[("name", "dbpkg")], vec![]).await;
    assert!(generic_error(&dup, "-4004").contains("already in hypervisor repository"), "{dup}");
    generic_error(&acp(&admin, &db, APPLIANCES, "package", &[("name", "../x")], vec![]).await, "-4004");
    let dbpkg = feed::item_uuid("dbpkg.vmcast");
    let inst = installed(&admin).await;
    let (_, pkg_path, pkg_name) = inst.iter().find(|a| a.0 == dbpkg).unwrap_or_else(|| panic!("{inst:?}"));
    assert_eq!(pkg_name, "dbpkg");
    let pkg = archive::verify(Path::new(pkg_path), &Default::default(), &mut |_| {}).unwrap();
    assert_eq!(pkg.disks.len(), 1, "the VM's disk is in the package");
    assert_eq!(pkg.domain.name().as_deref(), Some("db1"));
    ok(&acp(&admin, &db, CONTROL, "create", &[], vec![]).await);
    let busy = acp(&admin, &db, APPLIANCES, "package", &[("name", "live")], vec![]).await;
    assert!(generic_error(&busy, "-4004").contains("shut off"), "{busy}");
    ok(&acp(&admin, &db, CONTROL, "destroy", &[], vec![]).await);

    // ---- an Archipel `.xvm2` appliance (plain tar, gzipped disk) attached to that VM ----
    let small = work.join("debian.img");
    let small_content = noise(200 << 10, 3);
    std::fs::write(&small, &small_content).unwrap();
    let old = http.root.join("archipel");
    publish(&old, "debian.xvm2", "debian", &small, &format!("{}/archipel", http.url));
    let old_url = format!("{}/archipel/rss.xml", http.url);
    let debian = feed::item_uuid("debian.xvm2");
    ok(&acp(&admin, HYP1, VMCASTING, "register", &[("url", old_url.as_str())], vec![]).await);
    ok(&acp(&admin, HYP1, VMCASTING, "downloadappliance", &[("uuid", debian.as_str())], vec![]).await);
    wait_queue_empty(&admin, &debian).await;
    assert_eq!(appliances_of(&admin, &old_url).await.unwrap()[0].1, "1", "the .xvm2 is installed");
    ok(&acp(&admin, &db, APPLIANCES, "attach", &[("uuid", debian.as_str())], vec![]).await);
    let q = ok(&acp(&admin, &db, CONTROL, "xmldesc", &[], vec![]).await);
    let d = q.get_child("domain").unwrap();
    assert_eq!(d.get_child("name").unwrap().text_content(), "db1");
    let disk = d.get_child("devices").unwrap().elements().find(|e| e.name == "disk").unwrap();
    let path = disk.get_child("source").and_then(|s| s.get_attr("file")).unwrap();
    assert!(path.ends_with("/debian.img"), "the gzipped disk, unpacked: {path}");
    assert_eq!(std::fs::read(path).unwrap(), small_content);

    // ---- hostile input ----
    let notxml = format!("{}/notxml.txt", http.url);
    let e = acp(&admin, HYP1, VMCASTING, "register", &[("url", notxml.as_str())], vec![]).await;
    generic_error(&e, "-6002");
    let e = acp(&admin, HYP1, VMCASTING, "register", &[("url", &format!("{}/missing.xml", http.url))], vec![]).await;
    generic_error(&e, "-6002");
    let e = acp(&admin, HYP1, VMCASTING, "register", &[("url", "file:///etc/passwd")], vec![]).await;
    assert!(generic_error(&e, "-6002").contains("not an http"), "{e}");
    ok(&acp(&admin, HYP1, VMCASTING, "register", &[("url", bad_url.as_str())], vec![]).await);
    assert_eq!(appliances_of(&admin, &bad_url).await.unwrap()[0].1, "3");
    ok(&acp(&admin, HYP1, VMCASTING, "downloadappliance", &[("uuid", evil.as_str())], vec![]).await);
    wait_queue_empty(&admin, &evil).await;
    inbox.wait_push(EVENTS, "vmcasting", "download_error").await;
    a1.wait_line(&format!("appliance {evil} cannot be downloaded")).await;
    let list = appliances_of(&admin, &bad_url).await.unwrap();
    assert_eq!(list[0].1, "4", "a package that fails verification is an error: {list:?}");
    assert!(!installed(&admin).await.iter().any(|a| a.0 == evil), "never installed");
    generic_error(&acp(&admin, HYP1, VMCASTING, "downloadappliance", &[("uuid", "nope")], vec![]).await, "-6004");
    // A feed that announces a package larger than any disk: refused before anything is fetched.
    let rss = std::fs::read(good.join("rss.xml")).unwrap();
    let mut huge = feed::parse(&rss, &Default::default()).unwrap();
    huge.items[0].enclosure.length = 1 << 50;
    huge.items[0].uuid = "huge-one".into();
    huge.uuid = Some("huge-feed".into());
    std::fs::write(http.root.join("huge.xml"), feed::write(&huge).unwrap()).unwrap();
    readable(&http.root);
    let huge_url = format!("{}/huge.xml", http.url);
    ok(&acp(&admin, HYP1, VMCASTING, "register", &[("url", huge_url.as_str())], vec![]).await);
    let e = acp(&admin, HYP1, VMCASTING, "downloadappliance", &[("uuid", "huge-one")], vec![]).await;
    assert!(generic_error(&e, "-6004").contains("more than the limit"), "{e}");
    ok(&acp(&admin, HYP1, VMCASTING, "unregister", &[("uuid", "huge-feed")], vec![]).await);
    // Still serving.
    assert!(ok(&acp(&admin, HYP1, HYP, "nodeinfo", &[], vec![]).await).get_child("nodeinfo").is_some());

    // ---- restart: feeds and appliances kept ----
    a1.stop();
    let a1 = AgentProc::start(bin, "hyp1@localhost", &server, &state);
    a1.wait_line("online as hyp1@localhost").await;
    assert_eq!(appliances_of(&admin, &good_url).await.expect("the feed is kept")[0].1, "1");
    assert!(appliances_of(&admin, &bad_url).await.is_some(), "the second feed is kept");
    let inst: Vec<String> = installed(&admin).await.into_iter().map(|a| a.0).collect();
    assert!(inst.contains(&tpl) && inst.contains(&dbpkg), "{inst:?}");

    // ---- unregister ----
    ok(&acp(&admin, HYP1, VMCASTING, "unregister", &[("uuid", good_uuid.as_str())], vec![]).await);
    assert!(appliances_of(&admin, &good_url).await.is_none(), "the feed is gone");
    assert!(appliances_of(&admin, &bad_url).await.is_some(), "the other feed stays");
    generic_error(&acp(&admin, HYP1, VMCASTING, "unregister", &[("uuid", good_uuid.as_str())], vec![]).await, "-6003");

    // ---- free: the attached disks go with the VM ----
    assert!(Path::new(&disk_path).exists());
    ok(&acp(&admin, HYP1, HYP, "free", &[("jid", vm_bare.as_str())], vec![]).await);
    assert!(!state.join("vmcasts/vms").join(&vm_uuid).exists(), "the freed VM's disks are removed");
    assert!(Path::new(tpl_path).exists(), "the appliance itself stays");
    assert!(a1.lines.lock().unwrap().iter().all(|l| !l.contains("panicked")), "no panic in the agent");
}
