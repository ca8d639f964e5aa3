"""Writes golden files: named arrays made by PyTorch, read back by tests/support/golden.hpp.

Format, one case after another:
    case NAME
    KEY a NDIM D0 ... V0 V1 ...     an array (ints and floats alike, floats as Python repr)
    KEY s VALUE                     a string
    end
Scalars are 0-d arrays; None values are left out, so C++ sees an unset optional.
"""

import numpy as np


def _array_line(key, value):
    a = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
    if a.dtype == bool:
        a = a.astype(np.int64)
    flat = a.reshape(-1)
    if np.issubdtype(a.dtype, np.integer):
        numbers = [str(int(v)) for v in flat]
    else:
        numbers = [repr(float(v)) for v in flat]
    return " ".join([key, "a", str(a.ndim)] + [str(d) for d in a.shape] + numbers)


def write_case(out, name, **values):
    out.write(f"case {name}\n")
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, str):
            out.write(f"{key} s {value}\n")
        else:
            out.write(_array_line(key, value) + "\n")
    out.write("end\n")
