"""Cases that tests/test_dist_torch.py runs under `torchrun --nproc_per_node=P tests/torch_cases.py
CASE ...` (gloo, CPU processes). Each prints one line on rank 0: 'ok', or what went wrong; the
order of SUMMA's calls (`order`) is shared with tests/test_dist_loop.py."""
import sys

import numpy as np


def order(panels, slices):
    """The calls SUMMA's loop makes on a rank: 'post' for each broadcast it starts, 'wait',
    'mul' for each row slice of a product and 'test' after it while the next panel travels."""
    seq = ["post", "post"] if panels else []
    for p in range(panels):
        seq.append("wait")
        ahead = p + 1 < panels
        if ahead:
            seq += ["post", "post"]   # the next panel's broadcasts, before this product
        seq += (["mul", "test"] if ahead else ["mul"]) * slices
    return seq


def _init():
    import torch.distributed as tdist
    tdist.init_process_group("gloo")
    return tdist, tdist.get_rank(), tdist.get_world_size()


def _blocks(grid_shape, rank, m, k, n, seed=1):
    import torch
    from matmul_ladder.dist import Layout
    layout = Layout(grid_shape, *divmod(rank, grid_shape[1]))
    a_full = np.random.default_rng(seed).uniform(-1, 1, (m, k))
    b_full = np.random.default_rng(seed + 1).uniform(-1, 1, (k, n))
    a = torch.from_numpy(np.ascontiguousarray(a_full[layout.block((m, k))]))
    b = torch.from_numpy(np.ascontiguousarray(b_full[layout.block((k, n))]))
    return layout, a_full, b_full, a, b


def loop_case(grid_text, m, k, n, panel, pieces):
    """summa_torch with its calls logged: the look-ahead and the pieces (`order`), and C."""
    import torch
    from matmul_ladder import dist
    from matmul_ladder.bench.check import Reference
    tdist, rank, size = _init()
    log = []
    for name in ("row_ibcast", "col_ibcast", "wait", "test"):
        def logged(self, *args, _call=getattr(dist.TorchGrid, name), _name=name):
            log.append("post" if _name.endswith("ibcast") else _name)
            return _call(self, *args)
        setattr(dist.TorchGrid, name, logged)

    def multiply(ap, bp):
        log.append("mul")
        return torch.matmul(ap, bp)
    grid_shape = dist.parse_grid(grid_text)
    layout, a_full, b_full, a, b = _blocks(grid_shape, rank, m, k, n)
    c, stats = dist.summa_torch(a, b, (m, k), (k, n), grid_shape, rank, multiply,
                                panel=panel, pieces=pieces)
    rows, cols = layout.local_shape((m, n))
    slices = max(1, min(pieces, rows)) if rows and cols else 0
    problem = ""
    if log != order(stats.panels, slices):
        problem = f"rank {rank}: calls {log}, expected {order(stats.panels, slices)}"
    parts = [None] * size
    tdist.all_gather_object(parts, (layout.row, layout.col, c.numpy(), problem))
    if rank == 0:
        full = np.empty((m, n))
        for r, cc, block, _ in parts:
            full[layout.block((m, n), r, cc)] = block
        problems = [p for *_, p in parts if p] + [Reference(a_full, b_full).violations(full)]
        print("; ".join(p for p in problems if p) or "ok", flush=True)
    tdist.destroy_process_group()


def mismatch_case(*whats):
    """Bad input planted on rank 1 (or everywhere): every rank must raise, none may hang.
    Prints 'ok' and the message, one pair of lines per fault."""
    import torch
    from matmul_ladder import dist
    tdist, rank, size = _init()
    grid_shape = dist.dims(size)
    for what in whats:
        layout, _, _, a, b = _blocks(grid_shape, rank, 8, 8, 8)
        shape_a, shape_b = (8, 8), (8, 8)
        if what == "dtype" and rank == 1:
            a, b = a.float(), b.float()
        elif what == "int":
            a, b = a.long(), b.long()
        elif what == "inner":
            shape_b = (9, 8)
        elif what == "block" and rank == 1:
            a = torch.ones((1, 1), dtype=torch.float64)
        elif what == "shapes" and rank == 1:
            shape_a, shape_b = (8, 9), (9, 8)
        try:
            dist.summa_torch(a, b, shape_a, shape_b, grid_shape, rank)
            raised = ""
        except ValueError as exc:
            raised = str(exc)
        everyone = [None] * size
        tdist.all_gather_object(everyone, raised)
        if rank == 0:
            same = all(everyone) and len(set(everyone)) == 1
            print("ok" if same else f"{what}: not every rank raised the same: {everyone}", flush=True)
            print(everyone[0], flush=True)
    tdist.destroy_process_group()


if __name__ == "__main__":
    case, args = sys.argv[1], sys.argv[2:]
    if case == "loop":
        g, *numbers = args
        loop_case(g, *map(int, numbers))
    elif case == "mismatch":
        mismatch_case(*args)
