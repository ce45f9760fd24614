#!/usr/bin/env python3
"""Read a cpcrl checkpoint (format in docs/files.md / agent/ckpt.h) with the standard library + numpy.
usage: read_ckpt.py runs/NAME/model.ckpt   -> prints the config and every record's name, dtype, shape"""
import struct, sys, zlib
import numpy as np

def read_ckpt(path):
    data = open(path, "rb").read()
    assert data[:8] == b"CPCRLCKP", "not a cpcrl checkpoint"
    assert struct.unpack_from("<I", data, len(data) - 4)[0] == zlib.crc32(data[:-4]), "CRC mismatch"
    version, cfglen = struct.unpack_from("<II", data, 8)
    off = 16
    config = data[off:off + cfglen].decode(); off += cfglen
    (nrec,) = struct.unpack_from("<I", data, off); off += 4
    records = {}
    for _ in range(nrec):
        (nl,) = struct.unpack_from("<I", data, off); off += 4
        name = data[off:off + nl].decode(); off += nl
        dtype, ndim = struct.unpack_from("<II", data, off); off += 8
        dims = struct.unpack_from("<%dI" % ndim, data, off); off += 4 * ndim
        dt = np.dtype(["<f4", "u1", "<i8", "<f8"][dtype])
        n = int(np.prod(dims))
        records[name] = np.frombuffer(data, dt, n, off).reshape(dims); off += n * dt.itemsize
    return version, config, records

if __name__ == "__main__":
    version, config, records = read_ckpt(sys.argv[1])
    print("version", version); print(config)
    for name, arr in records.items():
        print(f"{name:24s} {str(arr.dtype):8s} {arr.shape}")
