using System.Diagnostics;
using System.Globalization;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace StepDpo.Build;

/// <summary>
/// Runs the stepdpo tool once, out of process, up to one stage (`stepdpo run --until STAGE --log-format msbuild`): the
/// whole graph a build asks for in one process. Streams its progress into the MSBuild log, reports each stage as it
/// starts, is skipped (cached, disabled) or completes, and returns the evaluation metrics as task outputs (items with
/// Value and Stage metadata) so a build can gate on them.
/// </summary>
public sealed class StepDpoStage : Microsoft.Build.Utilities.Task
{
    /// <summary>Stage to run up to (sft, sample, verify, pairs, train, evaluate, report); empty: every stage.</summary>
    public string Stage { get; set; } = "";
    [Required] public string Experiment { get; set; } = "";
    /// <summary>How to start the tool, e.g. `dotnet stepdpo` (local tool) or `dotnet path/to/stepdpo.dll`.</summary>
    [Required] public string ToolCommand { get; set; } = "";
    /// <summary>Extra arguments passed through: --set k=v, --force STAGE.</summary>
    public string Arguments { get; set; } = "";
    public string WorkingDirectory { get; set; } = "";

    [Output] public ITaskItem[] Metrics { get; private set; } = Array.Empty<ITaskItem>();
    [Output] public ITaskItem[] Stages { get; private set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        var (file, prefix) = SplitCommand(ToolCommand);
        string until = Stage == "" ? "" : $" --until {Stage}";
        var psi = new ProcessStartInfo(file, $"{prefix} run --experiment \"{Experiment}\"{until} --log-format msbuild {Arguments}".Trim())
        {
            WorkingDirectory = WorkingDirectory == "" ? Directory.GetCurrentDirectory() : WorkingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["CI"] = Environment.GetEnvironmentVariable("CI") ?? "msbuild"; // no live terminal widgets
        Log.LogMessage(MessageImportance.Normal, $"{psi.FileName} {psi.Arguments}");
        var metrics = new List<ITaskItem>();
        var stages = new List<ITaskItem>();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (metrics) OnLine(e.Data, metrics, stages); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (string.IsNullOrWhiteSpace(e.Data)) return;
            if (e.Data.StartsWith("error:") || e.Data.StartsWith("internal error")) Log.LogError($"{(Stage == "" ? "stepdpo" : Stage)}: {e.Data}");
            else Log.LogMessage(MessageImportance.High, e.Data);
        };
        try
        {
            process.Start();
        }
        catch (Exception e)
        {
            Log.LogError($"could not start the stepdpo tool ({ToolCommand}): {e.Message}. Restore it with `dotnet tool restore`.");
            return false;
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.WaitForExit();
        Metrics = metrics.ToArray();
        Stages = stages.ToArray();
        if (process.ExitCode != 0 && !Log.HasLoggedErrors)
            Log.LogError($"stepdpo exited with code {process.ExitCode} while running {(Stage == "" ? "every stage" : $"up to '{Stage}'")} of '{Experiment}'");
        return process.ExitCode == 0 && !Log.HasLoggedErrors;
    }

    /// <summary>The stage whose event came last: the metric lines after it are its metrics.</summary>
    string? current;

    void OnLine(string line, List<ITaskItem> metrics, List<ITaskItem> stages)
    {
        const string tag = "stepdpo: ";
        if (!line.StartsWith(tag))
        {
            Log.LogMessage(MessageImportance.High, line);
            return;
        }
        string body = line.Substring(tag.Length);
        if (body.StartsWith("metric "))
        {
            int eq = body.IndexOf('=');
            var item = new TaskItem(body.Substring(7, eq - 7));
            item.SetMetadata("Value", body.Substring(eq + 1));
            item.SetMetadata("Stage", current ?? "");
            metrics.RemoveAll(m => m.ItemSpec == item.ItemSpec);
            metrics.Add(item);
            return;
        }
        var fields = ParseFields(body);
        fields.TryGetValue("stage", out var stage);
        fields.TryGetValue("status", out var status);
        fields.TryGetValue("dir", out var dir);
        fields.TryGetValue("message", out var message);
        current = stage;
        switch (status)
        {
            case "cached":
                Log.LogMessage(MessageImportance.High, $"  {stage,-9} skipped (cached) {dir}");
                break;
            case "disabled":
                Log.LogMessage(MessageImportance.High, $"  {stage,-9} skipped: {message}");
                break;
            case "started":
                Log.LogMessage(MessageImportance.High, $"  {stage,-9} running");
                break;
            case "completed":
                Log.LogMessage(MessageImportance.High, $"  {stage,-9} {message} -> {dir}");
                break;
            case "failed":
                Log.LogMessage(MessageImportance.High, $"  {stage,-9} failed: {message}");
                break;
        }
        if (stage is not null && status is "cached" or "completed" or "disabled")
        {
            var item = new TaskItem(stage);
            item.SetMetadata("Status", status);
            item.SetMetadata("Dir", dir ?? "");
            stages.Add(item);
        }
    }

    /// <summary>`stage=a status=b dir=/x y message=free text`: message is last and takes the rest of the line.</summary>
    public static Dictionary<string, string> ParseFields(string body)
    {
        var result = new Dictionary<string, string>();
        int messageAt = body.IndexOf(" message=", StringComparison.Ordinal);
        string head = messageAt >= 0 ? body.Substring(0, messageAt) : body;
        if (messageAt >= 0) result["message"] = body.Substring(messageAt + 9);
        int dirAt = head.IndexOf(" dir=", StringComparison.Ordinal);
        if (dirAt >= 0) { result["dir"] = head.Substring(dirAt + 5); head = head.Substring(0, dirAt); }
        foreach (var part in head.Split(' '))
        {
            int eq = part.IndexOf('=');
            if (eq > 0) result[part.Substring(0, eq)] = part.Substring(eq + 1);
        }
        return result;
    }

    static (string File, string Prefix) SplitCommand(string command)
    {
        command = command.Trim();
        int space = command.IndexOf(' ');
        return space < 0 ? (command, "") : (command.Substring(0, space), command.Substring(space + 1));
    }
}

/// <summary>Fails the build when a metric misses its threshold; used by consumers that gate in MSBuild.</summary>
public sealed class StepDpoGate : Microsoft.Build.Utilities.Task
{
    [Required] public ITaskItem[] Metrics { get; set; } = Array.Empty<ITaskItem>();
    /// <summary>Items named by metric with Min and/or Max metadata.</summary>
    [Required] public ITaskItem[] Thresholds { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        var values = Metrics.ToDictionary(m => m.ItemSpec, m => double.Parse(m.GetMetadata("Value"), CultureInfo.InvariantCulture));
        foreach (var t in Thresholds)
        {
            if (!values.TryGetValue(t.ItemSpec, out double v)) { Log.LogError($"metric {t.ItemSpec} was not produced"); continue; }
            string min = t.GetMetadata("Min"), max = t.GetMetadata("Max");
            if (min != "" && v < double.Parse(min, CultureInfo.InvariantCulture)) Log.LogError($"{t.ItemSpec} = {v:G4} is below {min}");
            else if (max != "" && v > double.Parse(max, CultureInfo.InvariantCulture)) Log.LogError($"{t.ItemSpec} = {v:G4} is above {max}");
            else Log.LogMessage(MessageImportance.High, $"{t.ItemSpec} = {v:G4} ok");
        }
        return !Log.HasLoggedErrors;
    }
}
