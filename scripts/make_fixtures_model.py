#!/usr/bin/python3
"""make_fixtures_model.py — PyTorch reference of the whole agent: network, A2C loss
and CPC loss over one unroll, with every parameter gradient (tests/test_a2c.c).

Usage (from the repo root, with Debian's python3-torch):
    /usr/bin/python3 scripts/make_fixtures_model.py tests/fixtures

Writes
    model_a2c_cpc.bin  A2C + cpc_weight * InfoNCE (K = 2, batch negatives)
    model_a2c.bin      A2C alone (cpc_weight = 0: no cpc.w tensor at all)

The network is built from torch modules (nn.Conv2d, nn.Linear, nn.LSTMCell) and
differentiated by autograd, so the C code is checked against an independent
implementation of agent/model.h, agent/trainer.h and cpc/cpc.h:

    obs one-hot [C,V,V] -> Conv2d(C,c1,3,pad 1) ReLU -> Conv2d(c1,c2,3,pad 1) ReLU
    -> Linear(c2*V*V, D) ReLU = z_t
    x_t = [z_t, onehot(a_{t-1}), clip(r_{t-1})]   (all zero at an episode start)
    (h, c) = LSTMCell(x_t, (mask_t h_{t-1}, mask_t c_{t-1}))      c_t := h
    logits = Linear(H, A)(h), value = Linear(H, 1)(h)
    slot T (the bootstrap step) is run the same way; only V_T is used.

    with torch.no_grad():                     (A_t and R_t are constants)
        delta_t = clip(r_t) + gamma (1 - d_t) V_{t+1} - V_t
        A_t = delta_t + gamma lambda (1 - d_t) A_{t+1},  R_t = A_t + V_t
    policy  = -mean(log pi(a_t) A_t)
    value   = 1/2 mean((R_t - V_t)^2)           (the 1/2 is inside, as in UpdateStats)
    entropy = mean(H(pi))
    cpc     = InfoNCE over batch negatives (cpc/cpc.h): score(t,k,b,j) =
              z_{t+k,j}^T W_k c_{t,b}; a triple counts when t+k < T and no episode
              starts in (t, t+k]; mean over counted triples of -log softmax_j[b]
    total   = policy + value_coef * value - entropy_coef * entropy + cpc_weight * cpc

Inputs are drawn as float32 (so C sees the very same numbers), the math runs in
float64 and the results are stored as float32. Episode boundaries sit inside the
unroll (env 1 ends at t=1, env 2 at t=2, env 0 at t=T-1 and starts one at t=0),
rewards go beyond the clip, and envs 1, 2 carry a non-zero state into step 0.

Records (names as in the C model's parameter slab):
    config  [T, B, C, V, A, c1, c2, D, H, K]
    hyper   [gamma, gae_lambda, value_coef, entropy_coef, reward_clip, cpc_weight]
    params  conv1.w conv1.b conv2.w conv2.b fc.w fc.b lstm.w_ih lstm.w_hh lstm.b_ih
            lstm.b_hh pi.w pi.b v.w v.b [cpc.w]
    inputs  obs ((T+1)*B,C,V,V)  actions (T,B)  rewards (T,B) (raw)  dones (T,B)
            prev_action0, prev_reward0, prev_done0 (B)  h0, c0 (B,H) (unmasked carry)
            mask (T+1,B) = 1 - episode start   starts (T,B)   xtail (T+1,B,A+1)
    forward z (T+1,B,D)  h (T+1,B,H)  logits (T+1,B,A)  value (T+1,B)  adv, ret (T,B)
    losses  losses = [policy, value, entropy, cpc, total]
    grads   grad.<param name> for every parameter

File format (shared by every cpcrl fixture, read by tests/fixture.h): 8-byte magic
b"CPCFIX1\\0", then records [u32 name_len][name][u32 ndim][u32 dims...][float32 data],
little-endian.
"""
import os
import struct
import sys

import torch
import torch.nn.functional as F

MAGIC = b"CPCFIX1\0"
ENV_C, ENV_A = 14, 4  # env/env.h: observation planes and actions
T, B, V, C1, C2, D, H = 4, 3, 5, 2, 3, 8, 6
GAMMA, LAMBDA, VALUE_COEF, ENTROPY_COEF, REWARD_CLIP = 0.9, 0.8, 0.5, 0.05, 1.0


def write_fixture(path, records):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC)
        for name, tensor in records:
            a = torch.as_tensor(tensor).detach().to(torch.float32).contiguous()
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)))
            f.write(nb)
            f.write(struct.pack("<I", a.dim()))
            for d in a.shape:
                f.write(struct.pack("<I", d))
            f.write(a.numpy().astype("<f4").tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(records)} tensors)")


class Agent(torch.nn.Module):
    def __init__(self, K):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(ENV_C, C1, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(C1, C2, 3, padding=1)
        self.fc = torch.nn.Linear(C2 * V * V, D)
        self.lstm = torch.nn.LSTMCell(D + ENV_A + 1, H)
        self.pi = torch.nn.Linear(H, ENV_A)
        self.v = torch.nn.Linear(H, 1)
        self.K = K
        if K > 0:  # scores of order 1, so the CPC part weighs in every shared gradient
            self.cpc_w = torch.nn.Parameter(torch.empty(K * D, H).uniform_(-8 * H ** -0.5,
                                                                           8 * H ** -0.5))

    def named(self):
        """(C name, parameter) in the C model's slab order."""
        out = [("conv1.w", self.conv1.weight), ("conv1.b", self.conv1.bias),
               ("conv2.w", self.conv2.weight), ("conv2.b", self.conv2.bias),
               ("fc.w", self.fc.weight), ("fc.b", self.fc.bias),
               ("lstm.w_ih", self.lstm.weight_ih), ("lstm.w_hh", self.lstm.weight_hh),
               ("lstm.b_ih", self.lstm.bias_ih), ("lstm.b_hh", self.lstm.bias_hh),
               ("pi.w", self.pi.weight), ("pi.b", self.pi.bias),
               ("v.w", self.v.weight), ("v.b", self.v.bias)]
        if self.K > 0:
            out.append(("cpc.w", self.cpc_w))
        return out

    def forward(self, obs, xtail, mask, h0, c0):
        """obs (T+1,B,C,V,V), xtail (T+1,B,A+1), mask (T+1,B), h0/c0 (B,H) unmasked."""
        n = obs.shape[0] * obs.shape[1]
        x = obs.reshape(n, ENV_C, V, V)
        a1 = F.relu(self.conv1(x))
        a2 = F.relu(self.conv2(a1))
        z = F.relu(self.fc(a2.reshape(n, -1))).reshape(obs.shape[0], B, D)
        # a fixture with a dead layer would test little: every ReLU layer partly alive
        for name, a in (("conv1", a1), ("conv2", a2), ("fc", z)):
            alive = (a > 0).double().mean().item()
            assert 0.2 < alive < 0.9, f"{name}: {alive:.2f} of the units active; pick another seed"
        h, c, hs = h0, c0, []
        for t in range(obs.shape[0]):
            m = mask[t].unsqueeze(1)
            h, c = self.lstm(torch.cat([z[t], xtail[t]], dim=1), (m * h, m * c))
            hs.append(h)
        hs = torch.stack(hs)                       # (T+1, B, H)
        return z, hs, self.pi(hs), self.v(hs).squeeze(2)


def infonce(c, z, W, starts, K):
    """cpc/cpc.h, batch negatives. c (T,B,H), z (T,B,D), W (K*D,H), starts (T,B)."""
    st = starts > 0
    losses = []
    for k in range(1, K + 1):
        Wk = W[(k - 1) * D:k * D]                  # (D, H)
        for t in range(T - k):
            ok = ~st[t + 1:t + k + 1].any(dim=0)   # no episode start in (t, t+k]
            s = (c[t] @ Wk.T) @ z[t + k].T         # (B, B): row b = context, col j = candidate
            lp = torch.log_softmax(s, dim=1)
            for b in range(B):
                if ok[b]:
                    losses.append(-lp[b, b])
    assert losses, "no counted CPC triple"
    return torch.stack(losses).mean(), len(losses)


def clip(r):
    return r.clamp(-REWARD_CLIP, REWARD_CLIP) if REWARD_CLIP > 0 else r


def make(K, cpc_weight, seed):
    torch.manual_seed(seed)
    agent = Agent(K)                               # PyTorch default init, float32
    with torch.no_grad():                          # livelier LSTM and heads than the default
        agent.lstm.weight_ih.mul_(2.0)
        agent.pi.weight.mul_(3.0)
    agent = agent.double()

    kinds = torch.randint(0, ENV_C, (T + 1, B, V, V))
    obs = F.one_hot(kinds, ENV_C).permute(0, 1, 4, 2, 3).double()   # (T+1,B,C,V,V)
    actions = torch.randint(0, ENV_A, (T, B))
    rewards = (1.2 * torch.randn(T, B)).float().double()
    rewards[0, 0], rewards[2, 1] = 1.75, -2.5      # beyond the clip
    dones = torch.zeros(T, B)
    dones[1, 1] = dones[2, 2] = dones[T - 1, 0] = 1
    prev_action0 = torch.randint(0, ENV_A, (B,))
    prev_reward0 = torch.tensor([0.5, -1.5, 0.25]).double()
    prev_done0 = torch.tensor([1.0, 0.0, 0.0])     # env 0 starts an episode at t = 0
    h0 = (0.5 * torch.randn(B, H)).float().double()
    c0 = (0.8 * torch.randn(B, H)).float().double()

    # mask[t] = 0 where step t starts an episode; the previous action/reward
    # input is zero there too (trainer_prepare_step)
    mask = torch.cat([1 - prev_done0.unsqueeze(0), 1 - dones]).double()   # (T+1, B)
    pa = torch.cat([prev_action0.unsqueeze(0), actions])                 # a_{t-1}
    pr = torch.cat([prev_reward0.unsqueeze(0), rewards])                 # r_{t-1}
    xtail = torch.cat([F.one_hot(pa, ENV_A).double(), clip(pr).unsqueeze(2)], dim=2)
    xtail = xtail * mask.unsqueeze(2)
    starts = 1 - mask[:T]

    z, hs, logits, value = agent(obs, xtail, mask, h0, c0)

    with torch.no_grad():
        adv = torch.zeros(T, B, dtype=torch.float64)
        gae = torch.zeros(B, dtype=torch.float64)
        for t in reversed(range(T)):
            nd = 1 - dones[t].double()
            delta = clip(rewards[t]) + GAMMA * nd * value[t + 1] - value[t]
            gae = delta + GAMMA * LAMBDA * nd * gae
            adv[t] = gae
        ret = adv + value[:T]

    logp = torch.log_softmax(logits[:T], dim=2)
    policy = -(logp.gather(2, actions.unsqueeze(2)).squeeze(2) * adv).mean()
    value_loss = 0.5 * ((ret - value[:T]) ** 2).mean()
    entropy = -(logp.exp() * logp).sum(dim=2).mean()
    total = policy + VALUE_COEF * value_loss - ENTROPY_COEF * entropy
    cpc = torch.zeros((), dtype=torch.float64)
    if K > 0:
        cpc, count = infonce(hs[:T], z[:T], agent.cpc_w, starts, K)
        total = total + cpc_weight * cpc
    total.backward()
    print("K=%d: policy %.5f value %.5f entropy %.5f cpc %.5f total %.5f" %
          (K, policy.item(), value_loss.item(), entropy.item(), cpc.item(), total.item()))

    rec = [("config", torch.tensor([T, B, ENV_C, V, ENV_A, C1, C2, D, H, K])),
           ("hyper", torch.tensor([GAMMA, LAMBDA, VALUE_COEF, ENTROPY_COEF, REWARD_CLIP,
                                   cpc_weight]))]
    rec += [(name, p) for name, p in agent.named()]
    rec += [("obs", obs.reshape((T + 1) * B, ENV_C, V, V)), ("actions", actions), ("rewards", rewards), ("dones", dones),
            ("prev_action0", prev_action0), ("prev_reward0", prev_reward0),
            ("prev_done0", prev_done0), ("h0", h0), ("c0", c0), ("mask", mask),
            ("starts", starts), ("xtail", xtail),
            ("z", z), ("h", hs), ("logits", logits), ("value", value), ("adv", adv),
            ("ret", ret),
            ("losses", torch.stack([policy, value_loss, entropy, cpc, total]))]
    for name, p in agent.named():
        nz = (p.grad != 0).double().mean().item()
        assert nz > 0.5, f"grad.{name}: only {nz:.2f} of the entries non-zero; pick another seed"
    rec += [("grad." + name, p.grad) for name, p in agent.named()]
    return rec


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    write_fixture(os.path.join(out, "model_a2c_cpc.bin"), make(K=2, cpc_weight=0.7, seed=2031))
    write_fixture(os.path.join(out, "model_a2c.bin"), make(K=0, cpc_weight=0.0, seed=2049))


if __name__ == "__main__":
    main()
