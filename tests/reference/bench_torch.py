#!/usr/bin/env python3
"""PyTorch reference timing for `make bench` (bench_engine): the same GPTBigCode config and step.

    python3 tests/reference/bench_torch.py [--threads 2]

n_embd 256, 6 layers, 8 heads multi-query, vocab 8192, batch 8 x seq 256, dropout 0.1, loss on every
token, AdamW; LoRA r 32 (alpha 64, dropout 0.1) on c_attn/c_proj/c_fc, and full fine-tuning.
Prints tokens/s; compare with the C engine's table (same machine, same thread count)."""
import argparse
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--steps", type=int, default=3)
args = ap.parse_args()
torch.set_num_threads(args.threads)
B, T = 8, 256
cfg = GPTBigCodeConfig(vocab_size=8192, n_positions=512, n_embd=256, n_layer=6, n_head=8, multi_query=True,
                       resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1, attn_implementation="eager")
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {B} x seq {T}")
for lora in (True, False):
    torch.manual_seed(0)
    model = GPTBigCodeForCausalLM(cfg)
    if lora:
        model = get_peft_model(model, LoraConfig(r=32, lora_alpha=64, lora_dropout=0.1,
                                                 target_modules=["c_attn", "c_proj", "c_fc"], task_type="CAUSAL_LM"))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, 8192, (B, T))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    dt = (time.perf_counter() - t0) / args.steps
    print(f"| {'LoRA r32 (frozen base)' if lora else 'full fine-tuning'} | PyTorch {B * T / dt:.0f} tokens/s | {dt * 1e3:.0f} ms/step |")
