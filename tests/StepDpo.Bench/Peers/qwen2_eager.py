#!/usr/bin/env python3
"""The PyTorch eager peer of StepDpo's hot loops (tests/StepDpo.Bench, suite `peers`).

The same Qwen2 decoder as src/StepDpo.Torch (q/k/v bias, tied head, RMSNorm in fp32, rotary with theta 1e6, grouped-query
attention, SwiGLU), random weights, bf16, written the way a careful PyTorch user would write it: scaled_dot_product_attention
(on torch < 2.0, which has none, the same arithmetic written out), key/value heads repeated only when there are fewer of
them than query heads, the LM head applied only to the positions a loss reads, a preallocated KV cache, fp32 master
weights for AdamW (bf16 weights lose small updates otherwise, and StepDpo keeps fp32 masters too).

Protocol (one JSON object per line): the first line on stdin is {"preset", "vocab", "threads", "seed"}; the script answers
{"torch": version, "threads": n, "attention": how}. Then each line is a case; the answer is {"wall": [...], "cpu": [...]},
wall-clock and CPU seconds (this process, all threads) per timed repetition (the first, warm-up, is not timed). Cases:
  {"case": "sft", "batch", "prompt", "completion", "reps"}            SFT step: forward, token-mean NLL, backward, clip, AdamW
  {"case": "dpo", "layout": "shared"|"rows", "pairs", "prefix", "step", "reps"}   Step-DPO step (sigmoid loss), same + AdamW
  {"case": "reference", "pairs", "prefix", "step", "reps"}            reference pass: shared-prefix forward, no gradients
  {"case": "prefill", "batch", "prompt", "reps"}                      prompt forward into a KV cache, greedy first token
  {"case": "decode", "batch", "prompt", "new", "reps"}                greedy decode steps with the KV cache (per call: new-1 steps)
"""
import ctypes
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

PRESETS = {  # hidden, layers, heads, kv heads, intermediate: src/StepDpo.Torch/Checkpoints/Presets.cs
    "tiny": (64, 2, 4, 2, 172),
    "mini": (128, 4, 4, 2, 344),
    "small": (256, 4, 8, 2, 688),
}
DTYPE = torch.bfloat16
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


def attention(q, k, v, mask=None, causal=False):
    """softmax(q kᵀ/√d + mask) v; q [B,H,T,d], k/v [B,H,S,d]; mask bool (True = may attend); causal: T = S."""
    if HAS_SDPA:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    scores = q @ k.transpose(-1, -2) * (1.0 / math.sqrt(q.shape[-1]))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1) @ v


class RmsNorm(torch.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(hidden, dtype=DTYPE))

    def forward(self, x):
        x32 = x.float()
        return self.weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + 1e-6)).to(x.dtype)


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


class Layer(torch.nn.Module):
    def __init__(self, hidden, heads, kv_heads, intermediate):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, hidden // heads
        d = self.head_dim
        self.q_proj = torch.nn.Linear(hidden, heads * d, dtype=DTYPE)
        self.k_proj = torch.nn.Linear(hidden, kv_heads * d, dtype=DTYPE)
        self.v_proj = torch.nn.Linear(hidden, kv_heads * d, dtype=DTYPE)
        self.o_proj = torch.nn.Linear(heads * d, hidden, bias=False, dtype=DTYPE)
        self.gate_proj = torch.nn.Linear(hidden, intermediate, bias=False, dtype=DTYPE)
        self.up_proj = torch.nn.Linear(hidden, intermediate, bias=False, dtype=DTYPE)
        self.down_proj = torch.nn.Linear(intermediate, hidden, bias=False, dtype=DTYPE)
        self.input_layernorm = RmsNorm(hidden)
        self.post_attention_layernorm = RmsNorm(hidden)

    def forward(self, x, cos, sin, mask, causal, cache):
        b, t, _ = x.shape
        h = self.input_layernorm(x)
        q = rotate(self.q_proj(h).view(b, t, self.heads, self.head_dim).transpose(1, 2), cos, sin)
        k = rotate(self.k_proj(h).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2), cos, sin)
        v = self.v_proj(h).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        if cache is not None:
            k, v = cache.append(self, k, v)
        groups = self.heads // self.kv_heads
        if groups > 1:
            k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
        o = attention(q, k, v, mask, causal).transpose(1, 2).reshape(b, t, -1)
        x = x + self.o_proj(o)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class KvCache:
    """Per layer [B, kv_heads, capacity, d], written in place; every row has the same length."""

    def __init__(self, model, batch, capacity):
        shape = (batch, model.kv_heads, capacity, model.head_dim)
        self.k = {layer: torch.empty(shape, dtype=DTYPE) for layer in model.layers}
        self.v = {layer: torch.empty(shape, dtype=DTYPE) for layer in model.layers}
        self.length = 0

    def append(self, layer, k, v):
        end = self.length + k.shape[2]
        self.k[layer][:, :, self.length:end] = k
        self.v[layer][:, :, self.length:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


class Qwen2(torch.nn.Module):
    def __init__(self, preset, vocab):
        super().__init__()
        hidden, layers, heads, kv_heads, intermediate = PRESETS[preset]
        self.kv_heads, self.head_dim = kv_heads, hidden // heads
        self.embed_tokens = torch.nn.Embedding(vocab, hidden, dtype=DTYPE)
        self.layers = torch.nn.ModuleList(Layer(hidden, heads, kv_heads, intermediate) for _ in range(layers))
        self.norm = RmsNorm(hidden)
        d = self.head_dim
        self.inv_freq = 1.0 / (1e6 ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        with torch.no_grad():
            for name, p in self.named_parameters():
                if p.dim() >= 2:
                    p.normal_(0, 0.02)
                elif name.endswith("bias"):
                    p.zero_()

    def hidden_states(self, ids, positions, mask=None, causal=False, cache=None):
        angles = positions.unsqueeze(-1).float() * self.inv_freq
        both = torch.cat((angles, angles), -1).unsqueeze(1)
        cos, sin = both.cos().to(DTYPE), both.sin().to(DTYPE)
        if causal and not HAS_SDPA:  # built once per forward, not per layer
            t = ids.shape[1]
            mask, causal = torch.ones(t, t, dtype=torch.bool).tril(), False
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask, causal, cache)
        if cache is not None:
            cache.length += ids.shape[1]
        return self.norm(x)

    def logits(self, hidden):
        return (hidden @ self.embed_tokens.weight.t()).float()  # tied head, logits in fp32


class MasterAdamW:
    """bf16 weights, fp32 master copies with torch's AdamW; weight decay on matrices only, gradient-norm clipping."""

    def __init__(self, model, lr=1e-4, weight_decay=0.01, max_norm=1.0):
        self.params = list(model.parameters())
        self.masters = [p.detach().float().requires_grad_() for p in self.params]
        decay = [m for m in self.masters if m.dim() >= 2]
        no_decay = [m for m in self.masters if m.dim() < 2]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                      {"params": no_decay, "weight_decay": 0.0}], lr=lr, foreach=True)
        self.max_norm = max_norm

    def step(self):
        for p, m in zip(self.params, self.masters):
            m.grad = p.grad.float()
            p.grad = None
        torch.nn.utils.clip_grad_norm_(self.masters, self.max_norm)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            for p, m in zip(self.params, self.masters):
                p.copy_(m)


def token_logps(model, hidden, predictors, targets):
    """log p(target) at the hidden rows that predict each scored token (flat indices into [B*T])."""
    picked = hidden.reshape(-1, hidden.shape[-1]).index_select(0, predictors)
    return model.logits(picked).log_softmax(-1).gather(1, targets.unsqueeze(1)).squeeze(1)


class SharedPrefix:
    """One row per pair, [prefix | chosen | rejected]; rejected's positions restart after the prefix and it does not
    see chosen. Chosen's token 0 and rejected's token 0 are both predicted by the last prefix token."""

    def __init__(self, pairs):
        n, c, r = (len(x) for x in pairs[0])
        t = n + c + r
        self.ids = torch.tensor([p + ch + rj for p, ch, rj in pairs])
        self.positions = torch.cat((torch.arange(n + c), torch.arange(n, n + r))).expand(len(pairs), t)
        mask = torch.ones(t, t, dtype=torch.bool).tril()
        mask[n + c:, n:n + c] = False
        self.mask = mask.expand(len(pairs), 1, t, t)
        chosen_from = [n - 1 + i for i in range(c)]
        rejected_from = [n - 1] + [n + c + i for i in range(r - 1)]
        rows = torch.arange(len(pairs)).unsqueeze(1) * t
        self.predictors = torch.cat((rows + torch.tensor(chosen_from), rows + torch.tensor(rejected_from)), 1).reshape(-1)
        self.targets = torch.cat((self.ids[:, n:n + c], self.ids[:, n + c:]), 1).reshape(-1)
        self.chosen_tokens = c

    def logps(self, model):
        hidden = model.hidden_states(self.ids, self.positions, mask=self.mask)
        per_token = token_logps(model, hidden, self.predictors, self.targets).view(len(self.ids), -1)
        c = self.chosen_tokens
        return per_token[:, :c].sum(1), per_token[:, c:].sum(1)


class TwoRows:
    """TRL's layout: [prefix | chosen] and [prefix | rejected] as two rows of one batch, right-padded (here all rows are
    the same length), causal attention."""

    def __init__(self, pairs):
        n, c, r = (len(x) for x in pairs[0])
        rows = [p + ch for p, ch, _ in pairs] + [p + rj for p, _, rj in pairs]
        t = n + c
        self.ids = torch.tensor(rows)
        self.positions = torch.arange(t).expand(len(rows), t)
        starts = torch.arange(len(rows)).unsqueeze(1) * t
        self.predictors = (starts + torch.arange(n - 1, t - 1)).reshape(-1)
        self.targets = self.ids[:, n:].reshape(-1)
        self.pairs = len(pairs)

    def logps(self, model):
        hidden = model.hidden_states(self.ids, self.positions, causal=True)
        summed = token_logps(model, hidden, self.predictors, self.targets).view(len(self.ids), -1).sum(1)
        return summed[:self.pairs], summed[self.pairs:]


def timed(run, reps):
    """Wall and CPU seconds (this process, all threads) of each of reps calls after a warm-up."""
    run()
    wall, cpu = [], []
    for _ in range(reps):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def random_ids(g, vocab, *shape):
    return torch.randint(vocab, shape, generator=g)


def sft_case(model, vocab, g, batch, prompt, completion, reps):
    opt = MasterAdamW(model)
    t = prompt + completion
    ids = random_ids(g, vocab, batch, t)
    positions = torch.arange(t).expand(batch, t)
    predictors = (torch.arange(batch).unsqueeze(1) * t + torch.arange(prompt - 1, t - 1)).reshape(-1)
    targets = ids[:, prompt:].reshape(-1)

    def step():
        hidden = model.hidden_states(ids, positions, causal=True)
        loss = -token_logps(model, hidden, predictors, targets).mean()
        loss.backward()
        opt.step()
        return loss.item()

    return timed(step, reps)


def pairs_of(g, vocab, count, prefix, step):
    return [(random_ids(g, vocab, prefix).tolist(), random_ids(g, vocab, step).tolist(), random_ids(g, vocab, step).tolist())
            for _ in range(count)]


def dpo_case(model, vocab, g, layout, pairs, prefix, step, reps, beta=0.1):
    opt = MasterAdamW(model)
    batch = (SharedPrefix if layout == "shared" else TwoRows)(pairs_of(g, vocab, pairs, prefix, step))
    ref_chosen, ref_rejected = torch.zeros(pairs), torch.zeros(pairs)

    def run():
        chosen, rejected = batch.logps(model)
        margin = (chosen - ref_chosen) - (rejected - ref_rejected)
        loss = -F.logsigmoid(beta * margin).mean()
        loss.backward()
        opt.step()
        return loss.item()

    return timed(run, reps)


def reference_case(model, vocab, g, pairs, prefix, step, reps):
    batch = SharedPrefix(pairs_of(g, vocab, pairs, prefix, step))

    def run():
        with torch.inference_mode():
            chosen, rejected = batch.logps(model)
            return chosen.tolist(), rejected.tolist()

    return timed(run, reps)


def generate(model, prompts, new_tokens):
    """Greedy decoding with a KV cache; returns (wall, CPU) seconds of the prefill (with the first token) and of the
    new_tokens - 1 decode steps after it."""
    with torch.inference_mode():
        b, t = prompts.shape
        cache = KvCache(model, b, t + new_tokens)
        start, start_cpu = time.perf_counter(), time.process_time()
        hidden = model.hidden_states(prompts, torch.arange(t).expand(b, t), causal=True, cache=cache)
        token = model.logits(hidden[:, -1]).argmax(-1)
        prefilled, prefilled_cpu = time.perf_counter(), time.process_time()
        tokens = [token]
        for i in range(1, new_tokens):
            position = torch.full((b, 1), t + i - 1, dtype=torch.long)
            hidden = model.hidden_states(tokens[-1].unsqueeze(1), position, cache=cache)
            tokens.append(model.logits(hidden[:, -1]).argmax(-1))
        torch.stack(tokens, 1).tolist()  # the host reads the tokens, as a generator returning text must
        return (prefilled - start, prefilled_cpu - start_cpu), (time.perf_counter() - prefilled, time.process_time() - prefilled_cpu)


def prefill_case(model, vocab, g, batch, prompt, reps):
    prompts = random_ids(g, vocab, batch, prompt)
    generate(model, prompts, 1)
    return tuple(zip(*[generate(model, prompts, 1)[0] for _ in range(reps)]))


def decode_case(model, vocab, g, batch, prompt, new, reps):
    prompts = random_ids(g, vocab, batch, prompt)
    generate(model, prompts, new)
    return tuple(zip(*[generate(model, prompts, new)[1] for _ in range(reps)]))


def same_c_runtime_as_stepdpo():
    """glibc malloc keeps freed memory for reuse, as src/StepDpo.Torch/Devices/CpuRuntime.cs sets it for StepDpo (the
    harness also gives both sides OMP_WAIT_POLICY=PASSIVE)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD
    except OSError:
        pass


def main():
    same_c_runtime_as_stepdpo()
    setup = json.loads(sys.stdin.readline())
    torch.set_num_threads(setup["threads"])
    torch.manual_seed(setup.get("seed", 1))
    vocab = setup["vocab"]
    model = Qwen2(setup["preset"], vocab)
    g = torch.Generator().manual_seed(setup.get("seed", 1))
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "attention": "scaled_dot_product_attention" if HAS_SDPA else "written out (torch < 2.0 has no SDPA)"}),
          flush=True)
    for line in sys.stdin:
        c = json.loads(line)
        kind = c["case"]
        if kind == "sft":
            wall, cpu = sft_case(model, vocab, g, c["batch"], c["prompt"], c["completion"], c["reps"])
        elif kind == "dpo":
            wall, cpu = dpo_case(model, vocab, g, c["layout"], c["pairs"], c["prefix"], c["step"], c["reps"])
        elif kind == "reference":
            wall, cpu = reference_case(model, vocab, g, c["pairs"], c["prefix"], c["step"], c["reps"])
        elif kind == "prefill":
            wall, cpu = prefill_case(model, vocab, g, c["batch"], c["prompt"], c["reps"])
        elif kind == "decode":
            wall, cpu = decode_case(model, vocab, g, c["batch"], c["prompt"], c["new"], c["reps"])
        else:
            raise SystemExit(f"unknown case {kind!r}")
        print(json.dumps({"wall": list(wall), "cpu": list(cpu)}), flush=True)


if __name__ == "__main__":
    main()
