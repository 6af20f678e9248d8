#!/usr/bin/env python3
"""Reference fixtures for the safetensors / config tests (tests/unit/test_safetensors.c, test_config.c).

Usage (from the repository root; needs pip packages safetensors, numpy, torch, transformers):
  python3 tests/reference/io_ref.py                 # (re)write tests/fixtures/io/*
  python3 tests/reference/io_ref.py --check-c FILE  # load a file written by our C writer with Python
                                                    # safetensors and compare it to WRITER_TENSORS
  python3 tests/reference/io_ref.py --check-configs # models/*/config.json: transformers agrees with
                                                    # the parameter counts and defaults the C tests assert
To produce FILE: MMLORA_IO_KEEP=/tmp/c.safetensors build/tests --filter 'safetensors/writer_matches_python_bytes'

Fixtures written:
  basic.safetensors    F32/F16/BF16/I32/BOOL tensors, a scalar (shape []), an empty tensor, metadata
  conv.safetensors     "x" F32 edge values (ties, subnormals, overflow, Inf, NaN, -0, random) with "f16"
                       (numpy astype, round-to-nearest-even) and "bf16" (torch .to(bfloat16)) of the same
  sharded/             model.safetensors.index.json + 2 shards, in the layout transformers writes
  writer_ref.safetensors  WRITER_TENSORS saved by safetensors.numpy (the C writer must match it byte for byte)
"""
import json
import os
import struct
import sys

import numpy as np
import torch
from safetensors.numpy import load_file as np_load
from safetensors.numpy import save_file as np_save
from safetensors.torch import save_file as torch_save

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "io")


def writer_tensors():
    """Mirrored exactly by test_safetensors.c (writer_matches_python_bytes)."""
    return {
        "a": np.array([[1, 2], [3, 4]], dtype=np.float32),
        "b": np.array([1.0, -2.0, 0.5], dtype=np.float16),
        "c": np.arange(1, 6, dtype=np.uint8),
        "z": np.array([0.25], dtype=np.float64),
        "e": np.array([-1, 7], dtype=np.int64),
        "layer.10.w": np.array([5.0], dtype=np.float32),
        "layer.9.w": np.array([6.0], dtype=np.float32),
        "q\"\\\n\u00e9": np.array([7.0], dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "s": np.array(1.5, dtype=np.float32),
    }


def conv_values():
    v = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, 65536.0, 1e10, -1e10, 3.4028235e38,
         2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.0000001, 2.0 ** -26, 3 * 2.0 ** -26, 2.0 ** -24 * 1.5,
         2.0 ** -24 * 2.5, 2.0 ** -15, 2.0 ** -14 * (1 - 2.0 ** -11), 1e-45, 1.17549435e-38, 1.1754942e-38,
         np.inf, -np.inf, np.nan, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8,
         1.0 + 2.0 ** -8 + 2.0 ** -20, 3.3895314e38, 3.4e38, -3.39e38, 0.1, 1 / 3.0]
    x = np.array(v, dtype=np.float32)
    # every f16 half-way point between consecutive finite halves, both signs (ties to even)
    h = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float32)
    mids = ((h[:-1].astype(np.float64) + h[1:].astype(np.float64)) / 2).astype(np.float32)
    rng = np.random.default_rng(1234)
    bits = rng.integers(0, 2 ** 32, size=20000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    scaled = (rng.standard_normal(4000) * np.exp(rng.uniform(-20, 12, 4000))).astype(np.float32)
    return np.concatenate([x, mids, -mids[::7], bits, scaled]).astype(np.float32)


def write_fixtures():
    os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)
    basic = {
        "w.f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1.0,
        "w.f16": torch.tensor([1.0, -2.5, 65504.0, 2.0 ** -14, 2.0 ** -24], dtype=torch.float16),
        "w.bf16": torch.tensor([1.0, -2.0, 3.140625, -0.0078125, 2.0 ** 100, 2.0 ** -126],
                               dtype=torch.bfloat16).reshape(3, 2),
        "scalar": torch.tensor(42.5, dtype=torch.float32),
        "ids": torch.tensor([1, -2, 3], dtype=torch.int32),
        "mask": torch.tensor([True, False]),
        "empty": torch.zeros(0, dtype=torch.float32),
    }
    torch_save(basic, os.path.join(OUT, "basic.safetensors"), metadata={"format": "pt"})

    x = conv_values()
    with np.errstate(over="ignore"):
        f16 = x.astype(np.float16)
    bf16 = torch.from_numpy(x.copy()).to(torch.bfloat16)
    torch_save({"x": torch.from_numpy(x.copy()), "f16": torch.from_numpy(f16.copy()), "bf16": bf16},
               os.path.join(OUT, "conv.safetensors"))

    shard1 = {"model.embed.weight": torch.arange(8, dtype=torch.float32).reshape(4, 2),
              "model.layers.0.w": torch.full((2, 2), 0.5, dtype=torch.float32)}
    shard2 = {"model.layers.1.w": torch.full((2, 2), -1.5, dtype=torch.bfloat16),
              "lm_head.weight": torch.ones(4, 2, dtype=torch.float16)}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    wm, total = {}, 0
    for shard, fn in zip([shard1, shard2], names):
        torch_save(shard, os.path.join(OUT, "sharded", fn), metadata={"format": "pt"})
        for k, t in shard.items():
            wm[k] = fn
            total += t.numel() * t.element_size()
    with open(os.path.join(OUT, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(wm.items()))}, f, indent=2)
        f.write("\n")

    np_save(writer_tensors(), os.path.join(OUT, "writer_ref.safetensors"), metadata={"format": "pt"})
    print("wrote fixtures to", OUT)


def check_c(path):
    got = np_load(path)
    want = writer_tensors()
    assert set(got) == set(want), (sorted(got), sorted(want))
    for k, v in want.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape and np.array_equal(got[k], v), k
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        assert json.loads(f.read(n))["__metadata__"] == {"format": "pt"}
    print(f"{path}: Python safetensors loads all {len(got)} tensors with the expected values")


def check_configs():
    from transformers import AutoConfig, AutoModelForCausalLM, GPTBigCodeConfig, LlamaConfig
    want = {"starcoderbase-1b": 1137207296, "deepseekcoder-1.3b": 1346471936}
    for d, n in want.items():
        cfg = AutoConfig.from_pretrained(os.path.join(ROOT, "models", d))
        with torch.device("meta"):
            m = AutoModelForCausalLM.from_config(cfg)
        got = sum(p.numel() for p in m.parameters())  # tied parameters are yielded once
        assert got == n, (d, got, n)
        print(f"models/{d}: transformers builds {type(m).__name__} with {got:,} parameters")
    g, l = GPTBigCodeConfig(), LlamaConfig()
    assert (g.vocab_size, g.n_positions, g.n_embd, g.n_layer, g.n_head, g.n_inner) == (50257, 1024, 768, 12, 12, None)
    assert (g.activation_function, g.layer_norm_epsilon, g.multi_query, g.tie_word_embeddings) == \
        ("gelu_pytorch_tanh", 1e-5, True, True)
    assert (l.vocab_size, l.hidden_size, l.intermediate_size, l.num_hidden_layers, l.num_attention_heads) == \
        (32000, 4096, 11008, 32, 32)
    assert (l.num_key_value_heads, l.max_position_embeddings, l.rms_norm_eps, l.tie_word_embeddings) == \
        (32, 2048, 1e-6, False)
    print("transformers defaults match the ones asserted in test_config.c")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-c":
        check_c(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "--check-configs":
        check_configs()
    else:
        write_fixtures()
