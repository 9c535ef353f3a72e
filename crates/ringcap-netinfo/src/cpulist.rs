//! CPU sets in the kernel's two text forms: lists (`0-3,8`, as in `smp_affinity_list` and
//! `/sys/devices/system/cpu/online`) and hex masks in 32-bit comma-separated groups
//! (`ff,ffffffff`, as in `rps_cpus` and `smp_affinity`).

use crate::{Error, Result};

/// Largest CPU number accepted; far above any machine, small enough to refuse nonsense.
pub const MAX_CPU: usize = 8191;

/// Parses a CPU list such as `0-3,8` (sorted, without duplicates). Empty text is an empty set.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>> {
    let bad = || Error::parse("CPU list", format!("{s:?} is not a list like 0-3,8"));
    let mut out = Vec::new();
    for part in s.trim().split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let a: usize = a.parse().map_err(|_| bad())?;
        let b: usize = b.parse().map_err(|_| bad())?;
        if b < a || b > MAX_CPU {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Formats CPUs compactly: `0-3,8`; an empty set is the empty string.
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            sorted[i].to_string()
        } else {
            format!("{}-{}", sorted[i], sorted[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// Parses a hex CPU mask as the kernel prints bitmaps: `3`, `00000000,00000001`, `ff`.
pub fn parse_cpu_mask(s: &str) -> Result<Vec<usize>> {
    let bad = || {
        Error::parse(
            "CPU mask",
            format!("{s:?} is not a hex mask like ff,ffffffff"),
        )
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut out = Vec::new();
    // Groups run from the most significant to the least; each holds 32 CPUs.
    for (gi, group) in t.rsplit(',').enumerate() {
        if group.is_empty() || group.len() > 8 {
            return Err(bad());
        }
        let v = u32::from_str_radix(group, 16).map_err(|_| bad())?;
        for bit in 0..32 {
            if v & (1 << bit) != 0 {
                out.push(gi * 32 + bit);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Formats CPUs as a hex mask in 32-bit groups, most significant first, without leading zero
/// groups (`0` for the empty set). The kernel accepts this form in `rps_cpus` and `smp_affinity`.
pub fn format_cpu_mask(cpus: &[usize]) -> String {
    let Some(&max) = cpus.iter().max() else {
        return "0".to_string();
    };
    let mut groups = vec![0u32; max / 32 + 1];
    for &c in cpus {
        groups[c / 32] |= 1 << (c % 32);
    }
    let mut out = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i == 0 {
            out.push_str(&format!("{g:x}"));
        } else {
            out.push_str(&format!(",{g:08x}"));
        }
    }
    out
}

/// The online CPUs (`/sys/devices/system/cpu/online`), falling back to 0..N from sysconf.
pub fn online_cpus() -> Vec<usize> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|t| parse_cpu_list(&t).ok())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| (0..ringcap_sys::online_cpus()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_cpu_list("0-3,8\n").unwrap(), vec![0, 1, 2, 3, 8]);
        assert_eq!(parse_cpu_list("5,1,1").unwrap(), vec![1, 5]);
        assert_eq!(parse_cpu_list("").unwrap(), Vec::<usize>::new());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("0-99999").is_err());
        assert_eq!(format_cpu_list(&[8, 0, 1, 2, 3]), "0-3,8");
        assert_eq!(format_cpu_list(&[1, 3]), "1,3");
        assert_eq!(format_cpu_list(&[]), "");
    }

    #[test]
    fn masks_as_the_kernel_prints_them() {
        assert_eq!(parse_cpu_mask("0\n").unwrap(), Vec::<usize>::new());
        assert_eq!(parse_cpu_mask("3").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpu_mask("00000000,00000001").unwrap(), vec![0]);
        assert_eq!(parse_cpu_mask("1,80000000").unwrap(), vec![31, 32]);
        assert!(parse_cpu_mask("").is_err());
        assert!(parse_cpu_mask("xyz").is_err());
        assert!(parse_cpu_mask("1,").is_err());
    }

    #[test]
    fn masks_round_trip() {
        assert_eq!(format_cpu_mask(&[]), "0");
        assert_eq!(format_cpu_mask(&[0, 1]), "3");
        assert_eq!(format_cpu_mask(&[31, 32]), "1,80000000");
        assert_eq!(format_cpu_mask(&[40]), "100,00000000");
        for set in [vec![0], vec![0, 5, 33, 64], vec![2, 3]] {
            assert_eq!(parse_cpu_mask(&format_cpu_mask(&set)).unwrap(), set);
        }
    }
}
