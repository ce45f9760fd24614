#!/usr/bin/python3
"""Reference fixtures for the CPC head (cpc/cpc.c), computed with PyTorch.

Run with Debian's interpreter (python3-torch):
    /usr/bin/python3 scripts/make_fixtures_cpc.py tests/fixtures

Writes cpc_batch.bin and cpc_all.bin: the same InfoNCE as cpc.h,
    score(t,k,b,j) = z_{t+k,j}^T W_k c_{t,b}
    BATCH: candidates = the B latents at step t+k, positive j = b
    ALL:   candidates = all T*B latents, positive j = (t+k)*B + b
    a triple counts when t+k < T and no episode starts in (t, t+k]
    L = mean over counted triples of -log softmax(score)[positive]
evaluated in float64 from float32 inputs, with autograd gradients for weight 1.
Episode starts sit inside the unroll so the masking is exercised.

File format (shared by every cpcrl fixture): 8-byte magic b"CPCFIX1\\0", then
records [u32 name_len][name][u32 ndim][u32 dims...][float32 data], little-endian.
Records: config = [T, B, D, H, K, negatives], c, z, W, starts (as float),
loss, acc (K), loss_k (K), count_k (K), dc, dz, dW.
"""
import os
import struct
import sys

import torch

T, B, D, H, K = 6, 4, 5, 7, 3
MAGIC = b"CPCFIX1\0"


def write_fixture(path, records):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC)
        for name, tensor in records:
            a = tensor.detach().to(torch.float32).contiguous()
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)))
            f.write(nb)
            f.write(struct.pack("<I", a.dim()))
            f.write(struct.pack("<%dI" % a.dim(), *a.shape))
            f.write(struct.pack("<%df" % a.numel(), *a.flatten().tolist()))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def valid_mask(starts):
    """mask[k-1][t, b] = triple (t, k, b) counts (t+k < T, no start in (t, t+k])."""
    st = starts.view(T, B) > 0
    masks = []
    for k in range(1, K + 1):
        m = torch.zeros(T, B, dtype=torch.bool)
        for t in range(T - k):
            m[t] = ~st[t + 1 : t + k + 1].any(dim=0)
        masks.append(m)
    return masks


def infonce(c, z, W, starts, negatives):
    """Returns loss, acc (K), loss_k (K), count_k (K)."""
    masks = valid_mask(starts)
    total = c.new_zeros(())
    count = 0
    acc, loss_k, count_k = [], [], []
    for k in range(1, K + 1):
        Wk = W[(k - 1) * D : k * D]                    # (D, H)
        pred = (c @ Wk.T).view(T, B, D)                # W_k c_{t,b}
        m = masks[k - 1]
        losses, correct = [], []
        for t in range(T - k):
            if negatives == "batch":
                cand = z.view(T, B, D)[t + k]          # (B, D)
                pos = torch.arange(B)
            else:
                cand = z                               # (T*B, D)
                pos = (t + k) * B + torch.arange(B)
            s = pred[t] @ cand.T                       # (B, N)
            lp = torch.log_softmax(s, dim=1)
            sp = s[torch.arange(B), pos]
            others = s.clone()
            others[torch.arange(B), pos] = -float("inf")
            margin = sp - others.max(dim=1).values
            hit = margin > 0                           # ties count as wrong
            for b in range(B):
                if m[t, b]:
                    losses.append(-lp[b, pos[b]])
                    correct.append(float(hit[b]))
                    # float32 in C must agree on the winner: no near-ties
                    assert abs(margin[b].item()) > 1e-3, "near-tie: pick another seed"
        n = len(losses)
        count_k.append(n)
        if n:
            lk = torch.stack(losses).sum()
            total = total + lk
            loss_k.append(lk.item() / n)
            acc.append(sum(correct) / n)
        else:
            loss_k.append(0.0)
            acc.append(0.0)
        count += n
    loss = total / count
    return loss, torch.tensor(acc), torch.tensor(loss_k), torch.tensor(count_k)


def make(negatives, seed):
    g = torch.Generator().manual_seed(seed)
    c32 = (0.7 * torch.randn(T * B, H, generator=g)).float()
    W32 = (0.5 * torch.randn(K * D, H, generator=g)).float()
    # latents = noise + a little of what the maps predict, so that accuracies
    # are neither all 0 nor all 1
    z32 = 0.7 * torch.randn(T, B, D, generator=g)
    for s in range(1, T):
        for k in range(1, min(K, s) + 1):
            z32[s] += 0.3 * (c32.view(T, B, H)[s - k] @ W32[(k - 1) * D : k * D].T)
    z32 = z32.reshape(T * B, D).float()
    starts = torch.zeros(T, B)
    starts[0, :] = 1      # a start at t = 0 masks nothing
    starts[2, 1] = 1      # env 1: new episode at step 2
    starts[4, 2] = 1      # env 2: two starts close together
    starts[5, 2] = 1
    starts[3, 3] = 1      # env 3: start at 3
    starts = starts.flatten()
    c = c32.double().requires_grad_()
    z = z32.double().requires_grad_()
    W = W32.double().requires_grad_()
    loss, acc, loss_k, count_k = infonce(c, z, W, starts, negatives)
    loss.backward()
    cfg = torch.tensor([T, B, D, H, K, 0 if negatives == "batch" else 1], dtype=torch.float32)
    print("%-5s loss %.6f count %d acc %s" % (negatives, loss.item(), int(count_k.sum()),
                                               [round(a, 3) for a in acc.tolist()]))
    return [("config", cfg), ("c", c32), ("z", z32), ("W", W32), ("starts", starts),
            ("loss", loss.detach().reshape(1)), ("acc", acc), ("loss_k", loss_k),
            ("count_k", count_k.float()), ("dc", c.grad), ("dz", z.grad), ("dW", W.grad)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    os.makedirs(out, exist_ok=True)
    write_fixture(os.path.join(out, "cpc_batch.bin"), make("batch", 1234))
    write_fixture(os.path.join(out, "cpc_all.bin"), make("all", 4321))


if __name__ == "__main__":
    main()
