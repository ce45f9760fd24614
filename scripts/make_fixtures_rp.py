#!/usr/bin/python3
"""Reference fixture for reward prediction (agent/aux_rp.h), computed with PyTorch.

Run with Debian's interpreter (python3-torch):
    /usr/bin/python3 scripts/make_fixtures_rp.py tests/fixtures

Writes rp.bin: the loss of aux_rp.h,
    x_t = [z_{t-2}, z_{t-1}, z_t],  logits = W x_t + b
    y_t = 0 (r_t = 0), 1 (r_t > 0), 2 (r_t < 0)
    a row (t, b) counts when t >= 2 and no episode starts at t-1 or t
    L = 1/|P| sum_{c in P} 1/n_c sum_{rows of class c} cross-entropy
evaluated in float64 from float32 inputs, with autograd gradients for weight 1.
Records: config = [T, B, D], z (T*B, D), rewards (T*B), starts (T*B, as float),
W (3, 3D), b (3), loss, acc (balanced accuracy), count, dW, db, dz.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures_model import write_fixture  # noqa: E402

T, B, D = 8, 4, 5


def main(out_dir):
    g = torch.Generator().manual_seed(20261207)
    z32 = torch.randn(T * B, D, generator=g).to(torch.float32)
    W32 = (0.5 * torch.randn(3, 3 * D, generator=g)).to(torch.float32)
    b32 = (0.1 * torch.randn(3, generator=g)).to(torch.float32)
    # rewards: mostly zero, some positive and negative
    u = torch.rand(T * B, generator=g)
    rew = torch.where(u < 0.3, torch.tensor(1.0), torch.where(u < 0.5, torch.tensor(-0.5), torch.tensor(0.0)))
    starts = torch.zeros(T * B)
    starts[0 * B + 0] = 1
    starts[3 * B + 1] = 1  # rows t = 3, 4 of env 1 do not count
    starts[5 * B + 2] = 1  # rows t = 5, 6 of env 2 do not count
    z = z32.double().requires_grad_(True)
    W = W32.double().requires_grad_(True)
    b = b32.double().requires_grad_(True)
    zz = z.view(T, B, D)
    st = starts.view(T, B)
    rows, ys = [], []
    for t in range(2, T):
        for e in range(B):
            if st[t - 1, e] > 0 or st[t, e] > 0:
                continue
            rows.append(torch.cat([zz[t - 2, e], zz[t - 1, e], zz[t, e]]))
            r = rew.view(T, B)[t, e].item()
            ys.append(0 if r == 0 else 1 if r > 0 else 2)
    X = torch.stack(rows)
    y = torch.tensor(ys)
    logits = X @ W.t() + b
    ce = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    present = [c for c in range(3) if (y == c).any()]
    assert len(present) == 3, "pick another seed: every class must be present"
    loss = sum(ce[y == c].mean() for c in present) / len(present)
    acc = sum(((logits.argmax(1) == y) & (y == c)).double().sum() / (y == c).sum() for c in present) / len(present)
    loss.backward()
    recs = [("config", torch.tensor([T, B, D], dtype=torch.float32)), ("z", z32), ("rewards", rew),
            ("starts", starts), ("W", W32), ("b", b32), ("loss", loss.detach().reshape(1)),
            ("acc", acc.detach().reshape(1)), ("count", torch.tensor([float(len(ys))])),
            ("dW", W.grad), ("db", b.grad), ("dz", z.grad)]
    write_fixture(os.path.join(out_dir, "rp.bin"), recs)
    print("rp.bin: %d rows, classes %s, loss %.6f" % (len(ys), [int((y == c).sum()) for c in range(3)], loss.item()))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
