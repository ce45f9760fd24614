#!/usr/bin/env python3
"""PPO with an LSTM on cpcrl's tmaze, CleanRL style (one file, ppo_atari_lstm.py's
algorithm), stepping cpcrl's vector env: one C call per step for all envs.

tmaze shows a cue beside the start; at the junction, out of sight of it, the
agent must turn to the arm the cue named (+1, episode ends; the other arm ends
it with 0). A policy without memory succeeds half the time at best (random:
~3%, `./cpcrl baseline tmaze`), so this needs the LSTM.

    /usr/bin/python3 python/examples/ppo_lstm_tmaze.py                 # 500k steps
    /usr/bin/python3 python/examples/ppo_lstm_tmaze.py --total-timesteps 8192   # a smoke run

Needs PyTorch (Debian: `apt-get install python3-torch`, then run it with
/usr/bin/python3) and the cpcrl package: installed, or this checkout's python/
after `make lib`. Every iteration prints the episodes that ended in it
(cpcrl's own stats: mean return, success rate, length), the losses and the
steps per second.

Differences from CleanRL's script: the env is CpcrlVecEnv (same-step autoreset,
as CleanRL's gym envs), whose observations are one-hot planes [14][V][V]
(a small conv encoder, no frame stack); a truncated episode is bootstrapped
from its last observation (info["final_obs"]) through the LSTM state it ended
with, rather than treated as terminated.
"""
import argparse
import os
import sys
import time

try:
    import torch
    import torch.nn as nn
    from torch.distributions.categorical import Categorical
except ImportError as e:
    sys.exit("ppo_lstm_tmaze.py needs PyTorch, which is not importable here (%s).\n"
             "On Debian: apt-get install python3-torch, then run this script with /usr/bin/python3."
             % e)

import numpy as np

try:
    import cpcrl
except ImportError:  # not installed: this checkout's package (python/), library of `make lib`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import cpcrl


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="tmaze", choices=cpcrl.TASKS)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--total-timesteps", type=int, default=500_000)
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--num-steps", type=int, default=128, help="steps per env per rollout")
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--anneal-lr", type=int, default=1, help="1: decay the lr linearly to 0")
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--num-minibatches", type=int, default=4, help="minibatches of whole envs")
    p.add_argument("--update-epochs", type=int, default=4)
    p.add_argument("--clip-coef", type=float, default=0.2)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--hidden", type=int, default=128, help="encoder and LSTM width")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    a = p.parse_args()
    if a.num_envs % a.num_minibatches:
        p.error("--num-envs must be a multiple of --num-minibatches")
    return a


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, channels, view, actions, hidden):
        super().__init__()
        self.encoder = nn.Sequential(
            layer_init(nn.Conv2d(channels, 32, 3, padding=1)), nn.ReLU(), nn.Flatten(),
            layer_init(nn.Linear(32 * view * view, hidden)), nn.ReLU())
        self.lstm = nn.LSTM(hidden, hidden)
        for name, param in self.lstm.named_parameters():
            if "bias" in name:
                nn.init.constant_(param, 0)
            elif "weight" in name:
                nn.init.orthogonal_(param, 1.0)
        self.actor = layer_init(nn.Linear(hidden, actions), std=0.01)
        self.critic = layer_init(nn.Linear(hidden, 1), std=1)

    def get_states(self, x, lstm_state, done):
        """x [T*B][C][V][V] time-major, done [T*B] (1: x starts an episode)."""
        hidden = self.encoder(x.float())
        batch = lstm_state[0].shape[1]
        hidden = hidden.reshape((-1, batch, self.lstm.input_size))
        done = done.reshape((-1, batch))
        out = []
        for h, d in zip(hidden, done):
            keep = (1.0 - d).view(1, -1, 1)  # a new episode starts from a zero state
            h, lstm_state = self.lstm(h.unsqueeze(0), (keep * lstm_state[0], keep * lstm_state[1]))
            out.append(h)
        return torch.flatten(torch.cat(out), 0, 1), lstm_state

    def get_value(self, x, lstm_state, done):
        hidden, _ = self.get_states(x, lstm_state, done)
        return self.critic(hidden)

    def get_action_and_value(self, x, lstm_state, done, action=None):
        hidden, lstm_state = self.get_states(x, lstm_state, done)
        probs = Categorical(logits=self.actor(hidden))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(hidden), lstm_state


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    B, T = args.num_envs, args.num_steps
    batch_size = B * T
    iterations = max(1, args.total_timesteps // batch_size)

    envs = cpcrl.CpcrlVecEnv(args.task, B, seed=args.seed)  # env i = rng_derive(seed, i)
    C, V = cpcrl.NUM_CHANNELS, envs.view
    agent = Agent(C, V, cpcrl.NUM_ACTIONS, args.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    print("task %s: %d envs x %d steps per rollout, %d iterations (%d steps), torch %s, "
          "%d thread(s), library %s" % (args.task, B, T, iterations, iterations * batch_size,
                                        torch.__version__, args.threads, cpcrl._lib.lib.path))

    obs = torch.zeros((T, B, C, V, V), dtype=torch.uint8)
    actions = torch.zeros((T, B), dtype=torch.long)
    logprobs = torch.zeros((T, B))
    rewards = torch.zeros((T, B))
    dones = torch.zeros((T, B))
    values = torch.zeros((T, B))

    o, _ = envs.reset()
    next_obs = torch.from_numpy(o)  # the env's own buffer: read before the next step writes it
    next_done = torch.zeros(B)
    next_lstm_state = (torch.zeros(1, B, args.hidden), torch.zeros(1, B, args.hidden))
    global_step, start = 0, time.time()

    for iteration in range(1, iterations + 1):
        initial_lstm_state = (next_lstm_state[0].clone(), next_lstm_state[1].clone())
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / iterations) * args.learning_rate

        for step in range(T):
            global_step += B
            obs[step] = next_obs  # a copy into the rollout storage
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value, next_lstm_state = agent.get_action_and_value(
                    next_obs, next_lstm_state, next_done)
            values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            o, r, term, trunc, info = envs.step(action.numpy())
            reward = torch.from_numpy(r.copy())
            cut = np.flatnonzero(trunc)  # the time limit: bootstrap from the last observation
            if len(cut):
                with torch.no_grad():
                    state = (next_lstm_state[0][:, cut], next_lstm_state[1][:, cut])
                    last = torch.from_numpy(info["final_obs"][cut])
                    reward[cut] += args.gamma * agent.get_value(last, state,
                                                                torch.zeros(len(cut))).flatten()
            rewards[step] = reward
            next_obs = torch.from_numpy(o)
            next_done = torch.from_numpy(term | trunc).float()

        with torch.no_grad():  # GAE, as CleanRL
            next_value = agent.get_value(next_obs, next_lstm_state, next_done).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(T)):
                if t == T - 1:
                    nextnonterminal, nextvalues = 1.0 - next_done, next_value
                else:
                    nextnonterminal, nextvalues = 1.0 - dones[t + 1], values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = (delta + args.gamma * args.gae_lambda
                                              * nextnonterminal * lastgaelam)
            returns = advantages + values

        b_obs = obs.reshape((-1, C, V, V))
        b_logprobs, b_actions, b_dones = logprobs.reshape(-1), actions.reshape(-1), dones.reshape(-1)
        b_advantages, b_returns, b_values = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)

        envs_per_batch = B // args.num_minibatches
        envinds = np.arange(B)
        flatinds = np.arange(batch_size).reshape(T, B)
        clipfracs = []
        for epoch in range(args.update_epochs):
            np.random.shuffle(envinds)
            for s in range(0, B, envs_per_batch):
                mbenvinds = envinds[s:s + envs_per_batch]
                mb = flatinds[:, mbenvinds].ravel()  # whole env sequences, time-major
                _, newlogprob, entropy, newvalue, _ = agent.get_action_and_value(
                    b_obs[mb], (initial_lstm_state[0][:, mbenvinds], initial_lstm_state[1][:, mbenvinds]),
                    b_dones[mb], b_actions[mb])
                logratio = newlogprob - b_logprobs[mb]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs.append(((ratio - 1.0).abs() > args.clip_coef).float().mean().item())
                mb_adv = b_advantages[mb]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = torch.max(-mb_adv * ratio,
                                    -mb_adv * torch.clamp(ratio, 1 - args.clip_coef,
                                                          1 + args.clip_coef)).mean()
                newvalue = newvalue.view(-1)
                v_clipped = b_values[mb] + torch.clamp(newvalue - b_values[mb],
                                                       -args.clip_coef, args.clip_coef)
                v_loss = 0.5 * torch.max((newvalue - b_returns[mb]) ** 2,
                                         (v_clipped - b_returns[mb]) ** 2).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

        ep = envs.log_take()  # the episodes that ended in this iteration (cpcrl's stats)
        print("iter %4d  step %8d  episodes %4d  return %.3f  success %.2f  length %5.1f  "
              "pg %.4f  v %.4f  entropy %.3f  kl %.4f  clip %.3f  SPS %d" % (
                  iteration, global_step, ep["episodes"], ep["return"], ep["success"],
                  ep["length"], pg_loss.item(), v_loss.item(), entropy_loss.item(),
                  approx_kl.item(), np.mean(clipfracs), global_step / (time.time() - start)),
              flush=True)
    envs.close()


if __name__ == "__main__":
    main()
