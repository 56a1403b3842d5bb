//! Hostile packages and feeds: each is refused with a typed error, and nothing is written
//! outside (or left inside) the target directory.

mod common;

use std::fs;
use std::io::Write;

use common::*;
use kvmhost_core::domain::DomainError;
use kvmhost_core::xml::{Limit, XmlError};
use kvmhost_templates::archive::{self, ArchiveError, ReadOptions};
use kvmhost_templates::feed::{self, FeedError};
use kvmhost_templates::manifest::ManifestError;
use kvmhost_templates::sparse::{Extent, SparseHeader};
use kvmhost_templates::{signing, Limits};
use sha2::Digest;

const DOMAIN: &str = "<domain type='kvm'><name>evil</name></domain>";

/// Unpacks `bytes` into a fresh target next to a canary; asserts the error matches `want`,
/// that the parent directory is exactly as before and the target does not exist. Also checks
/// that `verify` refuses it.
#[track_caller]
fn refused(bytes: &[u8], opts: &ReadOptions, want: fn(&ArchiveError) -> bool) -> ArchiveError {
    let t = tempfile::tempdir().unwrap();
    let pkg = t.path().join("pkg");
    fs::write(&pkg, bytes).unwrap();
    fs::write(t.path().join("canary"), b"untouched").unwrap();
    let target = t.path().join("target");
    let before = snapshot(t.path());
    let e = archive::unpack(&pkg, &target, opts, &mut |_| {}).expect_err("hostile package accepted");
    assert!(want(&e), "unexpected error: {e:?}");
    assert_eq!(snapshot(t.path()), before, "something was written ({e})");
    assert!(!target.exists());
    assert!(!std::path::Path::new("/tmp/kvmhost-evil").exists());
    assert!(archive::verify(&pkg, opts, &mut |_| {}).is_err());
    // The same into an existing directory with a file in it: still nothing changes.
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), b"k").unwrap();
    let before = snapshot(t.path());
    assert!(archive::unpack(&pkg, &target, opts, &mut |_| {}).is_err());
    assert_eq!(snapshot(t.path()), before);
    e
}

fn xvm2(entries: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
    let mut all = vec![("description.xml", b'0', DOMAIN.as_bytes(), "")];
    all.extend_from_slice(entries);
    raw_tar(&all)
}

#[test]
fn xvm2_traversal_absolute_and_nested_names() {
    for name in ["../evil.gz", "/tmp/kvmhost-evil", "a/../../evil", "sub/disk.qcow2", "./../evil", ".hidden"] {
        let e = refused(&xvm2(&[(name, b'0', &gzip9(b"x"), "")]), &ReadOptions::default(), |e| {
            matches!(e, ArchiveError::UnsafeName { .. })
        });
        assert!(e.to_string().contains("unsafe member name"), "{name}: {e}");
    }
}

#[test]
fn xvm2_links_devices_fifos_directories_sparse_entries() {
    for (t, link, kind) in [
        (b'2', "/etc/passwd", "symbolic link"),
        (b'1', "description.xml", "hard link"),
        (b'3', "", "character device"),
        (b'4', "", "block device"),
        (b'6', "", "FIFO"),
        (b'5', "", "directory"),
        (b'S', "", "GNU sparse entry"),
    ] {
        let e = refused(&xvm2(&[("disk.qcow2", t, b"", link)]), &ReadOptions::default(), |e| {
            matches!(e, ArchiveError::ForbiddenEntry { .. })
        });
        assert!(e.to_string().contains(kind), "{e}");
    }
}

#[test]
fn xvm2_duplicates_missing_description_and_corrupt_members() {
    let gz = gzip9(&[1u8; 10_000]);
    refused(&xvm2(&[("d.qcow2", b'0', b"raw", ""), ("d.qcow2.gz", b'0', &gz, "")]), &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::Duplicate { .. })
    });
    refused(&xvm2(&[("description.xml", b'0', DOMAIN.as_bytes(), "")]), &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::Duplicate { .. })
    });
    refused(&raw_tar(&[("d.qcow2.gz", b'0', &gz, "")]), &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::Missing { .. })
    });
    refused(&raw_tar(&[("description.xml", b'0', b"<domain><name>x</nam>", "")]), &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::Corrupt { .. })
    });
    let mut bad_gz = gz.clone();
    let mid = bad_gz.len() / 2;
    bad_gz[mid] ^= 0xff;
    bad_gz[mid + 1] ^= 0xff;
    refused(&xvm2(&[("d.qcow2.gz", b'0', &bad_gz, "")]), &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::Corrupt { .. })
    });
    let mut trailing = gz.clone();
    trailing.extend_from_slice(b"junk");
    refused(&xvm2(&[("d.qcow2.gz", b'0', &trailing, "")]), &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::Corrupt { .. })
    });
    // XML nested a million deep (a recursive walk of the tree would overflow the stack).
    let deep = format!("<domain>{}{}</domain>", "<a>".repeat(1_000_000), "</a>".repeat(1_000_000));
    let e = refused(&raw_tar(&[("description.xml", b'0', deep.as_bytes(), "")]), &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::Corrupt { .. })
    });
    assert!(e.to_string().contains("element nesting depth over 256"), "{e}");
    // Truncated archives, at several points.
    let whole = xvm2(&[("d.qcow2.gz", b'0', &gz, "")]);
    let e = refused(&whole[..100], &ReadOptions::default(), |e| matches!(e, ArchiveError::NotAPackage { .. }));
    assert!(e.to_string().contains("neither"), "too short to be recognised: {e}");
    for cut in [512, 700, whole.len() - 1024 - 10] {
        refused(&whole[..cut], &ReadOptions::default(), |e| {
            matches!(e, ArchiveError::Truncated { .. } | ArchiveError::Corrupt { .. })
        });
    }
    // A header with a wrong checksum; random bytes.
    let mut bad = whole.clone();
    bad[1024 + 5] ^= 1; // inside the second header's name (the first header and its data: 0..1024)
    refused(&bad, &ReadOptions::default(), |e| matches!(e, ArchiveError::NotAPackage { .. }));
    refused(&[0x42u8; 4096], &ReadOptions::default(), |e| matches!(e, ArchiveError::NotAPackage { .. }));
    // A signature cannot be required of .xvm2.
    let (_, pk) = signing::generate_keypair().unwrap();
    refused(&whole, &ReadOptions::trusting(vec![pk]), |e| matches!(e, ArchiveError::Unsigned));
}

#[test]
fn gzip_bombs_are_stopped_by_ratio_and_absolute_limits() {
    let bomb = gzip9(&vec![0u8; 64 << 20]); // 64 MiB of zeros in ~64 KiB
    assert!(bomb.len() < 200_000);
    let mut limits = Limits::default();
    limits.ratio_floor = 1 << 20;
    let opts = ReadOptions::default().with_limits(limits);
    let e =
        refused(&xvm2(&[("d.qcow2.gz", b'0', &bomb, "")]), &opts, |e| matches!(e, ArchiveError::LimitExceeded { .. }));
    assert!(e.to_string().contains("ratio"), "{e}");
    let mut limits = Limits::default();
    limits.max_total_bytes = 8 << 20;
    let opts = ReadOptions::default().with_limits(limits);
    let e =
        refused(&xvm2(&[("d.qcow2.gz", b'0', &bomb, "")]), &opts, |e| matches!(e, ArchiveError::LimitExceeded { .. }));
    assert!(e.to_string().contains("decompressed bytes"), "{e}");
}

/// A native package by hand: `(name, bytes)` members after a manifest, all zstd-compressed.
fn native(manifest: &serde_json::Value, sig: Option<&str>, members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let json = serde_json::to_vec(manifest).unwrap();
    let mut entries: Vec<(&str, u8, &[u8], &str)> = vec![("manifest.json", b'0', &json, "")];
    if let Some(s) = sig {
        entries.push(("manifest.json.minisig", b'0', s.as_bytes(), ""));
    }
    for (n, b) in members {
        entries.push((n, b'0', b, ""));
    }
    zstd::encode_all(&raw_tar(&entries)[..], 3).unwrap()
}

fn disk_member(apparent: u64, extents: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let h = SparseHeader {
        apparent_size: apparent,
        extents: extents.iter().map(|(o, d)| Extent { offset: *o, length: d.len() as u64 }).collect(),
    };
    let mut v = h.encode();
    for (_, d) in extents {
        v.extend_from_slice(d);
    }
    v
}

fn manifest_for(name: &str, member: &[u8], apparent: u64, data: u64) -> serde_json::Value {
    serde_json::json!({
        "format": "kvmhost-vmcast", "version": 1,
        "metadata": {"name": "evil", "description": "", "created_at": ""},
        "domain_xml": DOMAIN, "snapshots": [],
        "disks": [{"file_name": name, "size": member.len(), "sha256": hex(&sha2::Sha256::digest(member)),
                   "apparent_size": apparent, "data_bytes": data}]
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn native_tampering_is_detected() {
    let member = disk_member(1 << 20, &[(4096, vec![5u8; 10_000])]);
    let m = manifest_for("vda.img", &member, 1 << 20, 10_000);
    let good = native(&m, None, &[("disks/vda.img", member.clone())]);
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("good"), &good).unwrap();
    archive::verify(&t.path().join("good"), &ReadOptions::default(), &mut |_| {})
        .expect("the hand-made package is valid");

    let mut flipped = member.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    refused(&native(&m, None, &[("disks/vda.img", flipped)]), &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::ChecksumMismatch { .. })
    });
    let mut longer = member.clone();
    longer.extend_from_slice(&[0u8; 512]);
    refused(&native(&m, None, &[("disks/vda.img", longer)]), &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::SizeMismatch { .. })
    });
    refused(
        &native(&m, None, &[("disks/vda.img", member.clone()), ("disks/extra", vec![1])]),
        &ReadOptions::default(),
        |e| matches!(e, ArchiveError::Unexpected { .. }),
    );
    refused(
        &native(&m, None, &[("disks/vda.img", member.clone()), ("disks/vda.img", member.clone())]),
        &ReadOptions::default(),
        |e| matches!(e, ArchiveError::Duplicate { .. }),
    );
    refused(&native(&m, None, &[]), &ReadOptions::default(), |e| matches!(e, ArchiveError::Missing { .. }));
    for cut in [20, good.len() / 2, good.len() - 8] {
        refused(&good[..cut], &ReadOptions::default(), |e| {
            matches!(e, ArchiveError::Truncated { .. } | ArchiveError::Corrupt { .. })
        });
    }
    // Unsafe names in the manifest.
    for name in ["../evil", "/tmp/kvmhost-evil", "domain.xml", "a/b"] {
        let m = manifest_for(name, &member, 1 << 20, 10_000);
        refused(&native(&m, None, &[(&format!("disks/{name}"), member.clone())]), &ReadOptions::default(), |e| {
            matches!(e, ArchiveError::Manifest(_))
        });
    }
    // A symlink in place of the disk.
    let bytes = {
        let json = serde_json::to_vec(&m).unwrap();
        zstd::encode_all(
            &raw_tar(&[("manifest.json", b'0', &json, ""), ("disks/vda.img", b'2', b"", "/etc/shadow")])[..],
            3,
        )
        .unwrap()
    };
    refused(&bytes, &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::SizeMismatch { .. } | ArchiveError::ForbiddenEntry { .. })
    });
    // Overlapping extents (the manifest agrees with the member: only the table is wrong).
    let mut bad = disk_member(1 << 20, &[(0, vec![1u8; 8192]), (4096, vec![2u8; 100])]);
    let m2 = manifest_for("vda.img", &bad, 1 << 20, 8292);
    refused(&native(&m2, None, &[("disks/vda.img", bad.clone())]), &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::Corrupt { .. })
    });
    // A sparse header claiming more extents than the member holds.
    bad[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    let m3 = manifest_for("vda.img", &bad, 1 << 20, 8292);
    refused(&native(&m3, None, &[("disks/vda.img", bad)]), &ReadOptions::default(), |e| {
        matches!(e, ArchiveError::LimitExceeded { .. } | ArchiveError::Corrupt { .. })
    });
    // Domain XML nested a million deep, inside the manifest.
    let mut deep = m.clone();
    deep["domain_xml"] = format!("<domain>{}{}</domain>", "<a>".repeat(1_000_000), "</a>".repeat(1_000_000)).into();
    refused(&native(&deep, None, &[("disks/vda.img", member.clone())]), &ReadOptions::default(), |e| {
        matches!(
            e,
            ArchiveError::Manifest(ManifestError::Domain(DomainError::Xml(XmlError::LimitExceeded {
                limit: Limit::Depth,
                line: 1,
                column: 774, // after `<domain>` and 255 `<a>`: the 257th level
                ..
            })))
        )
    });
    // And a snapshot nested a million deep.
    let mut deep = m.clone();
    deep["snapshots"] = vec![format!("{}{}", "<a>".repeat(1_000_000), "</a>".repeat(1_000_000))].into();
    refused(&native(&deep, None, &[("disks/vda.img", member.clone())]), &ReadOptions::default(), |e| {
        matches!(
            e,
            ArchiveError::Manifest(ManifestError::Snapshot {
                index: 0,
                source: XmlError::LimitExceeded { limit: Limit::Depth, line: 1, column: 769, .. }
            })
        )
    });
    // The manifest first, always.
    let json = serde_json::to_vec(&m).unwrap();
    let swapped =
        zstd::encode_all(&raw_tar(&[("disks/vda.img", b'0', &member, ""), ("manifest.json", b'0', &json, "")])[..], 3)
            .unwrap();
    refused(&swapped, &ReadOptions::default(), |e| matches!(e, ArchiveError::Unexpected { .. }));
}

#[test]
fn native_bombs_and_forged_signatures() {
    // 64 MiB of zeros declared as data: tiny compressed, stopped by the ratio.
    let zeros = vec![0u8; 64 << 20];
    let member = disk_member(1 << 30, &[(0, zeros)]);
    let m = manifest_for("vda.img", &member, 1 << 30, 64 << 20);
    let bomb = native(&m, None, &[("disks/vda.img", member)]);
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    let mut limits = Limits::default();
    limits.ratio_floor = 1 << 20;
    refused(&bomb, &ReadOptions::default().with_limits(limits), |e| matches!(e, ArchiveError::LimitExceeded { .. }));
    // A disk whose apparent size is beyond the limit is refused from the manifest alone.
    let mut limits = Limits::default();
    limits.max_disk_size = 1 << 20;
    refused(&bomb, &ReadOptions::default().with_limits(limits), |e| matches!(e, ArchiveError::Manifest(_)));

    // Signatures: a manifest changed after signing, a signature by another key, none at all.
    let member = disk_member(1 << 20, &[(0, vec![1u8; 100])]);
    let m = manifest_for("vda.img", &member, 1 << 20, 100);
    let (sk, pk) = signing::generate_keypair().unwrap();
    let (other_sk, _) = signing::generate_keypair().unwrap();
    let signed_json = serde_json::to_vec(&m).unwrap();
    let sig = signing::sign(&sk, &signed_json).unwrap();
    let opts = ReadOptions::trusting(vec![pk]);
    let mut forged = m.clone();
    forged["metadata"]["name"] = "forged".into();
    refused(&native(&forged, Some(&sig), &[("disks/vda.img", member.clone())]), &opts, |e| {
        matches!(e, ArchiveError::Signature(signing::SigningError::Invalid(_)))
    });
    let other_sig = signing::sign(&other_sk, &signed_json).unwrap();
    refused(&native(&m, Some(&other_sig), &[("disks/vda.img", member.clone())]), &opts, |e| {
        matches!(e, ArchiveError::Signature(signing::SigningError::UntrustedKey(_)))
    });
    refused(&native(&m, None, &[("disks/vda.img", member.clone())]), &opts, |e| matches!(e, ArchiveError::Unsigned));
    refused(
        &native(&m, Some("untrusted comment: x\nnot a signature"), &[("disks/vda.img", member.clone())]),
        &opts,
        |e| matches!(e, ArchiveError::Signature(_)),
    );
    // And the genuine one passes.
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("ok");
    let mut f = fs::File::create(&p).unwrap();
    f.write_all(&native(&m, Some(&sig), &[("disks/vda.img", member)])).unwrap();
    archive::unpack(&p, &t.path().join("out"), &opts, &mut |_| {}).unwrap();
}

#[test]
fn hostile_feeds_are_typed_errors() {
    let l = Limits::default();
    let item = |enc: &str, extra: &str| {
        format!("<rss version='2.0' xmlns:k='urn:x-kvmhost:vmcast:1'><channel><title>t</title><item><title>a</title><uuid>u</uuid>{enc}{extra}</item></channel></rss>")
    };
    type Case = (String, fn(&FeedError) -> bool);
    let cases: Vec<Case> = vec![
        (item("<enclosure url='http://h/a' length='10'/>", "<k:size>11</k:size>"), |e| {
            matches!(e, FeedError::BadValue { .. })
        }),
        (item("<enclosure url='http://h/a' length='10'/>", "<k:sha256>zz</k:sha256>"), |e| {
            matches!(e, FeedError::BadValue { .. })
        }),
        (item("<enclosure url='http://h/a' length='10'/>", "<k:format>exe</k:format>"), |e| {
            matches!(e, FeedError::BadValue { .. })
        }),
        (item("<enclosure url='http://h/a'/>", ""), |e| matches!(e, FeedError::Missing { .. })),
        (item("<enclosure url='http://h/a' length='99999999999999999999999'/>", ""), |e| {
            matches!(e, FeedError::BadValue { .. })
        }),
        (item("<enclosure url='http://h/a' length='1'/>", "<title>x</titl>"), |e| matches!(e, FeedError::Xml { .. })),
        ("<!DOCTYPE x [<!ENTITY a 'aaaa'>]><rss><channel><title>&a;&a;</title></channel></rss>".into(), |_| true),
        ("".into(), |e| matches!(e, FeedError::NotRss(_))),
    ];
    for (xml, want) in cases {
        match feed::parse(xml.as_bytes(), &l) {
            Err(e) => assert!(want(&e), "{xml}: {e:?}"),
            Ok(f) => {
                // Entities are never expanded: no billion laughs.
                assert!(xml.contains("ENTITY"), "accepted: {xml}");
                assert_eq!(f.title, "&a;&a;");
            }
        }
    }
    let mut small = Limits::default();
    small.max_feed_bytes = 100;
    assert!(matches!(feed::parse(&[b' '; 101], &small), Err(FeedError::Limit(_))));
}

/// Tar entries of every forbidden kind, and unsafe tar member names, inside a native package
/// whose manifest is otherwise right: refused, nothing written.
#[test]
fn native_links_devices_and_unsafe_member_names() {
    let member = disk_member(1 << 20, &[(0, vec![7u8; 4096])]);
    let m = manifest_for("vda.img", &member, 1 << 20, 4096);
    let json = serde_json::to_vec(&m).unwrap();
    for (t, link) in [
        (b'1', "../../etc/passwd"),
        (b'1', "manifest.json"),
        (b'2', "/etc/shadow"),
        (b'3', ""),
        (b'4', ""),
        (b'6', ""),
        (b'5', ""),
    ] {
        let bytes =
            zstd::encode_all(&raw_tar(&[("manifest.json", b'0', &json, ""), ("disks/vda.img", t, b"", link)])[..], 3)
                .unwrap();
        refused(&bytes, &ReadOptions::default(), |e| {
            matches!(e, ArchiveError::ForbiddenEntry { .. } | ArchiveError::SizeMismatch { .. })
        });
    }
    // Member names in the tar stream that leave the target, whatever the manifest says.
    for name in ["../vda.img", "/tmp/kvmhost-evil", "disks/../../vda.img", "disks//vda.img", "disks/vda.img/x"] {
        let bytes = zstd::encode_all(&raw_tar(&[("manifest.json", b'0', &json, ""), (name, b'0', &member, "")])[..], 3)
            .unwrap();
        refused(&bytes, &ReadOptions::default(), |e| {
            matches!(
                e,
                ArchiveError::UnsafeName { .. } | ArchiveError::Unexpected { .. } | ArchiveError::Missing { .. }
            )
        });
    }
}

/// A symbolic link planted in the target under a member's name (pointing outside) is never
/// followed: the unpack refuses, the file it points at stays as it was.
#[test]
fn symlinks_already_in_the_target_are_not_followed() {
    use kvmhost_core::domain::Domain;
    use kvmhost_templates::archive::{Format, PackRequest};
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("vda.img");
    sparse_image(&img, 1 << 20, &[(0, &data(8192, 1))]);
    let outside = t.path().join("outside");
    fs::write(&outside, b"precious").unwrap();
    let domain = Domain::parse(DOMAIN).unwrap();
    for format in [Format::Native, Format::Xvm2] {
        let mut req = PackRequest::new(&domain, vec![img.clone()]);
        req.format = format;
        let pkg = t.path().join(format!("p.{format}"));
        archive::pack(&req, &pkg, &mut |_| {}).unwrap();
        for planted in ["vda.img", "domain.xml"] {
            let target = t.path().join(format!("target-{format}-{planted}"));
            fs::create_dir(&target).unwrap();
            std::os::unix::fs::symlink(&outside, target.join(planted)).unwrap();
            let e = archive::unpack(&pkg, &target, &ReadOptions::default(), &mut |_| {}).unwrap_err();
            assert!(matches!(e, ArchiveError::TargetExists { .. }), "{format} {planted}: {e:?}");
            assert_eq!(fs::read(&outside).unwrap(), b"precious");
            assert!(fs::symlink_metadata(target.join(planted)).unwrap().file_type().is_symlink());
            assert_eq!(fs::read_dir(&target).unwrap().count(), 1, "{format}: staged files left behind");
        }
    }
}

/// Feeds nested too deep, with too many items, or too large: typed limit errors, whether
/// parsed from bytes or fetched (here from a file; tests/http.rs does it over HTTP).
#[test]
fn feed_depth_item_and_size_limits() {
    let deep = format!("<rss><channel>{}{}</channel></rss>", "<x>".repeat(100_000), "</x>".repeat(100_000));
    let e = feed::parse(deep.as_bytes(), &Limits::default()).unwrap_err();
    assert!(matches!(e, FeedError::Limit(_)) && e.to_string().contains("nested"), "{e}");
    // Unclosed nesting (no end tags at all) is caught as early.
    let open = format!("<rss><channel>{}", "<x>".repeat(100_000));
    assert!(matches!(feed::parse(open.as_bytes(), &Limits::default()), Err(FeedError::Limit(_))));
    let mut many = String::from("<rss version='2.0'><channel><title>t</title>");
    for i in 0..11 {
        many.push_str(&format!(
            "<item><title>{i}</title><uuid>u{i}</uuid><enclosure url='http://h/{i}' length='1'/></item>"
        ));
    }
    many.push_str("</channel></rss>");
    let mut l = Limits::default();
    l.max_feed_items = 10;
    let e = feed::parse(many.as_bytes(), &l).unwrap_err();
    assert!(matches!(e, FeedError::Limit(_)) && e.to_string().contains("items"), "{e}");
    l.max_feed_items = 11;
    assert_eq!(feed::parse(many.as_bytes(), &l).unwrap().items.len(), 11);
    // Fetched: the size limit stops reading (a feed file of 2 MiB against a 1 MiB limit).
    let t = tempfile::tempdir().unwrap();
    let big = t.path().join("rss.xml");
    let mut f = fs::File::create(&big).unwrap();
    f.write_all(b"<rss><channel><title>").unwrap();
    f.write_all(&vec![b'a'; 2 << 20]).unwrap();
    f.write_all(b"</title></channel></rss>").unwrap();
    let mut l = Limits::default();
    l.max_feed_bytes = 1 << 20;
    let e = kvmhost_templates::catalog::Catalog::fetch_feed(
        big.to_str().unwrap(),
        &kvmhost_templates::transport::FileTransport,
        &l,
    )
    .unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
}
