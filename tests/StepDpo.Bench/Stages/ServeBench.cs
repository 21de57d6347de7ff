using System.Diagnostics;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Models;
using StepDpo.Stages.Serving;
using StepDpo.Torch.Generation;

namespace StepDpo.Bench.Stages;

/// <summary>`stepdpo serve` as a stage runs it (a real process started by <see cref="ManagedServer"/>): start-to-ready
/// time, then requests/s and tokens/s at concurrency 1 and 16, against the baseline of the same engine called in
/// process with every prompt in one batch.</summary>
public static class ServeBench
{
    /// <param name="args">[path to stepdpo.dll, or - for the built one] [preset: tiny|mini] [requests] [max tokens]</param>
    public static async Task<int> RunAsync(string[] args)
    {
        string dll = args.Length > 0 && args[0] is not ("" or "-") ? Path.GetFullPath(args[0]) : FindTool();
        string preset = args.Length > 1 ? args[1] : "tiny";
        int requests = args.Length > 2 ? int.Parse(args[2]) : 64;
        int maxTokens = args.Length > 3 ? int.Parse(args[3]) : 64;
        var work = Directory.CreateTempSubdirectory("stepdpo-serve-bench-").FullName;
        try
        {
            var modelDir = Path.Combine(work, "model");
            ModelStore.CreateRandom(new ModelInit { Arch = "qwen2", Preset = preset, Tokenizer = "byte" }, 3, modelDir, "float32");
            var prompts = Enumerable.Range(0, requests).Select(i => $"Ann has {i % 9 + 1} apples. She buys {i % 7 + 2} more. How many apples does she have?\n").ToList();
            Console.WriteLine($"stepdpo serve, {preset} model (float32), {requests} requests of {maxTokens} new tokens, greedy; STEPDPO_THREADS={Environment.GetEnvironmentVariable("STEPDPO_THREADS") ?? "(unset)"}");

            // Baseline: the engine in this process, all prompts in one batch (no HTTP, no process).
            var (model, tokenizer) = ModelStore.Load(modelDir, "float32", "cpu");
            var clock = Stopwatch.StartNew();
            var direct = new GenerationEngine(model, tokenizer).Generate(prompts, new SamplingOptions { Temperature = 0, MaxNewTokens = maxTokens, MaxBatchSize = 64 });
            double directSeconds = clock.Elapsed.TotalSeconds;
            long directTokens = direct.Sum(c => (long)c.TokenIds.Length);
            model.Dispose();
            Console.WriteLine($"  in process, one batch:   {requests / directSeconds,8:F1} req/s {directTokens / directSeconds,9:F0} tokens/s (baseline)");

            var ready = new List<double>();
            for (int run = 0; run < 3; run++)
            {
                var launch = ServerLaunch.For("vllm", new ServeSection { Command = ["dotnet", dll, "serve"] }, modelDir, "bench", "float32", ServerLaunch.FreePort());
                clock.Restart();
                using var server = await ManagedServer.StartAsync(launch, Path.Combine(work, $"server-{run}.log"), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30), CancellationToken.None);
                ready.Add(clock.Elapsed.TotalSeconds);
                if (run < 2) continue;
                Console.WriteLine($"  start to ready:          {string.Join(", ", ready.Select(s => $"{s:F2} s"))} (process start until /v1/models lists the model)");
                foreach (int concurrency in new[] { 1, 16 })
                {
                    using var client = new OpenAiCompletionsBackend(new OpenAiOptions
                    {
                        BaseUrl = server.BaseUrl, Model = "bench", MaxConcurrency = concurrency, RequestTimeout = TimeSpan.FromMinutes(10), MaxAttempts = 1,
                    });
                    clock.Restart();
                    var answers = await Task.WhenAll(prompts.Select((p, i) => client.CompleteAsync(new CompletionRequest(p, 1, 0, 1, maxTokens, [], i), CancellationToken.None)));
                    double seconds = clock.Elapsed.TotalSeconds;
                    bool same = answers.Select(a => a[0].Text).SequenceEqual(direct.Select(c => c.Text));
                    Console.WriteLine($"  served, concurrency {concurrency,2}:  {requests / seconds,8:F1} req/s {client.Stats.CompletionTokens / seconds,9:F0} tokens/s " +
                        $"({directSeconds / seconds:P0} of the baseline's speed; greedy texts {(same ? "equal" : "DIFFER from")} the baseline's)");
                }
            }
            return 0;
        }
        finally { Directory.Delete(work, recursive: true); }
    }

    static string FindTool()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var dll = Path.Combine(d.FullName, "src", "StepDpo.Cli", "bin", "Release", "net10.0", "stepdpo.dll");
            if (File.Exists(dll)) return dll;
        }
        throw new FileNotFoundException("stepdpo.dll not found: build src/StepDpo.Cli -c Release or pass its path");
    }
}
