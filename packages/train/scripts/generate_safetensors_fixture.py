"""Golden safetensors fixtures for @unroll/train, written by the official `safetensors` library.

Writes fixtures/hf-written.safetensors (with `safetensors.torch.save_file`) and fixtures/hf-written.json, the
expected contents: every tensor's dtype, shape and element bit patterns, the metadata, the file's tensor order,
and a few small `safetensors.torch.save` outputs as hex ("cases"). src/checkpoint/safetensors.test.ts reads only
these committed files: our decoder must read them and our encoder must reproduce them byte for byte.

The official library is not in Debian; install it into a venv that still sees Debian's torch 1.13 and numpy:

    /usr/bin/python3 -m venv --system-site-packages /tmp/stvenv && /tmp/stvenv/bin/pip install safetensors
    cd packages/train && /tmp/stvenv/bin/python scripts/generate_safetensors_fixture.py

The output is deterministic: rerunning leaves both files unchanged (the JSON records the library version).

The official writer orders tensors by dtype alignment, largest first (F64, then F32, then I32), then by name in
byte order, and puts "__metadata__" first. It holds the metadata in a Rust HashMap, whose iteration order is
random on every call, so a file with two or more metadata keys has no single official byte form. Our encoder
writes metadata keys in sorted (UTF-8 byte) order; this script calls save_file until the library happens to
emit that order (3 keys: 1 chance in 6 per call), so that the committed file is both genuinely written by the
official library and comparable byte for byte.

Check a file written by our encoder (exit status 0 when every check passes):

    /tmp/stvenv/bin/python scripts/generate_safetensors_fixture.py --check path.safetensors [--expect expected.json]

It loads the file with `safetensors.torch.load_file` and `safe_open`, prints every tensor, saves the loaded
tensors again with the official writer and compares the bytes with the file, and with --expect (a JSON with the
"metadata" and "tensors" entries of hf-written.json's schema) compares every dtype, shape and bit pattern.
"""

import argparse
import json
import os
import re
import struct
import sys
import tempfile

import numpy as np
import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save, save_file

FORMAT = "unroll-safetensors-fixture"
VERSION = 1
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
BIN_PATH = os.path.join(FIXTURES, "hf-written.safetensors")
JSON_PATH = os.path.join(FIXTURES, "hf-written.json")

DTYPE_NAMES = {torch.float32: "float32", torch.float64: "float64", torch.int32: "int32"}
BIT_VIEWS = {torch.float32: (np.uint32, 8), torch.float64: (np.uint64, 16), torch.int32: (np.uint32, 8)}


def from_bits(bits, dtype, shape):
    """A tensor whose elements have exactly these bit patterns (NaN payloads and -0 included)."""
    view, _ = BIT_VIEWS[dtype]
    np_dtype = {torch.float32: np.float32, torch.float64: np.float64, torch.int32: np.int32}[dtype]
    arr = np.array(bits, dtype=view).view(np_dtype).reshape(shape)
    return torch.from_numpy(arr.copy())


def bits_of(t):
    view, width = BIT_VIEWS[t.dtype]
    arr = t.detach().contiguous().reshape(-1).numpy().view(view)
    return [format(int(b), "0%dx" % width) for b in arr]


def value_of(x):
    """JSON for one element: a number, or a string for NaN and the infinities (kept readable; tests use bits)."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def describe(t):
    return {
        "dtype": DTYPE_NAMES[t.dtype],
        "shape": list(t.shape),
        "bits": bits_of(t),
        "values": [value_of(v) for v in t.reshape(-1).tolist()],
    }


def utf8_key(name):
    return name.encode("utf-8")


def header_of(data):
    (n,) = struct.unpack("<Q", data[:8])
    return n, json.loads(data[8 : 8 + n].decode("utf-8"), object_pairs_hook=list)


def metadata_order(data):
    _, pairs = header_of(data)
    for key, value in pairs:
        if key == "__metadata__":
            return [k for k, _ in value]
    return []


def main_tensors():
    g = torch.Generator().manual_seed(20240611)
    f32, f64, i32 = torch.float32, torch.float64, torch.int32
    return {
        # float32: state_dict-style names, odd shapes, a scalar, empty tensors, special values.
        "rnn.weight_ih_l0": torch.randn(4, 3, generator=g, dtype=torch.float64).to(f32),
        "rnn.bias_ih_l0": torch.randn(7, generator=g, dtype=torch.float64).to(f32),
        "rnn.weight_hh_l0": torch.randn(1, 5, 1, generator=g, dtype=torch.float64).to(f32),
        "float.scalar": torch.tensor(-1.25, dtype=f32),
        "float.empty": torch.zeros(0, dtype=f32),
        "float.specials": from_bits(
            [
                0x7FC00000,  # NaN
                0xFFC00000,  # negative quiet NaN
                0x7F800001,  # signalling NaN with a payload
                0x80000000,  # -0
                0x7F800000,  # Infinity
                0xFF800000,  # -Infinity
                0x00000001,  # smallest denormal
                0x7F7FFFFF,  # largest finite
            ],
            f32,
            (2, 4),
        ),
        # Names whose byte order differs from UTF-16 code-unit order (U+FFFD < U+1F600 in UTF-8 only), from
        # case order (uppercase first) and that need JSON escapes.
        "Z.upper": torch.tensor([3.5], dtype=f32),
        "z\ufffd": torch.tensor([1.0], dtype=f32),
        "z\U0001F600": torch.tensor([2.0], dtype=f32),
        "\u00e9t\u00e9": torch.tensor([0.5, -0.5], dtype=f32),
        'quote"back\\slash': torch.tensor([7.0], dtype=f32),
        # float64
        "double.matrix": torch.tensor(
            [[[0.1, -2.5]], [[1e-300, 5e-324]], [[1.7976931348623157e308, 3.141592653589793]]], dtype=f64
        ),
        "double.specials": from_bits(
            [0x7FF8000000000000, 0x8000000000000000, 0x7FF0000000000000, 0xFFF0000000000000, 0x7FF0000000000001],
            f64,
            (5,),
        ),
        "double.scalar": torch.tensor(2.718281828459045, dtype=f64),
        "double.empty": torch.zeros(2, 0, 3, dtype=f64),
        # int32
        "ints.matrix": torch.tensor([[-2147483648, 2147483647, -1], [0, 1, 123456789]], dtype=i32),
        "ints.scalar": torch.tensor(42, dtype=i32),
        "ints.empty": torch.zeros(0, 4, dtype=i32),
    }


MAIN_METADATA = {
    "format": "pt",
    "note": 'quote " backslash \\ newline \n tab \t control \u0001 del \u007f \u00e9 \U0001F600 line-sep \u2028 /',
    "step": "1200",
}


def small_cases():
    """Small official outputs, kept as hex: edge cases of the header layout."""
    f32, f64, i32 = torch.float32, torch.float64, torch.int32
    cases = [
        ("no tensors, no metadata", {}, None),
        ("no tensors, one metadata key", {}, {"framework": "pt"}),
        (
            "mixed dtypes given out of order, no metadata",
            {
                "b": torch.tensor([1, -2, 3], dtype=i32),
                "a": torch.tensor([1.5], dtype=f32),
                "c": torch.tensor([[0.25], [-0.0]], dtype=f64),
                "A": torch.tensor(9.0, dtype=f32),
            },
            None,
        ),
        ("empty metadata with a tensor", {"x": torch.tensor([[1.0, 2.0, 3.0]], dtype=f32)}, {}),
        ("header already a multiple of 8", {"attn.0": torch.arange(6, dtype=f32).reshape(1, 2, 3)}, None),
    ]
    out = []
    for description, tensors, metadata in cases:
        data = save(tensors, metadata=metadata)
        out.append(
            {
                "description": description,
                "metadata": metadata,
                "tensors": {name: describe(t) for name, t in tensors.items()},
                "hex": data.hex(),
            }
        )
    return out


def dumps(doc):
    """Indented ASCII JSON with every list of scalars on one line: readable, and small enough to diff."""
    text = json.dumps(doc, indent=1, ensure_ascii=True)
    # Only lists that json.dumps broke over lines: text inside strings never holds a raw newline.
    text = re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]", lambda m: "[" + re.sub(r",\n\s+", ", ", m.group(1)) + "]", text)
    assert json.loads(text) == doc
    return text + "\n"


def generate():
    tensors = main_tensors()
    wanted = sorted(MAIN_METADATA, key=utf8_key)
    os.makedirs(FIXTURES, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.safetensors")
        for attempt in range(1, 2001):
            save_file(tensors, path, metadata=MAIN_METADATA)
            with open(path, "rb") as f:
                data = f.read()
            if metadata_order(data) == wanted:
                break
        else:
            sys.exit("the library never wrote the metadata keys in sorted order; has its metadata map changed?")
    with open(BIN_PATH, "wb") as f:
        f.write(data)

    # Read back with the official reader: the expected values are what it loads, checked against the inputs.
    loaded = load_file(BIN_PATH)
    for name, t in tensors.items():
        assert bits_of(loaded[name]) == bits_of(t) and loaded[name].shape == t.shape, name
    with safe_open(BIN_PATH, framework="pt") as f:
        assert f.metadata() == MAIN_METADATA

    header_len, pairs = header_of(data)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "generator": "scripts/generate_safetensors_fixture.py with safetensors %s, torch %s, numpy %s"
        % (safetensors.__version__, torch.__version__.split("+")[0], np.__version__),
        "file": "hf-written.safetensors",
        "bytes": len(data),
        "header_bytes": header_len,
        "metadata": MAIN_METADATA,
        # Tensor names in the order the official writer laid them out (header and data).
        "order": [k for k, _ in pairs if k != "__metadata__"],
        "tensors": {name: describe(t) for name, t in tensors.items()},
        "cases": small_cases(),
    }
    with open(JSON_PATH, "w", encoding="utf-8") as f:
        f.write(dumps(doc))
    print("wrote %s (%d bytes, metadata order found after %d save_file calls) and %s" % (BIN_PATH, len(data), attempt, JSON_PATH))


def check(path, expect_path):
    ok = True
    with open(path, "rb") as f:
        data = f.read()
    tensors = load_file(path)
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata()
    print("safetensors %s, torch %s: load_file(%s) read %d tensors, metadata %r" % (safetensors.__version__, torch.__version__, path, len(tensors), metadata))
    for name in sorted(tensors, key=utf8_key):
        t = tensors[name]
        print("  %r: %s %s" % (name, t.dtype, list(t.shape)))

    # The official writer, given what it loaded, must reproduce the file (metadata order is random: retry).
    tries = 1 if metadata is None or len(metadata) < 2 else 2000
    same = any(save(tensors, metadata=metadata) == data for _ in range(tries))
    print("official save() of the loaded tensors is byte-identical to the file: %s" % same)
    ok = ok and same

    if expect_path is not None:
        with open(expect_path, encoding="utf-8") as f:
            expect = json.load(f)
        if (metadata or {}) != (expect.get("metadata") or {}):
            print("metadata differs: %r != %r" % (metadata, expect.get("metadata")))
            ok = False
        if set(tensors) != set(expect["tensors"]):
            print("tensor names differ: %r vs %r" % (sorted(tensors), sorted(expect["tensors"])))
            ok = False
        for name, want in expect["tensors"].items():
            t = tensors.get(name)
            if t is None:
                continue
            got = {"dtype": DTYPE_NAMES.get(t.dtype, str(t.dtype)), "shape": list(t.shape), "bits": bits_of(t)}
            for key in ("dtype", "shape", "bits"):
                if got[key] != want[key]:
                    print("  %r: %s differs: %r != %r" % (name, key, got[key], want[key]))
                    ok = False
        print("expected dtypes, shapes and bit patterns from %s: %s" % (expect_path, "all match" if ok else "MISMATCH"))
    print("CHECK PASSED" if ok else "CHECK FAILED")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", metavar="FILE", help="verify a file written by our encoder instead of generating")
    parser.add_argument("--expect", metavar="JSON", help="with --check: expected metadata and tensors")
    args = parser.parse_args()
    if args.check:
        sys.exit(0 if check(args.check, args.expect) else 1)
    if args.expect:
        parser.error("--expect needs --check")
    generate()


if __name__ == "__main__":
    main()
