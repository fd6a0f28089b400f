//! The process's open-file limit (RLIMIT_NOFILE). Every device holds a socket,
//! and a generator started from a shell inherits the shell's soft limit (often
//! 1024) although the hard limit allows far more; Node cannot call setrlimit,
//! so the generator and sgcli raise it here at start.

use std::io;

/// The limit as it stands after `raise_open_file_limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFileLimit {
    /// The soft limit now in force: how many descriptors the process may hold.
    pub soft: u64,
    /// The hard limit: the most an unprivileged process may raise `soft` to.
    pub hard: u64,
    /// The soft limit before the call.
    pub previous: u64,
}

/// `u64::MAX` stands for "unlimited" (RLIM_INFINITY) in every field.
pub const UNLIMITED: u64 = u64::MAX;

/// Reads the limit without changing it (`previous` equals `soft`).
pub fn open_file_limit() -> io::Result<OpenFileLimit> {
    let (soft, hard) = get()?;
    Ok(OpenFileLimit { soft, hard, previous: soft })
}

/// Raises the soft limit to the hard limit. Where the hard limit is unlimited
/// the kernel still caps descriptors (`nr_open` on Linux, `OPEN_MAX` on macOS):
/// the soft limit then goes as high as the kernel accepts, halving from 2^30.
pub fn raise_open_file_limit() -> io::Result<OpenFileLimit> {
    let (previous, hard) = get()?;
    if previous == hard {
        return Ok(OpenFileLimit { soft: previous, hard, previous });
    }
    if hard != UNLIMITED {
        set(hard, hard)?;
        return Ok(OpenFileLimit { soft: hard, hard, previous });
    }
    let mut wanted: u64 = 1 << 30;
    while wanted > previous {
        if set(wanted, hard).is_ok() {
            return Ok(OpenFileLimit { soft: wanted, hard, previous });
        }
        wanted /= 2;
    }
    Ok(OpenFileLimit { soft: previous, hard, previous })
}

// rlim_t is u64 on Linux and macOS but not everywhere libc runs.
#[allow(clippy::unnecessary_cast)]
fn from_rlim(value: libc::rlim_t) -> u64 {
    if value == libc::RLIM_INFINITY {
        UNLIMITED
    } else {
        value as u64
    }
}

#[allow(clippy::unnecessary_cast)]
fn to_rlim(value: u64) -> libc::rlim_t {
    if value == UNLIMITED {
        libc::RLIM_INFINITY
    } else {
        value as libc::rlim_t
    }
}

fn get() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((from_rlim(limit.rlim_cur), from_rlim(limit.rlim_max)))
}

fn set(soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit { rlim_cur: to_rlim(soft), rlim_max: to_rlim(hard) };
    // SAFETY: setrlimit only reads the struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_leaves_the_soft_limit_at_the_hard_one_and_says_what_it_was() {
        let before = open_file_limit().unwrap();
        assert_eq!(before.previous, before.soft);
        // Lower it first, as a shell with `ulimit -Sn 256` would, so the raise has work to do.
        if before.hard > 256 {
            set(256, before.hard).unwrap();
        }
        let raised = raise_open_file_limit().unwrap();
        assert_eq!(raised.previous, before.hard.min(256));
        assert_eq!(raised.hard, before.hard);
        if before.hard != UNLIMITED {
            assert_eq!(raised.soft, before.hard);
        } else {
            assert!(raised.soft > 256);
        }
        assert_eq!(open_file_limit().unwrap().soft, raised.soft);
        let again = raise_open_file_limit().unwrap();
        assert_eq!((again.soft, again.previous), (raised.soft, raised.soft), "a second raise changes nothing");
    }
}
