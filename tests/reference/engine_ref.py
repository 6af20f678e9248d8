#!/usr/bin/env python3
"""Golden fixtures for the C engine, from PyTorch + transformers + peft (not run by CI).

    pip install torch transformers peft safetensors numpy
    python3 tests/reference/engine_ref.py        # writes tests/fixtures/engine/

Builds a tiny random GPTBigCodeForCausalLM (2 layers, n_embd 64, 4 heads, multi-query, vocab 512),
saves it with save_pretrained, and dumps inputs, logits, loss and every gradient for:
  ft          full fine-tuning, all dropouts 0
  lora        peft LoRA r=8 on c_attn, c_proj, c_fc (both c_proj), dropout 0, random B
  lora_drop   the same with lora_dropout 0.1 and the model's three dropouts 0.1: every mask is drawn
              from the engine's Philox streams (philox.py) and injected into torch's dropout
  ft_drop     full fine-tuning with the model's dropouts 0.1 (Philox masks)
and greedy generations (model.generate(do_sample=False)) of the base model for a few prompts.
The same for a tiny random LlamaForCausalLM (grouped-query attention: 4 heads, 2 kv heads; linear rope
scaling 4.0; untied head) in tests/fixtures/engine_llama/: ft, lora (all seven projections), lora_drop
(lora_dropout 0.1 with Philox masks) and generation.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(__file__))
import philox  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "engine")
SEED = 1234          # dropout seed used by the C test as well
STEP = 3             # micro-step used by the C test as well
B, T = 2, 12
torch.manual_seed(0)
np.random.seed(0)

from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402


def make_config(pdrop):
    return GPTBigCodeConfig(vocab_size=512, n_positions=64, n_embd=64, n_layer=2, n_head=4, n_inner=None,
                            activation_function="gelu_pytorch_tanh", resid_pdrop=pdrop, embd_pdrop=pdrop,
                            attn_pdrop=pdrop, layer_norm_epsilon=1e-5, initializer_range=0.1,
                            scale_attn_weights=True, multi_query=True, bos_token_id=0, eos_token_id=0,
                            attn_implementation="eager")


# ---------------------------------------------------------------- dropout injection
class MaskPlan:
    """Replaces torch's dropout: the k-th call in the forward gets the k-th planned Philox stream."""

    def __init__(self):
        self.plan, self.k = [], 0
        self.orig = F.dropout

    def __call__(self, x, p=0.5, training=True, inplace=False):
        if not training or p == 0.0:
            return x
        strm = self.plan[self.k]
        self.k += 1
        keep = philox.keep_mask(SEED, STEP, strm, x.numel(), p)
        scale = torch.tensor(1.0, dtype=torch.float32) / torch.tensor(1.0 - p, dtype=torch.float32)
        m = torch.from_numpy(keep.reshape(x.shape)).to(x.dtype) * scale
        return x * m


def plan_for(n_layer, lora):
    plan = [philox.stream(-1, philox.EMBD)]
    for l in range(n_layer):
        if lora:
            plan.append(philox.stream_lora(l, 0, 0))
        plan.append(philox.stream(l, philox.ATTN_PROBS))
        if lora:
            plan.append(philox.stream_lora(l, 1, 0))
        plan.append(philox.stream(l, philox.RESID_ATTN))
        if lora:
            plan += [philox.stream_lora(l, 2, 0), philox.stream_lora(l, 3, 0)]
        plan.append(philox.stream(l, philox.RESID_MLP))
    return plan


def inputs():
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(1, 512, (B, T), generator=g)
    w = torch.zeros(B, T)
    w[0, 5:] = 1.0   # "summary" tokens of row 0
    w[1, 8:11] = 1.0  # row 1: a summary followed by right padding
    labels = ids.clone()
    labels[w == 0] = -100
    return ids, w, labels


def dump_case(name, model, names_grads, train, lora_plan=None, out_dir=None):
    ids, w, labels = inputs()
    plan = MaskPlan()
    if lora_plan is not None:
        plan.plan = lora_plan
        F.dropout = plan
        torch.nn.functional.dropout = plan
    model.train(train)
    model.zero_grad()
    out = model(input_ids=ids, labels=labels)
    out.loss.backward()
    F.dropout = plan.orig
    torch.nn.functional.dropout = plan.orig
    if lora_plan is not None:
        assert plan.k == len(lora_plan), (plan.k, len(lora_plan))
    t = {"input_ids": ids.numpy().astype(np.int32), "weights": w.numpy().astype(np.float32),
         "logits": out.logits.detach().numpy().astype(np.float32),
         "loss": np.array([out.loss.item()], dtype=np.float32),
         "seed_step": np.array([SEED, STEP], dtype=np.int64)}
    for n, p in names_grads(model):
        t["grad." + n] = p.grad.detach().numpy().astype(np.float32).copy()
    save_file(t, os.path.join(out_dir or OUT, f"case_{name}.safetensors"))
    print(f"{name}: loss {out.loss.item():.6f}, {len(t) - 5} gradients")


def base_grads(model):
    seen = set()
    for n, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        yield n, p


def lora_grads(model):
    for n, p in model.named_parameters():
        if p.requires_grad:
            yield n.replace(".default", ""), p


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    base = GPTBigCodeForCausalLM(make_config(0.0))
    base.save_pretrained(os.path.join(OUT, "tiny"), safe_serialization=True)
    sd = base.state_dict()

    # full fine-tuning, no dropout
    dump_case("ft", base, base_grads, train=True)
    # full fine-tuning with dropout 0.1 everywhere (Philox masks)
    m = GPTBigCodeForCausalLM(make_config(0.1))
    m.load_state_dict(sd)
    dump_case("ft_drop", m, base_grads, train=True, lora_plan=plan_for(2, lora=False))

    for name, ldrop, pdrop in (("lora", 0.0, 0.0), ("lora_drop", 0.1, 0.1)):
        m = GPTBigCodeForCausalLM(make_config(pdrop))
        m.load_state_dict(sd)
        cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=ldrop, target_modules=["c_attn", "c_proj", "c_fc"],
                         bias="none", task_type="CAUSAL_LM")
        pm = get_peft_model(m, cfg)
        torch.manual_seed(11)
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                torch.nn.init.normal_(p, std=0.05)
        pm.save_pretrained(os.path.join(OUT, name), safe_serialization=True)
        readme = os.path.join(OUT, name, "README.md")
        if os.path.exists(readme):
            os.remove(readme)
        dump_case(name, pm, lora_grads, train=True, lora_plan=plan_for(2, lora=True) if ldrop > 0 else None)

    # greedy generation of the base model
    generations(base, OUT, 512)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("Written by tests/reference/engine_ref.py (torch %s, transformers %s). Do not edit.\n"
                % (torch.__version__, __import__("transformers").__version__))


def llama_plan(n_layer):
    return [philox.stream_lora(l, t, 0) for l in range(n_layer) for t in range(7)]


def generations(model, out_dir, vocab):
    model.eval()
    g = torch.Generator().manual_seed(3)
    prompts = [torch.randint(1, vocab, (n,), generator=g) for n in (5, 9, 3)]
    gens = {}
    with torch.no_grad():
        for i, pr in enumerate(prompts):
            out = model.generate(pr[None, :], max_new_tokens=12, do_sample=False, eos_token_id=0, pad_token_id=0)
            gens[f"prompt{i}"] = pr.numpy().astype(np.int32)
            gens[f"output{i}"] = out[0, len(pr):].numpy().astype(np.int32)
            logits = model(out[:, :-1]).logits[0, len(pr) - 1:]
            top2 = torch.topk(logits, 2, dim=-1).values
            print(f"generation {i}: {out[0, len(pr):].tolist()} min margin {float((top2[:, 0] - top2[:, 1]).min()):.4f}")
    save_file(gens, os.path.join(out_dir, "generate.safetensors"))


def main_llama():
    from transformers import LlamaConfig, LlamaForCausalLM
    out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "engine_llama")
    os.makedirs(out, exist_ok=True)
    cfg = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6,
                      rope_theta=100000.0, rope_scaling={"type": "linear", "factor": 4.0}, tie_word_embeddings=False,
                      attention_bias=False, mlp_bias=False, hidden_act="silu", initializer_range=0.1,
                      bos_token_id=1, eos_token_id=0, attn_implementation="eager")
    torch.manual_seed(1)
    base = LlamaForCausalLM(cfg)
    base.save_pretrained(os.path.join(out, "tiny"), safe_serialization=True)
    sd = base.state_dict()
    dump_case("ft", base, base_grads, train=True, out_dir=out)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    for name, ldrop in (("lora", 0.0), ("lora_drop", 0.1)):
        m = LlamaForCausalLM(cfg)
        m.load_state_dict(sd)
        pm = get_peft_model(m, LoraConfig(r=8, lora_alpha=16, lora_dropout=ldrop, target_modules=targets,
                                          bias="none", task_type="CAUSAL_LM"))
        torch.manual_seed(12)
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                torch.nn.init.normal_(p, std=0.05)
        pm.save_pretrained(os.path.join(out, name), safe_serialization=True)
        readme = os.path.join(out, name, "README.md")
        if os.path.exists(readme):
            os.remove(readme)
        dump_case(name, pm, lora_grads, train=True, lora_plan=llama_plan(2) if ldrop > 0 else None, out_dir=out)
    generations(base, out, 512)


if __name__ == "__main__":
    main()
    main_llama()
