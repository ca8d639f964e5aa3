#!/usr/bin/env python3
"""Generates classifier-loss golden cases with PyTorch: an EmbeddingBag (mean) and an output layer.

    /usr/bin/python3 tests/golden/make_loss_golden.py --seed 0 --cases 60 \
        --out tests/golden/loss.txt

Each case is one batch through F.embedding_bag(mode='mean') and one of emb/loss.hpp's losses:
- softmax: F.cross_entropy(F.linear(bag, out_weight, bias), targets), with and without a bias;
- ns: F.binary_cross_entropy_with_logits over the scores of [target, negatives...] against
  [1, 0, ...], summed per example and averaged over the batch;
- hs: the same binary logistic terms on the target's path in fastText's Huffman tree (built here
  as fastText's HierarchicalSoftmaxLoss::buildTree does, src/loss.cc), so the case also holds the
  tree's paths and codes.
The golden values are PyTorch's loss and autograd gradients of the bag output, of the output
weight, of the bias and of the bag table. CTest also runs this script with a fresh seed.
"""

import argparse
import random

import torch
import torch.nn.functional as F

from goldenio import write_case


def huffman_paths(counts):
    """fastText's buildTree over labels sorted by decreasing count (stable), then each label's
    path (internal node ids, leaf to root) and code (1 = right child)."""
    n = len(counts)
    order = sorted(range(n), key=lambda i: -counts[i])  # stable: ties keep label order
    count = [counts[order[i]] for i in range(n)] + [10**18] * (n - 1)
    parent = [-1] * (2 * n - 1)
    binary = [0] * (2 * n - 1)
    leaf, node = n - 1, n
    for i in range(n, 2 * n - 1):
        mini = []
        for _ in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                mini.append(leaf)
                leaf -= 1
            else:
                mini.append(node)
                node += 1
        count[i] = count[mini[0]] + count[mini[1]]
        parent[mini[0]] = parent[mini[1]] = i
        binary[mini[1]] = 1
    paths, codes = [None] * n, [None] * n
    for position in range(n):
        path, code, j = [], [], position
        while parent[j] != -1:
            path.append(parent[j] - n)
            code.append(binary[j])
            j = parent[j]
        paths[order[position]], codes[order[position]] = path, code
    return paths, codes


def make_case(rng):
    kind = rng.choice(["softmax", "softmax_bias", "ns", "hs"])
    num, dim = rng.randint(3, 12), rng.randint(1, 7)
    labels = rng.randint(2, 9)
    batch = rng.randint(1, 5)
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    table = torch.randn(num, dim, generator=gen, dtype=torch.float64)
    lengths = [rng.randint(1, 6) for _ in range(batch)]
    indices = torch.tensor([rng.randrange(num) for _ in range(sum(lengths))], dtype=torch.int64)
    offsets = torch.tensor([sum(lengths[:b]) for b in range(batch)], dtype=torch.int64)
    targets = torch.tensor([rng.randrange(labels) for _ in range(batch)], dtype=torch.int64)
    values = dict(kind=kind, table=table, indices=indices, offsets=offsets, targets=targets)
    negatives = bias = paths = codes = None
    if kind == "hs":
        counts = [rng.choice([1, 2, 3, 5, 8, 40, 100]) for _ in range(labels)]
        paths, codes = huffman_paths(counts)
        values["counts"] = torch.tensor(counts, dtype=torch.int64)
        width = max(len(p) for p in paths)  # paths padded with -1 for the golden file
        values["paths"] = torch.tensor([p + [-1] * (width - len(p)) for p in paths])
        values["codes"] = torch.tensor([c + [-1] * (width - len(c)) for c in codes])
        out_rows = labels - 1
    else:
        out_rows = labels
    out = torch.randn(out_rows, dim, generator=gen, dtype=torch.float64) * rng.choice([0.1, 1, 3])
    values["out_weight"] = out
    if kind == "softmax_bias":
        bias = torch.randn(labels, generator=gen, dtype=torch.float64)
        values["bias"] = bias
    if kind == "ns":
        k = rng.randint(1, 5)
        negatives = torch.tensor([[rng.randrange(labels) for _ in range(k)] for _ in range(batch)],
                                 dtype=torch.int64)
        values["negatives"] = negatives
    for suffix, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        t = table.to(dtype).clone().requires_grad_(True)
        w = out.to(dtype).clone().requires_grad_(True)
        b = None if bias is None else bias.to(dtype).clone().requires_grad_(True)
        bag = F.embedding_bag(indices, t, offsets, mode="mean")
        bag.retain_grad()
        if kind.startswith("softmax"):
            loss = F.cross_entropy(F.linear(bag, w, b), targets)
        elif kind == "ns":
            rows = torch.cat([targets.unsqueeze(1), negatives], dim=1)
            scores = (w[rows] * bag.unsqueeze(1)).sum(-1)
            want = torch.zeros_like(scores)
            want[:, 0] = 1
            loss = F.binary_cross_entropy_with_logits(scores, want, reduction="sum") / batch
        else:
            terms = []
            for e in range(batch):
                path = torch.tensor(paths[int(targets[e])], dtype=torch.int64)
                code = torch.tensor(codes[int(targets[e])], dtype=dtype)
                scores = (w[path] * bag[e]).sum(-1)
                terms.append(F.binary_cross_entropy_with_logits(scores, code, reduction="sum"))
            loss = torch.stack(terms).sum() / batch
        loss.backward()
        values[f"loss_{suffix}"] = loss.detach()
        values[f"grad_bag_{suffix}"] = bag.grad
        values[f"grad_out_{suffix}"] = w.grad
        values[f"grad_table_{suffix}"] = t.grad
        if b is not None:
            values[f"grad_bias_{suffix}"] = b.grad
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w") as out:
        out.write(f"# made by make_loss_golden.py --seed {args.seed} --cases {args.cases}"
                  f" with torch {torch.__version__}\n")
        for i in range(args.cases):
            write_case(out, f"seed{args.seed}_case{i}", **make_case(rng))


if __name__ == "__main__":
    main()
