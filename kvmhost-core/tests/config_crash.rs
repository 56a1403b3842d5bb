//! A write that really fails half way (the file size limit, `RLIMIT_FSIZE`, makes `write`
//! return EFBIG): the old file is kept and no temporary file is left. Alone in its test
//! binary, because the limit is per process.

use kvmhost_core::config::{FileEdit, WriteOptions};

#[test]
fn a_write_failing_for_real_leaves_the_old_file() {
    let dir = std::env::temp_dir().join(format!("kvmhost-config-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("qemu.conf");
    let old = "vnc_listen = \"127.0.0.1\"\n";
    std::fs::write(&path, old).unwrap();
    let new = format!("vnc_listen = \"0.0.0.0\"\n{}", "# padding\n".repeat(1000));
    let edit = FileEdit::text(&path, "/etc/libvirt/qemu.conf", Some(old.into()), new);

    // SAFETY: setrlimit and signal with valid arguments; SIGXFSZ ignored so that exceeding
    // the limit is an EFBIG error instead of killing the process.
    let limited = unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit { rlim_cur: 4096, rlim_max: libc::RLIM_INFINITY };
        libc::setrlimit(libc::RLIMIT_FSIZE, &lim) == 0
    };
    assert!(limited, "setrlimit: {}", std::io::Error::last_os_error());
    let result = edit.apply(&WriteOptions::default());
    // SAFETY: as above.
    unsafe {
        let lim = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
        libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
    }
    let err = result.unwrap_err();
    assert!(err.to_string().starts_with("cannot write "), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), old);
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["qemu.conf"], "no temporary file, no backup");
    // Without the limit the same edit succeeds.
    assert!(edit.apply(&WriteOptions::default()).unwrap().changed);
    std::fs::remove_dir_all(&dir).unwrap();
}
