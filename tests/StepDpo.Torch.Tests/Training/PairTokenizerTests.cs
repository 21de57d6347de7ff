using StepDpo.Core;
using StepDpo.Text;
using StepDpo.Torch.Training;

namespace StepDpo.Torch.Tests.Training;

public class PairTokenizerTests
{
    /// <summary>Bytes, except ": " which is one token (259): a boundary merge like BPE makes.</summary>
    sealed class MergingTokenizer : ITokenizer
    {
        readonly ByteTokenizer bytes = new();
        public int VocabSize => 260;
        public int? BosId => null;
        public IReadOnlyList<int> EosIds => [257];
        public int? PadId => null;
        public IReadOnlyDictionary<string, int> SpecialTokens => new Dictionary<string, int>();
        public string? TokenToString(int id) => throw new NotSupportedException();
        public int? TokenToId(string token) => throw new NotSupportedException();
        public int[] Encode(string text)
        {
            var ids = new List<int>();
            foreach (int b in bytes.Encode(text))
                if (b == ' ' && ids.Count > 0 && ids[^1] == ':') ids[^1] = 259; else ids.Add(b);
            return [.. ids];
        }
        public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false) => throw new NotSupportedException();
    }

    static int[] B(string s) => s.Select(c => (int)c).ToArray();

    [Fact]
    public void A_token_merged_across_the_boundary_moves_into_the_completion_and_the_prompt_is_shared()
    {
        var t = new PairTokenizer(new MergingTokenizer(), 100, 50);
        var p = t.Tokenize(new PreferencePair("Step 2:", " x=1", "y=2"));
        Assert.Equal(B("Step 2"), p.Prompt);
        Assert.Equal([259, .. B("x=1")], p.Chosen);
        Assert.Equal(B(":y=2"), p.Rejected);
    }

    [Fact]
    public void Bos_only_when_the_tokenizer_has_one_and_never_eos()
    {
        var withBos = new PairTokenizer(new ByteTokenizer(withBos: true), 100, 50).Tokenize(new PreferencePair("Q", "a", "b"));
        Assert.Equal([256, 'Q'], withBos.Prompt);
        Assert.Equal(['a'], withBos.Chosen);
        var without = new PairTokenizer(new ByteTokenizer(), 100, 50).Tokenize(new PreferencePair("Q", "a", "b"));
        Assert.Equal(['Q'], without.Prompt);
    }

    [Fact]
    public void Truncation_keeps_the_end_of_the_prompt_then_the_start_of_the_completions()
    {
        var t = new PairTokenizer(new ByteTokenizer(), maxLength: 10, maxPromptLength: 6);
        var p = t.Tokenize(new PreferencePair("12345678", "abc", "de"));
        Assert.Equal(B("345678"), p.Prompt);
        Assert.Equal(B("abc"), p.Chosen);
        var q = t.Tokenize(new PreferencePair("12345678", "abcdef", "gh"));
        Assert.Equal(B("345678"), q.Prompt);
        Assert.Equal(B("abcd"), q.Chosen);
        Assert.Equal(B("gh"), q.Rejected);
    }

    [Fact]
    public void Empty_completion_names_the_pair_and_key()
    {
        var t = new PairTokenizer(new ByteTokenizer(), 100, 50);
        var e = Assert.Throws<StepDpoException>(() => t.Tokenize(new PreferencePair("Q", "a", ""), "pairs.jsonl line 3"));
        Assert.Equal("pairs.jsonl line 3: key 'rejected' is empty", e.Message);
    }
}
