namespace StepDpo.Text;

/// <summary>Text to token ids and back. Implementations must match Hugging Face `tokenizers` exactly.</summary>
public interface ITokenizer
{
    /// <summary>One more than the largest id (vocabulary plus added tokens).</summary>
    int VocabSize { get; }
    /// <summary>Id of the beginning-of-sequence token, or null when the tokenizer has none (Qwen2).</summary>
    int? BosId { get; }
    /// <summary>Ids that end generation (eos plus e.g. &lt;|im_end|&gt;).</summary>
    IReadOnlyList<int> EosIds { get; }
    /// <summary>Id used to pad batches (the pad token of tokenizer_config.json, else the first eos), or null.</summary>
    int? PadId { get; }
    /// <summary>Added tokens marked special (e.g. &lt;|im_start|&gt;), content to id.</summary>
    IReadOnlyDictionary<string, int> SpecialTokens { get; }
    /// <summary>Encodes without adding special tokens; special tokens written in the text are recognised.</summary>
    int[] Encode(string text);
    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false);
    /// <summary>The vocabulary string of an id (byte-level form for BPE tokens), or null for an unknown id.</summary>
    string? TokenToString(int id);
    /// <summary>The id of a vocabulary string or added token, or null.</summary>
    int? TokenToId(string token);
}
