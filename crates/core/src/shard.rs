//! Sharding with no coordinator: every replica discovers every tenant and serves those whose
//! stable hash falls in its share, by a jump consistent hash (Lamping and Veach, 2014), so that
//! changing the number of shards moves as few tenants as possible.

use std::fmt;

/// This replica's share: shard `index + 1` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Default for Shard {
    /// The only shard: every tenant.
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

impl Shard {
    /// Parses `N/M` (1 ≤ N ≤ M) or `auto/M`, where N is taken from a StatefulSet pod's ordinal,
    /// the number after the last `-` of `hostname` (`sobot-exporter-2` is shard 3).
    pub(crate) fn parse(value: &str, hostname: Option<&str>) -> Result<Shard, String> {
        let usage = "expected N/M with 1 ≤ N ≤ M (e.g. 2/3), or auto/M in a StatefulSet";
        let (n, m) = value.split_once('/').ok_or(usage)?;
        let count: u32 = m.trim().parse().map_err(|_| usage)?;
        if count == 0 {
            return Err(usage.to_string());
        }
        let number: u32 = if n.trim() == "auto" {
            let host = hostname.unwrap_or("");
            let ordinal = host.rsplit_once('-').and_then(|(_, k)| k.parse::<u32>().ok()).ok_or_else(|| {
                format!("auto takes the shard from a StatefulSet pod's hostname (name-ORDINAL); this host is {host:?}")
            })?;
            ordinal.saturating_add(1)
        } else {
            n.trim().parse().map_err(|_| usage)?
        };
        if !(1..=count).contains(&number) {
            return Err(format!("shard {number} of {count}: {usage}"));
        }
        Ok(Shard { index: number - 1, count })
    }

    /// Shard number, from 1.
    pub(crate) fn number(&self) -> u32 {
        self.index + 1
    }

    /// Number of shards.
    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// Whether this replica serves the tenant `id`.
    pub(crate) fn owns(&self, id: &str) -> bool {
        jump(stable_hash(id), self.count) == self.index
    }
}

/// The shard number (from 1) of `count` shards that serves the tenant `id`.
pub(crate) fn shard_of(id: &str, count: u32) -> u32 {
    jump(stable_hash(id), count.max(1)) + 1
}

/// The jump consistent hash of `key` into `buckets` buckets.
pub(crate) fn jump(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        {
            j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
        }
    }
    u32::try_from(b).unwrap_or(0)
}

/// A 64-bit hash of a string, stable across runs, platforms and versions: FNV-1a, whose high
/// bits vary little between short similar ids, finished with [`mix`].
pub(crate) fn stable_hash(s: &str) -> u64 {
    mix(s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)))
}

/// SplitMix64's finaliser: spreads every input bit over the output.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_shards() {
        assert_eq!(Shard::parse("2/3", None), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(Shard::parse("auto/3", Some("sobot-exporter-2")), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(Shard::parse("auto/3", Some("sobot-exporter-0")).map(|s| s.number()), Ok(1));
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "1/3/4", ""] {
            assert!(Shard::parse(bad, None).is_err(), "{bad}");
        }
        assert!(Shard::parse("auto/3", Some("sobot-exporter-3")).is_err(), "ordinal 3 is shard 4 of 3");
        let e = Shard::parse("auto/2", Some("laptop")).expect_err("no ordinal");
        assert!(e.contains("\"laptop\""), "{e}");
        assert_eq!(Shard::parse("2/3", None).map(|s| s.to_string()), Ok("2/3".to_string()));
    }

    /// Frozen: a tenant stays on its shard across versions.
    #[test]
    fn the_hash_is_frozen() {
        // Computed by an independent implementation of the paper's algorithm (Python).
        assert_eq!(jump(0, 1), 0);
        let small: Vec<u32> = (0..4).map(|k| jump(k, 10)).collect();
        assert_eq!(small, [0, 6, 6, 8]);
        assert_eq!(jump(0xdead_beef, 1000), 285);
        let shards: Vec<u32> =
            ["a", "b", "c", "d", "e", "f"].iter().map(|id| jump(stable_hash(id), 3)).collect();
        assert_eq!(shards, [1, 0, 0, 2, 0, 2]);
        assert_eq!(jump(stable_hash("3b9577c3ddaa49bda857a0ab8593b7ba"), 1000), 430);
    }

    #[test]
    fn shards_split_tenants_once_and_move_few_when_grown() {
        let ids: Vec<String> = (0..3000).map(|i| format!("tenant-{i}")).collect();
        let of = |id: &str, m: u32| {
            (1..=m).filter(|n| Shard { index: n - 1, count: m }.owns(id)).collect::<Vec<_>>()
        };
        for id in &ids {
            assert_eq!(of(id, 3).len(), 1, "{id} served exactly once");
        }
        let per_shard: Vec<usize> =
            (0..3).map(|i| ids.iter().filter(|id| Shard { index: i, count: 3 }.owns(id)).count()).collect();
        assert!(per_shard.iter().all(|n| (850..=1150).contains(n)), "{per_shard:?}");
        // From 3 to 4 shards about a quarter move, all of them to the new shard.
        let moved: Vec<&String> = ids.iter().filter(|id| of(id, 3) != of(id, 4)).collect();
        assert!((600..=900).contains(&moved.len()), "{} moved", moved.len());
        assert!(moved.iter().all(|id| of(id, 4) == [4]));
    }
}
