#!/usr/bin/env python3
"""Generates Embedding golden cases with PyTorch (torch.nn.functional.embedding).

    /usr/bin/python3 tests/golden/make_embedding_golden.py --seed 0 --cases 60 \
        --out tests/golden/embedding.txt

CTest also runs it with a fresh seed (the randomized conformance test), so every option
combination is checked against PyTorch on new cases, not only on the checked-in ones.
"""

import argparse
import math
import random

import torch
import torch.nn.functional as F

from goldenio import write_case


def run(weight, indices, grad_output, dtype, padding_idx, max_norm, norm_type, scale_grad_by_freq):
    # With max_norm, F.embedding renorms this leaf in place (under no_grad): read it back after.
    w = weight.to(dtype).clone().requires_grad_(True)
    out = F.embedding(indices, w, padding_idx=padding_idx, max_norm=max_norm,
                      norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq)
    out.backward(grad_output.to(dtype))
    return out.detach(), w.detach(), w.grad


def make_case(rng):
    num = rng.randint(1, 13)
    dim = rng.randint(1, 8)
    rank = rng.choice([0, 1, 1, 1, 2, 3])
    shape = [rng.choice([0, 1, 2, 3, 5, 9]) if rank == 1 else rng.randint(1, 4)
             for _ in range(rank)]
    if rank == 1 and rng.random() < 0.8:
        shape = [rng.randint(1, 24)]
    hot = rng.randint(1, num)  # draw from few rows so duplicates are common
    count = math.prod(shape)
    indices = torch.tensor([rng.randrange(hot) if rng.random() < 0.7 else rng.randrange(num)
                            for _ in range(count)], dtype=torch.int64).reshape(shape)
    padding_idx = rng.choice([None, None, rng.randrange(-num, num)])
    max_norm = rng.choice([None, None, rng.uniform(0.3, 3.0)])
    norm_type = rng.choice([2.0, 2.0, 1.0, 3.5, math.inf])
    scale = rng.random() < 0.4
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    weight = torch.randn(num, dim, generator=gen, dtype=torch.float64)
    grad_output = torch.randn(shape + [dim], generator=gen, dtype=torch.float64)
    values = dict(weight=weight, indices=indices, grad_output=grad_output,
                  padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                  scale_grad_by_freq=int(scale))
    for suffix, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        out, w_after, grad = run(weight, indices, grad_output, dtype, padding_idx, max_norm,
                                 norm_type, scale)
        values[f"out_{suffix}"] = out
        values[f"weight_after_{suffix}"] = w_after
        values[f"grad_{suffix}"] = grad
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w") as out:
        out.write(f"# made by make_embedding_golden.py --seed {args.seed} --cases {args.cases}"
                  f" with torch {torch.__version__}\n")
        for i in range(args.cases):
            write_case(out, f"seed{args.seed}_case{i}", **make_case(rng))


if __name__ == "__main__":
    main()
