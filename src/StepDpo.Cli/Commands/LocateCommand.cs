using System.ComponentModel;
using System.Text.Json;
using Spectre.Console.Cli;
using StepDpo.Core.Graph;
using StepDpo.Data;
using StepDpo.Stages;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Locate;

namespace StepDpo.Cli.Commands;

/// <summary>
/// `stepdpo locate`: how good a first-error locator is. With --samples, Monte Carlo localisation on real sampled
/// solutions scored against their per-step labels (binary search, galloping, linear scan; no model runs: the files'
/// recorded rollout estimates are asked). Otherwise the experiment's verify stage, scored against the exact step
/// checker of its world (locate.json, written when verify ran with rollout or judge on the synthetic world).
/// </summary>
public sealed class LocateCommand : AsyncCommand<LocateCommand.Settings>
{
    public sealed class Settings : ExperimentSettings
    {
        [CommandOption("--samples <PATH>"), Description("sampled solutions with step labels (*-math-responses.jsonl, a file or a folder; repeatable)")]
        public string[] Samples { get; set; } = [];

        [CommandOption("--rollouts <M>"), Description("rollouts per prefix behind the files' estimates (their step_s_label is in eighths)"), DefaultValue(8)]
        public int Rollouts { get; set; } = 8;

        [CommandOption("--out <FILE>"), Description("also write the scores as JSON")]
        public string? Out { get; set; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken ct)
    {
        if (settings.Rollouts < 1) throw new UserError($"--rollouts must be >= 1, got {settings.Rollouts}");
        object result = settings.Samples.Length > 0 ? await FromSamples(settings, ct) : FromExperiment(settings);
        if (settings.Out is { } path)
            File.WriteAllText(path, JsonSerializer.Serialize(result, new JsonSerializerOptions(PipelineStage.Json) { WriteIndented = true }));
        return 0;
    }

    static async Task<List<SampleFileScores>> FromSamples(Settings settings, CancellationToken ct)
    {
        var files = settings.Samples.SelectMany<string, string>(p => Directory.Exists(p) ? Directory.GetFiles(p, "*.jsonl").Order(StringComparer.Ordinal)
            : File.Exists(p) ? [p] : throw new UserError($"--samples {p}: no such file or folder")).ToList();
        var scores = new List<SampleFileScores>();
        foreach (var file in files)
        {
            var problems = SampleFile.Read(file).ToList();
            scores.Add(await SampleFileLocate.ScoreAsync(Path.GetFileName(file), problems, settings.Rollouts, ct));
            Print(scores[^1]);
        }
        if (files.Count > 1)
        {
            var all = files.SelectMany(SampleFile.Read).ToList();
            scores.Add(await SampleFileLocate.ScoreAsync("all files", all, settings.Rollouts, ct));
            Print(scores[^1]);
        }
        return scores;
    }

    static void Print(SampleFileScores s)
    {
        Console.WriteLine($"## {s.Source}: {s.Responses} responses, {s.Responses - s.Unscored} scored against step_labels");
        Console.WriteLine();
        Console.WriteLine(LocateTable.Markdown(s.Rows));
    }

    static LocateFile FromExperiment(Settings settings)
    {
        var resolved = settings.Load();
        var verify = Pipeline.Graph(settings.Workspace()).Plan(resolved, "verify").Stages.First(s => s.Name == "verify");
        var m = resolved.Manifest;
        if (m.Verify.Method is not ("rollout" or "judge") || m.Data.Source != "synthetic")
            throw new UserError($"{m.Name}: verify.method is '{m.Verify.Method}' on data.source '{m.Data.Source}'; locate scores rollout or " +
                                "judge against the exact checker of the synthetic world. For real samples with step labels: --samples PATH");
        if (verify is not { Status: StageStatus.Cached, Dir: { } dir })
            throw new UserError($"{m.Name}: the verify stage is {verify.Status.ToString().ToLowerInvariant()}; run `dotnet stepdpo verify -e {m.Name}` first");
        string path = Path.Combine(dir, ExactCheckerEvaluation.FileName);
        var file = JsonSerializer.Deserialize<LocateFile>(File.ReadAllText(path), PipelineStage.Json)
                   ?? throw new UserError($"{path}: empty");
        Console.WriteLine($"## {m.Name}: verify ({m.Verify.Method}) against the exact step checker, {file.Solutions} sampled solutions");
        Console.WriteLine();
        Console.WriteLine(LocateTable.Markdown(file.Rows));
        return file;
    }
}
