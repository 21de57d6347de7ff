#!/usr/bin/env python3
"""Independent reference for the C# model: writes tiny random Qwen2 and Llama checkpoints in Hugging Face layout and the
logits / log-probs a float64 PyTorch implementation of the Hugging Face forward computes for them.

Needs only torch and numpy (no transformers, no safetensors package): Debian's `apt-get install python3-torch`.
Regenerate with:  /usr/bin/python3 make_reference.py   (run in this folder; output is deterministic)

The forward below is written from the equations of transformers' modeling_qwen2.py / modeling_llama.py:
RMSNorm w * x / sqrt(mean(x^2) + eps); rotary inv_freq = 1 / theta^(2i/d) with optional llama3 rescaling, angles
duplicated over both halves ([f, f]) and rotate_half(x) = [-x2, x1]; grouped-query attention where query head h uses
key/value head h // (H/K); softmax(q k^T / sqrt(d) + mask) v; SwiGLU down(silu(gate x) * up x); pre-norm residuals;
final norm; LM head tied to the embedding when tie_word_embeddings.
"""
import json, math, os, struct
import numpy as np
import torch

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- safetensors (own reader/writer: struct + json + numpy)

def to_bf16_bits(a):
    """float -> bfloat16 bit pattern, round to nearest even (as torch does)."""
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)

def from_bf16_bits(b):
    return (b.astype(np.uint32) << 16).view(np.float32)

def write_safetensors(path, tensors):
    """tensors: list of (name, numpy array, dtype in F32/F16/BF16/I64)."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array, dtype in tensors:
        if dtype == "F32": raw = np.asarray(array, "<f4").tobytes()
        elif dtype == "F16": raw = np.asarray(array, "<f2").tobytes()
        elif dtype == "BF16": raw = to_bf16_bits(array).astype("<u2").tobytes()
        elif dtype == "I64": raw = np.asarray(array, "<i8").tobytes()
        else: raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(np.shape(array)), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw); offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text))); f.write(text)
        for b in blobs: f.write(b)

def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n)); data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__": continue
        b, end = e["data_offsets"]; raw = data[b:end]
        if e["dtype"] == "F32": a = np.frombuffer(raw, "<f4")
        elif e["dtype"] == "F16": a = np.frombuffer(raw, "<f2")
        elif e["dtype"] == "BF16": a = from_bf16_bits(np.frombuffer(raw, "<u2"))
        elif e["dtype"] == "I64": a = np.frombuffer(raw, "<i8")
        else: raise ValueError(e["dtype"])
        out[name] = torch.tensor(a.astype(np.float64) if e["dtype"] != "I64" else a.copy()).reshape(e["shape"])
    return out

# ---------------------------------------------------------------- reference forward (float64)

def rms_norm(x, w, eps):
    return w * (x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps))

def inverse_frequencies(cfg, head_dim):
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        inv = torch.where(medium, smoothed, scaled)
    return inv

def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)

def forward(cfg, w, ids, pos, mask):
    """ids, pos: [B, T] int; mask: [B, T, T] bool (True = may attend). Returns logits [B, T, V] float64."""
    H, K = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps, B, T = cfg["rms_norm_eps"], ids.shape[0], ids.shape[1]
    qwen = cfg["model_type"] == "qwen2"
    ang = pos.double()[..., None] * inverse_frequencies(cfg, D)
    emb = torch.cat([ang, ang], -1)[:, None]  # [B, 1, T, D]
    cos, sin = emb.cos(), emb.sin()
    x = w["model.embed_tokens.weight"][ids]
    def lin(name, v):
        y = v @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = lin(p + "self_attn.q_proj", h).view(B, T, H, D).transpose(1, 2)
        k = lin(p + "self_attn.k_proj", h).view(B, T, K, D).transpose(1, 2)
        v = lin(p + "self_attn.v_proj", h).view(B, T, K, D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // K, dim=1), v.repeat_interleave(H // K, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        scores = scores.masked_fill(~mask[:, None], float("-inf"))
        attn = torch.softmax(scores, -1) @ v
        x = x + lin(p + "self_attn.o_proj", attn.transpose(1, 2).reshape(B, T, H * D))
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate, up = lin(p + "mlp.gate_proj", h), lin(p + "mlp.up_proj", h)
        x = x + lin(p + "mlp.down_proj", gate * torch.sigmoid(gate) * up)
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T

# ---------------------------------------------------------------- fixtures

def random_weights(cfg, rng, std):
    H, K, E = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["hidden_size"]
    D = cfg.get("head_dim") or E // H
    I, V, qwen = cfg["intermediate_size"], cfg["vocab_size"], cfg["model_type"] == "qwen2"
    n = lambda *s: rng.normal(0, std, s)
    w = {"model.embed_tokens.weight": n(V, E)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "self_attn.q_proj.weight"], w[p + "self_attn.k_proj.weight"] = n(H * D, E), n(K * D, E)
        w[p + "self_attn.v_proj.weight"], w[p + "self_attn.o_proj.weight"] = n(K * D, E), n(E, H * D)
        if qwen:
            for m, size in (("q", H * D), ("k", K * D), ("v", K * D)): w[p + f"self_attn.{m}_proj.bias"] = n(size)
        w[p + "mlp.gate_proj.weight"], w[p + "mlp.up_proj.weight"], w[p + "mlp.down_proj.weight"] = n(I, E), n(I, E), n(E, I)
        w[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.1, E)
        w[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.1, E)
    w["model.norm.weight"] = 1 + rng.normal(0, 0.1, E)
    if not cfg["tie_word_embeddings"]: w["lm_head.weight"] = n(V, E)
    return w

MODELS = {
    # Qwen2.5-like: q/k/v bias, tied head, theta 1e6; stored in BF16.
    "qwen2-micro": ({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "vocab_size": 96, "hidden_size": 32,
                     "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "hidden_act": "silu", "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "max_position_embeddings": 512,
                     "tie_word_embeddings": True, "torch_dtype": "bfloat16"}, "BF16", 1),
    # Llama-3.1-like: no bias, untied head, explicit head_dim != hidden/heads, llama3 rope scaling; stored in F16.
    "llama-micro": ({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 96, "hidden_size": 32,
                     "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "head_dim": 16, "hidden_act": "silu", "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
                     "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 256},
                     "max_position_embeddings": 1024, "tie_word_embeddings": False, "attention_bias": False,
                     "torch_dtype": "float16"}, "F16", 2),
}

def layouts(rng, V):
    """Three attention layouts the model must support: plain causal, left padding, and a shared prefix."""
    T = 12
    out = {}
    ids = torch.tensor(rng.integers(0, V, (2, T)))
    pos = torch.arange(T).expand(2, T)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    out["causal"] = (ids, pos, causal.expand(2, T, T), None)
    # Left padding: row 0 has 4 pad tokens; positions count real tokens only; a pad query sees only itself.
    valid = torch.ones(2, T, dtype=torch.bool); valid[0, :4] = False
    pos = (valid.long().cumsum(-1) - 1).clamp(min=0)
    mask = (causal[None] & valid[:, None, :]) | torch.eye(T, dtype=torch.bool)[None]
    out["padded"] = (ids, pos, mask, valid)
    # Shared prefix: prompt (5) | chosen (4) | rejected (3); both answers continue at position 5, rejected can't see chosen.
    pos = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7]] * 2) + torch.tensor([[0], [300]])  # row 1: far positions
    seg = torch.tensor([0] * 5 + [1] * 4 + [2] * 3)
    allowed = causal & ((seg[:, None] == seg[None, :]) | (seg[None, :] == 0))
    out["prefix"] = (ids, pos, allowed.expand(2, T, T), None)
    return out

def main():
    for name, (cfg, store_dtype, seed) in MODELS.items():
        rng = np.random.default_rng(seed)
        folder = os.path.join(HERE, name); os.makedirs(folder, exist_ok=True)
        w = random_weights(cfg, rng, std=0.15)
        write_safetensors(os.path.join(folder, "model.safetensors"), [(k, v, store_dtype) for k, v in sorted(w.items())])
        with open(os.path.join(folder, "config.json"), "w") as f: json.dump(cfg, f, indent=2)
        # The reference uses the weights as stored (rounded to BF16/F16), read back with its own reader.
        w = read_safetensors(os.path.join(folder, "model.safetensors"))
        expected = []
        for layout, (ids, pos, mask, valid) in layouts(rng, cfg["vocab_size"]).items():
            logits = forward(cfg, w, ids, pos, mask)
            expected += [(f"{layout}.input_ids", ids.numpy(), "I64"), (f"{layout}.position_ids", pos.numpy(), "I64"),
                         (f"{layout}.mask", mask.long().numpy(), "I64"), (f"{layout}.logits", logits.numpy(), "F32")]
        # Scoring: log p(completion | prompt) per completion token, prompt and completion concatenated.
        prompt, completion = rng.integers(0, cfg["vocab_size"], 7), rng.integers(0, cfg["vocab_size"], 5)
        ids = torch.tensor(np.concatenate([prompt, completion]))[None]
        T = ids.shape[1]
        logp = torch.log_softmax(forward(cfg, w, ids, torch.arange(T)[None], torch.ones(T, T, dtype=torch.bool).tril()[None]), -1)
        token_logprobs = logp[0, len(prompt) - 1:T - 1].gather(-1, torch.tensor(completion)[:, None])[:, 0]
        expected += [("score.prompt_ids", prompt, "I64"), ("score.completion_ids", completion, "I64"),
                     ("score.token_logprobs", token_logprobs.numpy(), "F32")]
        write_safetensors(os.path.join(folder, "expected.safetensors"), expected)
        print(name, "logits range", float(logits.min()), float(logits.max()), "score", float(token_logprobs.sum()))

if __name__ == "__main__":
    main()
