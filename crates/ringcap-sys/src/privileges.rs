//! Giving up root, as tcpdump's `-Z USER` does: look the user up in the password database,
//! then `initgroups`, `setgid`, `setuid`, in that order (the groups while still allowed to set
//! them, the user id last, as it takes away the right to change the others).
//!
//! glibc applies `setuid`/`setgid` to every thread of the process, so threads started before
//! the drop lose root too. Descriptors opened before it (packet sockets, mapped rings) stay
//! usable: that is the point, open the privileged things first, then drop.

use std::ffi::{CStr, CString};

use crate::{cvt, Errno, Error, Result};

/// A user from the password database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    /// The user's primary group.
    pub gid: u32,
}

/// Looks `name` up in the password database (`getpwnam_r`); `Ok(None)` when there is no such
/// user.
pub fn lookup_user(name: &str) -> Result<Option<User>> {
    let Ok(cname) = CString::new(name) else {
        return Ok(None);
    };
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: passwd is plain data; all-zero is valid.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer refers to live memory of the size passed; getpwnam_r fills pw
        // with pointers into buf and sets result to &pw (or NULL when not found).
        let ret = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pw,
                buf.as_mut_ptr() as *mut libc::c_char,
                buf.len(),
                &mut result,
            )
        };
        if ret == libc::ERANGE && buf.len() < (1 << 20) {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if ret != 0 {
            return Err(Error::from_errno("getpwnam_r", Errno(ret)));
        }
        if result.is_null() {
            return Ok(None);
        }
        // SAFETY: result == &pw, whose pw_name points at a NUL-terminated string in buf,
        // alive here.
        let pw_name = unsafe { CStr::from_ptr(pw.pw_name) }
            .to_string_lossy()
            .into_owned();
        return Ok(Some(User {
            name: pw_name,
            uid: pw.pw_uid,
            gid: pw.pw_gid,
        }));
    }
}

/// Becomes `user` for good: its groups (`initgroups`), its group id, its user id. Checks
/// afterwards that the real, effective and saved ids are the user's, so a half-done drop is an
/// error, never a silent partial one.
pub fn drop_privileges(user: &User) -> Result<()> {
    let cname = CString::new(user.name.as_str())
        .map_err(|_| Error::from_errno("initgroups", Errno::EINVAL))?;
    // SAFETY: cname is a NUL-terminated string alive across the call.
    let ret = unsafe { libc::initgroups(cname.as_ptr(), user.gid) };
    cvt(ret, "initgroups")?;
    // SAFETY: setgid takes a plain integer.
    let ret = unsafe { libc::setgid(user.gid) };
    cvt(ret, "setgid")?;
    // SAFETY: setuid takes a plain integer.
    let ret = unsafe { libc::setuid(user.uid) };
    cvt(ret, "setuid")?;
    let (ruid, euid, suid) = resuid()?;
    let (rgid, egid, sgid) = resgid()?;
    if [ruid, euid, suid] != [user.uid; 3] || [rgid, egid, sgid] != [user.gid; 3] {
        return Err(Error::from_errno("setuid", Errno::EPERM));
    }
    Ok(())
}

/// The real user id.
pub fn getuid() -> u32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getuid() }
}

fn resuid() -> Result<(u32, u32, u32)> {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: three writable u32s alive across the call.
    let ret = unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    cvt(ret, "getresuid")?;
    Ok((r, e, s))
}

fn resgid() -> Result<(u32, u32, u32)> {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: three writable u32s alive across the call.
    let ret = unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
    cvt(ret, "getresgid")?;
    Ok((r, e, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_in_the_password_database() {
        let root = lookup_user("root").unwrap().expect("root exists");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(lookup_user("no-such-user-ringcap").unwrap(), None);
        assert_eq!(lookup_user("nul\0name").unwrap(), None);
    }
}
