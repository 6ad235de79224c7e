#!/usr/bin/env python3
"""The network, PPO and optimiser math of dgpg against PyTorch autograd.

test_nn_dump (tests/test_nn_dump.c) evaluates the C code on fixed-seed
random inputs and writes inputs and outputs to HDF5; this script
recomputes every output from the dumped inputs with PyTorch (float64,
autograd) or, for ValueNorm, numpy, written from the formulas of the
MAPPO reference, not from the C code. Each check prints "ok - ..." or
"not ok - ..." with the largest absolute difference (llm.c style).

Tolerances (|C - truth| <= atol + rtol |truth|):
  float32 outputs of float32 math (MLP forward and gradients, gradients
  w.r.t. logits, GAE, guidance):              rtol 1e-5,  atol 1e-6
  float64 outputs of float64 math (PPO loss, ratio and entropy, value loss
  and its gradient, ValueNorm, log-partition): rtol 1e-9,  atol 1e-12
  Adam (both sides keep params, m, v in float32; torch.optim.Adam itself
  run in float32 on the same gradients):     rtol 1e-6,  atol 1e-7
Usage: test_nn_torch.py DUMP_BINARY SCRATCH_DIR
"""
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

F32 = dict(rtol=1e-5, atol=1e-6)
F64 = dict(rtol=1e-9, atol=1e-12)
ADAM = dict(rtol=1e-6, atol=1e-7)

counts = {"passed": 0, "failed": 0}


def report(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
    counts["passed" if cond else "failed"] += 1


def check_close(what, got, want, rtol, atol):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        report(False, f"{what}: shape {got.shape} != {want.shape}")
        return
    diff = np.abs(got - want)
    bad = diff > atol + rtol * np.abs(want)
    line = f"{what} (max abs diff {diff.max():.3e}, rtol {rtol:g}, atol {atol:g})"
    if bad.any():
        i = np.unravel_index(np.argmax(diff - rtol * np.abs(want)), diff.shape)
        line += f"; worst at {tuple(int(j) for j in i)}: C {got[i]!r}, torch {want[i]!r}"
    report(not bad.any(), line)


def t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)


def check_mlp(name, grp):
    K, n_in, hidden, layers, n_out, B = (int(grp.attrs[a])
                                         for a in ("K", "in", "hidden", "layers", "out", "B"))
    params = grp["params"][()]
    # layout (mlp.h): for each layer l, W_l (K, d_out, d_in) with each W
    # column-major d_out x d_in, then b_l (K, d_out)
    d_in = [n_in] + [hidden] * layers
    d_out = [hidden] * layers + [n_out]
    n_params = sum(K * (o * i + o) for i, o in zip(d_in, d_out))
    report(n_params == params.size == int(grp.attrs["n_params"]),
           f"{name}: {params.size} parameters as the layout says ({n_params})")
    flat = t64(params).requires_grad_(True)
    x = t64(grp["x"][()]).reshape(B, K, n_in)
    g = t64(grp["g"][()]).reshape(B, K, n_out)
    h, off = x, 0
    for l in range(layers + 1):
        di, do = d_in[l], d_out[l]
        # column-major d_out x d_in: element (r, c) at c * d_out + r, so the
        # flat block read row-major as (d_in, d_out) is W^T
        W = flat[off:off + K * do * di].reshape(K, di, do).transpose(1, 2)
        off += K * do * di
        b = flat[off:off + K * do].reshape(K, do)
        off += K * do
        h = torch.einsum("kod,bkd->bko", W, h) + b
        if l < layers:
            h = torch.tanh(h)
    (h * g).sum().backward()
    out_c = grp["out"][()].reshape(B, K, n_out)
    check_close(f"{name}: forward output (B, K, out)", out_c, h.detach().numpy(), **F32)
    # A gradient element is a float32 sum over B samples of terms that can
    # be far larger than the sum (cancellation), so its error scales with
    # the gradient's overall size, not with the element: the absolute
    # tolerance is 2e-5 of the largest gradient (1e-6 at least).
    truth = flat.grad.numpy()
    grad_tol = dict(rtol=F32["rtol"], atol=max(F32["atol"], 2e-5 * np.abs(truth).max()))
    check_close(f"{name}: mlp_backward gradient = autograd of sum(out * g)", grp["grads"][()],
                truth, **grad_tol)
    # BLAS may add into C while it accumulates (beta = 1), so the second
    # call's sum is not bit-for-bit 2x the first: compare with 2x the truth
    grad_tol["atol"] *= 2
    check_close(f"{name}: a second mlp_backward accumulates (grads_twice = 2 x autograd)",
                grp["grads_twice"][()], 2 * truth, **grad_tol)


def check_ppo(name, grp):
    clip, c_ent, scale = (float(grp.attrs[a]) for a in ("clip", "entropy_coef", "scale"))
    z = t64(grp["logits"][()]).requires_grad_(True)
    action = torch.tensor(grp["action"][()], dtype=torch.int64)
    log_p_old, adv = t64(grp["log_p_old"][()]), t64(grp["advantage"][()])
    log_probs = torch.log_softmax(z, dim=1)
    log_p = log_probs.gather(1, action[:, None])[:, 0]
    entropy = -(log_probs.exp() * log_probs).sum(dim=1)
    # standard PPO-clip with entropy bonus, per decision
    ratio = torch.exp(log_p - log_p_old)
    surr1 = ratio * adv
    surr2 = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * adv
    loss = -torch.min(surr1, surr2) - c_ent * entropy
    (scale * loss.sum()).backward()
    check_close(f"{name}: loss per decision", grp["loss"][()], loss.detach().numpy(), **F64)
    check_close(f"{name}: ratio", grp["ratio"][()], ratio.detach().numpy(), **F64)
    check_close(f"{name}: entropy", grp["entropy"][()], entropy.detach().numpy(), **F64)
    check_close(f"{name}: scale * dloss/dlogits", grp["grad_logits"][()], z.grad.numpy(), **F32)
    check_close(f"{name}: nn_softmax", grp["probs"][()], log_probs.exp().detach().numpy(), **F32)
    check_close(f"{name}: nn_softmax's log sum exp", grp["log_z"][()],
                torch.logsumexp(z, dim=1).detach().numpy(), **F64)
    r = ratio.detach().numpy()
    a = adv.numpy()
    report(np.array_equal(grp["clipped"][()] != 0, np.abs(r - 1) > clip),
           f"{name}: clipped flag is |ratio - 1| > clip")
    cover = {"inside": int(np.sum(np.abs(r - 1) <= clip)),
             "above, A>0": int(np.sum((r > 1 + clip) & (a > 0))),
             "above, A<0": int(np.sum((r > 1 + clip) & (a < 0))),
             "below, A>0": int(np.sum((r < 1 - clip) & (a > 0))),
             "below, A<0": int(np.sum((r < 1 - clip) & (a < 0)))}
    report(min(cover.values()) > 0, f"{name}: cases covered {cover}")


def check_value_loss(grp):
    # MAPPO's r_mappo.cal_value_loss: v_c = v_old + clamp(v - v_old, -eps, eps),
    # L = max(f(v - R), f(v_c - R)); f is Huber (torch's huber_loss, the
    # symmetric textbook form) or 0.5 e^2 without Huber (delta = 0 here, as in
    # ppo_value_loss). ppo_value_loss's Huber is symmetric too; the MAPPO
    # repository's own huber_loss helper uses (e > d) rather than (|e| > d),
    # which gives 0 loss for e < -d: that asymmetry is deliberately not
    # reproduced by either side.
    clip = float(grp.attrs["clip"])
    v_np, old_np, tgt_np = grp["value"][()], grp["value_old"][()], grp["target"][()]
    deltas = grp["huber_delta"][()]
    for d_i, delta in enumerate(deltas):
        v = t64(v_np).requires_grad_(True)
        old, tgt = t64(old_np), t64(tgt_np)
        clipped = old + torch.clamp(v - old, -clip, clip)
        if delta > 0:
            f1 = F.huber_loss(v, tgt, reduction="none", delta=float(delta))
            f2 = F.huber_loss(clipped, tgt, reduction="none", delta=float(delta))
        else:
            f1, f2 = 0.5 * (v - tgt) ** 2, 0.5 * (clipped - tgt) ** 2
        loss = torch.max(f1, f2)
        loss.sum().backward()
        check_close(f"value loss, huber delta {delta:g}: loss", grp["loss"][d_i],
                    loss.detach().numpy(), **F64)
        check_close(f"value loss, huber delta {delta:g}: dloss/dvalue", grp["grad"][d_i],
                    v.grad.numpy(), **F64)
    inside = np.abs(v_np - old_np) <= clip
    err = np.abs(v_np - tgt_np)
    cover = {"inside clip": int(inside.sum()), "outside clip": int((~inside).sum()),
             "clipped term chosen, grad 0": int(np.sum(grp["grad"][0] == 0)),
             "|e| <= 0.3": int(np.sum(err <= 0.3)), "0.3 < |e| <= 10": int(
                 np.sum((err > 0.3) & (err <= 10))), "|e| > 10": int(np.sum(err > 10))}
    report(min(cover.values()) > 0, f"value loss: cases covered {cover}")


def check_gae(grp):
    gamma, lam = float(grp.attrs["gamma"]), float(grp.attrs["lambda"])
    r = grp["reward"][()].astype(np.float64)
    v = grp["value"][()].astype(np.float64)
    T = r.size
    delta = r + gamma * v[1:] - v[:-1]
    # A_t = sum_l (gamma lambda)^l delta_{t+l}, the closed form of the recursion
    adv = np.array([sum((gamma * lam) ** l * delta[t + l] for l in range(T - t))
                    for t in range(T)])
    check_close("gae: advantages", grp["advantage"][()], adv, **F32)
    check_close("gae: returns = advantages + values", grp["returns"][()], adv + v[:-1], **F32)


def check_adam(grp):
    lr, eps = float(grp.attrs["lr"]), float(grp.attrs["eps"])
    b1, b2 = float(grp.attrs["beta1"]), float(grp.attrs["beta2"])
    grads = grp["grads"][()]
    p = torch.tensor(grp["init"][()], dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps)
    after = []
    for s in range(grads.shape[0]):
        p.grad = torch.tensor(grads[s], dtype=torch.float32)
        opt.step()
        after.append(p.detach().numpy().copy())
    after = np.array(after)
    check_close("adam: ppo_adam params after each step vs torch.optim.Adam (float32)",
                grp["params"][()], after, **ADAM)
    check_close("adam: mlp_adam_step params after each step vs torch.optim.Adam (float32)",
                grp["params_mlp"][()], after, **ADAM)
    state = opt.state[p]
    check_close("adam: first moment m", grp["m"][()], state["exp_avg"].numpy(), **ADAM)
    check_close("adam: second moment v", grp["v"][()], state["exp_avg_sq"].numpy(), **ADAM)


def check_value_norm(grp):
    # MAPPO's ValueNorm (onpolicy/utils/valuenorm.py), beta = 0.99999,
    # epsilon = 1e-5, per_element_update off:
    #   running_mean    <- beta running_mean    + (1 - beta) mean(x)
    #   running_mean_sq <- beta running_mean_sq + (1 - beta) mean(x^2)
    #   debiasing_term  <- beta debiasing_term  + (1 - beta)
    #   mean = running_mean / max(debiasing_term, epsilon)
    #   var  = max(running_mean_sq / max(debiasing_term, epsilon) - mean^2, 1e-2)
    # here in float64 (the reference keeps float32 parameters).
    beta, epsilon = 0.99999, 1e-5
    returns = grp["returns"][()]
    rm = rm_sq = debias = 0.0
    means, sds, floored = [], [], []
    for x in returns:
        rm = beta * rm + (1 - beta) * np.mean(x)
        rm_sq = beta * rm_sq + (1 - beta) * np.mean(x * x)
        debias = beta * debias + (1 - beta)
        mean = rm / max(debias, epsilon)
        var = rm_sq / max(debias, epsilon) - mean ** 2
        floored.append(var < 1e-2)
        means.append(mean)
        sds.append(np.sqrt(max(var, 1e-2)))
    check_close("value norm: debiased mean after each batch", grp["mean"][()], means, **F64)
    check_close("value norm: sd after each batch", grp["sd"][()], sds, **F64)
    report(any(floored) and not all(floored),
           f"value norm: variance floor active in some batches only ({floored})")


def check_train_policy(form, grp):
    """The trainer's policy step against autograd of the loss it documents
    (docs/training.md, "Guidance"), per decision of agent i in sample s:
      PPO-clip at the mixed advantage, minus the entropy bonus, plus
      target:       alpha KL(p*(s) || softmax z)
      descent, cv:  alpha s' <dC/dp_i, softmax z>
    all times the loss scale; the mixed advantage is A (none, target,
    descent), (1 - alpha) A - alpha s G (dgpg), A - alpha s A~(a) (cv), with
    the guidance terms G from their definitions."""
    S, N, M, B = (int(grp.attrs[a]) for a in ("S", "N", "M", "B"))
    alpha, mix_scale, grad_scale, scale, c_ent, clip = (
        float(grp.attrs[a]) for a in ("alpha", "mix_scale", "grad_scale", "scale",
                                      "entropy_coef", "clip"))
    name = f"train_policy_{form}"
    z_roll = t64(grp["rollout_logits"][()])
    actions = grp["actions"][()].astype(np.int64)
    probs_t = torch.softmax(z_roll, dim=1)
    check_close(f"{name}: train_op_sample probabilities = softmax", grp["probs"][()],
                probs_t.numpy(), **F32)
    logp_t = torch.log_softmax(z_roll, dim=1).gather(1, torch.tensor(actions)[:, None])[:, 0]
    check_close(f"{name}: train_op_sample log-probability of the drawn action", grp["logp"][()],
                logp_t.numpy(), **F32)
    report(actions.min() >= 0 and actions.max() < M, f"{name}: actions within [0, M)")
    # the rollout's probabilities as the trainer holds them (float32)
    p = grp["probs"][()].astype(np.float64)
    g = grp["grad_p"][()].astype(np.float64)
    p_star = grp["p_star"][()].astype(np.float64)
    sample_of = np.repeat(np.arange(S), N)
    if form == "cv":
        want = -(g[np.arange(S * N), actions] - (p * g).sum(axis=1))
    elif form == "target":
        want = np.sqrt(((p - p_star[sample_of]) ** 2).sum(axis=1))
    elif form == "descent":
        want = np.sqrt((g ** 2).sum(axis=1))
    else:
        want = None
    if want is not None:
        check_close(f"{name}: train_op_guidance_term = its definition", grp["guidance"][()],
                    want, **F32)
    a_raw = grp["adv_raw"][()].astype(np.float64)
    G = grp["guidance"][()].astype(np.float64)
    if form == "dgpg":
        adv = (1 - alpha) * a_raw - alpha * mix_scale * G
    elif form == "cv":
        adv = a_raw - alpha * mix_scale * G
    else:
        adv = a_raw
    check_close(f"{name}: train_op_mix advantage", grp["adv"][()], adv, **F32)
    # the update: autograd of the documented loss at the chunk's logits
    samples = grp["samples"][()]
    rows = (samples[:, None] * N + np.arange(N)[None, :]).reshape(-1)  # decision of each row
    z = t64(grp["logits"][()]).requires_grad_(True)
    log_probs = torch.log_softmax(z, dim=1)
    act = torch.tensor(actions[rows])
    log_p = log_probs.gather(1, act[:, None])[:, 0]
    ratio = torch.exp(log_p - t64(grp["logp"][()][rows]))
    A = t64(grp["adv"][()][rows])
    ppo = -torch.min(ratio * A, torch.clamp(ratio, 1 - clip, 1 + clip) * A)
    entropy = -(log_probs.exp() * log_probs).sum(dim=1)
    loss = ppo - c_ent * entropy
    extra = torch.zeros_like(loss)
    if form == "target":
        ps = t64(p_star[samples]).repeat_interleave(N, dim=0)
        extra = alpha * (ps * (torch.log(ps) - log_probs)).sum(dim=1)
    elif form in ("descent", "cv"):
        extra = alpha * grad_scale * (t64(g[rows]) * log_probs.exp()).sum(dim=1)
    (scale * (loss + extra).sum()).backward()
    check_close(f"{name}: train_op_policy_grad = autograd of the form's loss",
                grp["d_logits"][()].reshape(B * N, M), z.grad.numpy(), **F32)
    r = ratio.detach().numpy()
    want_stats = [float(loss.detach().sum()), float(entropy.detach().sum()),
                  float(np.sum((r - 1) - np.log(r))), float(np.sum(np.abs(r - 1) > clip))]
    check_close(f"{name}: chunk sums of loss, entropy, KL estimate, clipped count",
                grp["stats"][()], want_stats, rtol=1e-9, atol=1e-9)
    report(0 < want_stats[3] < B * N, f"{name}: some decisions clipped, some not "
           f"({int(want_stats[3])} of {B * N})")


def check_train_gae(grp):
    """train_op_gae against the closed form A_t = sum_l (gamma lambda)^l
    delta_{t+l} on each (environment, value column) of the rollout layout,
    values denormalised first, the last row the bootstrap."""
    T, E, V = (int(grp.attrs[a]) for a in ("T", "E", "V"))
    gamma, lam = float(grp.attrs["gamma"]), float(grp.attrs["lambda"])
    r = grp["rewards"][()].astype(np.float64)                        # (T, E)
    v = grp["values"][()].astype(np.float64).reshape(T + 1, E, V)
    v = v * grp["value_scale"][()][None, None, :] + grp["value_shift"][()][None, None, :]
    delta = r[:, :, None] + gamma * v[1:] - v[:-1]                   # (T, E, V)
    adv = np.zeros((T, E, V))
    for t in range(T):
        for l in range(T - t):
            adv[t] += (gamma * lam) ** l * delta[t + l]
    # the sums reach a few units: float32 arithmetic, 1e-5 relative
    tol = dict(rtol=1e-5, atol=1e-5)
    check_close(f"train_op_gae V={V}: advantages over (T, E, V)",
                grp["advantages"][()].reshape(T, E, V), adv, **tol)
    check_close(f"train_op_gae V={V}: returns = advantages + denormalised values",
                grp["returns"][()].reshape(T, E, V), adv + v[:-1], **tol)


def check_train_variance(grp):
    """The gradient-variance estimator: exactly numpy's sample variance
    (ddof 1) of the G group estimates and mean^2 - variance / G, then, over
    R repetitions of gradients drawn with a known covariance, unbiased for
    the true variance and the true squared mean (a mean over R against the
    truth, within 4.5 standard errors: a false alarm at about 7e-6 per
    coordinate)."""
    R, G, n = (int(grp.attrs[a]) for a in ("R", "G", "n"))
    g = grp["g"][()].astype(np.float64).reshape(R, G, n)
    var = g.var(axis=1, ddof=1)
    msq = g.mean(axis=1) ** 2 - var / G
    got_var, got_msq = grp["grad_variance"][()], grp["grad_mean_sq"][()]
    check_close("variance estimator: variance = numpy var(ddof=1) of the G estimates", got_var,
                var, rtol=1e-9, atol=1e-12)
    check_close("variance estimator: signal = mean^2 - var / G", got_msq, msq, rtol=1e-9,
                atol=1e-9)
    L, mu = grp["L"][()], grp["mu"][()]
    true_var = np.diag(L @ L.T)
    for what, est, truth in (("variance", got_var, true_var), ("squared mean", got_msq, mu ** 2)):
        se = est.std(axis=0, ddof=1) / np.sqrt(R)
        zs = (est.mean(axis=0) - truth) / se
        report(np.all(np.abs(zs) < 4.5),
               f"variance estimator: unbiased for the true {what} over {R} repetitions "
               f"(z = {np.array2string(zs, precision=2)}, bound 4.5)")
    # the plain squared mean is biased by var / G: the test sees that bias
    zb = (np.mean(g.mean(axis=1) ** 2, axis=0) - mu ** 2) / (true_var / G)
    report(np.all(np.abs(zb - 1) < 0.2),
           f"variance estimator: the uncorrected squared mean is off by var/G as theory says "
           f"(ratio {np.array2string(zb, precision=2)})")
    x, lay = grp["net_x"][()], grp["net_layout"][()]
    want = [sum(x[o + k * s:o + (k + 1) * s].sum() for o, s in ((lay[0], lay[1]), (lay[2], lay[3]),
                                                                (lay[4], lay[5]), (lay[6], lay[7])))
            for k in range(2)]
    check_close("train_op_net_sums: each network's sum over its weights and biases",
                grp["net_sums"][()], want, rtol=1e-12, atol=1e-12)


def main(dump, scratch):
    os.makedirs(scratch, exist_ok=True)
    out = os.path.join(scratch, "nn_dump.h5")
    if os.path.exists(out):
        os.remove(out)
    run = subprocess.run([dump, out], capture_output=True, text=True)
    report(run.returncode == 0, f"{os.path.basename(dump)} exits 0 {run.stderr.strip()}")
    if run.returncode != 0:
        return
    torch.set_num_threads(1)
    with h5py.File(out, "r") as f:
        missing = []
        f.visititems(lambda n, o: missing.append(n) if isinstance(o, h5py.Dataset) and not (
            "units" in o.attrs and "description" in o.attrs) else None)
        report(not missing, f"every dataset has units and description {missing}")
        mlps = sorted(k for k in f if k.startswith("mlp_"))
        report(len(mlps) == 12, f"twelve MLP cases ({', '.join(mlps)})")
        for name in mlps:
            check_mlp(name, f[name])
        for name in ("ppo", "ppo_m40"):  # 40 actions: past nn.h's NN_EXP_CACHE
            check_ppo(name, f[name])
        check_value_loss(f["value_loss"])
        check_gae(f["gae"])
        check_adam(f["adam"])
        check_value_norm(f["value_norm"])
        gaes = sorted(k for k in f if k.startswith("train_gae_"))
        report(len(gaes) == 2, f"GAE over V = N and V = 1 ({', '.join(gaes)})")
        for name in gaes:
            check_train_gae(f[name])
        check_train_variance(f["train_variance"])
        for form in ("none", "dgpg", "target", "descent", "cv"):
            check_train_policy(form, f[f"train_policy_{form}"])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: test_nn_torch.py DUMP_BINARY SCRATCH_DIR")
    main(sys.argv[1], sys.argv[2])
    print(f"nn_torch: {counts['passed']} passed, {counts['failed']} failed")
    sys.exit(1 if counts["failed"] else 0)
