using System.Diagnostics;
using System.Text;
using System.Text.Json;
using StepDpo.Text;
using StepDpo.Torch.Training;
using StepDpo.Torch.Training.Trl;

namespace StepDpo.Torch.Tests.Training.Trl;

/// <summary>
/// The shipped stepdpo_rows.py (what TRL trains on, in both dialects) against PairTokenizer (what our trainer trains
/// on): the same ids for the same pairs, with and without BOS, with prompt truncation and completion cutting. Both
/// tokenise with UTF-8 bytes here (no transformers on this machine); the boundary-merge rule is the same code path
/// for any tokenizer.
/// </summary>
public class StepDpoRowsParityTests
{
    sealed class Utf8Bytes(int? bos, int offset) : ITokenizer
    {
        public int VocabSize => 256 + offset + 1;
        public int? BosId => bos;
        public IReadOnlyList<int> EosIds => [];
        public int[] Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => b + offset).ToArray();
        public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false) => throw new NotSupportedException();
    }

    static readonly (string Condition, string Chosen, string Rejected)[] Pairs =
    [
        ("Q: 2+3?\nStep 1:", " 2+3=5.", " 2+3=6. So it is 6."),
        ("Q: Ünïcödé ✓ long long long long long long long long long long long long condition\nStep 1:", " ok", " not ok at all"),
        ("", " first", " second"),
    ];

    [Theory]
    [InlineData(1024, 512, null, 0)]
    [InlineData(40, 16, null, 0)]     // prompts keep their end, completions are cut
    [InlineData(30, 20, 300, 3)]      // BOS prepended, then truncated away with the prompt's start
    public void Python_rows_equal_PairTokenizer(int maxLength, int maxPromptLength, int? bos, int offset)
    {
        string dir = Directory.CreateTempSubdirectory("stepdpo-rows-").FullName;
        File.WriteAllText(Path.Combine(dir, "stepdpo_rows.py"), TrlDialect.ScriptText("stepdpo_rows.py"));
        var psi = new ProcessStartInfo("python3")
        {
            WorkingDirectory = dir, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false), StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in new[] { "stepdpo_rows.py", $"{maxLength}", $"{maxPromptLength}", bos?.ToString() ?? "none", $"{offset}" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var pairs = bos is null ? Pairs.Where(x => x.Condition.Length > 0).ToArray() : Pairs;
        foreach (var (c, ch, r) in pairs)
            p.StandardInput.WriteLine(JsonSerializer.Serialize(new { condition = c, chosen = ch, rejected = r }));
        p.StandardInput.Close();
        var lines = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string err = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "python3 hung");
        Assert.True(p.ExitCode == 0, err);
        Directory.Delete(dir, true);

        var ours = new PairTokenizer(new Utf8Bytes(bos, offset), maxLength, maxPromptLength);
        Assert.Equal(pairs.Length, lines.Length);
        for (int i = 0; i < pairs.Length; i++)
        {
            var py = JsonDocument.Parse(lines[i]).RootElement;
            var t = ours.Tokenize(new PreferencePair(pairs[i].Condition, pairs[i].Chosen, pairs[i].Rejected));
            int[] Ids(string k) => py.GetProperty(k).EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(t.Prompt, Ids("prompt"));
            Assert.Equal(t.Chosen, Ids("chosen"));
            Assert.Equal(t.Rejected, Ids("rejected"));
        }
    }
}
