using System.Text.Encodings.Web;
using System.Text.Json;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;

namespace StepDpo.Stages.Implementations;

/// <summary>Base of the stage implementations: the catalog (<see cref="StageCatalog"/>) owns dependencies,
/// enabling and cache-key configuration, so an implementation only says what it does.</summary>
public abstract class PipelineStage : Stage
{
    public sealed override IReadOnlyList<string> DependsOn(Manifest m) => StageCatalog.Upstream[Name];
    public sealed override object KeyConfig(Manifest m) => StageCatalog.Config[Name](m);

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

    public static void Count(StageContext ctx, string name, long value) => ctx.Counters[name] = value;

    /// <summary>The last training step's metrics as final_* counters in stage.json (sft and train).</summary>
    public static void RecordFinalMetrics(StageContext ctx, Torch.Training.StepMetrics? last)
    {
        if (last is null) return;
        foreach (var (k, v) in last.Values) ctx.Counters[$"final_{k.Replace('/', '_')}"] = System.Math.Round(v, 5);
    }

    /// <summary>a / b rounded for the funnel, 0 when b is 0.</summary>
    public static double Ratio(long a, long b) => b == 0 ? 0 : System.Math.Round((double)a / b, 4);
}
