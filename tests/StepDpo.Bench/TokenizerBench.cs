using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using StepDpo.Text;
using MlBpe = Microsoft.ML.Tokenizers.BpeTokenizer;

/// <summary>Tokenizer throughput on the shared GSM8K + MATH-500 text (problems and reference solutions): load time,
/// encode tokens/s with a cold and a warm pre-token cache, decode tokens/s; Microsoft.ML.Tokenizers 2.0.1, built from
/// the same tokenizer.json, side by side as a baseline, with how many texts it encodes to the same ids.
/// Options: --tokenizer PATH (default: the Qwen fixture of the tests), --data DIR (default: shared/data found
/// upwards from the working directory, else /work/shared/data), --repeat N (warm passes, default 5).
/// Rates are given per second of process CPU time, which stays meaningful on a shared, busy machine; wall-clock
/// rates are printed beside them.</summary>
public static class TokenizerBench
{
    public static void Run(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        string tokenizerPath = Option("--tokenizer") ?? FindUp("tests/StepDpo.Text.Tests/Fixtures/qwen-tokenizer.json.gz")
            ?? throw new FileNotFoundException("qwen-tokenizer.json.gz not found; pass --tokenizer PATH");
        string dataDir = Option("--data") ?? FindUp("shared/data") ?? FindUp("../shared/data") ?? "/work/shared/data";
        int repeat = int.Parse(Option("--repeat") ?? "5");

        var texts = LoadTexts(dataDir);
        long chars = texts.Sum(t => (long)t.Length);
        Console.WriteLine($"tokenizer: {tokenizerPath}");
        Console.WriteLine($"text: {texts.Count} GSM8K+MATH-500 texts from {dataDir}, {chars / 1e6:F2} M chars; {Environment.ProcessorCount} cores, single thread");

        var sw = Clock.Start();
        var ours = Tokenizers.Load(tokenizerPath);
        var loadOurs = sw.Elapsed;
        var (oursIds, oursCold, oursWarm) = MeasureEncode(t => ours.Encode(t), texts, repeat);
        long tokens = oursIds.Sum(a => (long)a.Length);
        var oursDecode = MeasureDecode(ids => ours.Decode(ids), oursIds, repeat);
        Report("StepDpo.Text", loadOurs, tokens, oursCold, oursWarm, oursDecode);

        sw = Clock.Start();
        MlBpe? ml = null;
        try { ml = CreateMlTokenizer(ours.Definition); }
        catch (Exception e) { Console.WriteLine($"Microsoft.ML.Tokenizers 2.0.1 cannot load this tokenizer: {e.Message}"); }
        if (ml == null) return;
        var loadMl = sw.Elapsed;
        var (mlIds, mlCold, mlWarm) = MeasureEncode(t => ml.EncodeToIds(t).ToArray(), texts, repeat);
        var mlDecode = MeasureDecode(ids => ml.Decode(ids), mlIds, repeat);
        Report("Microsoft.ML.Tokenizers 2.0.1", loadMl, mlIds.Sum(a => (long)a.Length), mlCold, mlWarm, mlDecode);
        int same = Enumerable.Range(0, texts.Count).Count(i => oursIds[i].AsSpan().SequenceEqual(mlIds[i]));
        Console.WriteLine($"same ids as StepDpo.Text (= Hugging Face) on {same} of {texts.Count} texts");
    }

    static void Report(string name, Time load, long tokens, Time cold, Time warm, Time decode) =>
        Console.WriteLine($"{name,-30} load {load.Cpu,5:F2} s cpu ({load.Wall,5:F2} wall) | " +
                          $"encode cold {tokens / cold.Cpu / 1e6,5:F2} M tok/cpu-s ({tokens / cold.Wall / 1e6,5:F2} wall) | " +
                          $"encode warm {tokens / warm.Cpu / 1e6,5:F2} ({tokens / warm.Wall / 1e6,5:F2}) | " +
                          $"decode {tokens / decode.Cpu / 1e6,5:F2} ({tokens / decode.Wall / 1e6,5:F2}) | {tokens} tokens");

    /// <summary>Times of the first pass (empty caches) and the median warm pass.</summary>
    static (int[][] Ids, Time Cold, Time Warm) MeasureEncode(Func<string, int[]> encode, List<string> texts, int repeat)
    {
        var clock = Clock.Start();
        var ids = texts.Select(encode).ToArray();
        var cold = clock.Elapsed;
        var warm = new List<Time>();
        for (int r = 0; r < repeat; r++)
        {
            clock = Clock.Start();
            foreach (var t in texts) encode(t);
            warm.Add(clock.Elapsed);
        }
        return (ids, cold, Median(warm));
    }

    static Time MeasureDecode(Func<int[], string> decode, int[][] ids, int repeat)
    {
        var times = new List<Time>();
        for (int r = 0; r < Math.Max(1, repeat); r++)
        {
            var clock = Clock.Start();
            foreach (var a in ids) decode(a);
            times.Add(clock.Elapsed);
        }
        return Median(times);
    }

    readonly record struct Time(double Wall, double Cpu);

    sealed class Clock
    {
        readonly Stopwatch wall = Stopwatch.StartNew();
        readonly TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        public static Clock Start() => new();
        public Time Elapsed => new(this.wall.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds);
    }

    static Time Median(List<Time> xs) => xs.OrderBy(x => x.Cpu).ElementAt(xs.Count / 2);

    /// <summary>The same vocabulary, merges, split regex and added tokens in ML.Tokenizers' byte-level BPE. It has no
    /// NFC normaliser, which changes nothing on this (NFC) text.</summary>
    static MlBpe CreateMlTokenizer(TokenizerDefinition d)
    {
        var special = d.AddedTokens.ToDictionary(t => t.Content, t => t.Id);
        var options = new Microsoft.ML.Tokenizers.BpeOptions(d.Vocab)
        {
            Merges = d.Merges.Select(m => m.Left + " " + m.Right),
            SpecialTokens = special,
            PreTokenizer = new Microsoft.ML.Tokenizers.RegexPreTokenizer(new Regex(d.SplitPatterns[0], RegexOptions.Compiled), special),
            ByteLevel = true,
        };
        return MlBpe.Create(options);
    }

    static List<string> LoadTexts(string dataDir)
    {
        var texts = new List<string>();
        foreach (var line in File.ReadLines(Path.Combine(dataDir, "gsm8k/test.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            texts.Add(doc.RootElement.GetProperty("instruction").GetString()!);
            texts.Add(doc.RootElement.GetProperty("output").GetString()!);
        }
        foreach (var line in File.ReadLines(Path.Combine(dataDir, "math500/test.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            texts.Add(doc.RootElement.GetProperty("question").GetString()!);
            texts.Add(doc.RootElement.GetProperty("answer").GetString()!);
        }
        return texts;
    }

    static string? FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir != null; dir = dir.Parent)
        {
            string candidate = Path.GetFullPath(Path.Combine(dir.FullName, relative));
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}
