"""Step-DPO's tokenisation of one pair, shared by both TRL dialects (pure Python: no torch, no transformers).

A pair is a condition (the rendered prompt followed by the correct steps so far) and two single steps. The ids are
the ones StepDpo's own trainer uses (src/StepDpo.Torch/Training/PairTokenizer.cs), so TRL trains on the same tokens:
- a completion's ids are the tail of encode(condition + completion) after the condition's ids; when a token merges
  across that boundary the split moves one token left, and the two completions share the shorter prompt;
- BOS is prepended only when the tokenizer has one; no EOS is appended (a step is not the end of a solution);
- when prompt + longer completion exceeds max_length the prompt keeps its last max_prompt_length tokens, and if that
  is still too long both completions keep their first max_length - max_prompt_length tokens.
"""


def _split(encode, condition_ids, condition, completion):
    full = encode(condition + completion)
    start = min(len(condition_ids), len(full))
    if full[:start] != condition_ids[:start]:
        start = max(0, start - 1)
    return full[:start], full[start:]


def step_dpo_ids(encode, bos_id, condition, chosen, rejected, max_length, max_prompt_length):
    """(prompt_ids, chosen_ids, rejected_ids) for one pair; encode(text) -> ids without special tokens."""
    if not chosen or not rejected:
        raise ValueError("a Step-DPO pair needs a non-empty chosen and rejected step")
    condition_ids = encode(condition)
    chosen_prompt, chosen_ids = _split(encode, condition_ids, condition, chosen)
    rejected_prompt, rejected_ids = _split(encode, condition_ids, condition, rejected)
    shared = min(len(chosen_prompt), len(rejected_prompt))
    prompt = chosen_prompt[:shared]
    if rejected_prompt[:shared] != prompt:
        raise ValueError("the condition tokenises differently before chosen and rejected")
    chosen_ids = chosen_prompt[shared:] + chosen_ids
    rejected_ids = rejected_prompt[shared:] + rejected_ids
    if bos_id is not None and (not prompt or prompt[0] != bos_id):
        prompt = [bos_id] + prompt
    longer = max(len(chosen_ids), len(rejected_ids))
    if len(prompt) + longer > max_length:
        prompt = prompt[-max_prompt_length:]
    if len(prompt) + longer > max_length:
        keep = max_length - max_prompt_length
        chosen_ids, rejected_ids = chosen_ids[:keep], rejected_ids[:keep]
    return prompt, chosen_ids, rejected_ids


if __name__ == "__main__":
    # Check mode for StepDpo's tests: JSON lines {"condition", "chosen", "rejected"} on stdin, UTF-8 bytes as the
    # tokenizer (id = byte value), one {"prompt", "chosen", "rejected"} id line out per pair.
    import json
    import sys

    max_length, max_prompt_length = int(sys.argv[1]), int(sys.argv[2])
    bos = None if sys.argv[3] == "none" else int(sys.argv[3])
    offset = int(sys.argv[4])
    encode = lambda text: [b + offset for b in text.encode("utf-8")]
    for line in sys.stdin:
        if line.strip():
            r = json.loads(line)
            p, c, j = step_dpo_ids(encode, bos, r["condition"], r["chosen"], r["rejected"], max_length, max_prompt_length)
            print(json.dumps({"prompt": p, "chosen": c, "rejected": j}))
