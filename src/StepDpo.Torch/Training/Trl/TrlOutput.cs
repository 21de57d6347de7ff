using System.Diagnostics;
using System.Text.Json;
using StepDpo.Core;

namespace StepDpo.Torch.Training.Trl;

/// <summary>
/// What a finished TRL job left in output/ (trainer.save_model + save_state): an HF checkpoint (config.json, safetensors
/// weights, tokenizer files) and trainer_state.json. <see cref="Import"/> makes it the stage's final/ and turns the
/// state's log_history into metrics.jsonl / metrics.csv. TRL logs under the names our trainer uses (loss,
/// rewards/chosen, ..., grad_norm, learning_rate; eval_ for evaluations), so the rows keep their names; the closing
/// summary row (train_runtime, train_loss, ...) becomes <see cref="TrlImport.Summary"/>.
/// </summary>
public static class TrlOutput
{
    public const string StateFile = "trainer_state.json";
    /// <summary>Files of output/ that are the job's bookkeeping, not the model.</summary>
    static readonly HashSet<string> NotModel = [StateFile, "training_args.bin", "all_results.json", "train_results.json", "eval_results.json"];

    /// <summary>Why <paramref name="output"/> is not a finished job's output, or null when it is.</summary>
    public static string? Incomplete(string output)
    {
        if (!Directory.Exists(output)) return "no output/ folder";
        if (!File.Exists(Path.Combine(output, "config.json"))) return "no config.json (the model was not saved)";
        if (!File.Exists(Path.Combine(output, StateFile))) return $"no {StateFile} (training did not finish)";
        string index = Path.Combine(output, "model.safetensors.index.json");
        if (File.Exists(index))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(index));
            var missing = doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!)
                .Distinct().Where(shard => !File.Exists(Path.Combine(output, shard))).ToList();
            return missing.Count == 0 ? null : $"weight shards missing: {string.Join(", ", missing.Take(3))}";
        }
        return File.Exists(Path.Combine(output, "model.safetensors")) ? null : "no model.safetensors (or index)";
    }

    public static TrlImport Import(string output, string final, string metricsDirectory)
    {
        if (Incomplete(output) is { } why) throw new StepDpoException($"train.backend trl: {output} is not a finished job: {why}");
        string statePath = Path.Combine(output, StateFile);
        var (rows, summary) = ReadLogHistory(statePath);
        var trainNames = rows.SelectMany(r => r.Keys).Where(k => !k.StartsWith("eval_") && k is not ("step" or "epoch")).Distinct().ToList();
        var evalNames = rows.SelectMany(r => r.Keys).Where(k => k.StartsWith("eval_")).Distinct().ToList();
        var log = new MetricsLog(metricsDirectory, trainNames, evalNames, resumeStep: 0);
        foreach (var row in rows)
            log.Append(new StepMetrics((int)row["step"], 0, row.GetValueOrDefault("epoch"),
                row.Where(kv => kv.Key is not ("step" or "epoch")).ToDictionary(kv => kv.Key, kv => kv.Value), TimeSpan.Zero, TimeSpan.Zero));

        string staging = final + ".partial";
        if (Directory.Exists(staging)) Directory.Delete(staging, true);
        Directory.CreateDirectory(staging);
        foreach (var file in Directory.GetFiles(output).Where(f => !NotModel.Contains(Path.GetFileName(f))))
            File.Move(file, Path.Combine(staging, Path.GetFileName(file)));
        if (Directory.Exists(final)) Directory.Delete(final, true);
        Directory.Move(staging, final);
        var last = rows.LastOrDefault(r => r.ContainsKey("loss"));
        return new TrlImport(rows.Count == 0 ? 0 : (int)rows.Max(r => r["step"]), summary,
            last?.Where(kv => kv.Key is not ("step" or "epoch")).ToDictionary(kv => kv.Key, kv => kv.Value));
    }

    /// <summary>The numeric rows of trainer_state.json's log_history, each with its step, and the closing summary.</summary>
    public static (List<Dictionary<string, double>> Rows, Dictionary<string, double> Summary) ReadLogHistory(string statePath)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(statePath)); }
        catch (JsonException e) { throw new StepDpoException($"{statePath}: not valid JSON ({e.Message})"); }
        using var _ = doc;
        if (!doc.RootElement.TryGetProperty("log_history", out var history) || history.ValueKind != JsonValueKind.Array)
            throw new StepDpoException($"{statePath}: no log_history array");
        var rows = new List<Dictionary<string, double>>();
        var summary = new Dictionary<string, double>();
        int i = 0;
        foreach (var entry in history.EnumerateArray())
        {
            i++;
            var values = entry.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Number)
                .ToDictionary(p => p.Name, p => p.Value.GetDouble());
            if (!values.ContainsKey("step")) throw new StepDpoException($"{statePath}: log_history[{i - 1}] has no step");
            if (values.ContainsKey("train_runtime")) { foreach (var (k, v) in values) summary[k] = v; continue; }
            rows.Add(values);
        }
        return (rows, summary);
    }

    /// <summary>Whether the launcher is on PATH.</summary>
    public static bool LauncherAvailable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Any(d => d.Length > 0 && File.Exists(Path.Combine(d, TrlExport.Launcher)));

    /// <summary>Runs launch.sh when the launcher is on PATH; every output line is redacted (<see cref="Secrets"/>),
    /// appended to <paramref name="logFile"/> and passed to <paramref name="output"/>. Returns the exit code, or null when
    /// the launcher is missing (the files stay for a GPU machine).</summary>
    public static int? RunIfAvailable(TrlLaunch launch, string logFile, Action<string>? output = null, CancellationToken ct = default)
    {
        if (!LauncherAvailable()) return null;
        var psi = new ProcessStartInfo("sh", "launch.sh") { WorkingDirectory = launch.Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        using var log = new StreamWriter(logFile, append: true) { AutoFlush = true };
        void Line(string? text)
        {
            if (text is null) return;
            text = Secrets.Redact(text);
            lock (log) log.WriteLine(text);
            output?.Invoke(text);
        }
        using var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => Line(e.Data);
        process.BeginOutputReadLine(); process.BeginErrorReadLine();
        using var reg = ct.Register(() => { try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } });
        process.WaitForExit();
        ct.ThrowIfCancellationRequested();
        return process.ExitCode;
    }
}

/// <summary>What an import found: the last logged step, the closing summary (train_runtime, train_loss, ...) and the
/// last training row's values (null when none was logged).</summary>
public sealed record TrlImport(int Steps, IReadOnlyDictionary<string, double> Summary, IReadOnlyDictionary<string, double>? LastTrainRow);
