"""The pr x pc grid and what lives where on it: one check of a grid, blocks, K's panels, owners."""
import numpy as np


def block_range(n, parts, i):
    """[start, stop) of part i when n is cut into `parts` nearly equal parts."""
    q, r = divmod(n, parts)
    start = i * q + min(i, r)
    return start, start + q + (1 if i < r else 0)


def _bounds(n, parts):
    """The cuts of n into `parts` nearly equal parts: [0, ..., n], parts + 1 of them."""
    return [block_range(n, parts, i)[0] for i in range(parts)] + [n]


def parse_grid(text):
    """'2x3' -> (2, 3)."""
    try:
        pr, pc = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"grid {text!r}: expected ROWSxCOLS, e.g. 2x2") from None
    if pr < 1 or pc < 1:
        raise ValueError(f"grid {text!r}: both sides must be at least 1")
    return pr, pc


def dims(ranks):
    """A pr x pc grid of `ranks`, as square as it divides (pr >= pc): what MPI_Dims_create
    gives for two dimensions, for where mpi4py is not loaded (torch.distributed, whose ranks
    must not start MPI)."""
    pc = max(d for d in range(1, int(ranks ** 0.5) + 1) if ranks % d == 0)
    return ranks // pc, pc


def check_grid(shape, ranks):
    """(pr, pc), or the ValueError every path gives for a grid that is not `ranks` ranks."""
    pr, pc = shape
    if pr < 1 or pc < 1 or pr * pc != ranks:
        raise ValueError(f"a {pr}x{pc} grid needs {pr * pc} ranks; there are {ranks}")
    return pr, pc


class Layout:
    """Where blocks live on a pr x pc grid: rank (row, col) holds block (row, col) of every
    matrix, and ranks are numbered row by row (rank = row * pc + col, MPI's Cartesian order).
    comm.Grid and comm.TorchGrid add the communication."""

    def __init__(self, shape, row, col):
        self.shape, self.row, self.col = tuple(shape), row, col
        self.rank, self.size = row * shape[1] + col, shape[0] * shape[1]

    def coords(self, rank):
        """(row, col) of `rank`."""
        return divmod(rank, self.shape[1])

    def block(self, shape, row=None, col=None):
        """(row slice, column slice) of block (row, col), this rank's by default, of a matrix
        of `shape` cut pr x pc."""
        row = self.row if row is None else row
        col = self.col if col is None else col
        (r0, r1), (c0, c1) = (block_range(shape[0], self.shape[0], row),
                              block_range(shape[1], self.shape[1], col))
        return slice(r0, r1), slice(c0, c1)

    def local_shape(self, shape, row=None, col=None):
        """The shape of block (row, col), this rank's by default."""
        rows, cols = self.block(shape, row, col)
        return rows.stop - rows.start, cols.stop - cols.start


def _panels(k, pr, pc, width):
    """K's panels: [k0, k1) pieces that lie in one A column block and one B row block."""
    cuts = sorted(set(_bounds(k, pc)) | set(_bounds(k, pr)))
    panels = []
    for lo, hi in zip(cuts, cuts[1:]):
        step = hi - lo if not width else width
        panels += [(p, min(p + step, hi)) for p in range(lo, hi, step)]
    return panels


def _owner(bounds, k0):
    """The part (of those `bounds` cut) that holds index k0."""
    return next(i for i in range(len(bounds) - 1) if bounds[i] <= k0 < bounds[i + 1])


def _schedule(k, pr, pc, width):
    """SUMMA's steps: (k0, k1, grid column owning A's panel, grid row owning B's panel)."""
    a_bounds, b_bounds = _bounds(k, pc), _bounds(k, pr)
    return [(k0, k1, _owner(a_bounds, k0), _owner(b_bounds, k0))
            for k0, k1 in _panels(k, pr, pc, width)]


def random_block(shape, grid, seed, dtype=np.float64, row=None, col=None):
    """Block (row, col) (this rank's by default) of a random matrix defined block by block:
    uniform in [-1, 1), from a generator seeded by (seed, row, col). Each rank makes its own
    block in place, so weak scaling never needs a whole matrix on one rank."""
    row = grid.row if row is None else row
    col = grid.col if col is None else col
    rng = np.random.default_rng([seed, row, col])
    return rng.uniform(-1, 1, grid.local_shape(shape, row, col)).astype(dtype)


def random_matrix(shape, grid, seed, dtype=np.float64):
    """The whole matrix whose blocks random_block makes (for checking, on one rank)."""
    full = np.empty(shape, dtype=dtype)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            full[grid.block(shape, i, j)] = random_block(shape, grid, seed, dtype, i, j)
    return full
