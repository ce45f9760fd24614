#!/usr/bin/python3
"""make_fixtures.py — PyTorch reference values for cpcrl's nn kernels and optimizers.

Usage (from the repo root, with Debian's python3-torch):
    /usr/bin/python3 scripts/make_fixtures.py tests/fixtures

Every fixture is computed by PyTorch itself (F.linear, F.conv2d, nn.LSTMCell,
autograd, torch.optim.RMSprop/Adam) so the C kernels are checked against an
independent implementation, not against a transcription of their own formulas.
Inputs are drawn as float32 (so the C side sees exactly the same numbers) and
the math runs in float64; results are stored rounded to float32.
Gradients come from autograd of  loss = sum(out * dout)  with a random `dout`
stored alongside, i.e. they are vector-Jacobian products, which is exactly
what the C backward functions compute.

File format (all little-endian), read by tests/fixture.h:
    magic    8 bytes  "CPCFIX1\\0"
    records  until end of file, each:
        u32 name_len, name bytes (no terminator),
        u32 ndim (0..4), u32 dims[ndim],
        float32 data[prod(dims)]   (row-major; ndim 0 = one scalar)
Sizes and hyper-parameters (stride, padding, lr, ...) are stored as small
float tensors too, so each file is self-describing.
"""
import os
import struct
import sys

import torch
import torch.nn.functional as F

MAGIC = b"CPCFIX1\0"


def write_fixture(path, tensors):
    with open(path, "wb") as f:
        f.write(MAGIC)
        for name, t in tensors.items():
            t = torch.as_tensor(t).detach().to(torch.float32).contiguous()
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)))
            f.write(nb)
            f.write(struct.pack("<I", t.dim()))
            for d in t.shape:
                f.write(struct.pack("<I", d))
            f.write(t.numpy().astype("<f4").tobytes())
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors)")


def rand(*shape, scale=1.0):
    """float32 draw, returned as float64 leaf (exactly representable in float32)."""
    return (torch.randn(*shape, dtype=torch.float32) * scale).double()


def leaf(t):
    return t.clone().requires_grad_(True)


def fix_linear(out_dir):
    N, I, O = 3, 5, 4
    inp, w, b = leaf(rand(N, I)), leaf(rand(O, I)), leaf(rand(O))
    dout = rand(N, O)
    out = F.linear(inp, w, b)
    (out * dout).sum().backward()
    write_fixture(os.path.join(out_dir, "linear.bin"), dict(
        inp=inp, w=w, b=b, out=out, dout=dout, dinp=inp.grad, dw=w.grad, db=b.grad))


def fix_conv(out_dir, name, N, Ci, H, W, Co, K, S, P):
    inp, w, b = leaf(rand(N, Ci, H, W)), leaf(rand(Co, Ci, K, K)), leaf(rand(Co))
    out = F.conv2d(inp, w, b, stride=S, padding=P)
    dout = rand(*out.shape)
    (out * dout).sum().backward()
    write_fixture(os.path.join(out_dir, name), dict(
        cfg=torch.tensor([S, P]), inp=inp, w=w, b=b, out=out, dout=dout,
        dinp=inp.grad, dw=w.grad, db=b.grad))


def fix_relu(out_dir):
    inp = rand(2, 7)
    inp[0, 0] = 0.0  # relu'(0) = 0 in PyTorch (threshold_backward uses out > 0)
    inp[1, 3] = 0.0
    inp = leaf(inp)
    out = F.relu(inp)
    dout = rand(2, 7)
    (out * dout).sum().backward()
    write_fixture(os.path.join(out_dir, "relu.bin"), dict(inp=inp, out=out, dout=dout,
                                                          dinp=inp.grad))


def lstm_cell(I, H, w_ih, w_hh, b_ih, b_hh):
    cell = torch.nn.LSTMCell(I, H).double()
    with torch.no_grad():
        cell.weight_ih.copy_(w_ih)
        cell.weight_hh.copy_(w_hh)
        cell.bias_ih.copy_(b_ih)
        cell.bias_hh.copy_(b_hh)
    return cell


def fix_lstm_cell(out_dir):
    N, I, H = 3, 4, 5
    x, h_prev, c_prev = leaf(rand(N, I)), leaf(rand(N, H)), leaf(rand(N, H))
    w_ih, w_hh = rand(4 * H, I, scale=0.5), rand(4 * H, H, scale=0.5)
    b_ih, b_hh = rand(4 * H, scale=0.5), rand(4 * H, scale=0.5)
    cell = lstm_cell(I, H, w_ih, w_hh, b_ih, b_hh)
    h, c = cell(x, (h_prev, c_prev))
    dh, dc = rand(N, H), rand(N, H)
    ((h * dh).sum() + (c * dc).sum()).backward()
    write_fixture(os.path.join(out_dir, "lstm_cell.bin"), dict(
        x=x, h_prev=h_prev, c_prev=c_prev, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh,
        h=h, c=c, dh=dh, dc=dc, dx=x.grad, dh_prev=h_prev.grad, dc_prev=c_prev.grad,
        dw_ih=cell.weight_ih.grad, dw_hh=cell.weight_hh.grad,
        db_ih=cell.bias_ih.grad, db_hh=cell.bias_hh.grad))


def fix_lstm_bptt(out_dir):
    # loss = sum_t sum(h_t * proj_t) + sum(c_T * proj_c): gradients reach every
    # step through h and c, and the last step also through dc.
    T, N, I, H = 5, 3, 4, 5
    xs, h0, c0 = leaf(rand(T, N, I)), leaf(rand(N, H)), leaf(rand(N, H))
    w_ih, w_hh = rand(4 * H, I, scale=0.5), rand(4 * H, H, scale=0.5)
    b_ih, b_hh = rand(4 * H, scale=0.5), rand(4 * H, scale=0.5)
    proj, proj_c = rand(T, N, H), rand(N, H)
    cell = lstm_cell(I, H, w_ih, w_hh, b_ih, b_hh)
    h, c, hs, loss = h0, c0, [], 0.0
    for t in range(T):
        h, c = cell(xs[t], (h, c))
        hs.append(h)
        loss = loss + (h * proj[t]).sum()
    loss = loss + (c * proj_c).sum()
    loss.backward()
    write_fixture(os.path.join(out_dir, "lstm_bptt.bin"), dict(
        xs=xs, h0=h0, c0=c0, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh,
        proj=proj, proj_c=proj_c, hs=torch.stack(hs), c_last=c, loss=loss.reshape(1),
        dxs=xs.grad, dh0=h0.grad, dc0=c0.grad,
        dw_ih=cell.weight_ih.grad, dw_hh=cell.weight_hh.grad,
        db_ih=cell.bias_ih.grad, db_hh=cell.bias_hh.grad))


def fix_dist(out_dir):
    N, A = 4, 5
    logits = rand(N, A, scale=2.0)
    logits[3] = torch.tensor([30.0, -20.0, 29.0, 0.0, 1.0])  # needs max-subtraction
    logits = leaf(logits)
    logp = F.log_softmax(logits, dim=1)
    dlogp = rand(N, A)
    (logp * dlogp).sum().backward()
    dlogits_ls = logits.grad.clone()
    logits.grad = None
    logp = F.log_softmax(logits, dim=1)
    ent = -(logp.exp() * logp).sum(dim=1)
    dent = rand(N)
    (ent * dent).sum().backward()
    write_fixture(os.path.join(out_dir, "dist.bin"), dict(
        logits=logits, logp=logp, dlogp=dlogp, dlogits_logsoftmax=dlogits_ls,
        ent=ent, dent=dent, dlogits_entropy=logits.grad))


def fix_mse(out_dir):
    pred, target = leaf(rand(7)), rand(7)
    scale = 0.75
    loss = F.mse_loss(pred, target)
    (loss * scale).backward()
    write_fixture(os.path.join(out_dir, "mse.bin"), dict(
        pred=pred, target=target, loss=loss.reshape(1), scale=torch.tensor([scale]),
        dpred=pred.grad))


def fix_optim(out_dir, name, make_opt, hyper, state_names):
    # 3 steps on a small tensor with given gradients (one exactly zero entry).
    n, steps = 6, 3
    p0 = rand(n)
    grads = rand(steps, n, scale=0.5)
    grads[1, 2] = 0.0
    p = p0.clone().requires_grad_(True)
    opt = make_opt([p])
    after = []
    for s in range(steps):
        p.grad = grads[s].clone()
        opt.step()
        after.append(p.detach().clone())
    st = opt.state[p]
    rec = dict(hyper=torch.tensor(hyper), p0=p0, grads=grads, params=torch.stack(after))
    for key, tname in state_names.items():
        rec[key] = st[tname]
    write_fixture(os.path.join(out_dir, name), rec)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(1234)
    fix_linear(out_dir)
    fix_conv(out_dir, "conv_s1.bin", N=2, Ci=3, H=5, W=5, Co=4, K=3, S=1, P=1)
    fix_conv(out_dir, "conv_s2.bin", N=2, Ci=3, H=5, W=6, Co=4, K=3, S=2, P=1)
    fix_relu(out_dir)
    fix_lstm_cell(out_dir)
    fix_lstm_bptt(out_dir)
    fix_dist(out_dir)
    fix_mse(out_dir)
    # Non-default hyper-parameters so a C side that ignored them would fail;
    # eps is large enough that adding it before vs after the sqrt shows.
    lr, alpha, eps = 0.01, 0.9, 0.01
    fix_optim(out_dir, "rmsprop.bin",
              lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=alpha, eps=eps),
              [lr, alpha, eps], {"square_avg": "square_avg"})
    lr, b1, b2, eps = 0.05, 0.8, 0.99, 0.1
    fix_optim(out_dir, "adam.bin",
              lambda ps: torch.optim.Adam(ps, lr=lr, betas=(b1, b2), eps=eps),
              [lr, b1, b2, eps], {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"})


if __name__ == "__main__":
    main()
