#!/usr/bin/python3
"""make_fixtures_ppo.py — PyTorch reference of the sample-reuse policy loss (PPO's
clipped objective, agent/trainer.h's a2c_policy_loss) for tests/test_a2c.c.

Usage (from the repo root, with Debian's python3-torch):
    /usr/bin/python3 scripts/make_fixtures_ppo.py tests/fixtures

Writes ppo_clip.bin: N rows over A actions, for clip eps > 0 and for eps = 0:

    logp    = log_softmax(logits)
    rho     = exp(logp[a] - logp_old)
    policy  = -mean(min(rho A, clamp(rho, 1 - eps, 1 + eps) A))     (eps > 0)
    policy  = -mean(logp[a] A)                                      (eps = 0)
    entropy = mean(H(softmax(logits)))
    loss    = policy - entropy_coef * entropy
    dlogits = d loss / d logits   (autograd: torch.minimum splits ties, clamp passes
              the gradient inside the range; both agree with the C branch rule)
    clip_frac = mean(|rho - 1| > eps),  approx_kl = mean(logp_old - logp[a])

The rows mix positive, negative and zero advantages, ratios inside the range and
beyond either bound (logp_old = logp[a] + noise); no ratio lies within 1e-3 of a
bound, where float32 (C) and float64 (here) could take different branches.
Inputs are drawn as float32, the math runs in float64, results are stored as float32.

Records:
    hyper    [eps, entropy_coef]
    logits   (N, A)   actions (N)   logp_old (N)   adv (N)
    clip.losses  [policy, entropy, loss, clip_frac, approx_kl]   clip.dlogits (N, A)
    plain.losses [policy, entropy, loss, 0, approx_kl]           plain.dlogits (N, A)

File format: tests/fixture.h (the same writer as make_fixtures_model.py).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures_model import write_fixture  # noqa: E402

N, A = 64, 4
EPS, ENTROPY_COEF = 0.2, 0.05


def losses(logits32, actions, logp_old32, adv32, eps):
    logits = logits32.double().requires_grad_(True)
    logp_all = torch.log_softmax(logits, dim=1)
    logp = logp_all.gather(1, actions.view(-1, 1)).squeeze(1)
    logp_old, adv = logp_old32.double(), adv32.double()
    rho = torch.exp(logp - logp_old)
    if eps > 0:
        policy = -torch.minimum(rho * adv, torch.clamp(rho, 1 - eps, 1 + eps) * adv).mean()
        clip_frac = ((rho - 1).abs() > eps).double().mean()
    else:
        policy = -(logp * adv).mean()
        clip_frac = torch.zeros((), dtype=torch.float64)
    entropy = -(logp_all.exp() * logp_all).sum(1).mean()
    loss = policy - ENTROPY_COEF * entropy
    loss.backward()
    kl = (logp_old - logp).mean()
    out = torch.stack([policy, entropy, loss, clip_frac, kl]).detach()
    return out, logits.grad, rho.detach()


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    g = torch.Generator().manual_seed(15)
    logits = (1.5 * torch.randn(N, A, generator=g)).float()
    actions = torch.randint(0, A, (N,), generator=g)
    adv = torch.randn(N, generator=g).float()
    adv[::9] = 0.0  # zero advantages: no policy gradient whatever the ratio
    logp = torch.log_softmax(logits.double(), dim=1).gather(1, actions.view(-1, 1)).squeeze(1)
    # old log-probs: the new ones moved by up to ~+-0.5 nats, away from the bounds
    logp_old = torch.empty(N, dtype=torch.float32)
    for i in range(N):
        while True:
            d = 0.35 * torch.randn((), generator=g).item()
            lo = torch.tensor(float(logp[i]) - d, dtype=torch.float32)
            rho = float(torch.exp(logp[i] - lo.double()))
            if min(abs(rho - (1 - EPS)), abs(rho - (1 + EPS))) > 1e-3:
                logp_old[i] = lo
                break
    clip, dclip, rho = losses(logits, actions, logp_old, adv, EPS)
    plain, dplain, _ = losses(logits, actions, logp_old, adv, 0.0)
    cut = ((adv > 0) & (rho > 1 + EPS)) | ((adv < 0) & (rho < 1 - EPS))
    above, below = int((rho > 1 + EPS).sum()), int((rho < 1 - EPS).sum())
    assert int(cut.sum()) >= 8 and above >= 8 and below >= 8, (int(cut.sum()), above, below)
    print(f"ppo_clip: {int(cut.sum())} of {N} rows clipped ({above} above, {below} below the range)")
    write_fixture(os.path.join(outdir, "ppo_clip.bin"), [
        ("hyper", torch.tensor([EPS, ENTROPY_COEF])),
        ("logits", logits), ("actions", actions.float()), ("logp_old", logp_old), ("adv", adv),
        ("clip.losses", clip), ("clip.dlogits", dclip),
        ("plain.losses", plain), ("plain.dlogits", dplain),
    ])


if __name__ == "__main__":
    main()
