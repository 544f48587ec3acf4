//! Verdicts: what an experiment expects of the kernel, judged on meminfo samples.
//!
//! Pure functions only, so that the logic is tested on sample sequences without touching the
//! machine. Other processes allocate and free memory while an experiment runs, so every
//! expectation about a counter carries a tolerance (see [`tolerance_for`]) and is judged on
//! the change since the step before (the shortest window), unless it says otherwise.

use super::sample::{signed_difference, Counter, Sample};
use crate::render::size::{human, human_delta};
use serde::Serialize;

/// The smallest tolerance: the noise a quiet machine makes in a second or two.
pub const MIN_TOLERANCE: u64 = 8 << 20;

/// The tolerance for an experiment of `size` bytes: `±max(8 MiB, 5 % of size)`.
pub fn tolerance_for(size: u64) -> u64 {
    MIN_TOLERANCE.max(size / 20)
}

/// Which earlier sample a change is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Since {
    /// The sample taken after the step before this one.
    PreviousStep,
    /// The sample taken before the experiment did anything.
    Baseline,
}

impl Since {
    fn words(self) -> &'static str {
        match self {
            Since::PreviousStep => "since the step before",
            Since::Baseline => "since the baseline",
        }
    }
}

/// One thing an experiment expects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expectation {
    /// `counter` changes by `by` (± tolerance) since `since`; `by = 0` means "unchanged".
    Changes {
        /// The counter.
        counter: Counter,
        /// The expected change in bytes.
        by: i64,
        /// Measured from.
        since: Since,
    },
    /// `counter` falls by at least `by` (− tolerance): for `drop_caches`, which frees
    /// unrelated cache too, so the fall can be larger but not smaller.
    FallsByAtLeast {
        /// The counter.
        counter: Counter,
        /// The smallest expected fall in bytes.
        by: u64,
        /// Measured from.
        since: Since,
    },
    /// `counter` grows by at least `by` (− tolerance): for ordinary file cache, which other
    /// processes' file I/O adds to at the same time.
    GrowsByAtLeast {
        /// The counter.
        counter: Counter,
        /// The smallest expected growth in bytes.
        by: u64,
        /// Measured from.
        since: Since,
    },
    /// `counter` is still at least `value` (− tolerance) now: the pinned pages are still there
    /// even though `drop_caches` freed unrelated cache.
    AtLeast {
        /// The counter.
        counter: Counter,
        /// The smallest expected value in bytes.
        value: u64,
    },
    /// A fact that is not a meminfo counter (a segment's size, nattch, what a reader read):
    /// judged by the experiment, which passes what it expected and what it saw.
    Fact {
        /// What is claimed, e.g. "size after IPC_SET with shm_segsz doubled".
        claim: String,
        /// What was expected.
        expected: String,
        /// What was observed.
        observed: String,
        /// Whether they agree.
        held: bool,
    },
}

impl Expectation {
    /// "counter is unchanged since the step before".
    pub fn unchanged(counter: Counter) -> Self {
        Expectation::Changes {
            counter,
            by: 0,
            since: Since::PreviousStep,
        }
    }

    /// "counter grows by `size` since the step before".
    pub fn grows(counter: Counter, size: u64) -> Self {
        Expectation::Changes {
            counter,
            by: i64::try_from(size).unwrap_or(i64::MAX),
            since: Since::PreviousStep,
        }
    }

    /// "counter falls by `size` since the step before".
    pub fn falls(counter: Counter, size: u64) -> Self {
        Expectation::Changes {
            counter,
            by: i64::try_from(size).map_or(i64::MIN, |s| -s),
            since: Since::PreviousStep,
        }
    }

    /// A fact: `held` when `observed == expected`.
    pub fn fact(
        claim: impl Into<String>,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) -> Self {
        let expected = expected.into();
        let observed = observed.into();
        Expectation::Fact {
            claim: claim.into(),
            held: expected == observed,
            expected,
            observed,
        }
    }
}

/// The judgement of one expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Verdict {
    /// What is judged, in words: `Shmem since the step before`.
    pub claim: String,
    /// What was expected, in words: `+64.0M ±8.0M`, `at least 64.0M −8.0M`, `exited`.
    pub expected: String,
    /// The counter it is about (none for a fact).
    pub counter: Option<Counter>,
    /// The expected value or change in bytes (none for a fact).
    pub expected_bytes: Option<i64>,
    /// The tolerance in bytes (none for a fact, which must match exactly).
    pub tolerance: Option<u64>,
    /// What was seen, in words.
    pub observed: String,
    /// The observed value or change in bytes (none for a fact).
    pub observed_bytes: Option<i64>,
    /// Whether the kernel behaved as expected.
    pub held: bool,
}

/// Judges `expectation` on the samples of the baseline, the step before, and now.
pub fn judge(
    expectation: &Expectation,
    baseline: &Sample,
    previous: &Sample,
    now: &Sample,
    tolerance: u64,
) -> Verdict {
    let tol = i128::from(tolerance);
    let from = |since: Since| match since {
        Since::PreviousStep => previous,
        Since::Baseline => baseline,
    };
    match expectation {
        Expectation::Changes { counter, by, since } => {
            let delta = now.delta(from(*since), *counter);
            let held = (i128::from(delta) - i128::from(*by)).abs() <= tol;
            let expected = if *by == 0 {
                format!("unchanged ±{}", human(tolerance))
            } else {
                format!("{} ±{}", human_delta(*by), human(tolerance))
            };
            let observed = if *counter == Counter::CachedBeyondFileLru {
                // Show the raw figures the corrected change comes from.
                let then = from(*since);
                let buffers = now.delta(then, Counter::Buffers);
                let buffers = if buffers == 0 {
                    String::new()
                } else {
                    format!(", Buffers {}", human_delta(buffers))
                };
                format!(
                    "{} (Cached {}{buffers}, file LRU {})",
                    human_delta(delta),
                    human_delta(now.delta(then, Counter::Cached)),
                    human_delta(signed_difference(now.file_lru, then.file_lru))
                )
            } else {
                human_delta(delta)
            };
            Verdict {
                claim: format!("{} {}", counter.name(), since.words()),
                expected,
                counter: Some(*counter),
                expected_bytes: Some(*by),
                tolerance: Some(tolerance),
                observed,
                observed_bytes: Some(delta),
                held,
            }
        }
        Expectation::FallsByAtLeast { counter, by, since } => {
            let delta = now.delta(from(*since), *counter);
            let needed = i128::from(*by) - tol;
            let held = -i128::from(delta) >= needed;
            let expected = i64::try_from(*by).map_or(i64::MIN, |b| -b);
            Verdict {
                claim: format!("{} {}", counter.name(), since.words()),
                expected: format!("a fall of at least {} −{}", human(*by), human(tolerance)),
                counter: Some(*counter),
                expected_bytes: Some(expected),
                tolerance: Some(tolerance),
                observed: human_delta(delta),
                observed_bytes: Some(delta),
                held,
            }
        }
        Expectation::GrowsByAtLeast { counter, by, since } => {
            let delta = now.delta(from(*since), *counter);
            let held = i128::from(delta) >= i128::from(*by) - tol;
            Verdict {
                claim: format!("{} {}", counter.name(), since.words()),
                expected: format!("a rise of at least {} −{}", human(*by), human(tolerance)),
                counter: Some(*counter),
                expected_bytes: Some(i64::try_from(*by).unwrap_or(i64::MAX)),
                tolerance: Some(tolerance),
                observed: human_delta(delta),
                observed_bytes: Some(delta),
                held,
            }
        }
        Expectation::AtLeast { counter, value } => {
            let seen = now.get(*counter);
            let held = i128::from(seen) >= i128::from(*value) - tol;
            Verdict {
                claim: format!("{} now", counter.name()),
                expected: format!("at least {} −{}", human(*value), human(tolerance)),
                counter: Some(*counter),
                expected_bytes: Some(i64::try_from(*value).unwrap_or(i64::MAX)),
                tolerance: Some(tolerance),
                observed: human(seen),
                observed_bytes: Some(i64::try_from(seen).unwrap_or(i64::MAX)),
                held,
            }
        }
        Expectation::Fact {
            claim,
            expected,
            observed,
            held,
        } => Verdict {
            claim: claim.clone(),
            expected: expected.clone(),
            counter: None,
            expected_bytes: None,
            tolerance: None,
            observed: observed.clone(),
            observed_bytes: None,
            held: *held,
        },
    }
}

/// Whether every verdict held.
pub fn all_held(verdicts: &[Verdict]) -> bool {
    verdicts.iter().all(|v| v.held)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 1 << 20;

    fn sample(cached: u64, shmem: u64) -> Sample {
        Sample {
            cached,
            shmem,
            mem_free: 20_000 * M,
            mem_available: 20_000 * M,
            ..Sample::default()
        }
    }

    #[test]
    fn tolerance_is_8_mib_or_5_percent() {
        assert_eq!(tolerance_for(64 * M), 8 * M);
        assert_eq!(tolerance_for(256 * M), 256 * M / 20);
        assert_eq!(tolerance_for(2048 * M), 2048 * M / 20);
    }

    /// The tmpfs experiment's sequence: write, drop_caches, delete.
    #[test]
    fn tmpfs_sequence_holds_within_tolerance_and_fails_outside() {
        let size = 64 * M;
        let tol = tolerance_for(size);
        let base = sample(700 * M, 8 * M);
        let written = sample(700 * M + size + 3 * M, 8 * M + size);
        let grows = Expectation::grows(Counter::Shmem, size);
        let v = judge(&grows, &base, &base, &written, tol);
        assert!(v.held, "{v:?}");
        assert_eq!(v.observed, "+64.0M");
        assert_eq!(v.claim, "Shmem since the step before");
        assert_eq!(v.expected, "+64.0M ±8.0M");
        assert!(
            judge(
                &Expectation::grows(Counter::Cached, size),
                &base,
                &base,
                &written,
                tol
            )
            .held
        );

        // drop_caches freed 600M of unrelated cache but not the shmem.
        let dropped = sample(100 * M + size, 8 * M + size);
        assert!(
            judge(
                &Expectation::unchanged(Counter::Shmem),
                &base,
                &written,
                &dropped,
                tol
            )
            .held
        );
        let pinned = Expectation::AtLeast {
            counter: Counter::Cached,
            value: size,
        };
        assert!(judge(&pinned, &base, &written, &dropped, tol).held);
        // ... and the same check fails when the cache fell below SIZE - tolerance.
        let lost = sample(40 * M, 8 * M);
        assert!(!judge(&pinned, &base, &written, &lost, tol).held);
        assert!(
            !judge(
                &Expectation::unchanged(Counter::Shmem),
                &base,
                &written,
                &lost,
                tol
            )
            .held
        );

        let deleted = sample(100 * M, 8 * M);
        let falls = Expectation::falls(Counter::Shmem, size);
        let v = judge(&falls, &base, &dropped, &deleted, tol);
        assert!(v.held);
        assert_eq!(v.observed_bytes, Some(-(size as i64)));
    }

    /// Other processes' file I/O moves Cached; taking the file LRU out leaves the shmem change.
    #[test]
    fn cached_beyond_file_lru_ignores_other_processes_file_cache() {
        let size = 256 * M;
        let tol = tolerance_for(size);
        let before = Sample {
            cached: 300 * M,
            file_lru: 280 * M,
            ..Sample::default()
        };
        // The tmpfs write adds 256M of shmem; a compiler meanwhile adds 55M of file cache.
        let after = Sample {
            cached: 300 * M + size + 55 * M,
            file_lru: 280 * M + 55 * M,
            ..Sample::default()
        };
        assert!(
            !judge(
                &Expectation::grows(Counter::Cached, size),
                &before,
                &before,
                &after,
                tol
            )
            .held
        );
        let v = judge(
            &Expectation::grows(Counter::CachedBeyondFileLru, size),
            &before,
            &before,
            &after,
            tol,
        );
        assert!(v.held, "{v:?}");
        assert_eq!(v.observed, "+256M (Cached +311M, file LRU +55.0M)");
        // Growth of ordinary file cache alone does not pass for shmem.
        let only_files = Sample {
            cached: 300 * M + size,
            file_lru: 280 * M + size,
            ..Sample::default()
        };
        assert!(
            !judge(
                &Expectation::grows(Counter::CachedBeyondFileLru, size),
                &before,
                &before,
                &only_files,
                tol
            )
            .held
        );
    }

    #[test]
    fn a_change_just_outside_the_tolerance_fails() {
        let size = 64 * M;
        let tol = tolerance_for(size);
        let base = sample(0, 8 * M);
        let edge = sample(0, 8 * M + size + tol);
        let over = sample(0, 8 * M + size + tol + 4096);
        let grows = Expectation::grows(Counter::Shmem, size);
        assert!(judge(&grows, &base, &base, &edge, tol).held);
        assert!(!judge(&grows, &base, &base, &over, tol).held);
        // Growth that never happened (the seed's claim would be wrong) fails too.
        assert!(!judge(&grows, &base, &base, &base, tol).held);
    }

    #[test]
    fn falls_by_at_least_accepts_larger_falls_only() {
        let size = 64 * M;
        let tol = tolerance_for(size);
        let before = sample(900 * M, 8 * M);
        let exp = Expectation::FallsByAtLeast {
            counter: Counter::Cached,
            by: size,
            since: Since::PreviousStep,
        };
        assert!(judge(&exp, &before, &before, &sample(100 * M, 8 * M), tol).held);
        assert!(
            judge(
                &exp,
                &before,
                &before,
                &sample(900 * M - size + tol, 8 * M),
                tol
            )
            .held
        );
        assert!(!judge(&exp, &before, &before, &sample(890 * M, 8 * M), tol).held);
        // A rise is never a fall.
        assert!(!judge(&exp, &before, &before, &sample(1000 * M, 8 * M), tol).held);
    }

    #[test]
    fn grows_by_at_least_accepts_larger_rises_only() {
        let size = 64 * M;
        let tol = tolerance_for(size);
        let before = sample(100 * M, 8 * M);
        let exp = Expectation::GrowsByAtLeast {
            counter: Counter::Cached,
            by: size,
            since: Since::PreviousStep,
        };
        assert!(judge(&exp, &before, &before, &sample(190 * M, 8 * M), tol).held);
        assert!(
            judge(
                &exp,
                &before,
                &before,
                &sample(100 * M + size - tol, 8 * M),
                tol
            )
            .held
        );
        assert!(!judge(&exp, &before, &before, &sample(150 * M, 8 * M), tol).held);
    }

    #[test]
    fn baseline_changes_use_the_baseline_not_the_previous_step() {
        let tol = 8 * M;
        let base = sample(100 * M, 8 * M);
        let prev = sample(164 * M, 72 * M);
        let now = sample(100 * M, 8 * M);
        let exp = Expectation::Changes {
            counter: Counter::Shmem,
            by: 0,
            since: Since::Baseline,
        };
        assert!(judge(&exp, &base, &prev, &now, tol).held);
        assert!(
            !judge(
                &Expectation::unchanged(Counter::Shmem),
                &base,
                &prev,
                &now,
                tol
            )
            .held
        );
    }

    #[test]
    fn facts_hold_only_on_equality_and_carry_no_tolerance() {
        let s = sample(0, 0);
        let v = judge(&Expectation::fact("nattch", "0", "0"), &s, &s, &s, 8 * M);
        assert!(v.held);
        assert_eq!(v.tolerance, None);
        let v = judge(
            &Expectation::fact("size", "64.0M", "128M"),
            &s,
            &s,
            &s,
            8 * M,
        );
        assert!(!v.held);
        assert!(!all_held(&[v]));
    }
}
