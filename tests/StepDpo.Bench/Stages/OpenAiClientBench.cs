using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Records;
using StepDpo.Stages.Sampling;

namespace StepDpo.Bench.Stages;

/// <summary>Overhead of the sampling path itself (HTTP client, retries, JSONL store, remote sampler) against an instant
/// loopback completions server that fails 5% of the calls with HTTP 500 and 2% by dropping the connection:
/// what is left once the model costs nothing.</summary>
public static class OpenAiClientBench
{
    public static async Task<int> RunAsync(int problems)
    {
        const int n = 4;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var app = builder.Build();
        var calls = 0;
        app.MapPost("/v1/completions", async ctx =>
        {
            var call = Interlocked.Increment(ref calls);
            var body = (await JsonNode.ParseAsync(ctx.Request.Body))!;
            if (call % 20 == 7) { ctx.Response.StatusCode = 500; return; }
            if (call % 50 == 13) { ctx.Abort(); return; }
            var choices = new JsonArray();
            for (var i = 0; i < body["n"]!.GetValue<int>(); i++)
                choices.Add(new JsonObject { ["index"] = i, ["text"] = $"Step 2: {body["seed"]} {i}. The answer is 4.", ["finish_reason"] = "stop" });
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync(new JsonObject { ["object"] = "text_completion", ["choices"] = choices }.ToJsonString());
        });
        await app.StartAsync();
        var baseUrl = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

        var dir = Directory.CreateTempSubdirectory("stepdpo-bench-");
        try
        {
            // The stages' path: a RemoteSampler asks for each prompt's n samples in one request, 16 in flight, and
            // every chunk of answers is appended to the record store.
            using var sampler = new RemoteSampler(new OpenAiCompletionsBackend(new OpenAiOptions
            {
                BaseUrl = baseUrl, Model = "bench", MaxConcurrency = 16, RequestTimeout = TimeSpan.FromSeconds(10),
                InitialBackoff = TimeSpan.FromMilliseconds(2), MaxBackoff = TimeSpan.FromMilliseconds(20), JitterSeed = 1,
            }), concurrency: 16);
            var path = Path.Combine(dir.FullName, "samples.jsonl");
            using var store = JsonlRecordStore<Row>.Open(path, r => r.Key);
            var pool = Enumerable.Range(0, problems).Select(i => new SamplePrompt($"q{i}", $"Problem {i}: 2 + 2 = ?\nStep 1: ")).ToArray();
            var p = new SampleParams(n, 0.8, 0.95, 256, [], 42);
            var clock = Stopwatch.StartNew();
            foreach (var chunk in pool.Chunk(sampler.PreferredChunk))
            {
                var outputs = await sampler.SampleAsync(chunk, p, null, CancellationToken.None);
                store.AppendBatch(chunk.SelectMany((q, i) => outputs[i].Select((text, j) => new Row(SampleKey.Of(q.Id, j), text))).ToList());
            }
            var seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"one request per problem (n={n}): {store.Count} samples in {seconds:0.00} s = {store.Count / seconds:0} samples/s; " +
                $"file {new FileInfo(path).Length / 1024} KiB");
        }
        finally { dir.Delete(recursive: true); }
        return 0;
    }

    sealed record Row(string Key, string Text);
}
