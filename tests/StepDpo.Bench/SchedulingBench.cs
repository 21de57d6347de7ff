using System.Diagnostics;
using System.Globalization;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Models;
using StepDpo.Stages.Records;
using StepDpo.Torch.Generation;
using static TorchSharp.torch;

namespace StepDpo.Bench;

/// <summary>
/// The pairs stage's generation (rectification: N continuations of every located error, from the question and the
/// solution up to the wrong step) with a real model and the verify stage's real records, scheduled two ways in one run:
/// static batches of <c>batch</c> sequences per engine call (the default: a batch ends with its longest sequence, finished
/// rows leave at once, every prompt prefilled alone) and continuous batching over calls of 8 batches' worth (a finished
/// sequence's slot goes to a waiting prompt, shared prefixes prefilled once). Same prompts, seeds and sampling; the
/// rounds alternate the two. Prints generated tokens per second of each and the ratio.
/// Run: dotnet run -c Release --project tests/StepDpo.Bench -- scheduling --model SFT_MODEL_DIR --verified VERIFIED_JSONL
///   [--batch 64] [--samples 4] [--max-new 128] [--temperature 0.8] [--top-p 0.95] [--template plain] [--rounds 2] [--threads 1]
/// (defaults: tiny.yaml's pairs stage; the folders come from `stepdpo plan -e tiny-ci --json` after `run --until verify`).
/// </summary>
public static class SchedulingBench
{
    public static int Run(string[] args)
    {
        string Option(string name, string? fallback = null) =>
            Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1]
            : fallback ?? throw new ArgumentException($"scheduling: {name} is required");
        int Int(string name, int fallback) => int.Parse(Option(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        double Real(string name, double fallback) => double.Parse(Option(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        int batch = Int("--batch", 64), samples = Int("--samples", 4), maxNew = Int("--max-new", 128), rounds = Int("--rounds", 2);
        double temperature = Real("--temperature", 0.8), topP = Real("--top-p", 0.95);
        string template = Option("--template", "plain");
        set_num_threads(Int("--threads", 1));

        var located = PipelineStage.ReadJsonl<VerifiedRecord>(Option("--verified")).Where(v => v.FirstWrongStep is not null).ToList();
        var prompts = located.Select(v => PairsStage.RectificationPrompt(v, template)).ToList();
        var seeds = located.Select(v => (ulong)SeedDerivation.Derive(7, v.Id, 0)).ToList();
        var (model, tokenizer) = ModelStore.Load(Option("--model"), "bfloat16", "cpu");
        var engine = new GenerationEngine(model, tokenizer);
        Console.WriteLine($"rectification of {prompts.Count} located errors x {samples} samples, up to {maxNew} new tokens, " +
                          $"temperature {temperature}, top_p {topP}, batch {batch}; {get_num_threads()} threads; load {LoadAverage()}");

        var modes = new[] { ("static batches (the default)", false, batch), ("continuous batching", true, batch * 8) };
        var seconds = new double[modes.Length];
        var tokens = new long[modes.Length];
        for (int round = 0; round < rounds; round++)
            for (int m = 0; m < modes.Length; m++)
            {
                var (_, continuous, chunk) = modes[m];
                var clock = Stopwatch.StartNew();
                foreach (var part in Enumerable.Range(0, prompts.Count).Chunk(Math.Max(1, chunk / samples)))
                {
                    var options = new SamplingOptions
                    {
                        N = samples, Temperature = temperature, TopP = topP, MaxNewTokens = maxNew, MaxBatchSize = Math.Max(batch, samples),
                        PromptSeeds = part.Select(i => seeds[i]).ToArray(), ContinuousBatching = continuous,
                    };
                    tokens[m] += engine.Generate(part.Select(i => prompts[i]).ToList(), options).Sum(c => (long)c.TokenIds.Length);
                }
                seconds[m] += clock.Elapsed.TotalSeconds;
            }
        Console.WriteLine();
        Console.WriteLine("| scheduling | generated tokens (all rounds) | seconds | tokens/s |");
        Console.WriteLine("|---|---:|---:|---:|");
        for (int m = 0; m < modes.Length; m++)
            Console.WriteLine($"| {modes[m].Item1} | {tokens[m]} | {seconds[m]:F1} | {tokens[m] / seconds[m]:F0} |");
        Console.WriteLine($"continuous / static: {tokens[1] / seconds[1] / (tokens[0] / seconds[0]):F2}; load {LoadAverage()}");
        model.Dispose();
        return 0;
    }

    static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
