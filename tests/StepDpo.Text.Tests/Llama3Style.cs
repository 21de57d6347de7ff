using System.IO.Compression;
using System.Text.Json.Nodes;

namespace StepDpo.Text.Tests;

/// <summary>Rewrites Qwen's tokenizer.json with Llama-3's pre-tokenizer settings (mirrors make-fixtures.mjs).</summary>
static class Llama3Style
{
    public static void Write(string qwenJsonGz, string outputPath)
    {
        using var gz = new GZipStream(File.OpenRead(qwenJsonGz), CompressionMode.Decompress);
        var root = JsonNode.Parse(gz)!.AsObject();
        root["normalizer"] = null;
        var pattern = root["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!.AsObject();
        pattern["Regex"] = pattern["Regex"]!.GetValue<string>().Replace(@"|\p{N}|", @"|\p{N}{1,3}|");
        var model = root["model"]!.AsObject();
        model["ignore_merges"] = true;
        var merges = new JsonArray();
        foreach (var m in model["merges"]!.AsArray()) merges.Add(m![0]!.GetValue<string>() + " " + m[1]!.GetValue<string>());
        model["merges"] = merges;
        File.WriteAllText(outputPath, root.ToJsonString());
    }
}
