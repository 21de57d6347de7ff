namespace StepDpo.Torch.Training;

/// <summary>A preference pair as text: the condition (template-rendered prompt followed by the correct initial steps for
/// Step-DPO, or just the rendered prompt for plain DPO) and the two completions (one step each for Step-DPO).</summary>
public sealed record PreferencePair(string Condition, string Chosen, string Rejected);

/// <summary>A preference pair as token ids: the shared prompt (BOS included when the tokenizer has one) and the two
/// completions, already truncated to the training lengths.</summary>
public sealed record TokenizedPair(int[] Prompt, int[] Chosen, int[] Rejected)
{
    /// <summary>Tokens of the two-full-sequence layout (what the reference implementation forwards).</summary>
    public int FullLength => 2 * Prompt.Length + Chosen.Length + Rejected.Length;
    /// <summary>Tokens of the shared-prefix layout.</summary>
    public int SharedLength => Prompt.Length + Chosen.Length + Rejected.Length;
}

/// <summary>An SFT example: loss on the completion tokens only.</summary>
public sealed record SftExample(int[] Prompt, int[] Completion)
{
    public int Length => Prompt.Length + Completion.Length;
}
