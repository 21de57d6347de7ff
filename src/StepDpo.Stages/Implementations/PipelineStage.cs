using System.Text.Encodings.Web;
using System.Text.Json;
using StepDpo.Core.Artifacts;
using StepDpo.Core.Graph;

namespace StepDpo.Stages.Implementations;

/// <summary>The stages whose artifacts a stage reads, by stage name. The one-round pipeline is <see cref="Default"/>;
/// a later round is the same stage classes under new names (sample@2, ...) linked to the previous round's train as
/// their start model (see <see cref="StageCatalog"/>).</summary>
public sealed record Links(string StartModel = "sft", string Samples = "sample", string Verified = "verify", string Pairs = "pairs",
    string Trained = "train", string Evaluated = "evaluate")
{
    public static readonly Links Default = new();
}

/// <summary>Base of the stage implementations: a name in the graph, the stages it reads (<see cref="Links"/>), and
/// whether it can start here (<see cref="Check"/>, from its slice).</summary>
public abstract class PipelineStage<TInput>(string name, Links? links) : Stage<TInput>, IReadinessCheck where TInput : notnull
{
    public sealed override string Name => name;
    protected Links Links { get; } = links ?? Links.Default;

    /// <summary>What `stepdpo plan` checks before the stage would run: its inputs on disk, secrets, the first GPU step.</summary>
    protected virtual void Check(ReadinessCheck check, TInput input, IReadOnlyList<string> upstream) { }

    public StageReadiness Readiness(object slice, IReadOnlyList<string> upstream, Core.Workspace ws)
    {
        var check = new ReadinessCheck(ws);
        Check(check, (TInput)slice, upstream);
        return check.Result();
    }
}

/// <summary>What the stage implementations share: their JSONL records, counters and ratios.</summary>
public static class PipelineStage
{
    /// <summary>JSONL records of the stages: snake_case, LaTeX kept readable.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Reads a JSONL artifact of an upstream stage (complete, so no torn lines).</summary>
    public static IEnumerable<T> ReadJsonl<T>(string path)
    {
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            T? value;
            try { value = JsonSerializer.Deserialize<T>(text, Json); }
            catch (JsonException e) { throw new Core.StepDpoException($"{path}:{line}: {e.Message}"); }
            yield return value ?? throw new Core.StepDpoException($"{path}:{line}: empty record");
        }
    }

    /// <summary>An indented JSON file of a stage, written atomically.</summary>
    public static void WriteJson<T>(string path, T value) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(value, new JsonSerializerOptions(Json) { WriteIndented = true }));

    public static void Count(this StageContext ctx, string name, long value) => ctx.Counters[name] = value;

    /// <summary>The last training step's metrics as final_* counters in stage.json (sft and train).</summary>
    public static void RecordFinalMetrics(this StageContext ctx, IEnumerable<KeyValuePair<string, double>>? last)
    {
        foreach (var (k, v) in last ?? []) ctx.Counters[$"final_{k.Replace('/', '_')}"] = System.Math.Round(v, 5);
    }

    /// <summary>a / b rounded for the funnel, 0 when b is 0.</summary>
    public static double Ratio(long a, long b) => b == 0 ? 0 : System.Math.Round((double)a / b, 4);
}
