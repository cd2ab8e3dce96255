"""Rung 0 (py_naive): the triple loop in pure Python, on lists of lists, the ladder's floor.

No imports, as the course assignment demands ("nothing but time and matplotlib").
Hypothesis: every multiply-add goes through the interpreter: boxed floats, dynamic dispatch
and list indexing cost ~50-100 ns each, where the hardware needs < 1 ns.
Expect: ~0.01-0.03 GFLOP/s whatever the size; time grows as n^3.
"""


def matmul_lists(a, b, n_cols):
    """C = A @ B for A (M x K) and B (K x N) given as lists of rows of Python floats.
    n_cols is N, which B alone cannot tell when K is 0."""
    k_dim = len(b)
    c = []
    for i in range(len(a)):
        row = []
        for j in range(n_cols):
            total = 0.0
            for k in range(k_dim):
                total += a[i][k] * b[k][j]
            row.append(total)
        c.append(row)
    return c


def correlate3x3_lists(x, w):
    """Convolution rung 0 (conv_py_naive): the 'valid' cross-correlation of an image x (a list
    of rows) with a 3 x 3 filter w, four plain loops. As for matmul, every multiply-add goes
    through the interpreter. Expect: ~0.002-0.01 Gpix/s; time grows as N^2."""
    rows, cols = len(x), len(x[0]) if x else 0
    y = []
    for i in range(rows - 2):
        out = []
        for j in range(cols - 2):
            total = 0.0
            for p in range(3):
                for q in range(3):
                    total += x[i + p][j + q] * w[p][q]
            out.append(total)
        y.append(out)
    return y
