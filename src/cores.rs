//! Work shared among the machine's cores. A leaf: any step may use it, it uses none.

/// How many cores the machine has (2 when it cannot tell: reading a file then still overlaps
/// with parsing it).
pub fn count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).max(1)
}

/// `work` done on every item, one thread per core: the items dealt largest first (by `size`),
/// each to the core with the least work so far. The results come in no particular order; a
/// panic in a worker is raised again here.
pub fn share<T: Send, R: Send>(mut items: Vec<T>, size: impl Fn(&T) -> usize, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    items.sort_by_key(|item| std::cmp::Reverse(size(item)));
    let mut shares: Vec<(usize, Vec<T>)> = (0..count()).map(|_| (0, Vec::new())).collect();
    for item in items {
        if let Some(least) = shares.iter_mut().min_by_key(|(load, _)| *load) {
            least.0 += size(&item);
            least.1.push(item);
        }
    }
    let work = &work;
    std::thread::scope(|scope| {
        let workers: Vec<_> = shares
            .into_iter()
            .map(|(_, share)| scope.spawn(move || share.into_iter().map(work).collect::<Vec<R>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_item_is_worked_on_once() {
        let mut out = super::share((0..100u64).collect(), |&i| i as usize, |i| i * 2);
        out.sort_unstable();
        assert_eq!(out, (0..100u64).map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::share(Vec::<u8>::new(), |_| 1, |i| i).is_empty());
    }
}
