#!/usr/bin/env python3
"""Our LoRA-Mix adapter loads in Hugging Face PEFT and generates what mmlora generated (not run by CI).

    make && python3 tests/reference/peft_export_check.py

1. a tiny random GPTBigCode saved with transformers, the tokenizer fixture st.json, a synthetic
   CodeSearchNet-format dataset (six languages);
2. `build/mmlora run --method lora-mix ... --set scale=smoke` trains, exports adapter/ (PEFT format),
   generates predictions/ greedily;
3. PeftModel.from_pretrained(base, run/adapter): every LoRA tensor equals ours, the logits with the
   adapter differ from the base model's, and greedy generation of the test prompts gives the same text
   as mmlora's predictions/<lang>.txt.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from peft import PeftModel
from safetensors.numpy import load_file
from tokenizers import Tokenizer
from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
LANGS = ["go", "java", "javascript", "php", "python", "ruby"]
WORDS = ["name", "value", "size", "count", "path", "user", "list", "index", "key", "file", "time", "data",
         "node", "text", "item", "port"]


def write_data(raw):
    for l, lang in enumerate(LANGS):
        os.makedirs(f"{raw}/codesearchnet/{lang}", exist_ok=True)
        for s, (split, n) in enumerate((("train", 12 if lang == "ruby" else 40), ("valid", 4), ("test", 8))):
            with open(f"{raw}/codesearchnet/{lang}/{split}.jsonl", "w") as f:
                for i in range(n):
                    w, v = WORDS[(i * 7 + l + s * 3) % 16], WORDS[(i * 3 + 5) % 16]
                    code = ["def", f"get_{w}", "(", "self", ",", v, ")", ":", "return", "self", ".", w, "[", v, "]"]
                    doc = ["Return", "the", w, "of", "the", v, "."]
                    f.write(json.dumps({"language": lang, "code_tokens": code, "docstring_tokens": doc,
                                        "partition": split}) + "\n")


def main():
    tmp = tempfile.mkdtemp(prefix="mmlora-peft-")
    tok = Tokenizer.from_file(os.path.join(ROOT, "tests/fixtures/tokenizer/st.json"))
    eos = tok.token_to_id("<|endoftext|>")
    cfg = GPTBigCodeConfig(vocab_size=tok.get_vocab_size(), n_positions=128, n_embd=32, n_layer=2, n_head=4,
                           n_inner=64, multi_query=True, bos_token_id=eos, eos_token_id=eos,
                           attn_implementation="eager")
    torch.manual_seed(0)
    base = GPTBigCodeForCausalLM(cfg)
    base.save_pretrained(f"{tmp}/model", safe_serialization=True)
    tok.save(f"{tmp}/model/tokenizer.json")
    write_data(f"{tmp}/raw")
    subprocess.run([os.path.join(ROOT, "build/mmlora"), "run", "--method", "lora-mix", "--model", f"{tmp}/model",
                    "--dataset", "csn", "--raw", f"{tmp}/raw", "--cache", f"{tmp}/cache", "--out", f"{tmp}/run",
                    "--set", "scale=smoke", "--set", "lr=0.01"], check=True)
    base = GPTBigCodeForCausalLM.from_pretrained(f"{tmp}/model", attn_implementation="eager").eval()
    peft = PeftModel.from_pretrained(base, f"{tmp}/run/adapter").eval()
    ours = load_file(f"{tmp}/run/adapter/adapter_model.safetensors")
    n = 0
    for name, p in peft.named_parameters():
        if "lora_" not in name:
            continue
        key = name.replace(".default", "")
        assert key in ours, f"PEFT parameter {name} has no tensor {key} in our file"
        assert torch.equal(p.detach(), torch.from_numpy(ours[key])), f"{key} differs after loading"
        n += 1
    assert n == len(ours), f"{len(ours) - n} of our tensors were not loaded by PEFT"
    print(f"PEFT loaded all {n} LoRA tensors of our adapter, bit-identical")
    # greedy generation on the test prompts: code + "\n", as prepare builds them
    same = total = 0
    with torch.no_grad():
        for lang in LANGS:
            preds = dict(line.rstrip("\n").split("\t", 1) for line in open(f"{tmp}/run/predictions/{lang}.txt"))
            lines = open(f"{tmp}/raw/codesearchnet/{lang}/test.jsonl").read().splitlines()
            for i, line in enumerate(lines[:4]):
                rec = json.loads(line)
                ids = tok.encode(" ".join(rec["code_tokens"]), add_special_tokens=False).ids[:48]
                ids += tok.encode("\n", add_special_tokens=False).ids
                out = peft.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False, eos_token_id=eos,
                                    pad_token_id=eos)
                gen = [t for t in out[0, len(ids):].tolist()]
                if eos in gen:
                    gen = gen[:gen.index(eos)]
                text = " ".join(tok.decode(gen, skip_special_tokens=True).split())
                ours_text = [v for k, v in sorted(preds.items(), key=lambda kv: int(kv[0]))][i]
                total += 1
                same += text == ours_text
                if text != ours_text:
                    print(f"{lang} #{i}: PEFT {text!r} vs mmlora {ours_text!r}")
    print(f"greedy generations identical: {same}/{total}")
    sys.exit(0 if same == total else 1)


if __name__ == "__main__":
    main()
