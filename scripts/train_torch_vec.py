#!/usr/bin/env python3
"""Train your own PyTorch agent on cpcrl's vectorized env: a small A2C
(conv encoder, no LSTM) written in ~100 lines, as a user of the binding would.

    make lib && /usr/bin/python3 scripts/train_torch_vec.py --task seekavoid --frames 2e5

Needs numpy and torch (Debian: python3-numpy, python3-torch) and the library
($CPCRL_LIB, build/libcpcrl_env.so of `make lib`, or an installed `cpcrl`).
Shows the binding's contract in use: the vector env writes observations,
rewards and flags into its own arrays (copied here into the rollout tensors),
ended envs already hold their next episode's first observation, and a
truncated episode (time limit) is bootstrapped from V(final_observations[i]).
Loss: n-step returns R_t = r_t + gamma (1 - term_t) R'_{t+1}, where R'_{t+1}
is V(final obs) when the episode was truncated at t, else R_{t+1}; then
L = -mean(log pi(a_t) A_t) + 0.5 * 0.5 mean((R_t - V_t)^2) - 0.01 mean(H), A_t = R_t - V_t.
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import cpcrl  # noqa: E402


class Agent(nn.Module):
    def __init__(self, C, V, A, hidden=256):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(C, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * V * V, hidden), nn.ReLU())
        self.pi = nn.Linear(hidden, A)
        self.v = nn.Linear(hidden, 1)

    def forward(self, obs_u8):
        z = self.enc(obs_u8.float())
        return self.pi(z), self.v(z).squeeze(-1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="seekavoid", choices=cpcrl.TASKS)
    p.add_argument("--frames", type=float, default=2e5)
    p.add_argument("--envs", type=int, default=32)
    p.add_argument("--unroll", type=int, default=20)
    p.add_argument("--lr", type=float, default=7e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=float, default=2e4, help="frames between log lines")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)

    env = cpcrl.CpcrlVecEnv(a.task, a.envs, seed=a.seed)
    B, T = a.envs, a.unroll
    C, V = cpcrl.NUM_CHANNELS, env.view
    net = Agent(C, V, cpcrl.NUM_ACTIONS)
    opt = torch.optim.RMSprop(net.parameters(), lr=a.lr, alpha=0.99, eps=1e-5)

    obs_np, _ = env.reset()
    obs_buf = torch.zeros(T + 1, B, C, V, V, dtype=torch.uint8)  # rollout storage
    act_buf = torch.zeros(T, B, dtype=torch.long)
    rew_buf = torch.zeros(T, B)
    term_buf = torch.zeros(T, B)
    trunc_buf = torch.zeros(T, B, dtype=torch.bool)
    boot_buf = torch.zeros(T, B)  # V(final obs) where truncated
    obs_buf[0] = torch.from_numpy(obs_np)

    frames, next_log, t0 = 0, a.log_every, time.time()
    print("task %s, %d envs, unroll %d, %.0f frames (random return: `./cpcrl baseline %s`)"
          % (a.task, B, T, a.frames, a.task))
    while frames < a.frames:
        with torch.no_grad():
            for t in range(T):
                logits, _ = net(obs_buf[t])
                act = torch.distributions.Categorical(logits=logits).sample()
                obs_np, rew, term, trunc, info = env.step(act.numpy())
                act_buf[t] = act
                obs_buf[t + 1] = torch.from_numpy(obs_np)  # the copy into our storage
                rew_buf[t] = torch.from_numpy(rew)
                term_buf[t] = torch.from_numpy(term).float()
                trunc_buf[t] = torch.from_numpy(trunc)
                if trunc.any():  # time limit: bootstrap from the episode's last observation
                    idx = np.flatnonzero(trunc)
                    _, v_final = net(torch.from_numpy(info["final_obs"][idx]))
                    boot_buf[t, torch.from_numpy(idx)] = v_final
            _, ret = net(obs_buf[T])
            returns = torch.zeros(T, B)
            for t in reversed(range(T)):
                nxt = torch.where(trunc_buf[t], boot_buf[t], ret)
                ret = rew_buf[t].clamp(-1, 1) + a.gamma * (1 - term_buf[t]) * nxt
                returns[t] = ret
        logits, values = net(obs_buf[:T].reshape(T * B, C, V, V))
        dist = torch.distributions.Categorical(logits=logits)
        adv = returns.reshape(-1) - values
        loss = (-(dist.log_prob(act_buf.reshape(-1)) * adv.detach()).mean()
                + 0.5 * 0.5 * (adv ** 2).mean() - 0.01 * dist.entropy().mean())
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 0.5)
        opt.step()
        obs_buf[0] = obs_buf[T]
        frames += T * B
        if frames >= next_log:
            next_log += a.log_every
            s = env.log_take()
            print("frames %7d  sps %6.0f  episodes %4d  return %6.2f  success %5.1f%%  length %5.1f"
                  % (frames, frames / (time.time() - t0), s["episodes"], s["return"],
                     100 * s["success"], s["length"]), flush=True)
    env.close()


if __name__ == "__main__":
    main()
