#!/usr/bin/env python3
"""Generates EmbeddingBag golden cases with PyTorch (torch.nn.functional.embedding_bag).

    /usr/bin/python3 tests/golden/make_embedding_bag_golden.py --seed 0 --cases 80 \
        --out tests/golden/embedding_bag.txt

CTest also runs it with a fresh seed (the randomized conformance test), so every mode and option
combination is checked against PyTorch on new cases, not only on the checked-in ones.

Where PyTorch 1.13's EmbeddingBag is wrong, the reference is computed another way, in PyTorch:
- scale_grad_by_freq: the CPU EmbeddingBag backward divides each row's gradient by the wrong
  count. The weight gradient then comes from F.embedding(scale_grad_by_freq=True), which counts
  correctly, followed by the same reduction (sum or mean) written out in PyTorch.
- include_last_offset with a last offset below len(indices): mean and max read out of bounds
  and the sum backward returns garbage, so these cases always end the last bag at the last index
  (the C++ tests cover shorter last bags against Embedding followed by the reduction).
- non-decreasing offsets are not checked by PyTorch; the C++ tests check that emb rejects them.
Every sum and mean case is also recomputed through F.embedding and the explicit reduction, and
the script stops if the two PyTorch paths disagree, so the reference does not rest on one path.
"""

import argparse
import math
import random

import torch
import torch.nn.functional as F

from goldenio import write_case

MODES = ("sum", "mean", "max")


def bag_bounds(offsets, n, include_last_offset):
    """[begin, end) of each bag, as PyTorch reads offsets."""
    ends = offsets[1:] if include_last_offset else offsets[1:] + [n]
    return list(zip(offsets[: len(ends)], ends))


def reduce_reference(weight, indices, bounds, grad_output, dtype, mode, psw, padding_idx,
                     max_norm, norm_type, scale_grad_by_freq):
    """F.embedding (which counts scale_grad_by_freq correctly) followed by the bag reduction."""
    w = weight.to(dtype).clone().requires_grad_(True)
    rows = F.embedding(indices, w, padding_idx=padding_idx, max_norm=max_norm,
                       norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq)
    pad = None if padding_idx is None else padding_idx % weight.shape[0]
    bags = []
    for begin, end in bounds:
        keep = [p for p in range(begin, end) if int(indices[p]) != pad]
        if not keep:
            bags.append(torch.zeros(weight.shape[1], dtype=dtype))
            continue
        picked = rows[keep]
        if psw is not None:
            picked = picked * psw.to(dtype)[keep].unsqueeze(1)
        total = picked.sum(0)
        bags.append(total / len(keep) if mode == "mean" else total)
    out = torch.stack(bags) if bags else torch.zeros(0, weight.shape[1], dtype=dtype)
    if out.requires_grad:  # not when every bag is empty or padding
        out.backward(grad_output.to(dtype))
    return out.detach(), w.grad if w.grad is not None else torch.zeros_like(w)


def run(weight, indices, offsets, grad_output, dtype, mode, psw, padding_idx, max_norm, norm_type,
        scale_grad_by_freq, include_last_offset):
    # With max_norm, F.embedding_bag renorms this leaf in place (under no_grad): read it back after.
    w = weight.to(dtype).clone().requires_grad_(True)
    p = None if psw is None else psw.to(dtype).clone().requires_grad_(True)
    out = F.embedding_bag(indices, w, offsets, mode=mode, per_sample_weights=p,
                          padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                          scale_grad_by_freq=scale_grad_by_freq,
                          include_last_offset=include_last_offset)
    out.backward(grad_output.to(dtype))
    grad = w.grad if w.grad is not None else torch.zeros_like(w)
    if mode != "max":
        flat = indices.reshape(-1)
        n = flat.numel()
        bounds = (bag_bounds(offsets.tolist(), n, include_last_offset) if offsets is not None
                  else [(b * indices.shape[1], (b + 1) * indices.shape[1])
                        for b in range(indices.shape[0])])
        ref_out, ref_grad = reduce_reference(
            weight, flat, bounds, grad_output, dtype, mode,
            None if psw is None else psw.reshape(-1), padding_idx, max_norm, norm_type,
            scale_grad_by_freq)
        tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
        assert torch.allclose(out.detach(), ref_out, **tol), "F.embedding_bag output disagrees"
        if scale_grad_by_freq:
            grad = ref_grad  # PyTorch 1.13's EmbeddingBag divides by the wrong count
        else:
            assert torch.allclose(grad, ref_grad, **tol), "F.embedding_bag gradient disagrees"
    psw_grad = None if p is None else p.grad
    return out.detach(), w.detach(), grad, psw_grad


def make_case(rng):
    num = rng.randint(1, 13)
    dim = rng.randint(1, 8)
    mode = rng.choice(MODES)
    form = rng.choice(["offsets", "offsets", "offsets", "batch"])
    hot = rng.randint(1, num)  # draw from few rows so duplicates are common

    def draw(count):
        return [rng.randrange(hot) if rng.random() < 0.7 else rng.randrange(num)
                for _ in range(count)]

    include_last_offset = False
    offsets = None
    if form == "batch":
        bags, length = rng.randint(1, 5), rng.randint(1, 5)  # PyTorch rejects L = 0
        indices = torch.tensor(draw(bags * length), dtype=torch.int64).reshape(bags, length)
        psw_shape = [bags, length]
    else:
        n = rng.choice([0, 1, 2, 5, 9, 17, 24])
        bags = rng.randint(0 if n == 0 else 1, 6)
        # Sorted draws with repeats: empty bags are common, as are bags at the very end.
        cuts = sorted(rng.randint(0, n) for _ in range(max(bags - 1, 0)))
        offset_list = [0] + cuts if bags else []
        include_last_offset = rng.random() < 0.4 and bags > 0
        if include_last_offset:
            offset_list.append(n)  # PyTorch 1.13 misbehaves when the last offset is below n
        indices = torch.tensor(draw(n), dtype=torch.int64)
        offsets = torch.tensor(offset_list, dtype=torch.int64)
        psw_shape = [n]
        bags = len(offset_list) - (1 if include_last_offset else 0)
    padding_idx = rng.choice([None, None, rng.randrange(-num, num)])
    max_norm = rng.choice([None, None, rng.uniform(0.3, 3.0)])
    norm_type = rng.choice([2.0, 2.0, 1.0, 3.5, math.inf])
    scale = mode != "max" and rng.random() < 0.4  # PyTorch rejects it in max mode, as emb
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    weight = torch.randn(num, dim, generator=gen, dtype=torch.float64)
    # Small integers: ties in max mode, exact sums. Not with max_norm in max mode: rows renormed
    # by different scales turn exact ties into near-ties that float rounding decides, in PyTorch
    # and in emb alike, and the winner (so the gradient's row) would then be a coin toss.
    if rng.random() < 0.3 and not (mode == "max" and max_norm is not None):
        weight = torch.round(weight * 2)
    psw = None
    if mode == "sum" and rng.random() < 0.5:
        psw = torch.randn(psw_shape, generator=gen, dtype=torch.float64)
    grad_output = torch.randn(bags, dim, generator=gen, dtype=torch.float64)
    values = dict(mode=mode, weight=weight, indices=indices, offsets=offsets,
                  per_sample_weights=psw, grad_output=grad_output, padding_idx=padding_idx,
                  max_norm=max_norm, norm_type=norm_type, scale_grad_by_freq=int(scale),
                  include_last_offset=int(include_last_offset))
    for suffix, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        out, w_after, grad, psw_grad = run(weight, indices, offsets, grad_output, dtype, mode, psw,
                                           padding_idx, max_norm, norm_type, scale,
                                           include_last_offset)
        values[f"out_{suffix}"] = out
        values[f"weight_after_{suffix}"] = w_after
        values[f"grad_{suffix}"] = grad
        values[f"grad_psw_{suffix}"] = psw_grad
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=80)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w") as out:
        out.write(f"# made by make_embedding_bag_golden.py --seed {args.seed} --cases {args.cases}"
                  f" with torch {torch.__version__}\n")
        for i in range(args.cases):
            write_case(out, f"seed{args.seed}_case{i}", **make_case(rng))


if __name__ == "__main__":
    main()
