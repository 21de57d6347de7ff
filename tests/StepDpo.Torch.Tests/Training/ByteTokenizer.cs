using System.Text;
using StepDpo.Text;

namespace StepDpo.Torch.Tests.Training;

/// <summary>UTF-8 bytes as ids 0..255, optional BOS 256, EOS 257: a real, exactly invertible tokenizer for tests.</summary>
public sealed class ByteTokenizer(bool withBos = false) : ITokenizer
{
    public int VocabSize => 260;
    public int? BosId => withBos ? 256 : null;
    public IReadOnlyList<int> EosIds => [257];
    public int? PadId => 257;
    public IReadOnlyDictionary<string, int> SpecialTokens => new Dictionary<string, int> { ["<bos>"] = 256, ["<eos>"] = 257 };
    public string? TokenToString(int id) => id switch { < 0 or >= 260 => null, 256 => "<bos>", 257 => "<eos>", < 256 => ((char)id).ToString(), _ => $"<unused{id}>" };
    public int? TokenToId(string token) => token switch { "<bos>" => 256, "<eos>" => 257, { Length: 1 } s when s[0] < 256 => s[0], _ => null };
    public int[] Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>();
        foreach (int id in ids) if (id < 256) bytes.Add((byte)id);
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
