#!/usr/bin/env python3
"""Writes DIR/model.safetensors: random BERT weights of the shapes DIR/config.json gives.

For bench/gpu.sh's training rows on a machine that cannot fetch a checkpoint (and a carry too
small for all-MiniLM-L6-v2's 87 MiB): tasks/s and device memory depend on the shapes, not the
values. Weights uniform with HF's init standard deviation (0.02), LayerNorm weights 1, biases 0.
The standard library only (the device machine's Python may have nothing else).

  python3 bench/random_bert.py DIR [--seed 0]
"""
import argparse
import array
import json
import random
import struct
import sys


def shapes(c):
    H, F, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    out = {
        "embeddings.word_embeddings.weight": (V, H),
        "embeddings.position_embeddings.weight": (c["max_position_embeddings"], H),
        "embeddings.token_type_embeddings.weight": (c.get("type_vocab_size", 2), H),
        "embeddings.LayerNorm.weight": (H,),
        "embeddings.LayerNorm.bias": (H,),
    }
    for i in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            out[p + f"attention.self.{n}.weight"] = (H, H)
            out[p + f"attention.self.{n}.bias"] = (H,)
        out[p + "attention.output.dense.weight"] = (H, H)
        out[p + "attention.output.dense.bias"] = (H,)
        out[p + "attention.output.LayerNorm.weight"] = (H,)
        out[p + "attention.output.LayerNorm.bias"] = (H,)
        out[p + "intermediate.dense.weight"] = (F, H)
        out[p + "intermediate.dense.bias"] = (F,)
        out[p + "output.dense.weight"] = (H, F)
        out[p + "output.dense.bias"] = (H,)
        out[p + "output.LayerNorm.weight"] = (H,)
        out[p + "output.LayerNorm.bias"] = (H,)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    try:
        c = json.load(open(f"{a.dir}/config.json"))
    except (OSError, ValueError) as e:
        sys.exit(f"{a.dir}/config.json: {e}")
    rng = random.Random(a.seed)
    half = 0.02 * 3**0.5  # uniform on [-half, half]: standard deviation 0.02
    scale = 2 * half / 65535
    header, blobs, off = {}, [], 0
    for name, shp in shapes(c).items():
        n = 1
        for d in shp:
            n *= d
        if name.endswith("LayerNorm.weight"):
            x = array.array("f", [1.0]) * n
        elif name.endswith(".bias"):
            x = array.array("f", [0.0]) * n
        else:
            u = array.array("H", rng.randbytes(2 * n))
            x = array.array("f", [v * scale - half for v in u])
        if sys.byteorder != "little":
            x.byteswap()
        b = x.tobytes()
        header[name] = {"dtype": "F32", "shape": list(shp), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(f"{a.dir}/model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(f"{a.dir}/model.safetensors: {len(header)} tensors, {off / 2**20:.1f} MiB of random weights")


if __name__ == "__main__":
    main()
