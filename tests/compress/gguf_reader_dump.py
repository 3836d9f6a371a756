#!/usr/bin/env python3
"""Reads a GGUF file with the PyPI `gguf` package (an implementation independent of
Tessera's) and dumps what it sees for tests/compress/test_gguf_export.cpp:
  OUT.json  {"version", "metadata": {key: scalar | {"array": n, "head": [...]}},
             "tensors": [{"name", "type", "dims" (ggml order), "offset", "count"}]}
  OUT.f32   every tensor dequantised by gguf.quants.dequantize, float32, row-major
            (numpy order = ggml dims reversed), concatenated at "offset" (elements).
Usage: gguf_reader_dump.py FILE.gguf OUT   (gguf on PYTHONPATH: scripts/fetch_pytools.sh)
"""
import json
import sys

try:
    import numpy as np
    import gguf
    from gguf import GGUFReader
    from gguf.quants import dequantize
except ImportError as e:  # the test fails on this message; it never skips
    sys.stderr.write(f"gguf_reader_dump.py: the PyPI gguf reader is not importable ({e}); "
                     "run scripts/fetch_pytools.sh (installs gguf into .cache/pylib) or set TESSERA_PYLIB\n")
    sys.exit(3)


def plain(v):
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


def package_version():
    try:
        from importlib.metadata import version
        return version("gguf")
    except Exception:
        return "?"


def main():
    path, out = sys.argv[1], sys.argv[2]
    r = GGUFReader(path)
    meta = {}
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        v = field.contents()
        if isinstance(v, list):
            meta[key] = {"array": len(v), "head": [plain(x) for x in v[:3]]}
        else:
            meta[key] = plain(v)
    tensors = []
    offset = 0
    with open(out + ".f32", "wb") as f:
        for t in r.tensors:
            x = np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
            dims = [int(d) for d in t.shape]
            if list(x.shape) != dims[::-1]:
                raise SystemExit(f"{t.name}: dequantised shape {list(x.shape)} is not the dims {dims} reversed")
            f.write(x.tobytes())
            tensors.append({"name": t.name, "type": t.tensor_type.name, "dims": dims, "offset": offset,
                            "count": int(x.size), "data_offset": int(t.data_offset)})
            offset += int(x.size)
    version = int(r.fields["GGUF.version"].contents())
    with open(out + ".json", "w") as f:
        json.dump({"version": version, "gguf_package": package_version(), "metadata": meta,
                   "tensors": tensors}, f)


if __name__ == "__main__":
    main()
