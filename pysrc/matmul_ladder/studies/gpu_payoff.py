"""Where does the GPU pay off? NumPy on all cores against cuBLAS, with and without copies."""
import csv
import os
import sys
import time

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench import machine
from matmul_ladder.bench.timing import time_call, time_gpu
from matmul_ladder.report.tables import markdown_table

SIZES = [16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096]


def host_seconds(f):
    return time_call(f, min_time=0.2).median


def matmul_sweep(sizes, threads):
    import cupy
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        da, db = cupy.asarray(a), cupy.asarray(b)
        dc = cupy.empty((n, n), np.float32)
        reused = np.empty((n, n), np.float32)
        pa, pb, pc = (cupyx_pinned((n, n)) for _ in range(3))
        pa[...], pb[...] = a, b
        assert np.allclose(cupy.asnumpy(da @ db), a @ b, rtol=1e-3, atol=1e-3 * n)

        def fresh():           # pageable in, result into freshly allocated host memory
            return cupy.asnumpy(cupy.asarray(a) @ cupy.asarray(b))

        def reused_pageable():  # pageable in, result into a reused host array
            da.set(a)
            db.set(b)
            cupy.matmul(da, db, out=dc)
            dc.get(out=reused)

        def pinned():           # pinned in and out, buffers reused
            da.set(pa)
            db.set(pb)
            cupy.matmul(da, db, out=dc)
            dc.get(out=pc)

        with threadpool_limits(limits=threads, user_api="blas"):
            cpu = host_seconds(lambda: a @ b)
        compute = time_gpu(cupy.matmul, repeats=20, args=(da, db)).median
        rows.append({"n": n, "cpu_numpy": cpu, "gpu_compute": compute, "gpu_copies_fresh": host_seconds(fresh),
                     "gpu_copies_reused": host_seconds(reused_pageable), "gpu_copies_pinned": host_seconds(pinned)})
        print(f"  n={n}: " + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in rows[-1].items() if k != "n"),
              file=sys.stderr, flush=True)
    return rows


def cupyx_pinned(shape):
    import cupyx
    return cupyx.empty_pinned(shape, dtype=np.float32)


def crossover(rows, key):
    """Smallest n from which the GPU column beats the CPU at every larger size, or None."""
    winner = None
    for r in reversed(rows):
        if r[key] < r["cpu_numpy"]:
            winner = r["n"]
        else:
            break
    return winner


def blog_case(threads):
    """(1 x 25600) @ (25600 x 100), as in the seed blog: NumPy, torch CPU, torch GPU."""
    import torch
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (1, 25600)).astype(np.float32)
    b = rng.uniform(-1, 1, (25600, 100)).astype(np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    ga, gb = ta.cuda(), tb.cuda()

    def gpu_compute():
        (ga @ gb)
        torch.cuda.synchronize()

    with threadpool_limits(limits=threads, user_api="blas"):
        out = {"numpy": host_seconds(lambda: a @ b)}
    torch.set_num_threads(threads)
    out["torch_cpu"] = host_seconds(lambda: ta @ tb)
    out["torch_cuda compute"] = host_seconds(gpu_compute)
    out["torch_cuda with copies"] = host_seconds(lambda: (ta.cuda() @ tb.cuda()).cpu())
    return out


def network_time(device, n, width, steps=1000, seed=0):
    """The seed's 3-layer network: Linear 10-w-w/2-1, ReLU, Adam, MSE, full batch, `steps` steps."""
    import torch
    torch.manual_seed(seed)
    x, y = torch.randn(n, 10, device=device), torch.randn(n, 1, device=device)
    model = torch.nn.Sequential(torch.nn.Linear(10, width), torch.nn.ReLU(),
                                torch.nn.Linear(width, width // 2), torch.nn.ReLU(),
                                torch.nn.Linear(width // 2, 1)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()

    def train(k):
        for _ in range(k):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        return float(loss)

    train(10)  # warm-up: CUDA context, kernels, allocator
    t0 = time.perf_counter()
    final = train(steps)
    return time.perf_counter() - t0, final


KEYS = ["cpu_numpy", "gpu_compute", "gpu_copies_fresh", "gpu_copies_reused", "gpu_copies_pinned"]
HEAD = ["n", "CPU NumPy ms", "GPU compute ms", "GPU+copies fresh ms", "GPU+copies reused ms",
        "GPU+copies pinned ms"]
NETWORKS = [(500, 100), (5000, 100), (50000, 100), (500, 1000), (5000, 1000)]


def unavailable():
    """Why the GPU cannot be measured here ('' where it can): CuPy and torch with CUDA."""
    available = {k.name: k for k in ml.kernels()}
    return available["cupy"].reason or available["torch_cuda"].reason


def network_rows(shapes=NETWORKS):
    """[N, width, CPU s, GPU s, speed-up] of the seed's network on both devices."""
    net = []
    for n, width in shapes:
        cpu_s, _ = network_time("cpu", n, width)
        gpu_s, _ = network_time("cuda", n, width)
        net.append([n, width, f"{cpu_s:.3f}", f"{gpu_s:.3f}", f"{cpu_s / gpu_s:.2f}x"])
        print(f"  net N={n} w={width}: cpu {cpu_s:.3f} s, gpu {gpu_s:.3f} s", file=sys.stderr, flush=True)
    return net


def report_lines(rows, cross, blog, net, threads, command, gpu_name, versions):
    """payoff.md's lines."""
    table = [[r["n"]] + [f"{r[k] * 1e3:.4g}" for k in KEYS] for r in rows]
    return [f"# Where the GPU pays off: {gpu_name} against NumPy on {threads} CPU threads", "",
            f"Command: `{command}`", "", versions, "",
            markdown_table(HEAD, table), "",
            "Crossover (smallest n from which the GPU wins at every larger size): " +
            "; ".join(f"{k}: {v if v else 'never in this sweep'}" for k, v in cross.items()), "",
            "## The seed blog's (1 x 25600) @ (25600 x 100)", "",
            markdown_table(["path", "ms"], [[k, f"{v * 1e3:.4g}"] for k, v in blog.items()]), "",
            "## The seed's 3-layer network (Linear 10-w-w/2-1, ReLU, Adam, 1000 full-batch steps)", "",
            markdown_table(["N", "width", "CPU s", "GPU s", "GPU speed-up"], net), ""]


def run(sizes, threads, out, command):
    """The whole study; writes payoff.csv, network.csv, payoff.md and payoff.png to out,
    prints payoff.md and the folder it wrote."""
    os.makedirs(out, exist_ok=True)
    rows = matmul_sweep(sizes, threads)
    with open(os.path.join(out, "payoff.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["n"] + KEYS)
        w.writeheader()
        w.writerows(rows)
    cross = {k: crossover(rows, k) for k in KEYS[1:]}
    blog = blog_case(threads)
    import torch
    net = network_rows()
    with open(os.path.join(out, "network.csv"), "w", newline="") as f:
        csv.writer(f).writerows([["N", "width", "cpu_s", "gpu_s", "gpu_speedup"]] + net)
    gpu = machine.gpu_info()
    versions = (f"NumPy's BLAS: {machine.blas_label()}; torch {torch.__version__}; "
                f"CuPy {gpu.get('cupy')}.")
    lines = report_lines(rows, cross, blog, net, threads, command, gpu.get("name"), versions)
    with open(os.path.join(out, "payoff.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    plot(rows, KEYS, cross, os.path.join(out, "payoff.png"), gpu.get("name"), threads)
    print(f"wrote {out}/")
    return 0


def plot(rows, keys, cross, path, gpu_name, threads):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5.5))
    n = [r["n"] for r in rows]
    for k in keys:
        ax.plot(n, [r[k] for r in rows], "o-", label=k + (f" (wins from n={cross[k]})" if cross.get(k) else ""))
    ax.set(xscale="log", yscale="log", xlabel="n (float32, square)", ylabel="median time (s)",
           title=f"GPU ({gpu_name}) against NumPy on {threads} threads")
    ax.set_xscale("log", base=2)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
