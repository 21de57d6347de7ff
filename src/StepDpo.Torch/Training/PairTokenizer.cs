using StepDpo.Core;
using StepDpo.Text;

namespace StepDpo.Torch.Training;

/// <summary>
/// Turns text pairs into <see cref="TokenizedPair"/>s the way the Step-DPO reference trainer (TRL's DPOTrainer of its
/// time, with the EOS append removed) does:
/// the completion ids are the tail of encode(condition + completion) after the condition's ids, so a token that merges
/// across the boundary is handled as TRL does (the split moves one token left); BOS is prepended when the tokenizer has
/// one; no EOS is appended; when prompt + longer completion exceeds max_length the prompt keeps its last
/// max_prompt_length tokens, and if that is still too long both completions keep their first
/// max_length - max_prompt_length tokens.
/// </summary>
public sealed class PairTokenizer(ITokenizer tokenizer, int maxLength, int maxPromptLength)
{
    public PairTokenizer(ITokenizer tokenizer, TrainOptions options) : this(tokenizer, options.MaxLength, options.MaxPromptLength) { }

    public int MaxLength { get; } = maxLength;
    public int MaxPromptLength { get; } = maxPromptLength;

    /// <summary>Settings that change the token ids; part of the reference log-prob cache key.</summary>
    public string SettingsKey => $"max_length={MaxLength};max_prompt_length={MaxPromptLength};bos={tokenizer.BosId?.ToString() ?? "none"};eos=none;split=trl";

    /// <param name="where">Names the pair for error messages (e.g. "pairs.jsonl line 12").</param>
    public TokenizedPair Tokenize(PreferencePair pair, string where = "pair")
    {
        if (string.IsNullOrEmpty(pair.Chosen)) throw new StepDpoException($"{where}: key 'chosen' is empty");
        if (string.IsNullOrEmpty(pair.Rejected)) throw new StepDpoException($"{where}: key 'rejected' is empty");
        int[] conditionIds = tokenizer.Encode(pair.Condition);
        var (chosenPrompt, chosen) = SplitAnswer(conditionIds, pair.Condition, pair.Chosen);
        var (rejectedPrompt, rejected) = SplitAnswer(conditionIds, pair.Condition, pair.Rejected);
        // One prefix for both completions: the shorter of the two prompt splits (they differ by at most the one
        // boundary token); the other completion gets that token back at its start.
        int promptLength = Math.Min(chosenPrompt.Length, rejectedPrompt.Length);
        int[] prompt = chosenPrompt[..promptLength];
        chosen = [.. chosenPrompt[promptLength..], .. chosen];
        rejected = [.. rejectedPrompt[promptLength..], .. rejected];
        if (!rejectedPrompt.AsSpan(0, promptLength).SequenceEqual(prompt))
            throw new StepDpoException($"{where}: the condition tokenises differently before 'chosen' and 'rejected'");
        if (chosen.Length == 0) throw new StepDpoException($"{where}: key 'chosen' has no tokens after the condition");
        if (rejected.Length == 0) throw new StepDpoException($"{where}: key 'rejected' has no tokens after the condition");

        if (tokenizer.BosId is int bos && (prompt.Length == 0 || prompt[0] != bos)) prompt = [bos, .. prompt];
        if (prompt.Length == 0)
            throw new StepDpoException($"{where}: key 'prompt' is empty and the tokenizer has no BOS: nothing to condition on");
        return Truncate(prompt, chosen, rejected);
    }

    public SftExample TokenizeSft(string prompt, string completion, string where = "example")
    {
        if (string.IsNullOrEmpty(completion)) throw new StepDpoException($"{where}: key 'completion' is empty");
        int[] promptIds = tokenizer.Encode(prompt);
        var (p, c) = SplitAnswer(promptIds, prompt, completion);
        if (tokenizer.BosId is int bos && (p.Length == 0 || p[0] != bos)) p = [bos, .. p];
        if (p.Length == 0) { p = [c[0]]; c = c[1..]; } // the first token cannot be predicted from nothing
        if (c.Length == 0) throw new StepDpoException($"{where}: key 'completion' has no tokens to learn");
        var t = Truncate(p, c, c);
        return new SftExample(t.Prompt, t.Chosen);
    }

    (int[] Prompt, int[] Answer) SplitAnswer(int[] conditionIds, string condition, string answer)
    {
        int[] full = tokenizer.Encode(condition + answer);
        int start = Math.Min(conditionIds.Length, full.Length);
        if (!full.AsSpan(0, start).SequenceEqual(conditionIds.AsSpan(0, start))) start = Math.Max(0, start - 1);
        return (full[..start], full[start..]);
    }

    TokenizedPair Truncate(int[] prompt, int[] chosen, int[] rejected)
    {
        int longer = Math.Max(chosen.Length, rejected.Length);
        if (prompt.Length + longer > MaxLength) prompt = prompt[^Math.Min(prompt.Length, MaxPromptLength)..];
        if (prompt.Length + longer > MaxLength)
        {
            int keep = MaxLength - MaxPromptLength;
            chosen = chosen[..Math.Min(chosen.Length, keep)];
            rejected = rejected[..Math.Min(rejected.Length, keep)];
        }
        return new TokenizedPair(prompt, chosen, rejected);
    }
}
