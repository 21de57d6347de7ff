using System.Globalization;
using System.Text.Json;

namespace StepDpo.Data;

/// <summary>One sampled response with its verdicts: the final-answer label, per-step correctness
/// (the first false is the first wrong step) and the Monte Carlo step estimates. The files mark a
/// verdict they could not reach as "[invalid]" (e.g. a response cut off before its answer); those
/// read as null.</summary>
public sealed record SampledResponse(
    string Response,
    string? ResponseAnswer,
    bool? Label,
    IReadOnlyList<bool?> StepLabels,
    IReadOnlyList<bool> StepHardLabels,
    IReadOnlyList<double> StepSoftLabels)
{
    /// <summary>The delimiter between steps in these files.</summary>
    public const string StepMarker = "ки";

    /// <summary>0-based index of the first step labelled wrong, or null when no step is labelled
    /// wrong (every step right, or the steps before the first unknown one right).</summary>
    public int? FirstWrongStep
    {
        get
        {
            for (int i = 0; i < StepLabels.Count; i++)
            {
                if (StepLabels[i] is null) return null;
                if (StepLabels[i] == false) return i;
            }
            return null;
        }
    }

    public StepSplit SplitSteps() => Steps.Split(Response, StepStyle.Delimiter, StepMarker);
}

/// <summary>A problem with its sampled responses.</summary>
public sealed record SampledProblem(Problem Problem, IReadOnlyList<SampledResponse> Responses);

/// <summary>Reads the real sampled solutions (fields idx, input, question, answer, ground_truth,
/// outputs[{response, response_answer, label, step_labels, step_h_label, step_s_label}]). The
/// label lists are stored as Python-style strings ("[True, False]") or as JSON lists; both read.</summary>
public static class SampleFile
{
    public static IEnumerable<SampledProblem> Read(string path)
    {
        foreach (var r in Jsonl.Read(path))
        {
            var problem = new Problem(r.Text("idx") ?? $"sample-{r.Line}", r.Text("question") ?? r.Required("input"),
                r.Required("ground_truth"), r.Text("answer"), Source: "samples:" + Path.GetFileNameWithoutExtension(path));
            if (!r.Root.TryGetProperty("outputs", out var outputs) || outputs.ValueKind != JsonValueKind.Array)
                throw r.Error("missing list field 'outputs'");
            var responses = new List<SampledResponse>();
            int i = 0;
            foreach (var o in outputs.EnumerateArray())
            {
                var where = $"outputs[{i++}]";
                var rec = new JsonRecord(r.File, r.Line, o);
                var response = rec.Text("response") ?? throw r.Error($"{where}: missing field 'response'");
                var stepLabels = Bools(rec, "step_labels", where, allowInvalid: true);
                var hard = rec.Root.TryGetProperty("step_h_label", out _) ? Bools(rec, "step_h_label", where).Select(b => b ?? false).ToList() : [];
                var soft = rec.Root.TryGetProperty("step_s_label", out _) ? Doubles(rec, "step_s_label", where) : [];
                var steps = Steps.Split(response, StepStyle.Delimiter, SampledResponse.StepMarker).Steps.Count;
                if (stepLabels.Count != steps)
                    throw r.Error($"{where}: 'step_labels' has {stepLabels.Count} entries but the response has {steps} steps (marker \"ки\")");
                var answer = rec.Text("response_answer");
                responses.Add(new SampledResponse(response, answer == Invalid ? null : answer, Bool(rec.Text("label"), r, $"{where}.label", allowInvalid: true),
                    stepLabels, hard, soft));
            }
            yield return new SampledProblem(problem, responses);
        }
    }

    private const string Invalid = "[invalid]";

    private static List<bool?> Bools(JsonRecord r, string field, string where, bool allowInvalid = false) =>
        Items(r, field, where).Select(s => Bool(s, r, $"{where}.{field}", allowInvalid)).ToList();

    private static List<double> Doubles(JsonRecord r, string field, string where) =>
        Items(r, field, where).Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            ? d : throw r.Error($"{where}.{field}: '{s}' is not a number")).ToList();

    private static IEnumerable<string> Items(JsonRecord r, string field, string where)
    {
        if (!r.Root.TryGetProperty(field, out var v)) throw r.Error($"{where}: missing field '{field}'");
        if (v.ValueKind == JsonValueKind.Array) return v.EnumerateArray().Select(e => JsonRecord.AsText(e) ?? "");
        var s = (JsonRecord.AsText(v) ?? "").Trim();
        if (!s.StartsWith('[') || !s.EndsWith(']')) throw r.Error($"{where}.{field}: expected a list like [True, False], found '{s}'");
        var inner = s[1..^1].Trim();
        return inner.Length == 0 ? [] : inner.Split(',').Select(x => x.Trim());
    }

    private static bool? Bool(string? s, JsonRecord r, string where, bool allowInvalid = false) => s?.Trim().Trim('\'', '"') switch
    {
        "True" or "true" or "1" => true,
        "False" or "false" or "0" => false,
        Invalid or "invalid" when allowInvalid => null,
        _ => throw r.Error($"{where}: expected True or False{(allowInvalid ? " or [invalid]" : "")}, found '{s}'"),
    };
}
