using System.Text.Encodings.Web;
using System.Text.Json;
using StepDpo.Core;

namespace StepDpo.Data.Synthetic;

/// <summary>
/// Multi-step arithmetic word problems for the `tiny` experiment: generated, checked step by step by an
/// exact rule, and written as JSONL. Solutions use the project's step format:
/// "Step 1: 4 * 7 = 28.\nStep 2: 23 + 28 = 51.\nStep 3: 51 - 15 = 36.\nThe answer is \boxed{36}."
/// </summary>
public static class SyntheticWorld
{
    /// <summary>Generates <paramref name="count"/> distinct problems of one split; the same arguments give
    /// the same problems in the same order.</summary>
    public static IReadOnlyList<SyntheticProblem> Generate(int count, int seed, SyntheticOptions? o = null)
    {
        o ??= SyntheticOptions.Default;
        o.Validate();
        return new ProblemGenerator(o, new Random(seed)).Generate(count);
    }

    /// <summary>1-based index of the first step the rule rejects (see <see cref="StepRule"/>), or null when
    /// every step is right. Steps may carry their "Step k:" labels or not.</summary>
    public static int? FirstWrongStep(SyntheticProblem p, IReadOnlyList<string> steps)
    {
        var state = new StepRule.State(p);
        for (int i = 0; i < steps.Count; i++)
            if (!state.Accept(steps[i])) return i + 1;
        return null;
    }

    /// <summary>Whether <paramref name="step"/> is right after <paramref name="previousSteps"/>
    /// (earlier steps that break the rule make nothing available).</summary>
    public static bool StepIsCorrect(SyntheticProblem p, IReadOnlyList<string> previousSteps, string step)
    {
        var state = new StepRule.State(p);
        foreach (var s in previousSteps) state.Accept(s);
        return state.Accept(step);
    }

    private static readonly JsonSerializerOptions JsonlOptions = new()
    {
        // Keep "\boxed", "+" and "<" readable in the file; the JSON stays valid.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    /// <summary>Writes {id, question, answer, solution} lines, atomically (a reader never sees half a file).</summary>
    public static void WriteJsonl(string path, IEnumerable<SyntheticProblem> problems)
    {
        try { Core.Artifacts.AtomicFile.WriteLines(path, problems.Select(p => JsonSerializer.Serialize(p.ToProblem(), JsonlOptions))); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StepDpoException($"{path}: cannot write synthetic problems: {ex.Message}", ex);
        }
    }
}
