#!/usr/bin/env python3
"""word-lookup with tensor files (.npy + vocabulary, .safetensors) and its convert command.

    word_lookup_tensor_test.py WORD_LOOKUP SHIPPED_VECTORS CASE

CASE:
  convert   the shipped vectors converted to every format give the same `vector` and `similar`
            answers, byte for byte, and convert back; NumPy (when importable) reads the .npy and
            its .vocab as the tool wrote them
  vocab     --vectors X.npy --vocab WORDS.txt; a vocabulary with fewer or more lines than rows, a
            repeated word or an empty line: exit status 2 and one line naming the file
  tensor    --tensor NAME picks a tensor of a safetensors file; a missing one: exit status 2
  bad       truncated or lying tensor files, --vocab with a word2vec file: exit status 2, one line
Exit status 77 (skipped) when the shipped vectors are missing.
"""

import json
import os
import struct
import subprocess
import sys
import tempfile


def run(tool, *args):
    result = subprocess.run([tool, *args], capture_output=True, text=True)
    return result.returncode, result.stdout, result.stderr


def ok(tool, *args):
    code, out, err = run(tool, *args)
    if code != 0:
        raise SystemExit(f"word-lookup {' '.join(args)}: exit {code}: {err}")
    return out


def refused(tool, path, *args):
    """Exit status 2 and one line that names `path`."""
    code, _, err = run(tool, *args)
    lines = err.strip().split("\n")
    if code != 2 or len(lines) != 1 or str(path) not in lines[0]:
        raise SystemExit(f"word-lookup {' '.join(args)}: want exit 2 and one line naming {path}, "
                         f"got {code}: {err!r}")
    return lines[0]


def case_convert(tool, shipped, folder):
    words = ["the", "king", "of", "city"]
    want_vector = ok(tool, "--vectors", shipped, "--json", "vector", *words)
    want_similar = ok(tool, "--vectors", shipped, "--json", "similar", "king", "--top", "5")
    outputs = {"npy": "v.npy", "safetensors": "v.safetensors", "word2vec": "v.txt",
               "word2vec-binary": "v.bin", "glove": "v.glove"}
    for fmt, name in outputs.items():
        out = os.path.join(folder, name)
        reply = json.loads(ok(tool, "--vectors", shipped, "--json", "convert", out, "--format", fmt))
        assert reply["format"] == fmt and reply["words"] > 1000, reply
        assert ok(tool, "--vectors", out, "--json", "vector", *words) == want_vector, fmt
        assert ok(tool, "--vectors", out, "--json", "similar", "king", "--top", "5") == want_similar
        info = json.loads(ok(tool, "--vectors", out, "--json", "info"))
        assert info["format"] == fmt, info
    assert os.path.exists(os.path.join(folder, "v.vocab"))
    # And back: safetensors -> word2vec-binary -> the same answers.
    back = os.path.join(folder, "back.bin")
    ok(tool, "--vectors", os.path.join(folder, "v.safetensors"), "convert", back, "--format",
       "word2vec-binary")
    assert ok(tool, "--vectors", back, "--json", "vector", *words) == want_vector
    # --storage over a mapped file (packed block by block) answers as over the word2vec file, and
    # --limit keeps the first rows of a mapped table; a compressed table converts to its values.
    mapped = os.path.join(folder, "v.safetensors")
    for storage in ["int8", "int4", "bfloat16"]:
        for command in [["vector", *words], ["similar", "king", "--top", "5"]]:
            want = ok(tool, "--vectors", shipped, "--storage", storage, "--json", *command)
            assert ok(tool, "--vectors", mapped, "--storage", storage, "--json", *command) == want
    assert json.loads(want)["neighbours"] != json.loads(want_similar)["neighbours"]
    limited = ["--limit", "300", "--json", "similar", "the", "--top", "4"]
    assert ok(tool, "--vectors", mapped, *limited) == ok(tool, "--vectors", shipped, *limited)
    decoded = os.path.join(folder, "int8.npy")
    ok(tool, "--vectors", mapped, "--storage", "int8", "convert", decoded, "--format", "npy")
    assert ok(tool, "--vectors", decoded, "--json", "vector", *words) == ok(
        tool, "--vectors", mapped, "--storage", "int8", "--json", "vector", *words)
    # ... and to safetensors as its packed rows, which --vectors maps as the same compressed
    # table: the same answers, from a file of a third (int8) or a fifth (int4) of the size.
    for storage in ["int8", "int4"]:
        packed = os.path.join(folder, storage + ".safetensors")
        ok(tool, "--vectors", mapped, "--storage", storage, "convert", packed, "--format",
           "safetensors")
        assert os.path.getsize(packed) < os.path.getsize(mapped) * (0.35 if storage == "int8" else 0.25)
        for command in [["vector", *words], ["similar", "king", "--top", "5"]]:
            assert ok(tool, "--vectors", packed, "--json", *command) == ok(
                tool, "--vectors", mapped, "--storage", storage, "--json", *command)
    try:
        import numpy as np
    except ImportError:
        return
    table = np.load(os.path.join(folder, "v.npy"))
    with open(os.path.join(folder, "v.vocab"), encoding="utf-8") as f:
        vocab = f.read().split("\n")[:-1]
    assert table.shape[0] == len(vocab) and table.dtype == np.float32
    # A float16 table in a safetensors file is mapped as a float16 compressed table: the answers
    # of --storage float16 over the float32 file (float16 rounds to nearest even, as NumPy does).
    half = table.astype("<f2")
    header = {"__metadata__": {"emb.vocabulary": "\n".join(vocab)},
              "weight": {"dtype": "F16", "shape": list(half.shape),
                         "data_offsets": [0, half.nbytes]}}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    f16 = os.path.join(folder, "f16.safetensors")
    with open(f16, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + half.tobytes())
    for command in [["vector", *words], ["similar", "king", "--top", "5"]]:
        want = ok(tool, "--vectors", shipped, "--storage", "float16", "--json", *command)
        assert ok(tool, "--vectors", f16, "--json", *command) == want, command
    rows = json.loads(want_vector)["vectors"]
    for row in rows:
        got = table[vocab.index(row["word"])]
        assert [float(v) for v in got] == [float(np.float32(v)) for v in row["vector"]], row["word"]


def case_vocab(tool, shipped, folder):
    npy = os.path.join(folder, "v.npy")
    ok(tool, "--vectors", shipped, "convert", npy, "--format", "npy")
    with open(os.path.join(folder, "v.vocab"), encoding="utf-8") as f:
        words = f.read().split("\n")[:-1]
    other = os.path.join(folder, "words.txt")

    def vocabulary(lines, end="\n"):
        with open(other, "w", encoding="utf-8", newline="") as f:
            f.write(end.join(lines) + end)

    vocabulary([w.upper() + "_" for w in words], "\r\n")
    assert ok(tool, "--vectors", npy, "--vocab", other, "vector", words[3].upper() + "_")
    vocabulary(words[:-1])
    message = refused(tool, other, "--vectors", npy, "--vocab", other, "info")
    assert f"{len(words) - 1} words for {len(words)} rows" in message, message
    vocabulary(words + ["extra"])
    refused(tool, other, "--vectors", npy, "--vocab", other, "info")
    vocabulary(words[:2] + [words[0]] + words[3:])
    assert "twice" in refused(tool, other, "--vectors", npy, "--vocab", other, "info")
    vocabulary(words[:2] + [""] + words[3:])
    assert "line 3 is empty" in refused(tool, other, "--vectors", npy, "--vocab", other, "info")
    os.remove(os.path.join(folder, "v.vocab"))
    refused(tool, os.path.join(folder, "v.vocab"), "--vectors", npy, "info")


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    data = b""
    for name, (shape, raw) in tensors.items():
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def case_tensor(tool, shipped, folder):
    path = os.path.join(folder, "m.safetensors")
    rows = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]
    raw = struct.pack("<6f", *[v for row in rows for v in row])
    write_safetensors(path, {"encoder.weight": ([3, 2], raw), "decoder.weight": ([3, 2], raw)},
                      {"emb.vocabulary": "x\ny\nz"})
    out = json.loads(ok(tool, "--vectors", path, "--tensor", "decoder.weight", "--json", "vector",
                        "z"))
    assert [round(v, 6) for v in out["vectors"][0]["vector"]] == [0.6, 0.8], out
    assert "no tensor named \"weight\"" in refused(tool, path, "--vectors", path, "info")
    refused(tool, path, "--vectors", path, "--tensor", "nope", "info")


def case_bad(tool, shipped, folder):
    st = os.path.join(folder, "v.safetensors")
    ok(tool, "--vectors", shipped, "convert", st, "--format", "safetensors")
    with open(st, "rb") as f:
        good = f.read()
    bad = os.path.join(folder, "bad.safetensors")
    for what, data in [("truncated", good[: len(good) // 2]),
                       ("lying length", struct.pack("<Q", 2**40) + good[8:]),
                       ("not JSON", good[:8] + b"\x1b[2J" + good[12:]),
                       ("empty", b"")]:
        with open(bad, "wb") as f:
            f.write(data)
        message = refused(tool, bad, "--vectors", bad, "info")
        assert "\x1b" not in message, (what, message)
    npy = os.path.join(folder, "v.npy")
    ok(tool, "--vectors", shipped, "convert", npy, "--format", "npy")
    with open(npy, "rb") as f:
        good = f.read()
    with open(npy, "wb") as f:
        f.write(good[: len(good) - 7])
    assert "truncated" in refused(tool, npy, "--vectors", npy, "info")
    code, _, err = run(tool, "--vectors", shipped, "--vocab", npy, "info")
    assert code == 2 and "--vocab and --tensor go with" in err, err


def main():
    tool, shipped, case = sys.argv[1:4]
    if not os.path.exists(shipped):
        print(f"no shipped vectors at {shipped}: skipped")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as folder:
        globals()["case_" + case](tool, shipped, folder)
    print(f"word_lookup_tensor {case}: ok")


if __name__ == "__main__":
    main()
