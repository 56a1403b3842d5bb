//! VMCasts from the command line: pack, verify, unpack, publish feeds, list, download and
//! instantiate appliances (`kvmhost_templates`).
//!
//! ```sh
//! cargo run --release --example vmcast -- pack DOMAIN.xml --disk PATH... [--format native|xvm2] [--sign KEYFILE] [--level N] [--threads N] -o OUT
//! cargo run --release --example vmcast -- verify PKG [--trust PUBKEY]...
//! cargo run --release --example vmcast -- unpack PKG DIR
//! cargo run --release --example vmcast -- feed DIR --base-url URL
//! cargo run --release --example vmcast -- list FEED_URL_OR_FILE [--json]
//! cargo run --release --example vmcast -- download FEED_URL UUID DIR [--trust PUBKEY]...
//! cargo run --release --example vmcast -- instantiate PKG --name NAME DIR [--define URI] [--overlay-base DIR]
//! cargo run --release --example vmcast -- instantiate PKG --name NAME DIR --pool POOL [--connect URI] [--define URI]
//! cargo run --release --example vmcast -- keygen PREFIX      # PREFIX.key (unencrypted) and PREFIX.pub
//! ```
//!
//! Exit status 0 only when everything succeeded (for `verify`: every check passed). Errors are
//! one line on stderr naming the file and the problem. Progress goes to stderr as a bar when
//! stderr is a terminal. An encrypted minisign secret key is opened with the password in
//! `KVMHOST_MINISIGN_PASSWORD`.

#[path = "common/error_chain.rs"]
mod error_chain;
#[path = "common/progress_bar.rs"]
mod progress_bar;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use error_chain::chain;
use kvmhost::core::domain::Domain;
use kvmhost::templates::archive::{self, Format, PackRequest, ReadOptions};
use kvmhost::templates::catalog::{Catalog, DownloadOptions, DownloadOutcome};
use kvmhost::templates::instantiate::{self, InstantiateOptions};
use kvmhost::templates::transport::DefaultTransport;
use kvmhost::templates::{feed, signing};
use progress_bar::Bar;

#[derive(Parser)]
#[command(name = "vmcast", about = "Archipel-style VMCasts: appliance packages, feeds, downloads, instantiation")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Pack a domain and its disk images into a package.
    Pack {
        /// The libvirt domain XML.
        domain: PathBuf,
        /// Disk images (matched to the domain's disks by file name).
        #[arg(long = "disk", required = false, num_args = 1..)]
        disks: Vec<PathBuf>,
        /// Package format.
        #[arg(long, default_value = "native")]
        format: Format,
        /// Sign the manifest with this minisign secret key (native only).
        #[arg(long)]
        sign: Option<PathBuf>,
        /// zstd level (native).
        #[arg(long, default_value_t = 3)]
        level: i32,
        /// zstd worker threads (native; default: one per core plus one).
        #[arg(long)]
        threads: Option<u32>,
        /// Output file.
        #[arg(short = 'o', long = "output")]
        out: PathBuf,
    },
    /// Check a package through (sizes, checksums, structure, signature); writes nothing.
    Verify {
        /// The package.
        pkg: PathBuf,
        /// Trusted minisign public key (repeatable); when given, a signature by one is required.
        #[arg(long = "trust")]
        trust: Vec<PathBuf>,
    },
    /// Unpack a package (either format, detected by content) into a directory.
    Unpack {
        /// The package.
        pkg: PathBuf,
        /// Target directory (created; existing files are never overwritten).
        dir: PathBuf,
        /// Trusted minisign public key (repeatable).
        #[arg(long = "trust")]
        trust: Vec<PathBuf>,
    },
    /// Write DIR/rss.xml listing the packages in DIR.
    Feed {
        /// Directory of packages.
        dir: PathBuf,
        /// URL under which DIR is served.
        #[arg(long)]
        base_url: String,
        /// Channel title.
        #[arg(long)]
        title: Option<String>,
    },
    /// List the appliances of a feed.
    List {
        /// Feed URL (http://, https://, file://) or file.
        feed: String,
        /// One JSON array instead of one line per appliance.
        #[arg(long)]
        json: bool,
    },
    /// Download (or resume) an appliance into DIR, then verify it.
    Download {
        /// Feed URL.
        feed: String,
        /// The appliance's UUID.
        uuid: String,
        /// Download directory (its catalog lives there too).
        dir: PathBuf,
        /// Trusted minisign public key (repeatable).
        #[arg(long = "trust")]
        trust: Vec<PathBuf>,
        /// Stop after this many bytes (the next run resumes).
        #[arg(long, hide = true)]
        max_bytes: Option<u64>,
    },
    /// Make a new VM from a package in DIR; prints the new domain XML's path.
    Instantiate {
        /// The package.
        pkg: PathBuf,
        /// The new VM's name.
        #[arg(long)]
        name: String,
        /// The VM's directory.
        dir: PathBuf,
        /// Define the domain on this libvirt URI.
        #[arg(long)]
        define: Option<String>,
        /// Unpack the package once into this directory as golden images and give the VM qcow2
        /// overlays on them.
        #[arg(long, conflicts_with = "pool")]
        overlay_base: Option<PathBuf>,
        /// Put the disks into this libvirt storage pool: one new volume per image (NAME-FILE),
        /// uploaded after the package was unpacked and verified in a scratch directory in DIR.
        #[arg(long)]
        pool: Option<String>,
        /// The libvirt URI of the pool (default: the --define URI, else qemu:///system).
        #[arg(long, requires = "pool")]
        connect: Option<String>,
        /// Trusted minisign public key (repeatable).
        #[arg(long = "trust")]
        trust: Vec<PathBuf>,
    },
    /// Make a minisign key pair (unencrypted): PREFIX.key and PREFIX.pub.
    Keygen {
        /// Path prefix.
        prefix: PathBuf,
    },
}

fn keys(paths: &[PathBuf]) -> Result<Vec<signing::PublicKey>, String> {
    paths.iter().map(|p| signing::PublicKey::from_file(p).map_err(|e| chain(&e))).collect()
}

fn read_opts(trust: &[PathBuf]) -> Result<ReadOptions, String> {
    Ok(ReadOptions::trusting(keys(trust)?))
}

fn run(cli: Cli) -> Result<(), String> {
    let mut bar = Bar::new("", false);
    match cli.cmd {
        Cmd::Pack { domain, disks, format, sign, level, threads, out } => {
            let xml = std::fs::read_to_string(&domain).map_err(|e| format!("{}: {}", domain.display(), chain(&e)))?;
            let d = Domain::parse(&xml).map_err(|e| format!("{}: {}", domain.display(), chain(&e)))?;
            let password = std::env::var("KVMHOST_MINISIGN_PASSWORD").ok();
            let key = sign
                .as_deref()
                .map(|p| signing::SecretKey::from_file(p, password.as_deref()))
                .transpose()
                .map_err(|e| chain(&e))?;
            if key.is_some() && format == Format::Xvm2 {
                return Err(format!("{}: .xvm2 packages cannot be signed (use --format native)", out.display()));
            }
            let mut req = PackRequest::new(&d, disks);
            req.format = format;
            req.sign = key.as_ref();
            req.level = level;
            if let Some(t) = threads {
                req.threads = t.max(1);
            }
            let rep = archive::pack(&req, &out, &mut |p| bar.update(p))
                .map_err(|e| format!("{}: {}", out.display(), chain(&e)))?;
            bar.done();
            println!("{} {} bytes", rep.path.display(), rep.size);
        }
        Cmd::Verify { pkg, trust } => {
            let p = archive::verify(&pkg, &read_opts(&trust)?, &mut |p| bar.update(p))
                .map_err(|e| format!("{}: {}", pkg.display(), chain(&e)))?;
            bar.done();
            println!("{}: OK {} {} disk(s), {}", pkg.display(), p.format, p.disks.len(), p.signature);
        }
        Cmd::Unpack { pkg, dir, trust } => {
            let p = archive::unpack(&pkg, &dir, &read_opts(&trust)?, &mut |p| bar.update(p))
                .map_err(|e| format!("{}: {}", pkg.display(), chain(&e)))?;
            bar.done();
            for f in p.files {
                println!("{}", f.display());
            }
        }
        Cmd::Feed { dir, base_url, title } => {
            let mut opts = feed::GenerateOptions::default();
            opts.title = title;
            let (path, _) =
                feed::generate(&dir, &base_url, &opts).map_err(|e| format!("{}: {}", dir.display(), chain(&e)))?;
            println!("{}", path.display());
        }
        Cmd::List { feed: url, json } => {
            let f =
                Catalog::fetch_feed(&url, &DefaultTransport::default(), &Default::default()).map_err(|e| chain(&e))?;
            if json {
                let items: Vec<serde_json::Value> = f
                    .items
                    .iter()
                    .map(|i| {
                        serde_json::json!({
                            "uuid": i.uuid, "title": i.title, "url": i.enclosure.url, "size": i.enclosure.length,
                            "date": i.published.map(kvmhost::templates::date::rfc3339).or(i.pub_date.clone()),
                            "sha256": i.sha256, "format": i.format, "key_id": i.key_id,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&items).expect("JSON"));
            } else {
                for i in &f.items {
                    let date =
                        i.published.map(kvmhost::templates::date::rfc3339).or(i.pub_date.clone()).unwrap_or_default();
                    println!("{}\t{}\t{}\t{}\t{}", i.uuid, i.enclosure.length, date, i.title, i.enclosure.url);
                }
            }
        }
        Cmd::Download { feed: url, uuid, dir, trust, max_bytes } => {
            let t = DefaultTransport::default();
            let mut cat = Catalog::open(&dir).map_err(|e| chain(&e))?;
            cat.subscribe(&url, &t).map_err(|e| chain(&e))?;
            let mut opts = DownloadOptions::verifying(read_opts(&trust)?);
            if let Some(m) = max_bytes {
                opts = opts.budget(m);
            }
            match cat.download(&uuid, &t, &opts, &mut |p| bar.update(p)).map_err(|e| chain(&e))? {
                DownloadOutcome::Complete { path, .. } => {
                    bar.done();
                    println!("{}", path.display());
                }
                DownloadOutcome::Paused { bytes, total } => {
                    bar.done();
                    return Err(format!("{uuid}: stopped at {bytes} of {total} bytes (run again to resume)"));
                }
                _ => {}
            }
        }
        Cmd::Instantiate { pkg, name, dir, define, overlay_base, pool: Some(pool), connect, trust } => {
            let opts = read_opts(&trust)?;
            let uri = connect.or_else(|| define.clone()).unwrap_or_else(|| "qemu:///system".into());
            let conn = kvmhost::libvirt::Connection::open(&uri).map_err(|e| chain(&e))?;
            debug_assert!(overlay_base.is_none());
            // Unpacked (and so verified) in a scratch directory first: only checked data reaches
            // the pool. The scratch directory goes away in every case.
            let scratch = dir.join(format!(".{name}.unpack"));
            struct Scratch<'a>(&'a Path);
            impl Drop for Scratch<'_> {
                fn drop(&mut self) {
                    let _ = std::fs::remove_dir_all(self.0);
                }
            }
            if scratch.exists() {
                return Err(format!("{}: already exists (another instantiation of {name}?)", scratch.display()));
            }
            let _guard = Scratch(&scratch);
            let package = archive::unpack(&pkg, &scratch, &opts, &mut |p| bar.update(p))
                .map_err(|e| format!("{}: {}", pkg.display(), chain(&e)))?;
            let vm = instantiate::instantiate_in_pool(
                &package,
                &conn,
                &pool,
                &dir,
                &InstantiateOptions::new(&name),
                &mut |p| bar.update(p),
            )
            .map_err(|e| format!("{pool}: {}", chain(&e)))?;
            bar.done();
            if let Some(uri) = define {
                instantiate::define(&uri, &vm.domain).map_err(|e| format!("{uri}: {}", chain(&e)))?;
            }
            println!("{}", vm.xml_path.display());
        }
        Cmd::Instantiate { pkg, name, dir, define, overlay_base, pool: None, connect: _, trust } => {
            let opts = read_opts(&trust)?;
            let (package, mut iopts) = match &overlay_base {
                Some(base) => {
                    let p = if base.join("domain.xml").exists() {
                        // Already unpacked: verify the package, then use the images there.
                        let mut p = archive::verify(&pkg, &opts, &mut |p| bar.update(p))
                            .map_err(|e| format!("{}: {}", pkg.display(), chain(&e)))?;
                        for d in &mut p.disks {
                            d.path = Some(base.join(&d.file_name));
                        }
                        p
                    } else {
                        archive::unpack(&pkg, base, &opts, &mut |p| bar.update(p))
                            .map_err(|e| format!("{}: {}", pkg.display(), chain(&e)))?
                    };
                    (p, InstantiateOptions::new(&name).overlay())
                }
                None => {
                    let p = archive::unpack(&pkg, &dir, &opts, &mut |p| bar.update(p))
                        .map_err(|e| format!("{}: {}", pkg.display(), chain(&e)))?;
                    (p, InstantiateOptions::new(&name))
                }
            };
            bar.done();
            iopts.uuid = None;
            let vm = instantiate::instantiate(&package, &dir, &iopts)
                .map_err(|e| format!("{}: {}", dir.display(), chain(&e)))?;
            if let Some(uri) = define {
                instantiate::define(&uri, &vm.domain).map_err(|e| format!("{uri}: {}", chain(&e)))?;
            }
            println!("{}", vm.xml_path.display());
        }
        Cmd::Keygen { prefix } => {
            let (sk, pk) = signing::generate_keypair().map_err(|e| chain(&e))?;
            let key = prefix.with_extension("key");
            let pubf = prefix.with_extension("pub");
            write_new(&key, signing::secret_key_text(&sk).map_err(|e| chain(&e))?.as_bytes(), 0o600)?;
            write_new(&pubf, pk.to_text().as_bytes(), 0o644)?;
            println!("{}\n{}", key.display(), pubf.display());
        }
    }
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("{}: {}", path.display(), chain(&e)))?;
    f.write_all(bytes).map_err(|e| format!("{}: {}", path.display(), chain(&e)))
}

/// Logs to stderr when `RUST_LOG` asks for it (`RUST_LOG=info` shows downloads, packs and
/// unpacks); errors are printed by the program itself.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colour).with_writer(std::io::stderr).init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vmcast: {}", e.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
