//! Feeds as Archipel wrote them (vmcastmaker.py's exact string building, both date styles,
//! unescaped text, CDATA, bare uuid) are read; generated feeds carry the extensions and read back.

mod common;

use std::fs;

use common::*;
use kvmhost_core::domain::Domain;
use kvmhost_templates::archive::{self, Format, PackRequest};
use kvmhost_templates::{feed, signing};

/// What `VMCastMaker.makeVMCast` produced (string concatenation, nothing escaped).
fn archipel_feed(items: &[(&str, &str, &str, &str)]) -> String {
    let mut f = String::from("<?xml version='1.0' encoding='utf-8'?>\n   <rss version='2.0'>\n   <channel>\n");
    f += "        <title>Tom & Jerry's hypervisor</title>\n        <link>http://archipel.example/vmcasts</link>\n";
    f += "        <uuid>30f7b2de-1a3e-4f0c-9e5f-2f1f0a0b0c0d</uuid>\n        <description>Own VMCast of hv1</description>\n";
    f += "        <language>en-us</language>\n";
    for (title, file, size, date) in items {
        let uuid = uuid::Uuid::new_v3(&uuid::Uuid::NAMESPACE_URL, file.as_bytes());
        f += "        <item>\n";
        f += &format!("            <title>{title}</title>\n");
        f += "            <link>http://archipel.example/vmcasts</link>\n";
        f += &format!("            <uuid>{uuid}</uuid>\n");
        f += &format!("            <enclosure url='http://archipel.example/vmcasts/{file}?a=1&b=2' length='{size}' type='application/enomalism2-xvm2'/>\n");
        f += "            <description>\n            <![CDATA[\n                Auto imported vmcast <b>&</b>\n            ]]>\n            </description>\n";
        f += &format!("            <pubDate>{date}</pubDate>\n");
        f += "        </item>\n";
    }
    f += "    </channel>\n</rss>";
    f
}

#[test]
fn archipel_feeds_are_read() {
    let xml = archipel_feed(&[
        ("debian & co", "debian.xvm2", "123456789", "2016-11-07 09:51:30.123456"),
        ("centos", "centos.xvm2", "42", "Mon, 07 Nov 2016 09:51:30 +0000"),
        ("odd", "odd.xvm2", "1", "someday"),
    ]);
    let f = feed::parse(xml.as_bytes(), &Default::default()).unwrap();
    assert_eq!(f.title, "Tom & Jerry's hypervisor");
    assert_eq!(f.uuid.as_deref(), Some("30f7b2de-1a3e-4f0c-9e5f-2f1f0a0b0c0d"));
    assert_eq!(f.language.as_deref(), Some("en-us"));
    assert_eq!(f.items.len(), 3);
    let d = &f.items[0];
    assert_eq!(d.title, "debian & co");
    assert_eq!(d.uuid, feed::item_uuid("debian.xvm2"));
    assert_eq!(d.enclosure.url, "http://archipel.example/vmcasts/debian.xvm2?a=1&b=2");
    assert_eq!(d.enclosure.length, 123_456_789);
    assert_eq!(d.enclosure.mime, feed::ENCLOSURE_TYPE);
    assert_eq!(d.description, "Auto imported vmcast <b>&</b>");
    assert_eq!(d.published, Some(1_478_512_290));
    assert_eq!(f.items[1].published, Some(1_478_512_290), "RFC 822 and str(datetime) agree");
    assert_eq!(f.items[2].published, None, "an unreadable date is kept as written");
    assert_eq!(f.items[2].pub_date.as_deref(), Some("someday"));
    assert!(d.sha256.is_none() && d.format.is_none());
}

#[test]
fn generated_feeds_list_packages_with_extensions() {
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("vda.img");
    sparse_image(&img, 8 << 20, &[(0, &data(100_000, 1))]);
    let d = Domain::parse(&archipel_domain(&[img.to_str().unwrap()])).unwrap();
    let pub_dir = t.path().join("pub");
    fs::create_dir(&pub_dir).unwrap();
    let (sk, pk) = signing::generate_keypair().unwrap();
    let mut req = PackRequest::new(&d, vec![img.clone()]);
    req.sign = Some(&sk);
    let mut md = kvmhost_templates::manifest::Metadata::named("Web & DB <appliance>");
    md.description = "nginx + postgres".into();
    req.metadata = Some(md);
    archive::pack(&req, &pub_dir.join("web db.vmcast"), &mut |_| {}).unwrap();
    let mut x = PackRequest::new(&d, vec![img]);
    x.format = Format::Xvm2;
    archive::pack(&x, &pub_dir.join("legacy.xvm2"), &mut |_| {}).unwrap();
    fs::write(pub_dir.join("README"), b"not a package").unwrap();
    let (path, generated) = feed::generate(&pub_dir, "http://h/vmcasts/", &Default::default()).unwrap();
    assert_eq!(path, pub_dir.join("rss.xml"));
    let xml = fs::read_to_string(&path).unwrap();
    assert!(xml.contains("<title>Web &amp; DB &lt;appliance&gt;</title>"), "{xml}");
    assert!(xml.contains("xmlns:kvmhost="));
    let f = feed::parse(xml.as_bytes(), &Default::default()).unwrap();
    assert_eq!(f, generated);
    assert_eq!(f.items.len(), 2, "README skipped");
    let legacy = &f.items[0];
    assert_eq!((legacy.title.as_str(), legacy.format), ("legacy", Some(Format::Xvm2)));
    assert_eq!(legacy.uuid, feed::item_uuid("legacy.xvm2"));
    let web = &f.items[1];
    assert_eq!(web.enclosure.url, "http://h/vmcasts/web%20db.vmcast");
    assert_eq!(web.enclosure.length, fs::metadata(pub_dir.join("web db.vmcast")).unwrap().len());
    assert_eq!(web.key_id.as_deref(), Some(pk.key_id().to_string().as_str()));
    assert_eq!(web.description, "nginx + postgres");
    let sha = {
        use sha2::Digest;
        let b = fs::read(pub_dir.join("web db.vmcast")).unwrap();
        sha2::Sha256::digest(&b).iter().map(|x| format!("{x:02x}")).collect::<String>()
    };
    assert_eq!(web.sha256.as_deref(), Some(sha.as_str()));
    assert!(web.published.is_some());
    // Regenerating replaces the file whole (no temporary left behind).
    feed::generate(&pub_dir, "http://h/vmcasts", &Default::default()).unwrap();
    assert!(fs::read_dir(&pub_dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with('.')));
}

/// Refreshing in two steps (fetch without the catalog, then merge): a feed that fails keeps its
/// appliances with its error, one unsubscribed between the two steps stays gone, a good one
/// picks up a new package.
#[test]
fn feeds_fetched_apart_from_the_catalog_are_merged() {
    use kvmhost_templates::catalog::{Catalog, FeedStatus};
    use kvmhost_templates::transport::FileTransport;
    let dir = tempfile::tempdir().unwrap();
    let publish = |name: &str, packages: &[&str]| {
        let p = dir.path().join(name);
        fs::create_dir_all(&p).unwrap();
        for pkg in packages {
            let d = Domain::parse(&format!("<domain><name>{pkg}</name></domain>")).unwrap();
            archive::pack(&PackRequest::new(&d, vec![]), &p.join(format!("{pkg}.vmcast")), &mut |_| {}).unwrap();
        }
        let (feed_path, _) = feed::generate(&p, p.to_str().unwrap(), &Default::default()).unwrap();
        feed_path.to_str().unwrap().to_string()
    };
    let (good, broken, dropped) = (publish("good", &["a"]), publish("broken", &["b"]), publish("dropped", &["c"]));
    let mut cat = Catalog::open(&dir.path().join("cache")).unwrap();
    for url in [&good, &broken, &dropped] {
        cat.subscribe(url, &FileTransport).unwrap();
    }
    assert_eq!(cat.appliances().len(), 3);
    publish("good", &["a", "a2"]);
    fs::write(&broken, "not a feed").unwrap();
    let urls: Vec<String> = cat.feeds().iter().map(|f| f.url.clone()).collect();
    let fetched = Catalog::fetch_feeds(&urls, &FileTransport);
    assert_eq!(fetched.len(), 3);
    cat.unsubscribe(&dropped).unwrap();
    let results = cat.merge_fetched(fetched).unwrap();
    let outcome: Vec<(&str, bool)> = results.iter().map(|(u, r)| (u.as_str(), r.is_ok())).collect();
    assert_eq!(outcome, [(good.as_str(), true), (broken.as_str(), false)]);
    assert_eq!(results[0].1.as_ref().unwrap(), &2);
    assert!(cat.feeds().iter().all(|f| f.url != dropped), "an unsubscribed feed came back");
    let broken_feed = cat.feeds().iter().find(|f| f.url == broken).unwrap();
    assert!(matches!(broken_feed.status, FeedStatus::Error { .. }), "{:?}", broken_feed.status);
    // a, a2 from the good feed; b kept from the broken one.
    assert_eq!(cat.appliances().len(), 3);
}
