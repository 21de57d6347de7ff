namespace StepDpo.Text;

/// <summary>What BpeTokenizer needs from a tokenizer.json, after checking that every feature used is supported.</summary>
public sealed class TokenizerDefinition
{
    public required IReadOnlyDictionary<string, int> Vocab { get; init; }
    /// <summary>Merge rules in priority order (first = applied first).</summary>
    public required IReadOnlyList<(string Left, string Right)> Merges { get; init; }
    /// <summary>The merges as (left id, right id, merged id), when the reader already looked them up; else null.</summary>
    public IReadOnlyList<(int Left, int Right, int Merged)>? MergeIds { get; init; }
    public required IReadOnlyList<AddedToken> AddedTokens { get; init; }
    /// <summary>Apply Unicode NFC before pre-tokenization (Qwen2: yes; Llama-3: no normaliser).</summary>
    public bool Nfc { get; init; }
    /// <summary>Split regexes (behaviour Isolated) applied one after another before the byte-level mapping.</summary>
    public required IReadOnlyList<string> SplitPatterns { get; init; }
    /// <summary>A pre-token found whole in the vocabulary is taken as one token without merging (Llama-3).</summary>
    public bool IgnoreMerges { get; init; }
    public string? UnkToken { get; init; }
    public bool FuseUnk { get; init; }
    /// <summary>Where it was read from, for error messages.</summary>
    public string Source { get; init; } = "tokenizer.json";
}
