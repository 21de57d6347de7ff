using System.Text.Json;

namespace StepDpo.Data.Hub;

/// <summary>What of a repository a stage needs (<see cref="Choose"/> over the Hub's file list) and when a snapshot on
/// disk is whole (<see cref="Complete"/>), which is what lets a cached snapshot be used without asking the Hub.</summary>
public sealed record HubSelection(string What, Func<IReadOnlyList<string>, IReadOnlyList<string>> Choose, Func<string, bool> Complete)
{
    static readonly string[] ModelExtensions = [".json", ".safetensors", ".txt", ".model", ".tiktoken", ".jinja"];

    /// <summary>An HF checkpoint: configs, safetensors weights and tokenizer files (not original/ or .bin copies).</summary>
    public static readonly HubSelection Model = new("model checkpoint (config.json, safetensors weights, tokenizer)",
        files => files.Where(f => !f.StartsWith("original/") && ModelExtensions.Any(e => f.EndsWith(e, StringComparison.OrdinalIgnoreCase))).ToList(),
        IsCheckpoint);

    /// <summary>A data set's rows: its parquet files (as the Hub serves data sets), else its JSONL, else its JSON files;
    /// the train split's files when the names say which those are.</summary>
    public static readonly HubSelection Dataset = new("data files (.parquet, .jsonl or .json)", ChooseData,
        dir => DataFiles(dir).Count > 0);

    public static bool IsCheckpoint(string dir)
    {
        if (!File.Exists(Path.Combine(dir, "config.json"))) return false;
        if (!File.Exists(Path.Combine(dir, "tokenizer.json")) && !File.Exists(Path.Combine(dir, "tokenizer_config.json"))) return false;
        string index = Path.Combine(dir, "model.safetensors.index.json");
        if (!File.Exists(index)) return File.Exists(Path.Combine(dir, "model.safetensors"));
        using var doc = JsonDocument.Parse(File.ReadAllText(index));
        return doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct()
            .All(shard => File.Exists(Path.Combine(dir, shard)));
    }

    static IReadOnlyList<string> ChooseData(IReadOnlyList<string> files)
    {
        foreach (var ext in new[] { ".parquet", ".jsonl", ".json" })
        {
            var data = files.Where(f => f.EndsWith(ext, StringComparison.OrdinalIgnoreCase)
                                        && !Path.GetFileName(f).StartsWith("dataset_info", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
            if (data.Count == 0) continue;
            var train = data.Where(f => f.Contains("train", StringComparison.OrdinalIgnoreCase)).ToList();
            return train.Count > 0 ? train : data;
        }
        return [];
    }

    /// <summary>The data files of a snapshot folder, in a fixed order (paths relative to it, '/'-separated).</summary>
    public static IReadOnlyList<string> DataFiles(string dir) =>
        !Directory.Exists(dir) ? [] : ChooseData(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(dir, f).Replace('\\', '/')).ToList());
}
