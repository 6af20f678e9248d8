#!/usr/bin/env python3
"""Golden fixtures for MMLoRA and MoLA, written in PyTorch from the paper's equations (not run by CI).

    python3 tests/reference/methods_ref.py     # writes tests/fixtures/methods/

A tiny random GPTBigCode (the engine fixture's tiny model) gets its four linear layers per block
(c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj) replaced by:
  mmlora  y = W x + b + s_u B_u A_u drop(x) + Σ_m w_m s B_m A_m drop_m(x)          (eq. 4)
          w = renorm(top-K(softmax(ReLU(Dropout(Emb(t) W1ᵀ + b1)) W2ᵀ + b2)))       (eq. 2-3)
          L = L_lm + c_d L_d + c_b L_b, L_d, L_b on the router weights of all languages (eq. 6-8)
  mola    y = W x + b + Σ_{e∈top-2} p̃_e s B_e A_e drop_e(x),  p = softmax(x Rᵀ) per token
Every dropout mask (experts, router) is drawn from the engine's Philox streams (philox.py), so the C
engine must reproduce outputs, L_d, L_b and every gradient.  Parameters are random (B ≠ 0) and saved
under simple names: l{L}.t{T}.e{E}.A/B, l{L}.t{T}.router, router.{emb,w1,b1,w2,b2}.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from safetensors.numpy import save_file
from transformers import GPTBigCodeForCausalLM

sys.path.insert(0, os.path.dirname(__file__))
import philox  # noqa: E402

HERE = os.path.dirname(__file__)
OUT = os.path.join(HERE, "..", "fixtures", "methods")
SEED, STEP, ELSTEP = 1234, 3, 0
B, T, N_LANG = 3, 10, 6
P = 0.1
TARGETS = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]
ROUTER_STREAM = philox.stream(-1, 252)


def mask(strm, shape, p, step=STEP, first=0):
    n = int(np.prod(shape))
    keep = philox.keep_mask(SEED, step, strm, n, p, first)
    scale = torch.tensor(1.0, dtype=torch.float32) / torch.tensor(1.0 - p, dtype=torch.float32)
    return torch.from_numpy(keep.reshape(shape)).float() * scale


class Ctx:
    gates = None  # [B, M] router weights of the batch


class Expert(nn.Module):
    def __init__(self, fin, fout, r, alpha, g):
        super().__init__()
        self.A = nn.Parameter(torch.empty(r, fin).uniform_(-1 / fin ** 0.5, 1 / fin ** 0.5, generator=g))
        self.B = nn.Parameter(torch.randn(fout, r, generator=g) * 0.05)
        self.s = alpha / r

    def forward(self, x, strm):
        return (x * mask(strm, x.shape, P)) @ self.A.T @ self.B.T * self.s


class MMLoRALinear(nn.Module):
    def __init__(self, base, layer, target, M, g):
        super().__init__()
        self.base, self.layer, self.target = base, layer, target
        self.uni = Expert(base.in_features, base.out_features, 8, 16.0, g)
        self.spec = nn.ModuleList(Expert(base.in_features, base.out_features, 4, 8.0, g) for _ in range(M))

    def forward(self, x):
        y = self.base(x) + self.uni(x, philox.stream_lora(self.layer, self.target, 0))
        for m, ex in enumerate(self.spec):
            y = y + ex(x, philox.stream_lora(self.layer, self.target, m + 1)) * Ctx.gates[:, m][:, None, None]
        return y


class MoLALinear(nn.Module):
    def __init__(self, base, layer, target, E, g):
        super().__init__()
        self.base, self.layer, self.target = base, layer, target
        self.experts = nn.ModuleList(Expert(base.in_features, base.out_features, 8, 16.0, g) for _ in range(E))
        fin = base.in_features
        self.router = nn.Parameter(torch.empty(E, fin).uniform_(-1 / fin ** 0.5, 1 / fin ** 0.5, generator=g))

    def forward(self, x):
        p = torch.softmax(x @ self.router.T, dim=-1)
        v, i = torch.topk(p, 2, dim=-1)
        w = torch.zeros_like(p).scatter(-1, i, v / v.sum(-1, keepdim=True))
        y = self.base(x)
        for e, ex in enumerate(self.experts):
            y = y + ex(x, philox.stream_lora(self.layer, self.target, e)) * w[..., e:e + 1]
        return y


class Router(nn.Module):
    def __init__(self, n_lang, M, g, emb=128, hidden=512):
        super().__init__()
        self.emb = nn.Parameter(torch.randn(n_lang, emb, generator=g))
        self.w1 = nn.Parameter(torch.empty(hidden, emb).uniform_(-emb ** -0.5, emb ** -0.5, generator=g))
        self.b1 = nn.Parameter(torch.empty(hidden).uniform_(-emb ** -0.5, emb ** -0.5, generator=g))
        self.w2 = nn.Parameter(torch.empty(M, hidden).uniform_(-hidden ** -0.5, hidden ** -0.5, generator=g))
        self.b2 = nn.Parameter(torch.empty(M).uniform_(-hidden ** -0.5, hidden ** -0.5, generator=g))
        self.hidden = hidden

    def forward(self, lang, K, step, strm):
        h = self.emb[lang] @ self.w1.T + self.b1
        a = torch.relu(h) * mask(strm, (len(lang), self.hidden), P, step=step)
        S = torch.softmax(a @ self.w2.T + self.b2, dim=-1)
        v, i = torch.topk(S, K, dim=-1)
        return torch.zeros_like(S).scatter(-1, i, v / v.sum(-1, keepdim=True))


def expert_loss(V, c_d, c_b):
    N = V.shape[0]
    ld = sum((V[i] * V[j]).sum() for i in range(N) for j in range(i + 1, N)) * 2.0 / (N * (N - 1))
    tot = V.sum(0)
    lb = torch.sqrt(((tot - tot.mean()) ** 2).mean())
    return ld, lb, c_d * ld + c_b * lb


def inputs():
    g = torch.Generator().manual_seed(21)
    ids = torch.randint(1, 512, (B, T), generator=g)
    w = torch.zeros(B, T)
    w[0, 4:] = 1
    w[1, 6:9] = 1
    w[2, 2:] = 1
    labels = ids.clone()
    labels[w == 0] = -100
    langs = torch.tensor([5, 0, 5], dtype=torch.int64)  # ruby, go, ruby (CSN table order)
    return ids, w, labels, langs


def surgery(model, make):
    for l, blk in enumerate(model.transformer.h):
        for t, name in enumerate(TARGETS):
            parent = blk.attn if name.startswith("attn") else blk.mlp
            child = name.split(".")[1]
            setattr(parent, child, make(getattr(parent, child), l, t))


def dump(name, model, extra_params, tensors):
    params = {}
    for l, blk in enumerate(model.transformer.h):
        for t, nm in enumerate(TARGETS):
            parent = blk.attn if nm.startswith("attn") else blk.mlp
            mod = getattr(parent, nm.split(".")[1])
            experts = ([mod.uni] + list(mod.spec)) if hasattr(mod, "uni") else list(mod.experts)
            for e, ex in enumerate(experts):
                params[f"l{l}.t{t}.e{e}.A"] = ex.A
                params[f"l{l}.t{t}.e{e}.B"] = ex.B
            if hasattr(mod, "router"):
                params[f"l{l}.t{t}.router"] = mod.router
    params.update(extra_params)
    for k, p in params.items():
        tensors["param." + k] = p.detach().numpy().astype(np.float32).copy()
        tensors["grad." + k] = p.grad.detach().numpy().astype(np.float32).copy()
    save_file(tensors, os.path.join(OUT, f"case_{name}.safetensors"))
    print(f"{name}: {len(params)} parameter tensors")


def main():
    os.makedirs(OUT, exist_ok=True)
    tiny = os.path.join(HERE, "..", "fixtures", "engine", "tiny")
    ids, w, labels, langs = inputs()
    common = {"input_ids": ids.numpy().astype(np.int32), "weights": w.numpy().astype(np.float32),
              "langs": langs.numpy().astype(np.int32)}

    # ---------------- MMLoRA, M = 4, K = 2, universal expert, c_d 0.3, c_b 0.7
    M, K = 4, 2
    g = torch.Generator().manual_seed(5)
    model = GPTBigCodeForCausalLM.from_pretrained(tiny, attn_implementation="eager")
    for p in model.parameters():
        p.requires_grad_(False)
    surgery(model, lambda base, l, t: MMLoRALinear(base, l, t, M, g))
    router = Router(N_LANG, M, g)
    model.train()
    Ctx.gates = router(langs, K, STEP, ROUTER_STREAM)
    out = model(input_ids=ids, labels=labels)
    V = router(torch.arange(N_LANG), K, ELSTEP, ROUTER_STREAM | 0x400)
    ld, lb, le = expert_loss(V, 0.3, 0.7)
    (out.loss + le).backward()
    t = dict(common)
    t.update({"logits": out.logits.detach().numpy(), "loss": np.array([out.loss.item()], np.float32),
              "ld": np.array([ld.item()], np.float32), "lb": np.array([lb.item()], np.float32),
              "gates": Ctx.gates.detach().numpy(), "allocation": V.detach().numpy()})
    print(f"mmlora: lm {out.loss.item():.6f} L_d {ld.item():.6f} L_b {lb.item():.6f} gates {Ctx.gates.detach().numpy().round(3).tolist()}")
    dump("mmlora", model, {f"router.{k}": getattr(router, k) for k in ("emb", "w1", "b1", "w2", "b2")}, t)

    # ---------------- MoLA, experts 2 (layer 0) and 4 (layer 1), top-2
    g = torch.Generator().manual_seed(6)
    model = GPTBigCodeForCausalLM.from_pretrained(tiny, attn_implementation="eager")
    for p in model.parameters():
        p.requires_grad_(False)
    surgery(model, lambda base, l, t: MoLALinear(base, l, t, 2 if l == 0 else 4, g))
    model.train()
    out = model(input_ids=ids, labels=labels)
    out.loss.backward()
    t = dict(common)
    t.update({"logits": out.logits.detach().numpy(), "loss": np.array([out.loss.item()], np.float32)})
    print(f"mola: lm {out.loss.item():.6f}")
    dump("mola", model, {}, t)


if __name__ == "__main__":
    main()
