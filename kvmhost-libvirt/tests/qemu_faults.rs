//! Fault tests against the real libvirtd of scripts/services/libvirtd.sh (configured with
//! `max_clients = 20`): the daemon killed during use gives typed `ConnectionLost` errors and the
//! connection recovers by itself once the daemon is back; 500 concurrent callers share one
//! connection and all succeed. The two tests take turns (one kills the daemon).
//! Both print SKIP and return when `KVMHOST_QEMU_URI` is unset.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use kvmhost_libvirt::connection::{Backoff, ConnectOptions};
use kvmhost_libvirt::{DomainFilter, Hypervisor, LibvirtError, LibvirtHypervisor};

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
