"""Common subexpressions of a scheme's block sums: each shared sum, and each pair of terms that
recurs, formed once per level.

A level of a scheme forms three families of sums (matmul_ladder.schemes gives the notation):
the A side, S_r = sum_a U[a, r] A_a for each product; the B side, T_r = sum_b V[b, r] B_b; the
C side, C_c = sum_r W[c, r] P_r. Written out, each sum is formed on its own. Two rewritings
make them cheaper:

* shared sums: two products whose S (or T) are equal up to a factor form it once, the factor
  moved into W (A and B sides);
* shared pairs: a pair of terms x + c y that recurs, with the same ratio c, in several sums
  becomes a node t = x + c y, formed once and read where the pair was. Winograd's variant of
  Strassen, 24 block additions as written, is 15 with its three shared pairs a side (its
  published form: S2 = S1 - A11, T2 = B22 - T1, U2 = P1 + P6, ...).

Which pairs to take is decided greedily, the pair found in the most sums first, by one of
two criteria:

* "additions": any pair found in two sums or more (each saves an addition): the fewest block
  additions the greedy method finds, the flop count a scheme is quoted by;
* "traffic": a pair only where it cuts the blocks read and written. On a CPU a block sum is
  bound by memory, not by its adds: a fused sum of t terms (csrc/lincomb.c) reads t blocks
  and writes one, however many adds it does. A new node costs three transfers (two reads and
  a write) and saves one read in each sum it serves, so it pays in four sums or more, or
  where it is itself one of the operands wanted (Winograd's S1 = A21 + A22, then read by S2
  and S4). This is the plan rungs/fast.py runs.

A Program is one side's plan: its nodes (sums into buffers of their own), and its outputs as
terms over input blocks and nodes. Coefficients are float64 numbers that hold the scheme's
dyadic rationals exactly (Scheme.coefficients checks it); a ratio that float64 cannot hold
exactly is never taken, so every step is exact, and level_programs proves the plan computes
the scheme's sums by expanding it (expand) and comparing coefficient by coefficient.
"""
import heapq
import math
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from matmul_ladder.schemes import SchemeError

IN, NODE = "in", "node"  # a term's reference: (IN, i) the i-th input block, (NODE, j) node j
CRITERIA = ("additions", "traffic", "none")


@dataclass
class Program:
    """One side's sums. nodes[j]: the terms of node j, {ref: coefficient} over inputs and
    earlier nodes. outputs[o]: the terms of output o. operands: True for the A and B sides,
    whose outputs feed the products (an output of one term is that block itself, its
    coefficient moved into W: no pass); False for the C side, whose every output is a C
    block to write (one pass, even for one term)."""
    nodes: list
    outputs: list
    operands: bool

    def _formed(self):
        """The sums that are passes: every node, and every output the products cannot read
        as it is."""
        return self.nodes + [t for t in self.outputs if not self.operands or len(t) > 1]

    def additions(self):
        """Block additions: terms - 1 for every sum formed."""
        return sum(len(t) - 1 for t in self._formed())

    def passes(self):
        """Block passes: one for every sum formed, however many terms (fused)."""
        return len(self._formed())

    def transfers(self):
        """Blocks read and written by the passes: terms + 1 for every sum formed."""
        return sum(len(t) + 1 for t in self._formed())

    def evaluate(self, inputs):
        """The outputs' values from the input blocks' values (anything with + and * by a
        Fraction or an int: Fractions, integers, integer arrays), node by node, as the plan
        forms them, in exact arithmetic: what the tests compare with the scheme's own sums."""
        done = []

        def value(terms):
            total = 0
            for (kind, i), c in terms.items():
                x = inputs[i] if kind == IN else done[i]
                c = Fraction(c)
                total = total + (c.numerator if c.denominator == 1 else c) * x
            return total
        for terms in self.nodes:
            done.append(value(terms))
        return [value(terms) for terms in self.outputs]

    def expand(self, inputs):
        """The outputs as coefficient vectors over the `inputs` input blocks (a matrix, a
        column per output), computed through the nodes in float64: exact, as every
        coefficient and ratio here is a dyadic rational float64 holds."""
        done = []

        def value(terms):
            total = np.zeros(inputs)
            for (kind, i), c in terms.items():
                total += c * (np.eye(inputs)[i] if kind == IN else done[i])
            return total
        for terms in self.nodes:
            done.append(value(terms))
        return np.array([value(terms) for terms in self.outputs]).reshape(-1, inputs).T

    def schedule(self):
        """The order of work for outputs used one after another (a product per A/B output, a
        C block per C output): (forms, slot, slots). forms[o]: the nodes to form before
        output o is used, in order; slot[j]: the buffer node j is formed in; slots: how many
        buffers. A node's buffer is freed after the last output that reads it, directly or
        through a node formed for it, so buffers are reused."""
        formed, last, forms = {}, {}, []
        for o, terms in enumerate(self.outputs):
            todo = []

            def need(j):
                if j in formed or j in todo:
                    return
                for (kind, i) in self.nodes[j]:
                    if kind == NODE:
                        need(i)
                todo.append(j)
            for (kind, i) in terms:
                if kind == NODE:
                    need(i)
            for j in todo:
                formed[j] = o
            forms.append(todo)
            for j in todo:
                for (kind, i) in self.nodes[j]:
                    if kind == NODE:
                        last[i] = o
            for (kind, i) in terms:
                if kind == NODE:
                    last[i] = o
        slot, free, slots = {}, [], 0
        for o, todo in enumerate(forms):
            for j in todo:
                if free:
                    slot[j] = free.pop(0)
                else:
                    slot[j], slots = slots, slots + 1
            # Freed only once output o is done: a node read while another is formed, or read
            # by the product, must not share a buffer with what is written at this step.
            free = sorted(free + [slot[j] for j in slot if last.get(j, formed[j]) == o])
        return forms, slot, slots


def _ratio(y, x):
    """y / x if float64 holds it exactly, else None. Dividing by a power of two is exact;
    otherwise the quotient is checked in rationals."""
    r = y / x
    if math.frexp(abs(x))[0] == 0.5 or Fraction(y) / Fraction(x) == Fraction(r):
        return r
    return None


def _pairs(terms):
    """(p, q, ratio) for every pair of terms, p < q: terms[q] = ratio * terms[p]."""
    refs = sorted(terms)
    for a, p in enumerate(refs):
        for q in refs[a + 1:]:
            ratio = _ratio(terms[q], terms[p])
            if ratio is not None:
                yield p, q, ratio


def _share_equal_outputs(nodes, outputs):
    """Outputs equal up to a factor become one node, each of them that node times its
    factor (operand sides)."""
    seen = {}
    for o, terms in enumerate(outputs):
        if len(terms) < 2:
            continue
        first = terms[min(terms)]
        ratios = {ref: _ratio(c, first) for ref, c in terms.items()}
        if None in ratios.values():
            continue
        key = frozenset(ratios.items())
        if key not in seen:
            seen[key] = [o]
        else:
            seen[key].append(o)
    for group in seen.values():
        if len(group) < 2:
            continue
        lead = outputs[group[0]]
        first = lead[min(lead)]
        if any(_ratio(outputs[o][min(outputs[o])], first) is None for o in group):
            continue
        nodes.append({ref: c / first for ref, c in lead.items()})
        for o in group:
            outputs[o] = {(NODE, len(nodes) - 1): outputs[o][min(outputs[o])]}


def optimize(forms, operands, criterion="traffic"):
    """The Program of one side. forms: for each output, {input index: coefficient} (its terms
    as the scheme writes them); operands: True for the A and B sides; criterion: "additions",
    "traffic" (the module's docstring) or "none" (every sum formed on its own)."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    nodes = []
    outputs = [{(IN, int(i)): float(c) for i, c in f.items() if c != 0} for f in forms]
    if any(not terms for terms in outputs):
        raise ValueError("a sum of no terms: the scheme has a zero column or row")
    if criterion == "none":
        return _finish(nodes, outputs, operands)
    if operands:
        _share_equal_outputs(nodes, outputs)
    exprs = nodes + outputs  # every sum; a node taken joins them (outputs keep their order)
    count, exact, where, heap = Counter(), Counter(), {}, []

    def gain(key):
        if criterion == "additions":
            return count[key] - 1
        # blocks transferred: +3 for the node, -1 for each sum it serves, -2 more for each
        # operand that is just this pair (it is the node, no pass of its own)
        return count[key] + 2 * exact[key] - 3

    def tally(e, sign):
        """Add (sign 1) or remove (-1) sum e's pairs from the counts."""
        terms = exprs[e]
        for key in _pairs(terms):
            count[key] += sign
            if operands and len(terms) == 2:
                exact[key] += sign
            if sign > 0:
                where.setdefault(key, set()).add(e)
            else:
                where[key].discard(e)
            heapq.heappush(heap, (-gain(key), -count[key], key))
    for e in range(len(exprs)):
        tally(e, 1)
    while heap:
        g, k, key = heapq.heappop(heap)
        if (-g, -k) != (gain(key), count[key]):
            continue  # stale: the key's counts changed after this entry was pushed
        if -g <= 0:
            break
        p, q, ratio = key
        ref = (NODE, len(nodes))
        for e in sorted(where[key]):
            tally(e, -1)
            terms = exprs[e]
            c = terms.pop(p)
            del terms[q]
            terms[ref] = c
            tally(e, 1)
        node = {p: 1.0, q: ratio}
        nodes.append(node)
        exprs.append(node)
        tally(len(exprs) - 1, 1)
    return _finish(nodes, outputs, operands)


def _finish(nodes, outputs, operands):
    """Nodes of one term (a shared operand that became a pair's node) are read through;
    then, on an operand side, every output of several terms becomes a node of its own (its
    buffer is what the product reads), so each output is one term."""
    kept, alias = [], {}  # alias: old node index -> (ref, factor) in the kept numbering

    def rewrite(terms):
        out = {}
        for ref, c in terms.items():
            ref, f = alias[ref[1]] if ref[0] == NODE else (ref, 1)
            out[ref] = out.get(ref, 0.0) + c * f
        return {ref: c for ref, c in out.items() if c != 0}
    for j, terms in enumerate(nodes):
        terms = rewrite(terms)
        if len(terms) == 1:
            (ref, c), = terms.items()
            alias[j] = ref, c
        else:
            kept.append(terms)
            alias[j] = (NODE, len(kept) - 1), 1
    nodes, outputs = kept, [rewrite(t) for t in outputs]
    if operands:
        for o, terms in enumerate(outputs):
            if len(terms) > 1:
                nodes.append(terms)
                outputs[o] = {(NODE, len(nodes) - 1): 1.0}
    return Program(nodes, outputs, operands)


def level_programs(U, V, W, criterion="traffic"):
    """The three Programs of one level of a scheme with float64 coefficient matrices U, V, W
    (Scheme.coefficients): the A side, the B side, and the C side over the products, with
    the factors of the A and B outputs (one term each) moved into W. Returns (a, b, c, w):
    w is W so adjusted. Each Program is checked, exactly, to expand to the scheme's sums:
    a plan that did not would raise, never compute a wrong product."""
    rank = U.shape[1]
    column = lambda X, r: {i: X[i, r] for i in range(X.shape[0]) if X[i, r] != 0}  # noqa: E731
    a = optimize([column(U, r) for r in range(rank)], True, criterion)
    b = optimize([column(V, r) for r in range(rank)], True, criterion)
    w = np.array(W, dtype=float)
    for r in range(rank):
        (_, ca), = a.outputs[r].items()
        (_, cb), = b.outputs[r].items()
        w[:, r] *= ca * cb
    c = optimize([{r: w[i, r] for r in range(rank) if w[i, r] != 0} for i in range(W.shape[0])],
                 False, criterion)
    for side, prog, want in (("A", a, U), ("B", b, V), ("C", c, w.T)):
        verify(prog, want, f"the {side} side's plan ({criterion})")
    return a, b, c, w


def verify(prog, want, what="a plan"):
    """SchemeError unless prog's outputs expand, exactly, to the columns of `want` (the sums
    as the scheme writes them, inputs down the rows)."""
    got = prog.expand(want.shape[0])
    if got.shape != want.shape or not np.array_equal(got, want):
        bad = sorted({int(j) for j in np.argwhere(got != want)[:, 1]}) if got.shape == want.shape else []
        raise SchemeError(f"{what} does not compute the scheme's sums (outputs {bad[:8]} differ)")
