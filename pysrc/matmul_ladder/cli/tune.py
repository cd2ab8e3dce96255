"""`matmul-ladder tune`: search the block sizes and the Strassen cutoff for this CPU and keep them."""
import json
import sys

from matmul_ladder.cli.args import PROG, Parser, _seconds, parse_threads


def build_tune_parser():
    p = Parser(prog=f"{PROG} tune", description=(
        "Search c_simd/c_omp's block sizes around the cache model's on this machine, check and "
        "race every candidate against the model's choice, find where one Strassen level starts "
        "to beat c_omp (c_strassen's cutoff), and keep the results for this CPU in the user's "
        "cache directory (MATMUL_LADDER_NO_TUNE=1 ignores them)."))
    p.add_argument("--seconds", type=_seconds("--seconds", False), default=120.0,
                   help="time for the whole search (default 120)")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--threads", type=parse_threads, default=None,
                   help="the all-threads count to tune for (default: all cores)")
    p.add_argument("--show", action="store_true", help="print what is cached for this CPU; no search")
    p.add_argument("--forget", action="store_true", help="delete what is cached for this CPU")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def tune_main(argv):
    from matmul_ladder import tuning as tuner
    args = build_tune_parser().parse_args(argv)
    if args.show:
        print(json.dumps({"cache": tuner.cache_path(), "cpu": tuner.cpu_key(),
                          "tuned": tuner.load(), "ignored": tuner.problems()}, indent=2))
        return 0
    if args.forget:
        print("forgot" if tuner.forget() else "nothing cached", "for this CPU in", tuner.cache_path())
        return 0
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    threads = max(args.threads) if args.threads else None
    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=4 * len(dtypes), unit="race", file=sys.stderr, dynamic_ncols=True)

    def progress(done, total, text):
        if bar:
            bar.total = total
            bar.set_description_str(text)
            bar.update(done - bar.n)
    try:
        results = tuner.tune(args.seconds, dtypes, threads, progress=progress)
    finally:
        if bar:
            bar.close()
    for dtype in dtypes:
        r = results[dtype]
        t = r["c_blocked"]
        print(f"{dtype}: c_simd/c_omp MC {r['MC']}, KC {r['KC']}, NC {r['NC']} ({r['source']}; "
              f"{r['speedup_over_model']:.3f}x the model's MC {r['model']['MC']}, "
              f"KC {r['model']['KC']} at n = {r['n']}); c_blocked KB {t['KB']}, NB {t['NB']} "
              f"({t['source']}; {t['speedup_over_model']:.3f}x the model's at n = {t['n']})")
        st = r["strassen"]
        raced = ", ".join(f"{n}: {x:.3f}x" for n, x in st["speedup_over_c_omp"].items())
        print(f"{dtype}: c_strassen cutoff {st['cutoff']} ({st['source']}; one level over c_omp on "
              f"{st['threads']} threads at n = {raced})")
    print(f"searched for {results['seconds']} s; saved in {tuner.cache_path()}")
    return 0
