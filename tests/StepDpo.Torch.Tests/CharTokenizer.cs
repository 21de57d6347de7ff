using System.Text;
using StepDpo.Text;

namespace StepDpo.Torch.Tests;

/// <summary>A real, complete tokenizer for the 96-token fixture models: printable ASCII ' '..'~' are ids 0..94,
/// id 95 is the end-of-sequence token "&lt;/s&gt;". (Tests of the engine must not depend on the Text project's work.)</summary>
public sealed class CharTokenizer : ITokenizer
{
    public const int Eos = 95;
    public int VocabSize => 96;
    public int? BosId => null;
    public IReadOnlyList<int> EosIds => [Eos];
    // Members the Text engineer adds to ITokenizer (kept here so this compiles before and after that merge).
    public int? PadId => Eos;
    public IReadOnlyDictionary<string, int> SpecialTokens { get; } = new Dictionary<string, int> { ["</s>"] = Eos };
    public string? TokenToString(int id) => id == Eos ? "</s>" : id is >= 0 and < Eos ? ((char)(' ' + id)).ToString() : null;
    public int? TokenToId(string token) => token == "</s>" ? Eos : token.Length == 1 && token[0] is >= ' ' and <= '~' ? token[0] - ' ' : null;

    public int[] Encode(string text)
    {
        var ids = new List<int>();
        for (int i = 0; i < text.Length; i++)
        {
            if (string.CompareOrdinal(text, i, "</s>", 0, 4) == 0) { ids.Add(Eos); i += 3; continue; }
            char c = text[i];
            if (c < ' ' || c > '~') throw new ArgumentException($"character U+{(int)c:X4} is not in the vocabulary");
            ids.Add(c - ' ');
        }
        return ids.ToArray();
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            if (id == Eos) { if (!skipSpecialTokens) sb.Append("</s>"); }
            else sb.Append((char)(' ' + id));
        }
        return sb.ToString();
    }
}
