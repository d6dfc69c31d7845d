//! The walk against a model of the kernel's hash map batch lookup (kernel/bpf/hashtab.c,
//! `__htab_map_lookup_and_delete_batch`): whole buckets only, ENOSPC when the first bucket does
//! not fit, ENOENT with the entries read when the last bucket is done.

use super::*;

type Entry = (u32, u64);

/// Buckets of 0, 3, 1, 0, 0, 2, 5 and 1 entries.
fn buckets() -> Vec<Vec<Entry>> {
    let mut next = 0u32;
    [0, 3, 1, 0, 0, 2, 5, 1]
        .into_iter()
        .map(|size| {
            (0..size)
                .map(|_| {
                    next += 1;
                    (next, u64::from(next) * 10)
                })
                .collect()
        })
        .collect()
}

/// One BPF_MAP_LOOKUP_BATCH over `buckets`, as the kernel answers it.
fn kernel(
    buckets: &[Vec<Entry>],
    token: Option<u32>,
    keys: &mut [u32],
    values: &mut [u64],
) -> Result<Step> {
    let mut bucket = token.unwrap_or(0) as usize;
    let mut total = 0;
    loop {
        let entries = &buckets[bucket];
        if entries.len() > keys.len() - total {
            return Ok(if total == 0 {
                Step::TooSmall
            } else {
                Step::More {
                    count: total,
                    next: u32::try_from(bucket)?,
                }
            });
        }
        for (key, value) in entries {
            keys[total] = *key;
            values[total] = *value;
            total += 1;
        }
        bucket += 1;
        if bucket == buckets.len() {
            return Ok(Step::Done { count: total });
        }
    }
}

/// The walk's result, sorted, and how many calls it took.
fn walk_model(buckets: &[Vec<Entry>], chunk: usize) -> Result<(Vec<Entry>, usize)> {
    let mut calls = 0;
    let mut entries = Vec::new();
    walk(
        chunk,
        |token, keys, values| {
            calls += 1;
            kernel(buckets, token, keys, values)
        },
        |keys, values| {
            entries.extend(keys.iter().copied().zip(values.iter().copied()));
            Ok(())
        },
    )?;
    entries.sort_unstable();
    Ok((entries, calls))
}

#[test]
fn reads_every_entry_whatever_the_chunk() {
    let buckets = buckets();
    let all: Vec<Entry> = buckets.concat();
    for chunk in 1..=all.len() + 1 {
        let (entries, calls) = walk_model(&buckets, chunk).unwrap();
        assert_eq!(entries, all, "chunk {chunk}");
        // At most one call per bucket, plus the retries that grow the chunk to 5.
        assert!(calls <= buckets.len() + 3, "chunk {chunk}: {calls} calls");
    }
}

#[test]
fn keeps_the_entries_read_by_the_last_call() {
    let buckets = buckets();
    let (entries, calls) = walk_model(&buckets, 100).unwrap();
    assert_eq!((entries, calls), (buckets.concat(), 1));
}

#[test]
fn an_empty_map_takes_one_call() {
    let (entries, calls) = walk_model(&[vec![], vec![]], 10).unwrap();
    assert_eq!((entries, calls), (vec![], 1));
}

#[test]
fn refuses_a_token_that_does_not_move_on() {
    let stuck = walk::<u32, u64>(
        4,
        |_, _, _| Ok(Step::More { count: 1, next: 3 }),
        |_, _| Ok(()),
    );
    assert!(stuck.is_err());
}

#[test]
fn gives_up_on_a_bucket_that_never_fits() {
    let mut calls = 0;
    let result = walk::<u32, u64>(
        1,
        |_, _, _| {
            calls += 1;
            Ok(Step::TooSmall)
        },
        |_, _| Ok(()),
    );
    assert!(result.is_err());
    assert_eq!(calls, MAX_GROWTH as usize + 1);
}

#[test]
fn refuses_an_empty_chunk() {
    let empty = walk::<u32, u64>(0, |_, _, _| Ok(Step::Done { count: 0 }), |_, _| Ok(()));
    assert!(empty.is_err());
}

#[test]
fn visits_no_more_than_a_chunk_at_a_time() {
    let buckets = buckets();
    let mut largest = 0;
    walk(
        4,
        |token, keys, values| kernel(&buckets, token, keys, values),
        |keys: &[u32], values: &[u64]| {
            assert_eq!(keys.len(), values.len());
            largest = largest.max(keys.len());
            Ok(())
        },
    )
    .unwrap();
    // Four entries a call, until the bucket of five grows the chunk to 8: that call reads it
    // and the last bucket.
    assert_eq!(largest, 6);
}
