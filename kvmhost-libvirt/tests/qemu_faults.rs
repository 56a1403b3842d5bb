//! Fault tests against the real libvirtd of scripts/services/libvirtd.sh (configured with
//! `max_clients = 20`): the daemon killed during use gives typed `ConnectionLost` errors and the
//! connection recovers by itself once the daemon is back; an event stream from
//! `Hypervisor::events` re-registers by itself after the restart and delivers the events of a
//! domain started afterwards; 500 concurrent callers share one connection and all succeed. The
//! tests take turns (two kill the daemon).
//! Both print SKIP and return when `KVMHOST_QEMU_URI` is unset.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use kvmhost_core::domain::{Display, DomainBuilder, DomainType};
use kvmhost_libvirt::connection::{Backoff, ConnectOptions};
use kvmhost_libvirt::events::HostEvents;
use kvmhost_libvirt::{DomainFilter, DomainId, Hypervisor, LibvirtError, LibvirtHypervisor, UndefineOptions};

static SERIAL: Mutex<()> = Mutex::new(());

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn uri() -> Option<String> {
    match std::env::var("KVMHOST_QEMU_URI") {
        Ok(u) => Some(u),
        Err(_) => {
            println!("SKIP: libvirtd not started (run ./scripts/test.sh; KVMHOST_QEMU_URI unset)");
            None
        }
    }
}

fn options() -> ConnectOptions {
    ConnectOptions {
        reconnect: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
            give_up_after: Duration::from_millis(600),
        },
        ..ConnectOptions::default()
    }
}

#[test]
fn killed_daemon_gives_connection_lost_then_recovers() {
    let Some(uri) = uri() else { return };
    let (Ok(pidfile), Ok(relaunch)) =
        (std::env::var("KVMHOST_LIBVIRTD_PIDFILE"), std::env::var("KVMHOST_LIBVIRTD_RELAUNCH"))
    else {
        println!("SKIP: KVMHOST_LIBVIRTD_PIDFILE / KVMHOST_LIBVIRTD_RELAUNCH unset");
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    rt().block_on(async {
        let hv = LibvirtHypervisor::connect_with(&uri, options()).await.unwrap();
        hv.versions().await.unwrap();
        let generation = hv.connection().generation();

        let pid = std::fs::read_to_string(&pidfile).unwrap().trim().parse::<i32>().unwrap();
        assert_eq!(unsafe_free_kill(pid), 0, "kill -9 libvirtd {pid}");
        // Wait until the process is gone.
        let t0 = Instant::now();
        while std::path::Path::new(&format!("/proc/{pid}")).exists() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }

        // Every call while the daemon is down fails with the typed error, quickly.
        for _ in 0..3 {
            let t = Instant::now();
            let err = hv.list_domains(DomainFilter::All).await.unwrap_err();
            assert!(matches!(err, LibvirtError::ConnectionLost { .. }), "{err:?}");
            assert!(t.elapsed() < Duration::from_secs(3), "took {:?}", t.elapsed());
        }
        assert!(!hv.connection().is_connected());

        // Bring the daemon back: the next call reconnects by itself.
        let mut cmd = relaunch.split_whitespace();
        let status = std::process::Command::new(cmd.next().unwrap()).args(cmd).status().unwrap();
        assert!(status.success());
        let t = Instant::now();
        let domains = loop {
            match hv.list_domains(DomainFilter::All).await {
                Ok(d) => break d,
                Err(e) if e.is_connection_lost() && t.elapsed() < Duration::from_secs(20) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("no recovery: {e:?}"),
            }
        };
        let _ = domains;
        assert!(hv.connection().generation() > generation);
        assert!(hv.connection().is_connected());
        hv.versions().await.unwrap();
    });
}

/// The fault-test environment: URI, libvirtd's pidfile and its relaunch command.
fn fault_env() -> Option<(String, String, String)> {
    let uri = uri()?;
    match (std::env::var("KVMHOST_LIBVIRTD_PIDFILE"), std::env::var("KVMHOST_LIBVIRTD_RELAUNCH")) {
        (Ok(pidfile), Ok(relaunch)) => Some((uri, pidfile, relaunch)),
        _ => {
            println!("SKIP: KVMHOST_LIBVIRTD_PIDFILE / KVMHOST_LIBVIRTD_RELAUNCH unset");
            None
        }
    }
}

/// `kill -9` libvirtd and wait until the process is gone.
fn kill_daemon(pidfile: &str) {
    let pid = std::fs::read_to_string(pidfile).unwrap().trim().parse::<i32>().unwrap();
    assert_eq!(unsafe_free_kill(pid), 0, "kill -9 libvirtd {pid}");
    let t0 = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn relaunch_daemon(relaunch: &str) {
    let mut cmd = relaunch.split_whitespace();
    let status = std::process::Command::new(cmd.next().unwrap()).args(cmd).status().unwrap();
    assert!(status.success(), "relaunch failed");
}

/// The kinds of the events of `name` until `last` arrives (or 30 s pass).
async fn kinds_until(events: &mut HostEvents, name: &str, last: &str) -> Vec<&'static str> {
    let mut seen = vec![];
    while let Some(ev) = events.recv_timeout(Duration::from_secs(30)).await {
        if ev.domain == name {
            seen.push(ev.kind.name());
            if ev.kind.name() == last {
                break;
            }
        }
    }
    seen
}

#[test]
fn event_stream_survives_a_killed_daemon_and_delivers_after_relaunch() {
    let Some((uri, pidfile, relaunch)) = fault_env() else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let kvm = std::path::Path::new("/dev/kvm").exists();
    let vm = |name: &str| {
        DomainBuilder::new(name)
            .domain_type(if kvm { DomainType::Kvm } else { DomainType::Qemu })
            .memory_mib(64)
            .vcpus(1)
            .without_default_nic()
            .display(Display::Headless)
            .build()
            .unwrap()
    };
    rt().block_on(async {
        let hv = LibvirtHypervisor::connect_with(&uri, options()).await.unwrap();
        let mut events = hv.events(None).await.unwrap();
        let generation = hv.connection().generation();
        assert_eq!(events.registered_generation(), generation);

        // Delivered before the fault.
        let before = "lvint-ev-before";
        let _ = hv.undefine(&DomainId::name(before), UndefineOptions::default()).await;
        let d = hv.define(&vm(before)).await.unwrap();
        hv.undefine(&d.domain_id(), UndefineOptions::default()).await.unwrap();
        assert_eq!(kinds_until(&mut events, before, "Undefined").await, ["Defined", "Undefined"]);

        kill_daemon(&pidfile);
        relaunch_daemon(&relaunch);
        // No call of ours: the stream's own probe notices the dead connection, reconnects
        // and registers again on the new connection.
        assert!(
            events.wait_registered(generation + 1, Duration::from_secs(30)).await,
            "the stream did not re-register (registered on generation {})",
            events.registered_generation()
        );
        assert!(hv.connection().generation() > generation);

        // A domain started after the relaunch: its lifecycle arrives on the same stream.
        let after = "lvint-ev-after";
        let _ = hv.destroy(&DomainId::name(after)).await;
        let _ = hv.undefine(&DomainId::name(after), UndefineOptions::default()).await;
        let d = hv.define(&vm(after)).await.unwrap();
        let id = d.domain_id();
        hv.start(&id).await.unwrap();
        hv.destroy(&id).await.unwrap();
        hv.undefine(&id, UndefineOptions::default()).await.unwrap();
        let seen = kinds_until(&mut events, after, "Undefined").await;
        // QEMU adds Resumed (CPUs start) and Shutdown (process ends) in between.
        let wanted = ["Defined", "Started", "Stopped", "Undefined"];
        let mut rest = seen.iter();
        assert!(wanted.iter().all(|w| rest.any(|k| k == w)), "events after the relaunch: {seen:?}");
    });
}

/// `kill -9 PID` through the `kill` binary (no unsafe libc call needed).
fn unsafe_free_kill(pid: i32) -> i32 {
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .map(|s| s.code().unwrap_or(1))
        .unwrap_or(1)
}

#[test]
fn five_hundred_concurrent_callers_share_one_client_slot() {
    let Some(uri) = uri() else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // Occupy 19 of the daemon's 20 client slots with plain connections (a 21st client would
    // hang in connect until one is freed): all 500 callers must make do with the last slot.
    let held: Vec<virt::connect::Connect> = (0..19)
        .map(|i| virt::connect::Connect::open(Some(&uri)).unwrap_or_else(|e| panic!("raw client {i}: {e}")))
        .collect();
    rt().block_on(async {
        let mut tasks = Vec::new();
        for i in 0..500 {
            let uri = uri.clone();
            tasks.push(tokio::spawn(async move {
                // Each caller connects on its own, as independent components of an agent would.
                let hv = LibvirtHypervisor::connect_with(&uri, options()).await?;
                let domains = hv.list_domains(DomainFilter::All).await?;
                let versions = hv.versions().await?;
                if i % 10 == 0 {
                    hv.capabilities().await?;
                }
                Ok::<_, LibvirtError>((domains.len(), versions.driver))
            }));
        }
        let mut failures = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok((_, driver)) => assert_eq!(driver, "QEMU"),
                Err(e) => failures.push(e.to_string()),
            }
        }
        assert!(failures.is_empty(), "{} of 500 failed, first: {:?}", failures.len(), failures.first());
    });
    drop(held);
}
