//! What the benchmark reads off a process, a deployment package and the machine:
//! `/proc/<pid>/status` fields, the resident memory split by mapping (`/proc/<pid>/smaps`), a
//! zip's sizes, the machine's facts.

use std::path::Path;

/// A numeric field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`, `RssAnon` in KiB, `Threads`);
/// `pid` may be `self`. 0 when it cannot be read.
pub fn status_field(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resident memory now, in KiB, by what backs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RssSplit {
    /// Pages of the executable itself (code, read-only data, its data segment).
    pub binary_kib: u64,
    /// Pages of other files (libc, the dynamic loader, libgcc_s, …).
    pub libs_kib: u64,
    /// Anonymous memory: heap, stacks, anonymous mappings.
    pub anon_kib: u64,
}

/// Sums the `Rss:` lines of `/proc/<pid>/smaps` by mapping: the executable (`binary`, by
/// its file name), other files, anonymous.
pub fn rss_split(pid: u32, binary: &Path) -> Option<RssSplit> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let exe = std::fs::canonicalize(binary).ok()?;
    // [binary, other files, anonymous]
    let mut sums = [0u64; 3];
    let mut slot = 2;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: `start-end perms offset dev inode [path]`.
            let path = fields.nth(4).unwrap_or_default();
            slot = match path {
                p if p.starts_with('/') && Path::new(p) == exe => 0,
                p if p.starts_with('/') => 1,
                _ => 2,
            };
        } else if first == "Rss:" {
            sums[slot] += fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        }
    }
    Some(RssSplit {
        binary_kib: sums[0],
        libs_kib: sums[1],
        anon_kib: sums[2],
    })
}

/// The zip's size and the sum of its entries' uncompressed sizes, read from its central
/// directory (no ZIP64: a deployment zip is far under 4 GiB).
pub fn zip_sizes(path: &Path) -> Option<(u64, u64)> {
    let data = std::fs::read(path).ok()?;
    let u16_at = |i: usize| Some(u16::from_le_bytes(data.get(i..i + 2)?.try_into().ok()?) as usize);
    let u32_at = |i: usize| Some(u32::from_le_bytes(data.get(i..i + 4)?.try_into().ok()?) as u64);
    // The end-of-central-directory record: the last "PK\5\6" (at most a 64 KiB comment after).
    let last = data.len().checked_sub(22)?;
    let eocd = (last.saturating_sub(65535)..=last)
        .rev()
        .find(|&i| data[i..i + 4] == *b"PK\x05\x06")?;
    let mut at = u32_at(eocd + 16)? as usize;
    let mut unzipped = 0;
    for _ in 0..u16_at(eocd + 10)? {
        if data.get(at..at + 4)? != b"PK\x01\x02" {
            return None;
        }
        unzipped += u32_at(at + 24)?;
        at += 46 + u16_at(at + 28)? + u16_at(at + 30)? + u16_at(at + 32)?;
    }
    Some((data.len() as u64, unzipped))
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Facts of this machine for a benchmark's report: cores, CPU, memory, load average, kernel,
/// date.
pub fn machine_facts() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|x| x.1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")
                .map(str::trim)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    vec![
        ("cores".into(), cores.to_string()),
        ("cpu".into(), model),
        ("memory".into(), mem),
        (
            "load average at start (1, 5, 15 min)".into(),
            read_trimmed("/proc/loadavg")
                .split(' ')
                .take(3)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("kernel".into(), read_trimmed("/proc/sys/kernel/osrelease")),
        (
            "date".into(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
    ]
}
