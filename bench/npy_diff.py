#!/usr/bin/env python3
"""npy_diff.py A.npy B.npy: the max abs difference and the relative L2 error (||A-B|| / ||B||)
of two float32 .npy matrices of the same shape (what `metarec embed` writes). Plain Python, no
numpy, so it runs on any machine bench/gpu.sh may meet. Prints `max abs: X` and `rel l2: Y`."""
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
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sa, a = load(sys.argv[1])
    sb, b = load(sys.argv[2])
    if sa != sb:
        sys.exit(f"shapes differ: {sa} vs {sb}")
    mx = max((abs(x - y) for x, y in zip(a, b)), default=0.0)
    num = sum((x - y) ** 2 for x, y in zip(a, b))
    den = sum(y * y for y in b)
    if any(math.isnan(x) for x in a + b):
        mx = float("nan")
    print(f"max abs: {mx:.3g}")
    print(f"rel l2: {math.sqrt(num / den) if den > 0 else float('nan'):.3g}")


if __name__ == "__main__":
    main()
