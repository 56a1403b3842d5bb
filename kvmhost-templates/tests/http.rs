//! Feeds and downloads against a real web server on loopback (nginx, started by
//! `scripts/services/http.sh`): subscribe, list, a download stopped midway and resumed with a
//! `Range` request, verification, a server that ignores ranges, corrupted packages, a feed that
//! stops parsing.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use kvmhost_core::domain::Domain;
use kvmhost_templates::archive::{self, Format, PackRequest, ReadOptions};
use kvmhost_templates::catalog::{
    ApplianceStatus, Catalog, CatalogError, DownloadOptions, DownloadOutcome, FeedStatus,
};
use kvmhost_templates::transport::{DefaultTransport, Response, Transport, TransportError};
use kvmhost_templates::{feed, signing};

fn server() -> Option<(String, PathBuf)> {
    match (std::env::var("KVMHOST_HTTP_URL"), std::env::var("KVMHOST_HTTP_ROOT")) {
        (Ok(u), Ok(r)) => Some((u, PathBuf::from(r))),
        _ => {
            println!("SKIP: http not started (run ./scripts/test.sh)");
            None
        }
    }
}

/// A directory published under the server's root, removed at the end.
struct Published(PathBuf);

impl Drop for Published {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn publish(root: &Path, tag: &str) -> (Published, String) {
    let name = format!("{tag}-{}", std::process::id());
    let dir = root.join(&name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir(&dir).unwrap();
    (Published(dir), name)
}

fn make_packages(dir: &Path, key: &signing::SecretKey) {
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("vda.qcow2");
    sparse_image(&img, 24 << 20, &[(0, &data(3 << 20, 7)), (16 << 20, &data(1 << 20, 8))]);
    let d = Domain::parse(&archipel_domain(&[img.to_str().unwrap()])).unwrap();
    let mut req = PackRequest::new(&d, vec![img.clone()]);
    req.sign = Some(key);
    archive::pack(&req, &dir.join("web.vmcast"), &mut |_| {}).unwrap();
    let mut x = PackRequest::new(&d, vec![img]);
    x.format = Format::Xvm2;
    archive::pack(&x, &dir.join("old.xvm2"), &mut |_| {}).unwrap();
}

/// Signed `web.vmcast` and unsigned `old.xvm2` published with their feed under the server's
/// `location` (`""`, `"norange/"`, `"slow/"`): the directory, the feed's base URL and the key.
fn published_packages(url: &str, root: &Path, tag: &str, location: &str) -> (Published, String, signing::PublicKey) {
    let (sk, pk) = signing::generate_keypair().unwrap();
    let (pubd, name) = publish(root, tag);
    make_packages(&pubd.0, &sk);
    let base = format!("{url}/{location}{name}");
    feed::generate(&pubd.0, &base, &Default::default()).unwrap();
    (pubd, base, pk)
}

#[test]
fn download_cut_midway_resumes_with_range_and_verifies() {
    let Some((url, root)) = server() else { return };
    let (pubd, base, pk) = published_packages(&url, &root, "resume", "");

    let cache = tempfile::tempdir().unwrap();
    let t = DefaultTransport::default();
    let uuid = feed::item_uuid("web.vmcast");
    let total;
    {
        let mut cat = Catalog::open(cache.path()).unwrap();
        let sub = cat.subscribe(&format!("{base}/rss.xml"), &t).unwrap();
        assert!(matches!(sub.status, FeedStatus::Ok { .. }));
        assert_eq!(cat.appliances().len(), 2);
        let a = cat.appliance(&uuid).unwrap();
        assert_eq!(a.item.format, Some(Format::Native));
        assert_eq!(a.item.key_id.as_deref(), Some(pk.key_id().to_string().as_str()));
        total = a.item.enclosure.length;
        assert!(total > 1 << 20, "package of {total} bytes");
        let opts = DownloadOptions::default().budget(300_000);
        let out = cat.download(&uuid, &t, &opts, &mut |_| {}).unwrap();
        assert!(matches!(out, DownloadOutcome::Paused { bytes: 300_000, .. }), "{out:?}");
        // The process "dies" here: the catalog is dropped without another word.
    }
    let partial = cache.path().join(format!("{uuid}.part"));
    assert_eq!(fs::metadata(&partial).unwrap().len(), 300_000);
    let mut cat = Catalog::open(cache.path()).unwrap();
    assert!(matches!(cat.appliance(&uuid).unwrap().status, ApplianceStatus::Downloading { .. }));
    let mut seen_first = None;
    let opts = DownloadOptions::verifying(ReadOptions::trusting(vec![pk.clone()]));
    let out = cat
        .download(&uuid, &t, &opts, &mut |p| {
            seen_first.get_or_insert(p.done);
        })
        .unwrap();
    assert!(seen_first.unwrap() > 300_000, "resumed, not restarted: first progress at {seen_first:?}");
    let DownloadOutcome::Complete { path, package } = out else { panic!("not complete") };
    assert_eq!(fs::read(&path).unwrap(), fs::read(pubd.0.join("web.vmcast")).unwrap());
    assert_eq!(package.signature, archive::SignatureStatus::Verified(pk.key_id()));
    assert!(!partial.exists());
    assert!(matches!(&cat.appliance(&uuid).unwrap().status, ApplianceStatus::Installed { path: p } if *p == path));
    let access = fs::read_to_string(root.parent().unwrap().join("access.log")).unwrap_or_default();
    assert!(access.contains(" 206 "), "the server saw a range request");

    // The Archipel package of the same feed: no signature, so it downloads without keys...
    let old = feed::item_uuid("old.xvm2");
    let out = cat.download(&old, &t, &DownloadOptions::default(), &mut |_| {}).unwrap();
    assert!(matches!(out, DownloadOutcome::Complete { .. }));
    // ...and not when a signature is required.
    let other_cache = tempfile::tempdir().unwrap();
    let mut again = Catalog::open(other_cache.path()).unwrap();
    again.subscribe(&format!("{base}/rss.xml"), &t).unwrap();
    let e = again.download(&old, &t, &opts, &mut |_| {}).unwrap_err();
    assert!(matches!(e, CatalogError::Package { .. }), "{e}");
    assert!(matches!(again.appliance(&old).unwrap().status, ApplianceStatus::Error { .. }));
}

#[test]
fn a_server_that_ignores_ranges_is_refused_on_resume() {
    let Some((url, root)) = server() else { return };
    let (_pubd, base, _pk) = published_packages(&url, &root, "norange", "norange/");
    let cache = tempfile::tempdir().unwrap();
    let t = DefaultTransport::default();
    let mut cat = Catalog::open(cache.path()).unwrap();
    cat.subscribe(&format!("{base}/rss.xml"), &t).unwrap();
    let uuid = feed::item_uuid("web.vmcast");
    let opts = DownloadOptions::default().budget(100_000);
    cat.download(&uuid, &t, &opts, &mut |_| {}).unwrap();
    let e = cat.download(&uuid, &t, &DownloadOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(e, CatalogError::RangeNotHonoured { .. }), "{e}");
    assert_eq!(fs::metadata(cache.path().join(format!("{uuid}.part"))).unwrap().len(), 100_000, "partial kept");
}

#[test]
fn corrupted_packages_and_broken_feeds() {
    let Some((url, root)) = server() else { return };
    let (pubd, base, _pk) = published_packages(&url, &root, "corrupt", "");
    let cache = tempfile::tempdir().unwrap();
    let t = DefaultTransport::default();
    let feed_url = format!("{base}/rss.xml");
    let mut cat = Catalog::open(cache.path()).unwrap();
    cat.subscribe(&feed_url, &t).unwrap();

    // Same size, other bytes: the feed's SHA-256 catches it; nothing is kept.
    let pkg = pubd.0.join("web.vmcast");
    let mut bytes = fs::read(&pkg).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x55;
    fs::write(&pkg, &bytes).unwrap();
    let uuid = feed::item_uuid("web.vmcast");
    let e = cat.download(&uuid, &t, &DownloadOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(e, CatalogError::ChecksumMismatch { .. }), "{e}");
    assert!(matches!(cat.appliance(&uuid).unwrap().status, ApplianceStatus::Error { .. }));
    assert!(!cache.path().join(format!("{uuid}.part")).exists());
    // Shorter than the enclosure says.
    fs::write(&pkg, &bytes[..n - 100]).unwrap();
    let e = cat.download(&uuid, &t, &DownloadOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(e, CatalogError::SizeMismatch { .. }), "{e}");

    // The feed breaks: reported, the subscription and its appliances kept.
    fs::write(pubd.0.join("rss.xml"), b"<rss><channel><item>").unwrap();
    let results = cat.refresh(&t).unwrap();
    assert!(results[0].1.is_err());
    assert_eq!(cat.feeds().len(), 1);
    assert!(matches!(&cat.feeds()[0].status, FeedStatus::Error { message, .. } if message.contains("malformed")));
    assert_eq!(cat.appliances().len(), 2);
    // A feed served over HTTP may not point at local files.
    let local = format!("file://{}", pkg.display());
    let evil = format!(
        "<rss version='2.0'><channel><title>e</title><item><title>x</title><uuid>evil-1</uuid>\
         <enclosure url='{local}' length='10'/></item><item><title>y</title><uuid>../../evil</uuid>\
         <enclosure url='{url}/x' length='10'/></item></channel></rss>"
    );
    fs::write(pubd.0.join("evil.xml"), evil).unwrap();
    cat.subscribe(&format!("{base}/evil.xml"), &t).unwrap();
    for id in ["evil-1", "../../evil"] {
        let e = cat.download(id, &t, &DownloadOptions::default(), &mut |_| {}).unwrap_err();
        assert!(matches!(e, CatalogError::Refused { .. }), "{e}");
    }
    cat.unsubscribe(&format!("{base}/evil.xml")).unwrap();
    // A missing feed: the same.
    fs::remove_file(pubd.0.join("rss.xml")).unwrap();
    let results = cat.refresh(&t).unwrap();
    assert!(matches!(&results[0].1, Err(CatalogError::Transport(_))));
    assert_eq!(cat.feeds().len(), 1);
    drop(cat);
    let cat = Catalog::open(cache.path()).unwrap();
    assert!(matches!(cat.feeds()[0].status, FeedStatus::Error { .. }), "kept on disk");
}

/// Feeds from the network are untrusted input like packages: one too large (beyond the
/// 16 MiB default), one nested too deep and one with an XML bomb's entities are each refused
/// with an error when subscribing, and reported (kept) when an existing subscription turns
/// into one of them.
#[test]
fn hostile_feeds_over_http() {
    let Some((url, root)) = server() else { return };
    let (pubd, name) = publish(&root, "hostile-feeds");
    let base = format!("{url}/{name}");
    let t = DefaultTransport::default();
    let mut big = b"<rss><channel><title>".to_vec();
    big.resize(big.len() + (17 << 20), b'a');
    big.extend_from_slice(b"</title></channel></rss>");
    fs::write(pubd.0.join("big.xml"), &big).unwrap();
    let deep = format!("<rss><channel>{}{}</channel></rss>", "<x>".repeat(200_000), "</x>".repeat(200_000));
    fs::write(pubd.0.join("deep.xml"), deep).unwrap();
    let laughs = format!(
        "<!DOCTYPE r [<!ENTITY a '{}'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]><rss><channel><title>&b;&b;&b;</title>\
         <item><title>&b;</title><uuid>u</uuid><enclosure url='{base}/x' length='1'/></item></channel></rss>",
        "x".repeat(1000)
    );
    fs::write(pubd.0.join("laughs.xml"), laughs).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut cat = Catalog::open(cache.path()).unwrap();
    let e = cat.subscribe(&format!("{base}/big.xml"), &t).unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
    let e = cat.subscribe(&format!("{base}/deep.xml"), &t).unwrap_err();
    assert!(e.to_string().contains("nested"), "{e}");
    // Entities are never expanded: the titles stay as written, nothing grows.
    cat.subscribe(&format!("{base}/laughs.xml"), &t).unwrap();
    assert_eq!(cat.appliances()[0].item.title.len(), "&b;".len());
    assert!(cat.feeds().len() == 1);

    // A subscribed feed that turns hostile: reported, kept with its appliances.
    fs::write(pubd.0.join("laughs.xml"), &big).unwrap();
    let results = cat.refresh(&t).unwrap();
    assert!(results[0].1.is_err());
    assert_eq!(cat.feeds().len(), 1);
    assert!(matches!(&cat.feeds()[0].status, FeedStatus::Error { .. }));
    assert_eq!(cat.appliances().len(), 1);
}

/// The three-step download: the catalog stays free while the bytes come (another thread lists
/// and refreshes it mid-download, through nginx's 1 MiB/s `/slow/`), then the fetched file is
/// verified and installed; a second fetch of a complete partial file sends nothing.
#[test]
fn a_pending_download_does_not_hold_the_catalog() {
    let Some((url, root)) = server() else { return };
    let (pubd, base, pk) = published_packages(&url, &root, "pending", "slow/");
    let cache = tempfile::tempdir().unwrap();
    let t = DefaultTransport::default();
    let catalog = std::sync::Mutex::new(Catalog::open(cache.path()).unwrap());
    catalog.lock().unwrap().subscribe(&format!("{base}/rss.xml"), &t).unwrap();
    let uuid = feed::item_uuid("web.vmcast");
    let pending = catalog.lock().unwrap().begin_download(&uuid).unwrap();
    assert!(pending.total() > 1 << 20, "a package that takes more than a second at 1 MiB/s");
    assert_eq!(pending.partial(), cache.path().join(format!("{uuid}.part")));
    let progress = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        let fetching = s.spawn(|| {
            pending.fetch(&t, &DownloadOptions::default(), &mut |p| {
                progress.store(p.done, std::sync::atomic::Ordering::Relaxed);
            })
        });
        // Mid-download, the catalog answers at once and says what is going on.
        while progress.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let asked = std::time::Instant::now();
        let mut cat = catalog.lock().unwrap();
        assert!(matches!(cat.appliance(&uuid).unwrap().status, ApplianceStatus::Downloading { .. }));
        cat.refresh(&t).unwrap();
        drop(cat);
        assert!(!fetching.is_finished(), "the download ended before the catalog was used");
        assert!(asked.elapsed() < std::time::Duration::from_secs(1), "the catalog was held");
        assert_eq!(fetching.join().unwrap().unwrap(), None);
    });
    // Complete already: nothing more is fetched (the transport is not even asked).
    struct NoNetwork;
    impl Transport for NoNetwork {
        fn get(&self, url: &str, _: Option<u64>) -> Result<Response, TransportError> {
            Err(TransportError::Failed { url: url.into(), message: "no request expected".into() })
        }
    }
    assert_eq!(pending.fetch(&NoNetwork, &DownloadOptions::default(), &mut |_| {}).unwrap(), None);
    let opts = ReadOptions::trusting(vec![pk.clone()]);
    let out = catalog.lock().unwrap().finish_download(pending, &opts).unwrap();
    let DownloadOutcome::Complete { path, package } = out else { panic!("not complete") };
    assert_eq!(fs::read(&path).unwrap(), fs::read(pubd.0.join("web.vmcast")).unwrap());
    assert_eq!(package.signature, archive::SignatureStatus::Verified(pk.key_id()));
    assert!(matches!(catalog.lock().unwrap().appliance(&uuid).unwrap().status, ApplianceStatus::Installed { .. }));
}
