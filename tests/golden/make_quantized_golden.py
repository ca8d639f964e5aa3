#!/usr/bin/env python3
"""Generates compressed-table golden cases with PyTorch's quantized embedding operators.

    /usr/bin/python3 tests/golden/make_quantized_golden.py --seed 0 --cases 40 \
        --out tests/golden/quantized.txt

CTest also runs it with a fresh seed (the randomized conformance test).

Each case is one float32 weight (random shapes; scales from 1e-3 to 30; constant rows, zero rows
and rows holding both zeros) packed in every storage it allows:
- int8/int4/int2: the bytes of torch.ops.quantized.embedding_bag_{byte,4bit,2bit}_prepack and the
  floats of embedding_bag_{byte,4bit,2bit}_unpack (int4 only for even widths, int2 for widths
  divisible by 4: PyTorch refuses the others);
- float16/bfloat16: the bits of weight.half() / weight.bfloat16();
and one bag lookup over it:
- fused_<storage>: embedding_bag_{byte,4bit,2bit}_rowwise_offsets (sum; PyTorch 1.13's CPU kernels
  ignore `mode`), without padding_idx (the fused operators have none);
- ref_<storage>: F.embedding_bag over the dequantized table, with the case's mode, padding_idx and
  per_sample_weights: what emb computes in every mode.
Debian's PyTorch 1.13 has no FBGEMM: these are its fallback kernels. Its byte prepack of a
float16 tensor corrupts row 0, so every input here is float32.
"""

import argparse
import math
import random

import numpy as np
import torch
import torch.nn.functional as F

from goldenio import write_case

MODES = ("sum", "mean", "max")
QUANTIZED = {"int8": "byte", "int4": "4bit", "int2": "2bit"}


def make_weight(rng, gen, num, dim):
    scale = 10 ** rng.uniform(-3, math.log10(30))
    w = torch.randn(num, dim, generator=gen) * scale
    w += torch.randn(num, 1, generator=gen) * scale * rng.choice([0, 0, 1, 5])
    for r in range(num):
        kind = rng.random()
        if kind < 0.1:
            w[r] = 0.0
        elif kind < 0.2:
            w[r] = float(np.float32(rng.uniform(-3, 3)))  # constant row
        elif kind < 0.3:
            w[r, rng.randrange(dim)] = -0.0
            w[r, rng.randrange(dim)] = 0.0
        elif kind < 0.35:
            w[r] = torch.round(w[r])  # ties in max mode
    return w.to(torch.float32)


def packed(weight, storage):
    if storage in QUANTIZED:
        op = getattr(torch.ops.quantized, f"embedding_bag_{QUANTIZED[storage]}_prepack")
        return op(weight)
    half = weight.half() if storage == "float16" else weight.bfloat16()
    return torch.from_numpy(half.view(torch.int16).numpy().view(np.uint8).copy())


def dequantized(weight, storage, pack):
    if storage in QUANTIZED:
        return getattr(torch.ops.quantized, f"embedding_bag_{QUANTIZED[storage]}_unpack")(pack)
    if storage == "float32":
        return weight.clone()
    return (weight.half() if storage == "float16" else weight.bfloat16()).float()


def conversions(rng):
    """float32 bit patterns and the bits of their torch .half() and .bfloat16(): random floats of
    every magnitude, and the edges (ties, the float16 overflow and subnormal bounds)."""
    edges = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x00000001, 0x7F7FFFFF,
             0x477FF000, 0x477FEFFF, 0x477FF001, 0x477FE000, 0x38800000, 0x387FFFFF, 0x387FE000,
             0x33000000, 0x33000001, 0x32FFFFFF, 0x33800000, 0x33C00000, 0x34000000, 0x3F801000,
             0x3F803000, 0x3F800FFF, 0x3F808000, 0x3F818000, 0x3F7FFFFF, 0x7F7F8000, 0x7F7F7FFF,
             0x477FFFFF, 0x47800000]
    bits = edges + [b | 0x80000000 for b in edges]
    bits += [rng.getrandbits(32) for _ in range(600)]
    # Magnitudes around float16's range, where its rounding and subnormals live.
    bits += [(rng.randrange(95 << 23, 145 << 23)) | (rng.getrandbits(1) << 31) for _ in range(900)]
    bits += [rng.randrange(0x3F800000, 0x40000000) & ~0xFFF | rng.choice([0x1000, 0x0FFF, 0x1001])
             for _ in range(100)]
    f = torch.from_numpy(np.array(bits, dtype=np.uint32).view(np.float32))
    return dict(float_bits=np.array(bits, dtype=np.int64),
                half_bits=f.half().view(torch.int16).numpy().view(np.uint16).astype(np.int64),
                bfloat16_bits=f.bfloat16().view(torch.int16).numpy().view(np.uint16)
                .astype(np.int64))


def make_case(rng):
    num = rng.randint(1, 8)
    dim = rng.choice([rng.randint(1, 9), rng.randint(1, 40), rng.randint(60, 140)])
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    weight = make_weight(rng, gen, num, dim)
    values = dict(weight=weight)

    mode = rng.choice(MODES)
    n = rng.choice([0, 1, 3, 7, 16])
    bags = rng.randint(0 if n == 0 else 1, 5)
    cuts = sorted(rng.randint(0, n) for _ in range(max(bags - 1, 0)))
    offsets = [0] + cuts if bags else []
    include_last_offset = bags > 0 and rng.random() < 0.3
    if include_last_offset:
        offsets.append(n)
    indices = torch.tensor([rng.randrange(num) for _ in range(n)], dtype=torch.int64)
    offsets_t = torch.tensor(offsets, dtype=torch.int64)
    padding_idx = rng.choice([None, None, None, rng.randrange(num)])
    psw = None
    if mode == "sum" and rng.random() < 0.5:
        psw = torch.randn(n, generator=gen, dtype=torch.float32)
    values.update(mode=mode, indices=indices, offsets=offsets_t, padding_idx=padding_idx,
                  include_last_offset=int(include_last_offset), per_sample_weights=psw)

    for storage in ("float32", "float16", "bfloat16", "int8", "int4", "int2"):
        if (storage == "int4" and dim % 2) or (storage == "int2" and dim % 4):
            continue
        pack = packed(weight, storage) if storage != "float32" else None
        table = dequantized(weight, storage, pack)
        if pack is not None:
            values[f"bytes_{storage}"] = pack
        values[f"dequantized_{storage}"] = table
        values[f"ref_{storage}"] = F.embedding_bag(
            indices, table, offsets_t, mode=mode, per_sample_weights=psw,
            padding_idx=padding_idx, include_last_offset=include_last_offset)
        # The fused fallback reads offsets[0] unchecked: it crashes on an empty offsets tensor.
        if storage in QUANTIZED and padding_idx is None and mode == "sum" and offsets:
            op = getattr(torch.ops.quantized,
                         f"embedding_bag_{QUANTIZED[storage]}_rowwise_offsets")
            values[f"fused_{storage}"] = op(pack, indices, offsets_t, mode=0,
                                            per_sample_weights=psw,
                                            include_last_offset=include_last_offset)
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    with open(args.out, "w") as out:
        out.write(f"# made by make_quantized_golden.py --seed {args.seed} --cases {args.cases}"
                  f" with torch {torch.__version__}\n")
        write_case(out, "conversions", **conversions(rng))
        for i in range(args.cases):
            write_case(out, f"quantized_{i}", **make_case(rng))


if __name__ == "__main__":
    main()
