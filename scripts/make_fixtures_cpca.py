#!/usr/bin/python3
"""Reference fixtures for action-conditioned CPC (cpc/cpca.c), computed with PyTorch.

Run with Debian's interpreter (python3-torch):
    /usr/bin/python3 scripts/make_fixtures_cpca.py tests/fixtures

Writes cpca_batch.bin and cpca_all.bin: the CPC|A loss of cpca.h,
    g_0 = tanh(w_in c_t + b_in)
    g_j = GRUCell(onehot(a_{t+j-1}), g_{j-1})     (torch's gru_cell: gates r, z, n)
    p_{t,k} = w_out g_k
    score(t,k,b,j) = z_{t+k,j}^T p_{t,k,b}
    BATCH: candidates = the B latents at step t+k, positive j = b
    ALL:   candidates = all T*B latents, positive j = (t+k)*B + b
    a triple counts when t+k < T and no episode starts in (t, t+k]
    L = mean over counted triples of -log softmax(score)[positive]
evaluated in float64 from float32 inputs, with autograd gradients for weight 1.
Episode starts sit inside the unroll so the masking is exercised.

File format: scripts/make_fixtures_cpc.py (magic b"CPCFIX1\\0", records
[u32 name_len][name][u32 ndim][u32 dims...][float32 data], little-endian).
Records: config = [T, B, D, H, K, G, A, negatives], c, z, actions (as float),
starts (as float), w_in, b_in, w_ih, w_hh, b_ih, b_hh, w_out, loss, acc (K),
loss_k (K), count_k (K), dc, dz, dw_in, db_in, dw_ih, dw_hh, db_ih, db_hh, dw_out.
"""
import os
import struct
import sys

import torch

T, B, D, H, K, G, A = 6, 4, 5, 7, 3, 6, 4
MAGIC = b"CPCFIX1\0"
PARAMS = ["w_in", "b_in", "w_ih", "w_hh", "b_ih", "b_hh", "w_out"]


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


def predictions(c, actions, p):
    """preds[k-1] (T-k, B, D): w_out g_k for the contexts t < T-k."""
    # torch's own GRU cell kernel (what torch.nn.GRUCell runs), on our tensors
    def cell(x, h):
        return torch._VF.gru_cell(x, h, p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"])
    acts = actions.view(T, B)
    g = torch.tanh(c.view(T, B, H)[: T - 1] @ p["w_in"].T + p["b_in"])  # (T-1, B, G)
    preds = []
    for j in range(1, K + 1):
        n = T - j                                      # contexts t < T-j take step j
        if n <= 0:
            break
        x = torch.nn.functional.one_hot(acts[j - 1 : j - 1 + n].long(), A).double()
        g = cell(x.reshape(n * B, A), g[:n].reshape(n * B, G)).view(n, B, G)
        preds.append(g @ p["w_out"].T)
    return preds


def infonce(c, z, actions, p, starts, negatives):
    masks = valid_mask(starts)
    preds = predictions(c, actions, p)
    total = c.new_zeros(())
    count = 0
    acc, loss_k, count_k = [], [], []
    for k in range(1, K + 1):
        m = masks[k - 1]
        losses, correct = [], []
        for t in range(T - k):
            if negatives == "batch":
                cand = z.view(T, B, D)[t + k]
                pos = torch.arange(B)
            else:
                cand = z
                pos = (t + k) * B + torch.arange(B)
            s = preds[k - 1][t] @ cand.T              # (B, N)
            lp = torch.log_softmax(s, dim=1)
            sp = s[torch.arange(B), pos]
            others = s.clone()
            others[torch.arange(B), pos] = -float("inf")
            margin = sp - others.max(dim=1).values
            hit = margin > 0                          # ties count as wrong
            for b in range(B):
                if m[t, b]:
                    losses.append(-lp[b, pos[b]])
                    correct.append(float(hit[b]))
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
    c32 = (0.8 * torch.randn(T * B, H, generator=g)).float()
    shapes = {"w_in": (G, H), "b_in": (G,), "w_ih": (3 * G, A), "w_hh": (3 * G, G),
              "b_ih": (3 * G,), "b_hh": (3 * G,), "w_out": (D, G)}
    scale = {"w_in": 0.6, "b_in": 0.2, "w_ih": 0.8, "w_hh": 0.5, "b_ih": 0.3, "b_hh": 0.3,
             "w_out": 1.2}
    p32 = {n: (scale[n] * torch.randn(*shapes[n], generator=g)).float() for n in PARAMS}
    actions = torch.randint(0, A, (T * B,), generator=g).float()
    starts = torch.zeros(T, B)
    starts[0, :] = 1      # a start at t = 0 masks nothing
    starts[2, 1] = 1      # env 1: new episode at step 2
    starts[4, 2] = 1      # env 2: two starts close together
    starts[5, 2] = 1
    starts[3, 3] = 1      # env 3: start at 3
    starts = starts.flatten()
    # latents = noise + a little of what the head predicts (via the first
    # step that reaches them), so that accuracies are neither all 0 nor all 1
    with torch.no_grad():
        pd = {n: v.double() for n, v in p32.items()}
        preds = predictions(c32.double(), actions, pd)
        z = 0.7 * torch.randn(T, B, D, generator=g).double()
        for s in range(1, T):
            for k in range(1, min(K, s) + 1):
                z[s] += 0.4 * preds[k - 1][s - k]
    z32 = z.reshape(T * B, D).float()
    c = c32.double().requires_grad_()
    zz = z32.double().requires_grad_()
    p = {n: v.double().requires_grad_() for n, v in p32.items()}
    loss, acc, loss_k, count_k = infonce(c, zz, actions, p, starts, negatives)
    loss.backward()
    cfg = torch.tensor([T, B, D, H, K, G, A, 0 if negatives == "batch" else 1],
                       dtype=torch.float32)
    print("%-5s loss %.6f count %d acc %s" % (negatives, loss.item(), int(count_k.sum()),
                                               [round(a, 3) for a in acc.tolist()]))
    rec = [("config", cfg), ("c", c32), ("z", z32), ("actions", actions), ("starts", starts)]
    rec += [(n, p32[n]) for n in PARAMS]
    rec += [("loss", loss.detach().reshape(1)), ("acc", acc), ("loss_k", loss_k),
            ("count_k", count_k.float()), ("dc", c.grad), ("dz", zz.grad)]
    rec += [("d" + n, p[n].grad) for n in PARAMS]
    return rec


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    os.makedirs(out, exist_ok=True)
    write_fixture(os.path.join(out, "cpca_batch.bin"), make("batch", 2024))
    write_fixture(os.path.join(out, "cpca_all.bin"), make("all", 4202))


if __name__ == "__main__":
    main()
