"""SUMMA's one loop (matmul_ladder.dist.engine), in one process: the ranks of a grid as threads
over a fake grid that passes NumPy blocks between them. Uneven blocks on square, 1xP and Px1
grids against NumPy; the next panel's broadcasts posted before each product and the products
done in row slices with tests between them (the calls in order); bad input planted on one
rank raising the same error on every rank; the maxima over ranks; the command line's options
as they were."""
import threading

import numpy as np
import pytest

from matmul_ladder import dist
from matmul_ladder.bench.check import Reference
from matmul_ladder.dist import engine
from torch_cases import order


class World:
    """What the threads of one fake run share: the broadcasts posted so far and a barrier."""

    def __init__(self, size):
        self.cond = threading.Condition()
        self.board = {}
        self.gathered = [None] * size
        self.sync = threading.Barrier(size, timeout=20)


class FakeGrid(dist.Layout):
    """The grid interface of comm.Grid and comm.TorchGrid over a World, logging its calls."""

    DTYPES = ("float32", "float64")

    def __init__(self, world, shape, rank):
        super().__init__(shape, *divmod(rank, shape[1]))
        self.world, self.count, self.log = world, {"row": 0, "col": 0}, []

    def _ibcast(self, axis, buf, root):
        self.log.append("post")
        key = (axis, self.row if axis == "row" else self.col, self.count[axis])
        self.count[axis] += 1
        if root != self.rank:
            return key, buf
        with self.world.cond:
            self.world.board[key] = np.array(buf)
            self.world.cond.notify_all()
        return key, None

    def row_ibcast(self, buf, col):
        return self._ibcast("row", buf, self.row * self.shape[1] + col)

    def col_ibcast(self, buf, row):
        return self._ibcast("col", buf, row * self.shape[1] + self.col)

    def wait(self, requests):
        self.log.append("wait")
        for key, buf in requests:
            if buf is not None:
                with self.world.cond:
                    assert self.world.cond.wait_for(lambda: key in self.world.board, 20), key
                    buf[...] = self.world.board[key]

    def test(self, requests):
        self.log.append("test")
        with self.world.cond:
            return all(buf is None or key in self.world.board for key, buf in requests)

    def allgather(self, obj):
        self.world.gathered[self.rank] = obj
        self.world.sync.wait()
        out = list(self.world.gathered)
        self.world.sync.wait()
        return out

    def allreduce_max(self, values):
        return [float(max(v)) for v in zip(*self.allgather(list(values)))]

    def barrier(self):
        self.world.sync.wait()

    def sync(self):
        pass

    empty = staticmethod(lambda shape, like: np.empty(shape, dtype=like.dtype))
    zeros = staticmethod(lambda shape, like: np.zeros(shape, dtype=like.dtype))
    contiguous = staticmethod(np.ascontiguousarray)


def on_threads(shape, work):
    """work(grid) on every rank of a fake `shape` grid, each in a thread: the results (an
    exception where one was raised), failing if any rank hangs."""
    world = World(shape[0] * shape[1])
    grids = [FakeGrid(world, shape, r) for r in range(world.sync.parties)]
    results = [None] * len(grids)

    def run(r):
        try:
            results[r] = work(grids[r])
        except Exception as exc:   # noqa: BLE001 -- handed to the test
            results[r] = exc
    threads = [threading.Thread(target=run, args=(r,), daemon=True) for r in range(len(grids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a rank hangs"
    return grids, results


def product(grid, a_full, b_full, panel=0, pieces=4, multiply=np.matmul):
    """summa's own steps, the kernel aside: _agree, then the loop."""
    a, b = (np.ascontiguousarray(x[grid.block(x.shape)]) for x in (a_full, b_full))
    engine._agree(grid, a, b, a_full.shape, b_full.shape)
    return engine._loop(grid, a, b, a_full.shape, b_full.shape, multiply, panel, pieces)


def assemble(grids, results, shape):
    full = np.empty(shape)
    for g, (c, _) in zip(grids, results):
        full[g.block(shape)] = c
    return full


GRIDS = [(1, 1), (2, 2), (2, 3), (1, 4), (4, 1)]
SHAPES = [(16, 16, 16), (37, 23, 41), (5, 64, 3), (1, 7, 1), (33, 1, 29)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: f"{g[0]}x{g[1]}")
@pytest.mark.parametrize("panel,pieces", [(0, 1), (3, 4)])
def test_one_loop_matches_numpy(grid, shape, panel, pieces):
    m, k, n = shape
    rng = np.random.default_rng(7)
    a_full, b_full = rng.uniform(-1, 1, (m, k)), rng.uniform(-1, 1, (k, n))
    grids, results = on_threads(grid, lambda g: product(g, a_full, b_full, panel, pieces))
    assert not [r for r in results if isinstance(r, Exception)], results
    problem = Reference(a_full, b_full).violations(assemble(grids, results, (m, n)))
    assert not problem, problem
    assert len({s.panels for _, s in results}) == 1


@pytest.mark.parametrize("grid,shape,panel,pieces", [((2, 2), (45, 67, 31), 5, 3),
                                                    ((1, 3), (7, 20, 9), 0, 4),
                                                    ((3, 1), (2, 9, 4), 2, 5)])
def test_next_panel_travels_during_this_product_in_pieces(grid, shape, panel, pieces):
    """Each rank's calls in order: the next panel's broadcasts before this panel's product,
    which is cut in min(pieces, rows) row slices with a test of them after each (3x1 with
    M = 2: the last rank has no rows and only passes panels on)."""
    m, k, n = shape
    a_full, b_full = np.ones((m, k)), np.ones((k, n))

    def work(g):
        def multiply(ap, bp):
            g.log.append("mul")
            return ap @ bp
        return product(g, a_full, b_full, panel, pieces, multiply)
    grids, results = on_threads(grid, work)
    for g, (c, stats) in zip(grids, results):
        rows, cols = g.local_shape((m, n))
        slices = max(1, min(pieces, rows)) if rows and cols else 0   # none on an empty block
        assert stats.panels == len(dist._panels(k, *grid, panel)) > 1
        assert g.log == order(stats.panels, slices), (g.rank, g.log)
        assert np.array_equal(c, np.full(c.shape, float(k)))


@pytest.mark.parametrize("what,message", [
    ("dtype", "ranks disagree on the dtype: float32, float64"),
    ("int", "dtype int64: float32 or float64 only"),
    ("shapes", "ranks disagree on the global shapes of A and B"),
    ("inner", "shapes (8, 8) and (9, 8): inner dimensions differ"),
    ("block", "rank 1 (grid 0,1) holds blocks (1, 1) and (4, 4); the 2x2 grid gives it (4, 4) "
              "and (4, 4)")])
def test_bad_input_on_one_rank_raises_the_same_error_on_every_rank(what, message):
    def work(g):
        a, b = np.ones(g.local_shape((8, 8))), np.ones(g.local_shape((8, 8)))
        shape_a, shape_b = (8, 8), (8, 8)
        if what == "dtype" and g.rank == 1:
            a = a.astype(np.float32)
        elif what == "int":
            a, b = a.astype(np.int64), b.astype(np.int64)
        elif what == "shapes" and g.rank == 1:
            shape_a = (8, 9)
        elif what == "inner":
            shape_b = (9, 8)
        elif what == "block" and g.rank == 1:
            a = np.ones((1, 1))
        engine._agree(g, a, b, shape_a, shape_b)
    _, results = on_threads((2, 2), work)
    assert all(isinstance(r, ValueError) for r in results), results
    assert {str(r) for r in results} == {message}


def test_torch_grids_name_their_dtypes_in_the_error():
    class TorchLike(FakeGrid):
        DTYPES = dist.TorchGrid.DTYPES

    def work(g):
        g.__class__ = TorchLike
        x = np.ones(g.local_shape((4, 4)), np.int32)
        engine._agree(g, x, x, (4, 4), (4, 4))
    _, results = on_threads((1, 2), work)
    assert {str(r) for r in results} == {"dtype int32: float16, bfloat16, float32 or float64 only"}


def test_stats_reduce_takes_each_fields_maximum_and_keeps_its_type():
    def work(g):
        s = dist.Stats(total_s=1.0 + g.rank, gemm_s=3.0 - g.rank, bytes_in=10 * g.rank, panels=2)
        return s.reduce(g), s.reduce(g, ("total_s", "gemm_s", "wait_s", "pack_s"))
    _, results = on_threads((1, 3), work)
    for every, times in results:
        assert every == dist.Stats(total_s=3.0, gemm_s=3.0, bytes_in=20, panels=2)
        assert type(every.bytes_in) is int and type(every.total_s) is float
        assert (times.total_s, times.gemm_s) == (3.0, 3.0)
    assert [times.bytes_in for _, times in results] == [0, 10, 20]   # each rank's own


def test_dims_is_the_squarest_grid():
    for ranks in range(1, 257):
        pr, pc = dist.dims(ranks)
        assert pr * pc == ranks and pr >= pc
        assert not any(ranks % d == 0 for d in range(pc + 1, int(ranks ** 0.5) + 1)), ranks


def test_one_check_of_a_grid():
    assert dist.check_grid((2, 3), 6) == (2, 3)
    for shape, ranks in [((3, 1), 2), ((0, 2), 0), ((2, 2), 3)]:
        with pytest.raises(ValueError, match=f"a {shape[0]}x{shape[1]} grid needs "
                                             f"{shape[0] * shape[1]} ranks; there are {ranks}"):
            dist.check_grid(shape, ranks)
    layout = dist.Layout((2, 3), 1, 2)
    assert layout.rank == 5 and layout.size == 6 and layout.coords(5) == (1, 2)
    assert [layout.coords(r) for r in range(6)] == [(i, j) for i in range(2) for j in range(3)]


def test_random_blocks_make_the_random_matrix():
    layout = dist.Layout((2, 3), 0, 0)
    full = dist.random_matrix((7, 5), layout, 3)
    for i in range(2):
        for j in range(3):
            assert np.array_equal(full[layout.block((7, 5), i, j)],
                                  dist.random_block((7, 5), layout, 3, row=i, col=j))


def test_command_line_options_are_as_before():
    """`python -m matmul_ladder.dist`'s options, defaults and choices as they were."""
    from matmul_ladder.dist.__main__ import _parser
    assert [(a.option_strings, a.dest, a.default, a.choices) for a in _parser()._actions] == [
        (["-h", "--help"], "help", "==SUPPRESS==", None), (["--n", "--size"], "n", 1024, None),
        (["--shape"], "shape", None, None), (["--block"], "block", 0, None),
        (["--grid"], "grid", None, None), (["--backend"], "backend", "mpi", ["mpi", "torch"]),
        (["--device"], "device", "cpu", ["cpu", "cuda"]),
        (["--dist-backend"], "dist_backend", None, None), (["--kernel"], "kernel", None, None),
        (["--threads"], "threads", 1, None),
        (["--dtype"], "dtype", "float64", ["float32", "float64", "bfloat16"]),
        (["--panel"], "panel", 0, None), (["--pieces"], "pieces", 4, None),
        (["--repeats"], "repeats", 3, None), (["--check"], "check", False, None),
        (["--pingpong"], "pingpong", False, None)]
