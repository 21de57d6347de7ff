using System.ComponentModel;
using System.Net;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Stages.Models;
using StepDpo.Stages.Serving;

namespace StepDpo.Cli.Commands;

/// <summary>`stepdpo serve MODEL_DIR`: the local engine behind an OpenAI-compatible API (/v1/completions,
/// /v1/chat/completions, /v1/models), taking vLLM's flags, so it stands in for `vllm serve` where vLLM does not run
/// (no GPU), including as the server a stage starts with backend vllm (serve.command: [dotnet, stepdpo.dll, serve]).</summary>
public sealed class ServeCommand : AsyncCommand<ServeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<MODEL_DIR>")] [Description("folder with config.json, safetensors and tokenizer.json")]
        public string Model { get; init; } = "";

        [CommandOption("--served-model-name <NAME>")] [Description("the name clients ask for (default: MODEL_DIR, as vLLM)")]
        public string? ServedModelName { get; init; }

        [CommandOption("--host <HOST>")] [Description("address to listen on (default 127.0.0.1: this machine only)")]
        public string Host { get; init; } = "127.0.0.1";

        [CommandOption("--port <PORT>")] [Description("0 picks a free port")]
        public int Port { get; init; } = 8000;

        [CommandOption("--dtype <DTYPE>")] [Description("auto (config.json's torch_dtype), float32, bfloat16 or float16")]
        public string DType { get; init; } = "auto";

        [CommandOption("--device <DEVICE>")] [Description("auto (a GPU when there is one), cpu, cuda or cuda:N")]
        public string Device { get; init; } = "auto";

        [CommandOption("--max-model-len <N>")] [Description("longest prompt + completion in tokens (default: max_position_embeddings)")]
        public int? MaxModelLen { get; init; }

        [CommandOption("--api-key <KEY>")] [Description("require 'Authorization: Bearer KEY' (default: $VLLM_API_KEY, else none)")]
        public string? ApiKey { get; init; }

        [CommandOption("--tensor-parallel-size <N>")] [Description("accepted for vLLM compatibility; the local engine runs on one device (1)")]
        public int TensorParallelSize { get; init; } = 1;

        [CommandOption("--max-num-seqs <N>")] [Description("most sequences decoded together (requests that arrive together are batched)")]
        public int MaxNumSeqs { get; init; } = 64;

        [CommandOption("--seed <N>")] [Description("seed of requests that bring none")]
        public long Seed { get; init; }

        public override ValidationResult Validate()
        {
            if (TensorParallelSize != 1) return ValidationResult.Error($"--tensor-parallel-size {TensorParallelSize}: the local engine runs on one device (1)");
            if (Port is < 0 or > 65535) return ValidationResult.Error($"--port {Port} is not a port");
            if (MaxNumSeqs < 1) return ValidationResult.Error("--max-num-seqs must be at least 1");
            if (MaxModelLen is < 2) return ValidationResult.Error("--max-model-len must be at least 2");
            if (!IPAddress.TryParse(Host == "localhost" ? "127.0.0.1" : Host, out _)) return ValidationResult.Error($"--host {Host}: give an IP address (e.g. 127.0.0.1 or 0.0.0.0)");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken ct)
    {
        // vLLM has many more flags; one this engine does not know is refused rather than silently ignored.
        var unknown = context.Remaining.Parsed.Select(g => "--" + g.Key).Concat(context.Remaining.Raw).ToList();
        if (unknown.Count > 0)
            throw new UserError($"stepdpo serve does not know {string.Join(' ', unknown)} (see stepdpo serve --help)");
        if (!Directory.Exists(settings.Model)) throw new UserError($"{settings.Model}: model folder not found");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (model, tokenizer) = ModelStore.Load(settings.Model, DType(settings), settings.Device);
        using var _ = model;
        using var backend = new EngineBackend(model, tokenizer, settings.MaxNumSeqs, settings.MaxModelLen, settings.Seed);
        string name = settings.ServedModelName ?? settings.Model;
        var apiKey = settings.ApiKey ?? Environment.GetEnvironmentVariable("VLLM_API_KEY");
        var options = new ServeOptions(name, Root: settings.Model, MaxModelLen: backend.MaxModelLen,
            ApiKey: string.IsNullOrEmpty(apiKey) ? null : apiKey, Chat: ChatTemplate.Load(settings.Model));
        var address = IPAddress.Parse(settings.Host == "localhost" ? "127.0.0.1" : settings.Host);
        await using var server = await CompletionsServer.StartAsync(backend, options, address, settings.Port, ct);
        // One line a launcher can wait for; the key is never printed.
        Console.Out.WriteLine($"stepdpo serve: '{name}' at {server.BaseUrl} (chat template {options.Chat!.Name}, max model len {backend.MaxModelLen}, " +
            $"{(options.ApiKey is null ? "no api key" : "api key required")}) ready in {clock.Elapsed.TotalSeconds:F1} s");
        try { await server.WaitForShutdownAsync(ct); }
        catch (OperationCanceledException) { }
        Console.Out.WriteLine("stepdpo serve: stopped");
        return 0;
    }

    /// <summary>auto: the checkpoint's own dtype (config.json torch_dtype), float32 when it names none.</summary>
    static string DType(Settings s)
    {
        if (s.DType != "auto") return s.DType;
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(s.Model, "config.json")));
        return config?["torch_dtype"]?.GetValue<string>() ?? config?["dtype"]?.GetValue<string>() ?? "float32";
    }
}
