namespace StepDpo.Text;

/// <summary>Text to token ids and back. Implementations must match Hugging Face `tokenizers` exactly.</summary>
public interface ITokenizer
{
    int VocabSize { get; }
    /// <summary>Id of the beginning-of-sequence token, or null when the tokenizer has none (Qwen2).</summary>
    int? BosId { get; }
    /// <summary>Ids that end generation (eos plus e.g. &lt;|im_end|&gt;).</summary>
    IReadOnlyList<int> EosIds { get; }
    /// <summary>Encodes without adding special tokens; special tokens written in the text are recognised.</summary>
    int[] Encode(string text);
    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false);
}
