"""Writes the tensor-file goldens in tests/golden/tensorfiles/ that tests/io_npy.cpp and
tests/io_safetensors.cpp read.

    python3 tests/golden/make_tensorfile_goldens.py [--out tests/golden/tensorfiles]

.npy files are written by NumPy itself (numpy.lib.format.write_array, every version, byte order
and float size, C and Fortran order, 1-D and 0-d). The safetensors files are written by
write_safetensors below, which follows the format as huggingface/safetensors documents it (the
`safetensors` package is not a Debian package): tensors sorted by dtype width then name, header
padded with spaces to 8 bytes. Their float16 bits come from NumPy (float64 -> float16, rounded
once) and bfloat16 bits from PyTorch (float32 -> bfloat16).

values.txt (tests/golden/goldenio.py's format) holds what every file must load as: the exact
stored values as float64, and the float16/bfloat16 bits of awkward values (ties, subnormals,
overflow) for the conversion tests.
"""

import argparse
import json
import os
import struct

import numpy as np
import torch

from goldenio import write_case

# 3 x 5, non-square: values that float16 and bfloat16 must round (ties, subnormals included).
BASE = np.array(
    [
        [0.1, -2.5, 1.0 / 3.0, 65504.0, -0.0],
        [6.0e-8, 1.0e-5, 3.14159265358979, -1.0e-3, 2.0**-24],
        [1.0009765625, 1.00048828125, 256.5, -7.75, 1.0e4],
    ],
    dtype=np.float64,
)
VECTOR = np.array([0.5, -1.25, 3.0, 1.0e-3, 7.0, -8.5, 2.0], dtype=np.float64)


def stored(values, dtype):
    """The values as a file of this dtype holds them, back in float64."""
    return values.astype(dtype).astype(np.float64)


def bfloat16_bits(values):
    t = torch.tensor(np.asarray(values, dtype=np.float32)).to(torch.bfloat16)
    return t.view(torch.int16).numpy().astype(np.uint16)


def write_npy_goldens(out, cases):
    for version in [(1, 0), (2, 0), (3, 0)]:
        for order in "<>":
            for size in (2, 4, 8):
                descr = f"{order}f{size}"
                name = f"v{version[0]}_{'le' if order == '<' else 'be'}_f{size}.npy"
                array = BASE.astype(np.dtype(descr))
                with open(os.path.join(out, name), "wb") as f:
                    np.lib.format.write_array(f, array, version=version)
                write_case(cases, name, values=stored(BASE, np.dtype(descr)))
    # Fortran order (a transposed view is Fortran-contiguous: numpy.save keeps it so).
    fortran = np.asfortranarray(BASE.astype(np.float32))
    np.save(os.path.join(out, "fortran_f4.npy"), fortran)
    write_case(cases, "fortran_f4.npy", values=stored(BASE, np.float32))
    np.save(os.path.join(out, "fortran_be_f8.npy"), np.asfortranarray(BASE.astype(">f8")))
    write_case(cases, "fortran_be_f8.npy", values=BASE)
    # 1-D and 0-d arrays load as numpy.atleast_2d shapes them.
    np.save(os.path.join(out, "vector_f8.npy"), VECTOR)
    write_case(cases, "vector_f8.npy", values=VECTOR.reshape(1, -1))
    np.save(os.path.join(out, "scalar_f4.npy"), np.float32(2.5))
    write_case(cases, "scalar_f4.npy", values=np.array([[2.5]]))
    # numpy.save of a float32 and a float64 table: emb's save_npy must write these bytes.
    np.save(os.path.join(out, "save_f4.npy"), BASE.astype(np.float32))
    np.save(os.path.join(out, "save_f8.npy"), BASE)
    # Two arrays appended to one open file: the first loads, the bytes after it are allowed.
    with open(os.path.join(out, "two_arrays.npy"), "wb") as f:
        np.save(f, BASE.astype(np.float32))
        np.save(f, VECTOR)
    write_case(cases, "two_arrays.npy", values=stored(BASE, np.float32))


def tensor_bytes(values, dtype):
    if dtype == "F64":
        return values.astype("<f8").tobytes()
    if dtype == "F32":
        return values.astype("<f4").tobytes()
    if dtype == "F16":
        return values.astype("<f2").tobytes()
    if dtype == "BF16":
        return bfloat16_bits(values).astype("<u2").tobytes()
    if dtype == "I64":
        return values.astype("<i8").tobytes()
    raise ValueError(dtype)


DTYPE_RANK = {"F64": 0, "I64": 0, "F32": 1, "BF16": 2, "F16": 3}


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: (dtype, array)}. Data sorted by dtype width (widest first), then name."""
    order = sorted(tensors, key=lambda n: (DTYPE_RANK[tensors[n][0]], n))
    header, data, offset = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in order:
        dtype, values = tensors[name]
        raw = tensor_bytes(values, dtype)
        header[name] = {"dtype": dtype, "shape": list(values.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def bfloat16_values(values):
    t = torch.tensor(np.asarray(values, dtype=np.float32)).to(torch.bfloat16)
    return t.to(torch.float64).numpy()


def write_safetensors_goldens(out, cases):
    tensors = {
        "table.f64": ("F64", BASE),
        "table.f32": ("F32", BASE),
        "table.f16": ("F16", BASE),
        "table.bf16": ("BF16", BASE),
        "vector": ("F32", VECTOR),
        "steps": ("I64", np.array([3, 1, 4], dtype=np.int64)),
    }
    write_safetensors(os.path.join(out, "tables.safetensors"), tensors,
                      {"emb.vocabulary": "king\nqueen\nprince", "format": "pt"})
    write_case(cases, "table.f64", values=BASE)
    write_case(cases, "table.f32", values=stored(BASE, np.float32))
    write_case(cases, "table.f16", values=stored(BASE, np.float16))
    write_case(cases, "table.bf16", values=bfloat16_values(BASE))
    write_case(cases, "vector", values=stored(VECTOR, np.float32).reshape(1, -1))
    # What emb's save_safetensors must reproduce byte for byte: F64 from the float64 table, the
    # narrower dtypes each rounded once from the float32 table; metadata keys sorted.
    base32 = BASE.astype(np.float32)
    write_safetensors(os.path.join(out, "saved.safetensors"), {
        "table.f64": ("F64", BASE),
        "table.f32": ("F32", base32),
        "table.f16": ("F16", base32),
        "table.bf16": ("BF16", base32),
        "vector": ("F32", VECTOR.astype(np.float32)),
    }, {"emb.vocabulary": "king\nqueen\nprince", "format": "pt"})


def write_conversion_goldens(cases):
    # float16: ties to even either way, the largest value, overflow to inf, the smallest
    # subnormal and half of it (a tie to 0), subnormal ties, values just under a carry.
    f16 = np.array([1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 65504.0, 65519.99, 65520.0, 1.0e6,
                    2.0**-24, 2.0**-25, 3 * 2.0**-25, 2.0**-25 * 1.0000001, 5.960464477539063e-08,
                    6.097555160522461e-05, 6.1e-05, 2047.5, -0.0, -1.5e-8, 0.1, -3.0e4,
                    2.0**-14 - 2.0**-25, 1.0e-300],
                   dtype=np.float64)
    with np.errstate(over="ignore"):  # 1e6 becomes inf, as it must
        bits = f16.astype(np.float16).view(np.uint16)
    write_case(cases, "float16", values=f16, bits=bits)
    # bfloat16 from float32 values: ties, the largest finite, overflow, subnormals.
    bf = np.array([1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, 3.3895313892515355e38, 3.4e38, 1.0e-39,
                   9.2e-41, 2.0**-133, 2.0**-134, -0.0, 0.1, -7.0e-20, 65504.0, 1.00390625],
                  dtype=np.float32).astype(np.float64)
    write_case(cases, "bfloat16", values=bf, bits=bfloat16_bits(bf))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "tensorfiles"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "values.txt"), "w") as cases:
        write_npy_goldens(args.out, cases)
        write_safetensors_goldens(args.out, cases)
        write_conversion_goldens(cases)


if __name__ == "__main__":
    main()
