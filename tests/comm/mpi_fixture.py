#!/usr/bin/env python3
"""Helpers for tools/mpi_test.sh (standard library only).

  mpi_fixture.py data DIR         a synthetic RecBole-atomic dataset DIR/syn (40 users x 15
                                  interactions over 45 items in 3 groups) + DIR/emb.npy (45 x 6)
  mpi_fixture.py compare A B      compares two metarec checkpoints (safetensors) tensor by tensor:
                                  exit 0 iff every tensor is bitwise identical; prints per tensor
                                  the number of differing values and the largest |a - b|
  mpi_fixture.py losses A B       the query_loss of every logged step of two metrics.jsonl: equal
"""
import json
import os
import random
import struct
import sys


def data(root):
    os.makedirs(os.path.join(root, "syn"), exist_ok=True)
    r = random.Random(4)
    with open(os.path.join(root, "syn", "syn.inter"), "w") as f:
        f.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for u in range(40):
            items = [(u % 3) * 15 + j for j in range(15)]
            r.shuffle(items)
            for j, i in enumerate(items):
                f.write(f"u{u}\ti{i}\t{u * 100 + j}\n")
    with open(os.path.join(root, "syn", "syn.item"), "w") as f:
        f.write("item_id:token\ttitle:token_seq\n")
        for i in range(45):
            f.write(f"i{i}\tItem {i}\n")
    rows, cols = 45, 6
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(os.path.join(root, "emb.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % (rows * cols), *[r.gauss(0, 1) for _ in range(rows * cols)]))


def tensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    head = json.loads(blob[8:8 + n])
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", (path, name, t["dtype"])
        a, b = t["data_offsets"]
        raw = blob[8 + n + a:8 + n + b]
        out[name] = (raw, struct.unpack("<%df" % (len(raw) // 4), raw))
    return out


def compare(pa, pb):
    ta, tb = tensors(pa), tensors(pb)
    if sorted(ta) != sorted(tb):
        print(f"compare: tensor names differ: {sorted(set(ta) ^ set(tb))}")
        return 1
    bad = 0
    for name in sorted(ta):
        (ra, va), (rb, vb) = ta[name], tb[name]
        if ra == rb:
            continue
        diff = sum(x != y for x, y in zip(va, vb)) if len(va) == len(vb) else -1
        dmax = max(abs(x - y) for x, y in zip(va, vb)) if diff > 0 else float("nan")
        print(f"compare: {name}: {diff} of {len(va)} values differ, max |a-b| {dmax:.3g}")
        bad += 1
    print(f"compare: {len(ta)} tensors, {len(ta) - bad} bitwise identical ({pa} vs {pb})")
    return 1 if bad else 0


def losses(pa, pb):
    def read(p):
        with open(p) as f:
            return [(j["step"], j["query_loss"]) for j in map(json.loads, f) if "query_loss" in j]
    la, lb = read(pa), read(pb)
    print(f"losses: {la}\nlosses: {lb}")
    return 0 if la == lb and la else 1


def results(pa, pb):
    """results.json of two runs: the same rows with the same metrics, to the last digit (timings aside)"""
    def read(p):
        with open(p) as f:
            rows = json.load(f)["rows"]
        for r in rows:
            r.pop("seconds", None)
        return rows
    ra, rb = read(pa), read(pb)
    bad = [(a.get("model"), k, a[k], b.get(k)) for a, b in zip(ra, rb) for k in a if a[k] != b.get(k)]
    print(f"results: {len(ra)} rows vs {len(rb)}; differing: {bad[:5]}")
    return 0 if ra and len(ra) == len(rb) and not bad else 1


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "data":
        data(sys.argv[2])
    elif cmd == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    elif cmd == "losses":
        sys.exit(losses(sys.argv[2], sys.argv[3]))
    elif cmd == "results":
        sys.exit(results(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
