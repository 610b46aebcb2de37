#!/usr/bin/env python3
"""npy_diff.py A.npy B.npy [--max-abs X] [--rel-l2 Y]: the max abs difference and the relative
L2 error (||A-B|| / ||B||) of two float32 .npy matrices of the same shape (what `metarec embed`
writes). Plain Python, no numpy, so it runs on any machine bench/gpu.sh may meet. Prints
`max abs: X`, `rel l2: Y` and, when bounds are given, `PASS` or `FAIL` (exit status 1)."""
import ast
import math
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:6] != b"\x93NUMPY":
        sys.exit(f"{path}: not a .npy file")
    major = raw[6]
    hlen = struct.unpack("<H" if major == 1 else "<I", raw[8:10] if major == 1 else raw[8:12])[0]
    start = (10 if major == 1 else 12) + hlen
    header = ast.literal_eval(raw[(10 if major == 1 else 12):start].decode("latin1"))
    if header["descr"] != "<f4" or header["fortran_order"]:
        sys.exit(f"{path}: expected a C-order float32 matrix, got {header}")
    n = (len(raw) - start) // 4
    return header["shape"], struct.unpack(f"<{n}f", raw[start:start + 4 * n])


def main():
    args, bounds = sys.argv[1:], {}
    while len(args) > 2 and args[-2] in ("--max-abs", "--rel-l2"):
        bounds[args[-2]] = float(args[-1])
        args = args[:-2]
    if len(args) != 2:
        sys.exit(__doc__)
    sa, a = load(args[0])
    sb, b = load(args[1])
    if sa != sb:
        sys.exit(f"shapes differ: {sa} vs {sb}")
    mx = max((abs(x - y) for x, y in zip(a, b)), default=0.0)
    num = sum((x - y) ** 2 for x, y in zip(a, b))
    den = sum(y * y for y in b)
    if any(math.isnan(x) for x in a + b):
        mx = float("nan")
    rel = math.sqrt(num / den) if den > 0 else float("nan")
    print(f"max abs: {mx:.3g}")
    print(f"rel l2: {rel:.3g}")
    if bounds:
        ok = (mx <= bounds.get("--max-abs", math.inf)) and (rel <= bounds.get("--rel-l2", math.inf))  # NaN fails
        print("PASS" if ok else "FAIL")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
