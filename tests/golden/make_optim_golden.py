#!/usr/bin/env python3
"""Generates optimizer trajectory golden cases with PyTorch (torch.optim).

    /usr/bin/python3 tests/golden/make_optim_golden.py --seed 0 --cases 120 \
        --out tests/golden/optim.txt

Each case is a small table, a few steps of row-sparse gradients (some steps empty), a learning
rate per step (schedules are set_lr between steps) and the weight after every step, in float32
and float64. Where PyTorch has the optimizer, PyTorch computes the trajectory:
  dense (lazy = false): torch.optim.SGD / Adam / AdamW / Adagrad on the dense gradient;
  lazy Adam:            torch.optim.SparseAdam (weight decay: added to the sparse gradient's
                        values first, exactly what emb does on touched rows);
  lazy Adagrad:         torch.optim.Adagrad's sparse path (weight decay likewise);
  lazy SGD without momentum: torch.optim.SGD on the sparse gradient (weight decay likewise).
PyTorch has no equivalent of lazy SGD with momentum, lazy Adam with amsgrad, lazy AdamW and
RowWiseAdagrad (FBGEMM's CUDA/C++ kernel); for those the reference is written below with torch
tensor ops, following emb's documented definition (docs/OPTIMIZERS.md), and `reference` says so.
The hand-written lazy Adam reference is checked against SparseAdam on every case where both
apply, so it cannot drift from PyTorch's formula.

CTest also runs it with a fresh seed (the randomized conformance test).
"""

import argparse
import math
import random

import torch

from goldenio import write_case


def sparse(rows, values, shape):
    idx = torch.tensor(rows, dtype=torch.int64).reshape(1, -1)
    return torch.sparse_coo_tensor(idx, values, shape).coalesce()


def step_rows(touched, s):
    return [i for i, t in enumerate(touched[s]) if t]


def run_torch(kind, o, weight, touched, grads, lrs, dtype, lazy):
    """A trajectory through torch.optim; returns the weights after each step."""
    w = weight.to(dtype).clone().requires_grad_(True)
    # Lazy weight decay is folded into the sparse gradient's values after maximize's negation,
    # as emb (and PyTorch's dense path) order them; torch then sees maximize = False.
    fold = lazy and o["weight_decay"] != 0
    maximize = bool(o["maximize"]) and not fold
    if kind == "sgd":
        opt = torch.optim.SGD([w], lr=lrs[0], momentum=o["momentum"], dampening=o["dampening"],
                              weight_decay=0 if lazy else o["weight_decay"],
                              nesterov=bool(o["nesterov"]), maximize=maximize)
    elif kind == "adam" and not lazy:
        opt = torch.optim.Adam([w], lr=lrs[0], betas=o["betas"], eps=o["eps"],
                               weight_decay=o["weight_decay"], amsgrad=bool(o["amsgrad"]),
                               maximize=maximize)
    elif kind == "adam":
        opt = torch.optim.SparseAdam([w], lr=lrs[0], betas=o["betas"], eps=o["eps"],
                                     maximize=maximize)
    elif kind == "adamw":
        opt = torch.optim.AdamW([w], lr=lrs[0], betas=o["betas"], eps=o["eps"],
                                weight_decay=o["weight_decay"], amsgrad=bool(o["amsgrad"]),
                                maximize=maximize)
    else:
        opt = torch.optim.Adagrad([w], lr=lrs[0], lr_decay=o["lr_decay"],
                                  weight_decay=0 if lazy else o["weight_decay"],
                                  initial_accumulator_value=o["initial_accumulator_value"],
                                  eps=o["eps"], maximize=maximize)
    out = []
    for s in range(len(lrs)):
        opt.param_groups[0]["lr"] = lrs[s]
        g = grads[s].to(dtype)
        if lazy:
            rows = step_rows(touched, s)
            values = g[rows].clone()
            if fold:  # emb's lazy weight decay: touched rows only
                if o["maximize"]:
                    values = -values
                values = values + o["weight_decay"] * w.detach()[rows]
            w.grad = sparse(rows, values, tuple(w.shape))
            if not rows and kind in ("adam", "adagrad"):
                # SparseAdam and Adagrad count a step for any sparse gradient, but their
                # arithmetic fails on one without rows in torch 1.13: count it as step() would.
                state = opt.state[w]
                if not state:  # SparseAdam makes its state on the first step
                    state.update(step=0, exp_avg=torch.zeros_like(w),
                                 exp_avg_sq=torch.zeros_like(w))
                state["step"] += 1
                out.append(w.detach().clone())
                continue
        else:
            w.grad = g.clone()
        opt.step()
        out.append(w.detach().clone())
    return out


def lazy_sgd_reference(o, weight, touched, grads, lrs, dtype):
    """The dense SGD rule restricted to each step's rows; buffers start at zero and the table's
    first step copies the gradient into the buffer (as PyTorch's first step)."""
    w = weight.to(dtype).clone()
    buf = torch.zeros_like(w)
    out = []
    for s, lr in enumerate(lrs):
        rows = step_rows(touched, s)
        d = grads[s].to(dtype)[rows]
        if o["maximize"]:
            d = -d
        if o["weight_decay"] != 0:
            d = d.add(w[rows], alpha=o["weight_decay"])
        if o["momentum"] != 0:
            b = d.clone() if s == 0 else buf[rows].mul(o["momentum"]).add(d, alpha=1 - o["dampening"])
            buf[rows] = b
            d = d.add(b, alpha=o["momentum"]) if o["nesterov"] else b
        w[rows] = w[rows].add(d, alpha=-lr)
        out.append(w.clone())
    return out


def lazy_adam_reference(o, weight, touched, grads, lrs, dtype, decoupled):
    """SparseAdam's formula (one step counter per table, eps added to sqrt(v) and the bias
    corrections folded into the step size), on each step's rows, plus weight decay (L2 or
    decoupled) and amsgrad's running maximum on those rows."""
    beta1, beta2 = o["betas"]
    w = weight.to(dtype).clone()
    m, v, vmax = torch.zeros_like(w), torch.zeros_like(w), torch.zeros_like(w)
    out = []
    for s, lr in enumerate(lrs):
        step = s + 1
        rows = step_rows(touched, s)
        g = grads[s].to(dtype)[rows]
        if o["maximize"]:
            g = -g
        wd = o["weight_decay"]
        if decoupled:
            w[rows] = w[rows].mul(1 - lr * wd)
        elif wd != 0:
            g = g + wd * w[rows]
        m_old, v_old = m[rows], v[rows]
        m_upd = g.sub(m_old).mul(1 - beta1)
        v_upd = g.pow(2).sub(v_old).mul(1 - beta2)
        m[rows] = m_old + m_upd
        v[rows] = v_old + v_upd
        numer = m_upd.add(m_old)
        vv = v_upd.add(v_old)
        if o["amsgrad"]:
            vv = torch.maximum(vmax[rows], vv)
            vmax[rows] = vv
        denom = vv.sqrt().add(o["eps"])
        step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
        w[rows] = w[rows].add(-step_size * numer.div(denom))
        out.append(w.clone())
    return out


def rowwise_reference(o, weight, touched, grads, lrs, dtype, lazy):
    """FBGEMM's rowwise Adagrad (split_weight_update_cpu of rowwise_adagrad): h += mean over the
    row of (g + wd * w)^2 in L2 mode (of g^2 otherwise), multiplier = lr / (sqrt(h) + eps),
    w = correction * w - multiplier * g with correction 1 - multiplier * wd (L2) or
    1 - lr * wd (decoupled). Dense mode steps every row, absent rows with g = 0."""
    w = weight.to(dtype).clone()
    h = torch.full((w.shape[0],), o["initial_accumulator_value"], dtype=dtype)
    dim = w.shape[1]
    wd = o["weight_decay"]
    decoupled = o["weight_decay_mode"] == "decoupled"
    out = []
    for s, lr in enumerate(lrs):
        rows = step_rows(touched, s) if lazy else list(range(w.shape[0]))
        g = grads[s].to(dtype)[rows]
        if o["maximize"]:
            g = -g
        g2 = g if decoupled else g + wd * w[rows]
        h[rows] = h[rows] + (g2 * g2).sum(dim=1) / dim
        mult = lr / (h[rows].sqrt() + o["eps"])
        corr = 1 - lr * wd if decoupled else 1 - mult * wd
        if decoupled:
            w[rows] = corr * w[rows] - g * mult[:, None]
        else:
            w[rows] = corr[:, None] * w[rows] - g * mult[:, None]
        out.append(w.clone())
    return out


def trajectory(kind, o, weight, touched, grads, lrs, dtype, lazy):
    if kind == "rowwise":
        return rowwise_reference(o, weight, touched, grads, lrs, dtype, lazy), "python"
    if not lazy or kind == "adagrad" or (kind == "sgd" and o["momentum"] == 0):
        return run_torch(kind, o, weight, touched, grads, lrs, dtype, lazy), "torch"
    if kind == "sgd":
        return lazy_sgd_reference(o, weight, touched, grads, lrs, dtype), "python"
    ref = lazy_adam_reference(o, weight, touched, grads, lrs, dtype, kind == "adamw")
    if kind == "adam" and not o["amsgrad"]:
        torch_out = run_torch(kind, o, weight, touched, grads, lrs, dtype, lazy)
        for a, b in zip(ref, torch_out):
            assert torch.equal(a, b), "lazy Adam reference disagrees with SparseAdam"
        return torch_out, "torch"
    return ref, "python"


def make_options(kind, rng):
    pick = rng.choice
    maximize = int(rng.random() < 0.2)
    if kind == "sgd":
        momentum = pick([0.0, 0.0, 0.9, rng.uniform(0.1, 0.99)])
        nesterov = int(momentum > 0 and rng.random() < 0.4)
        return dict(lr=rng.uniform(0.01, 0.5), momentum=momentum,
                    dampening=0.0 if nesterov else pick([0.0, 0.0, rng.uniform(0.05, 0.5)]),
                    weight_decay=pick([0.0, 0.0, rng.uniform(0.001, 0.2)]), nesterov=nesterov,
                    maximize=maximize)
    if kind in ("adam", "adamw"):
        default_wd = 0.0 if kind == "adam" else 1e-2
        return dict(lr=rng.uniform(1e-3, 0.1),
                    betas=pick([(0.9, 0.999), (rng.uniform(0.0, 0.95), rng.uniform(0.5, 0.999))]),
                    eps=pick([1e-8, rng.uniform(1e-6, 1e-2)]),
                    weight_decay=pick([default_wd, default_wd, rng.uniform(0.001, 0.2)]),
                    amsgrad=int(rng.random() < 0.35), maximize=maximize)
    if kind == "adagrad":
        return dict(lr=rng.uniform(0.01, 0.5), lr_decay=pick([0.0, 0.0, rng.uniform(0.01, 0.5)]),
                    weight_decay=pick([0.0, 0.0, rng.uniform(0.001, 0.2)]),
                    initial_accumulator_value=pick([0.0, 0.0, rng.uniform(0.01, 1.0)]),
                    eps=pick([1e-10, rng.uniform(1e-8, 1e-2)]), maximize=maximize)
    return dict(lr=rng.uniform(0.01, 0.5), weight_decay=pick([0.0, 0.0, rng.uniform(0.001, 0.2)]),
                initial_accumulator_value=pick([0.0, 0.0, rng.uniform(0.01, 1.0)]),
                eps=pick([1e-8, rng.uniform(1e-8, 1e-2)]),
                weight_decay_mode=pick(["l2", "decoupled"]), maximize=maximize)


KINDS = ["sgd", "adam", "adamw", "adagrad", "rowwise"]


def make_case(rng, index):
    kind = KINDS[index % len(KINDS)]
    lazy = (index // len(KINDS)) % 2
    num, dim, steps = rng.randint(1, 9), rng.randint(1, 6), rng.randint(1, 6)
    o = make_options(kind, rng)
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    weight = torch.randn(num, dim, generator=gen, dtype=torch.float64)
    density = rng.choice([0.0, 0.3, 0.6, 1.0]) if steps > 1 else rng.choice([0.5, 1.0])
    touched = torch.tensor([[int(rng.random() < density or (s == 0 and i == 0))
                             for i in range(num)] for s in range(steps)], dtype=torch.int64)
    if steps > 2 and rng.random() < 0.3:
        touched[rng.randrange(1, steps)] = 0  # an empty gradient still counts as a step
    grads = torch.randn(steps, num, dim, generator=gen, dtype=torch.float64) * touched[:, :, None]
    lrs = [o["lr"]] * steps
    if steps > 1 and rng.random() < 0.5:  # a schedule: set_lr between steps
        lrs = [o["lr"] * 0.7 ** s for s in range(steps)]
    values = dict(optimizer=kind, lazy=lazy, weight=weight, touched=touched, grads=grads,
                  lrs=torch.tensor(lrs, dtype=torch.float64))
    for key, value in o.items():
        values[key] = value if isinstance(value, str) else torch.tensor(value, dtype=torch.float64)
    for suffix, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        out, reference = trajectory(kind, o, weight, touched.tolist(), grads, lrs, dtype, lazy)
        values[f"weights_{suffix}"] = torch.stack(out)
    values["reference"] = reference
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=120)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w") as out:
        out.write(f"# made by make_optim_golden.py --seed {args.seed} --cases {args.cases}"
                  f" with torch {torch.__version__}\n")
        for i in range(args.cases):
            write_case(out, f"seed{args.seed}_case{i}", **make_case(rng, i))


if __name__ == "__main__":
    main()
