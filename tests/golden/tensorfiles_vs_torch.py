#!/usr/bin/env python3
"""Round trips of tables between PyTorch/NumPy and emb through .npy and safetensors files, with a
fresh seed on every run (CTest's tensorfiles_vs_torch).

1. Trains a small nn.Embedding in PyTorch, saves its weight with numpy.save (C and Fortran order)
   and as safetensors (F32, BF16, F16; make_tensorfile_goldens.write_safetensors, as the
   `safetensors` package is not a Debian package), and writes PyTorch's forward for some indices.
2. Runs the [torch] cases of test_io_npy and test_io_safetensors on that folder: emb loads the
   files into Embedding::from_pretrained and must give PyTorch's forward bit for bit; then emb
   writes a table of its own (emb_table.npy, emb_table64.npy, emb_table.safetensors) and its
   exact values (emb_table.txt, hexadecimal floats).
3. Loads emb's files in NumPy/PyTorch (and with safetensors.torch.load_file when that package is
   installed) and checks them bit for bit, the BF16 and F16 copies against PyTorch's and NumPy's
   own rounding of the float32 table.

    python3 tests/golden/tensorfiles_vs_torch.py --npy-test build/dev/tests/test_io_npy \\
        --safetensors-test build/dev/tests/test_io_safetensors [--seed N] [--keep DIR]
"""

import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from goldenio import write_case  # noqa: E402
from make_tensorfile_goldens import bfloat16_bits, write_safetensors  # noqa: E402


def make_torch_files(folder, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    num, dim = int(rng.integers(20, 60)), int(rng.integers(3, 17))
    table = torch.nn.Embedding(num, dim)
    optimizer = torch.optim.SGD(table.parameters(), lr=0.1)
    for _ in range(3):  # a few steps, so the table is a trained one
        indices = torch.randint(0, num, (32,))
        loss = (table(indices) * torch.randn(32, dim)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    weight = table.weight.detach()
    array = weight.numpy()
    np.save(os.path.join(folder, "table_c.npy"), array)
    np.save(os.path.join(folder, "table_f.npy"), np.asfortranarray(array))
    write_safetensors(os.path.join(folder, "table.safetensors"), {
        "weight": ("F32", array),
        "weight_bf16": ("BF16", array),
        "weight_f16": ("F16", array),
    })
    indices = torch.randint(0, num, (int(rng.integers(5, 40)),))
    with open(os.path.join(folder, "forward.txt"), "w") as out:
        write_case(out, "forward", indices=indices,
                   output=table(indices).double(),
                   output_bf16=torch.nn.functional.embedding(
                       indices, weight.to(torch.bfloat16)).double(),
                   output_f16=torch.from_numpy(array.astype(np.float16)[indices.numpy()]).double())


def read_safetensors(path):
    """The header and tensors of a safetensors file, checking the format's layout rules."""
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    text = raw[8:8 + length]
    assert length % 8 == 0 and text.rstrip(b" ").endswith(b"}"), "header not padded with spaces"
    header = json.loads(text)
    metadata = header.pop("__metadata__", {})
    data = raw[8 + length:]
    position = 0
    tensors = {}
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        begin, end = info["data_offsets"]
        assert begin == position, f"{name}: offsets leave a gap or overlap"
        position = end
        tensors[name] = (info["dtype"], info["shape"], data[begin:end])
    assert position == len(data), "data past the last tensor"
    return tensors, metadata


def check_emb_files(folder):
    with open(os.path.join(folder, "emb_table.txt")) as f:
        pairs = [line.split() for line in f]
    want32 = np.array([float.fromhex(a) for a, _ in pairs], dtype=np.float64).astype(np.float32)
    want64 = np.array([float.fromhex(b) for _, b in pairs], dtype=np.float64)
    rows, cols = 23, 9
    want32, want64 = want32.reshape(rows, cols), want64.reshape(rows, cols)

    def same_bits(got, want, what):
        if got.shape != want.shape or got.dtype != want.dtype or got.tobytes() != want.tobytes():
            raise SystemExit(f"tensorfiles_vs_torch: {what} differs from what emb wrote")

    same_bits(np.load(os.path.join(folder, "emb_table.npy")), want32, "emb_table.npy in NumPy")
    same_bits(np.load(os.path.join(folder, "emb_table64.npy")), want64, "emb_table64.npy")
    same_bits(torch.from_numpy(np.load(os.path.join(folder, "emb_table.npy"))).numpy(), want32,
              "emb_table.npy in PyTorch")

    path = os.path.join(folder, "emb_table.safetensors")
    tensors, metadata = read_safetensors(path)
    expected = {
        "weight": ("F32", want32.astype("<f4").tobytes()),
        "weight64": ("F64", want64.astype("<f8").tobytes()),
        "weight_bf16": ("BF16", bfloat16_bits(want32).astype("<u2").tobytes()),
        "weight_f16": ("F16", want32.astype("<f2").tobytes()),
    }
    for name, (dtype, raw) in expected.items():
        got_dtype, shape, got_raw = tensors[name]
        if got_dtype != dtype or shape != [rows, cols] or got_raw != raw:
            raise SystemExit(f"tensorfiles_vs_torch: {name} in emb_table.safetensors differs")
    words = metadata["emb.vocabulary"].split("\n")
    assert words == [f"w{i}" for i in range(rows)], "the vocabulary metadata differs"
    try:
        from safetensors.torch import load_file
    except ImportError:
        return
    loaded = load_file(path)
    same_bits(loaded["weight"].numpy(), want32, "weight via safetensors.torch")
    same_bits(loaded["weight_bf16"].view(torch.int16).numpy().view(np.uint16),
              bfloat16_bits(want32), "weight_bf16 via safetensors.torch")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--npy-test", required=True)
    parser.add_argument("--safetensors-test", required=True)
    parser.add_argument("--seed", type=int, default=random.randrange(1, 10**9))
    parser.add_argument("--keep", help="write the files here instead of a temporary folder")
    args = parser.parse_args()
    print(f"seed {args.seed}: rerun with --seed {args.seed}")
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or temporary
        os.makedirs(folder, exist_ok=True)
        make_torch_files(folder, args.seed)
        env = dict(os.environ, EMB_TENSORFILES_DIR=folder)
        for test in (args.npy_test, args.safetensors_test):
            if subprocess.run([test, "[torch]"], env=env).returncode != 0:
                raise SystemExit(f"tensorfiles_vs_torch: {test} disagrees with PyTorch "
                                 f"(seed {args.seed})")
        check_emb_files(folder)
    print("tensorfiles_vs_torch: emb and PyTorch/NumPy agree bit for bit")


if __name__ == "__main__":
    main()
