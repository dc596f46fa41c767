"""A throughput benchmark of the resolver (not a timed test): an index of n_people registry
residents, then a labelled corpus over three agencies resolved one record at a time.

    .venv/bin/python -m tests.domain.matching.bench_resolver 100000 [5000] [--estimate]
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from collections import Counter

from .resolver_support import ids_by_time, real_model


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _pairs(groups: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in groups.values())


def bench_resolver(
    n_people: int, measure_people: int = 5_000, seed: int = 0, estimate: bool = False
) -> dict:
    """Resolve n_people registry residents into the index, then a corpus of measure_people
    people over three agencies; records/s of each phase, memory and pairwise quality. With
    `estimate`, the model is first fitted (em.estimate) to the measured records."""
    from domain.matching.blocking import SUGGESTED_CAPS
    from domain.matching.resolver import Resolver
    from ops.samples.corpus import make_corpus

    model = real_model()
    corpus = make_corpus(measure_people, agencies=3, seed=seed, index_people=n_people)
    if estimate:
        from domain.matching.em import estimate as fit

        model = fit([lab.record for lab in corpus.records], model)
    gc.collect()
    rss0 = _rss_mb()
    r = Resolver(model, ids_by_time, block_caps=getattr(model, "block_caps", SUGGESTED_CAPS))
    # CPU time of this process: the figure for one core, even on a machine others share.
    log = []
    t0 = time.process_time()
    for lab in corpus.preload:
        log += r.resolve(lab.record, lab.ts_ms)
    t1, wall = time.process_time(), time.perf_counter()
    latencies = []
    for lab in corpus.records:
        s = time.process_time()
        log += r.resolve(lab.record, lab.ts_ms)
        latencies.append(time.process_time() - s)
    t2, wall = time.process_time(), time.perf_counter() - wall
    rss = _rss_mb() - rss0
    replayed = Resolver(model, ids_by_time, block_caps=r.state.index.caps)
    t_replay = time.process_time()
    for decision in log:
        replayed.apply(decision)
    t3 = time.process_time()
    assert all(
        replayed.person_of(x.record.record_id) == r.person_of(x.record.record_id)
        for x in corpus.records
    )
    labs = corpus.preload + corpus.records
    truth = Counter(lab.truth for lab in labs)
    found = Counter(r.person_of(lab.record.record_id) for lab in labs)
    both = Counter((lab.truth, r.person_of(lab.record.record_id)) for lab in labs)
    tp, fp_tp, fn_tp = _pairs(both), _pairs(found), _pairs(truth)
    latencies.sort()
    return {
        "index_people": len(corpus.preload),
        "index_records_per_s": round(len(corpus.preload) / (t1 - t0)) if corpus.preload else None,
        "records": len(corpus.records),
        "records_per_s": round(len(corpus.records) / (t2 - t1)),
        "records_per_s_wall": round(len(corpus.records) / wall),
        "replay_decisions_per_s": round(len(log) / (t3 - t_replay)),
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 3),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 3),
        "precision": round(tp / fp_tp, 5) if fp_tp else 1.0,
        "recall": round(tp / fn_tp, 5) if fn_tp else 1.0,
        "rss_mb_resolver": round(rss),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "stats": r.stats,
        "corpus": corpus.summary,
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000
    print(json.dumps(bench_resolver(n, m, estimate="--estimate" in sys.argv), indent=2))
