#!/usr/bin/python3
"""PyTorch twin of `cpcrl bench train`: the same network and the same update,
written the way a PyTorch user would, timed the same way.

Run by lab/bench.c under Debian's /usr/bin/python3 (python3-torch) with the
same thread count and OPENBLAS_CORETYPE as the C trainer. Also runs by hand:

    /usr/bin/python3 scripts/bench_torch.py --threads 1 --envs 32 --unroll 20 --cpc-k 10

One update, as in agent/trainer.c (see its header for the loss):
  acting   T steps; each: encoder + LSTMCell + heads on the B observations
           under torch.no_grad(), sample the actions (torch.multinomial),
           "step" the envs (the next observations come from a pool of random
           one-hot views, rewards and episode ends from a fixed RNG: the C env
           costs < 1% of the C trainer's time, so the env is left out here).
  learner  recompute the forward over the unroll's T+1 slots with autograd
           (encoder batched over all (T+1)*B frames, LSTMCell looped over
           time with the state zeroed at episode starts), GAE returns,
           A2C loss (+ cpc_weight * InfoNCE with batch negatives: per k one
           matmul W_k c_t and one batched matmul of scores), backward,
           clip_grad_norm_, RMSprop step.
  --precision bf16: acting and the learner's forward and loss run under
           torch.autocast("cpu", dtype=torch.bfloat16) (the products in
           bf16, parameters and optimizer in fp32), as `cpcrl --precision
           bf16` runs its acting and learner products in bf16.
Prints one line per arm:
    torch <arm> frames_per_s <f> cpu_per_s <c> act_s <a> update_s <u>
(arm = cpc_on / cpc_off; c = process CPU seconds per wall second), and a
first line naming the torch version, threads and OpenBLAS kernel.
"""
import argparse
import contextlib
import ctypes
import os
import sys
import time

import torch
import torch.nn.functional as F


class Agent(torch.nn.Module):
    """agent/model.h: conv 3x3 C->c1, ReLU, conv 3x3 c1->c2, ReLU, fc -> D, ReLU
    = z_t; LSTMCell([z_t, onehot(a_{t-1}), r_{t-1}]) -> c_t; policy and value
    heads; CPC maps W (K*D, H)."""

    def __init__(self, C, V, A, c1, c2, D, H, K):
        super().__init__()
        self.A, self.D, self.H, self.K = A, D, H, K
        self.conv1 = torch.nn.Conv2d(C, c1, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(c1, c2, 3, padding=1)
        self.fc = torch.nn.Linear(c2 * V * V, D)
        self.lstm = torch.nn.LSTMCell(D + A + 1, H)
        self.pi = torch.nn.Linear(H, A)
        self.v = torch.nn.Linear(H, 1)
        if K > 0:
            self.cpc_w = torch.nn.Parameter(torch.empty(K * D, H).uniform_(-H ** -0.5, H ** -0.5))

    def encode(self, x):
        a = F.relu(self.conv1(x))
        a = F.relu(self.conv2(a))
        return F.relu(self.fc(a.flatten(1)))

    def step(self, x, tail, mask, h, c):
        z = self.encode(x)
        m = mask.unsqueeze(1)
        h, c = self.lstm(torch.cat([z, tail], dim=1), (m * h, m * c))
        return z, h, c, self.pi(h), self.v(h).squeeze(1)


def infonce(hs, z, W, starts, K, D):
    """cpc/cpc.h, batch negatives: hs (T,B,H), z (T,B,D), starts (T,B) bool.
    Per k only the contexts with a target in the unroll, so no (T*B, K*D)
    intermediate whose slices would each get a full-size gradient."""
    T, B, H = hs.shape
    Ws = W.view(K, D, H).unbind(0)                 # W_k (D, H); one stack in backward
    started = torch.cumsum(starts.int(), dim=0)    # episode starts at steps <= s
    total, count = 0.0, 0
    for k in range(1, min(K, T - 1) + 1):
        P = (hs[:T - k].reshape(-1, H) @ Ws[k - 1].t()).view(T - k, B, D)   # W_k c_t
        S = torch.bmm(P, z[k:].transpose(1, 2))                             # (T-k, B, B)
        lp = torch.log_softmax(S, dim=2).diagonal(dim1=1, dim2=2)           # positives
        ok = (started[k:] - started[:T - k]) == 0                           # no start in (t, t+k]
        total = total - (lp * ok).sum()
        count += int(ok.sum())
    return total / max(count, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--envs", type=int, default=32)
    ap.add_argument("--unroll", type=int, default=20)
    ap.add_argument("--cpc-k", type=int, default=10)
    ap.add_argument("--arms", default="cpc_on,cpc_off")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--planes", type=int, default=14)
    ap.add_argument("--view", type=int, default=7)
    ap.add_argument("--actions", type=int, default=4)
    ap.add_argument("--conv1", type=int, default=16)
    ap.add_argument("--conv2", type=int, default=32)
    ap.add_argument("--latent", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        core = "unknown"
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} openblas {core} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')} precision {args.precision}",
          flush=True)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if args.precision == "bf16" \
        else contextlib.nullcontext

    C, V, A, B, T = args.planes, args.view, args.actions, args.envs, args.unroll
    D, H = args.latent, args.hidden
    # pool of random one-hot observations, uint8 [C,V,V] as the C env writes them
    pool = F.one_hot(torch.randint(0, C, (64, B, V, V)), C).permute(0, 1, 4, 2, 3)
    pool = pool.to(torch.uint8).contiguous()
    gen = torch.Generator().manual_seed(2)

    for arm in args.arms.split(","):
        cpc = arm == "cpc_on"
        K = args.cpc_k if cpc else 0
        agent = Agent(C, V, A, args.conv1, args.conv2, D, H, K)
        opt = torch.optim.RMSprop(agent.parameters(), lr=7e-4, alpha=0.99, eps=1e-5)
        h = torch.zeros(B, H)
        c = torch.zeros(B, H)
        prev_a = torch.zeros(B, dtype=torch.long)
        prev_r = torch.zeros(B)
        prev_done = torch.ones(B)
        h_start, c_start = h, c
        obs_i = 0
        frames, t_act, t_upd = 0, 0.0, 0.0
        n_updates, t_begin, cpu_begin = 0, None, 0.0
        while True:
            if n_updates == 3:                       # after the warm-up
                frames, t_act, t_upd, t_begin = 0, 0.0, 0.0, time.perf_counter()
                cpu_begin = time.process_time()
            elif t_begin is not None and time.perf_counter() - t_begin >= args.seconds:
                break
            t0 = time.perf_counter()
            # ---- acting: T batched steps
            obs, tails, masks, acts, rews, dones = [], [], [], [], [], []
            h_start, c_start = h, c
            with torch.no_grad(), autocast():
                for t in range(T + 1):               # slot T: bootstrap observation
                    o = pool[obs_i % pool.shape[0]]
                    obs_i += 1
                    mask = 1.0 - prev_done
                    tail = torch.cat([F.one_hot(prev_a, A).float(), prev_r.clamp(-1, 1).unsqueeze(1)],
                                     dim=1) * mask.unsqueeze(1)
                    obs.append(o); tails.append(tail); masks.append(mask)
                    if t == T:
                        break
                    _, h, c, logits, _ = agent.step(o.float(), tail, mask, h, c)
                    a = torch.multinomial(F.softmax(logits, dim=1), 1, generator=gen).squeeze(1)
                    r = torch.randn(B, generator=gen)
                    d = (torch.rand(B, generator=gen) < 0.02).float()
                    acts.append(a); rews.append(r); dones.append(d)
                    prev_a, prev_r, prev_done = a, r, d
            t1 = time.perf_counter()
            # ---- learner: recompute the forward with autograd, loss, backward, step
            with autocast():
                x = torch.stack(obs).float().reshape((T + 1) * B, C, V, V)
                z = agent.encode(x).reshape(T + 1, B, D)
                hh, cc, hs = h_start, c_start, []
                for t in range(T + 1):
                    m = masks[t].unsqueeze(1)
                    hh, cc = agent.lstm(torch.cat([z[t], tails[t]], dim=1), (m * hh, m * cc))
                    hs.append(hh)
                hs = torch.stack(hs)
                logits = agent.pi(hs[:T])
                value = agent.v(hs).squeeze(2)
                actions, rewards = torch.stack(acts), torch.stack(rews).clamp(-1, 1)
                done = torch.stack(dones)
                with torch.no_grad():
                    adv = torch.zeros(T, B)
                    gae = torch.zeros(B)
                    for t in reversed(range(T)):
                        nd = 1 - done[t]
                        delta = rewards[t] + 0.99 * nd * value[t + 1] - value[t]
                        gae = delta + 0.99 * 0.95 * nd * gae
                        adv[t] = gae
                    ret = adv + value[:T]
                logp = F.log_softmax(logits, dim=2)
                policy = -(logp.gather(2, actions.unsqueeze(2)).squeeze(2) * adv).mean()
                vloss = 0.5 * ((ret - value[:T]) ** 2).mean()
                ent = -(logp.exp() * logp).sum(dim=2).mean()
                loss = policy + 0.5 * vloss - 0.01 * ent
                if cpc:
                    starts = torch.stack(masks[:T]) == 0
                    loss = loss + infonce(hs[:T], z[:T], agent.cpc_w, starts, K, D)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
            opt.step()
            h, c = h.detach(), c.detach()
            t2 = time.perf_counter()
            frames += T * B
            t_act += t1 - t0
            t_upd += t2 - t1
            n_updates += 1
        el = time.perf_counter() - t_begin
        cpu = time.process_time() - cpu_begin
        print(f"torch {arm} frames_per_s {frames / el:.1f} cpu_per_s {cpu / el:.3f} "
              f"act_s {t_act:.3f} update_s {t_upd:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
