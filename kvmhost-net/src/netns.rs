//! Which network namespace an operation works in. `setns(2)` switches only the calling thread,
//! so work inside another namespace runs on a dedicated thread that enters the namespace first
//! and never leaves it (it ends instead); sockets opened there stay bound to that namespace
//! when they are used from other threads afterwards. No namespace switch is ever held across an
//! `.await`.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

use nix::sched::{setns, CloneFlags};

use crate::Error;

/// A network namespace to work in.
///
/// ```
/// use kvmhost_net::Netns;
/// assert_eq!(Netns::named("blue").to_string(), "/run/netns/blue");
/// assert_eq!(Netns::Current.to_string(), "the current namespace");
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Netns {
    /// The namespace of the calling thread.
    #[default]
    Current,
    /// A namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`).
    Path(PathBuf),
    /// An open namespace file descriptor.
    Fd(Arc<OwnedFd>),
}

impl Netns {
    /// A namespace made by `ip netns add NAME`.
    ///
    /// ```
    /// assert!(matches!(kvmhost_net::Netns::named("x"), kvmhost_net::Netns::Path(_)));
    /// ```
    pub fn named(name: &str) -> Self {
        Self::Path(PathBuf::from("/run/netns").join(name))
    }

    /// Enter this namespace on the calling thread. Only for threads that are about to end or that
    /// stay in the namespace: there is no way back.
    fn enter(&self) -> Result<(), Error> {
        let fd: OwnedFd = match self {
            Netns::Current => return Ok(()),
            Netns::Path(p) => File::open(p).map_err(|source| Error::Netns { netns: self.to_string(), source })?.into(),
            Netns::Fd(fd) => {
                fd.as_fd().try_clone_to_owned().map_err(|source| Error::Netns { netns: self.to_string(), source })?
            }
        };
        setns(fd, CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::Netns { netns: self.to_string(), source: std::io::Error::from_raw_os_error(e as i32) })
    }

    /// Run `f` on a fresh thread that has entered this namespace, and return its result.
    ///
    /// ```
    /// let n = kvmhost_net::Netns::Current.run(|| 40 + 2).unwrap();
    /// assert_eq!(n, 42);
    /// ```
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let me = self.clone();
        let t = std::thread::Builder::new()
            .name("kvmhost-netns".into())
            .spawn(move || -> Result<T, Error> {
                me.enter()?;
                Ok(f())
            })
            .map_err(|source| Error::Netns { netns: self.to_string(), source })?;
        t.join().map_err(|_| Error::Netns {
            netns: self.to_string(),
            source: std::io::Error::other("the namespace thread panicked"),
        })?
    }
}

impl std::fmt::Display for Netns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Netns::Current => write!(f, "the current namespace"),
            Netns::Path(p) => write!(f, "{}", p.display()),
            Netns::Fd(fd) => write!(f, "namespace fd {fd:?}"),
        }
    }
}
