using StepDpo.Answers.Normalization;
using StepDpo.Answers.Structures;

namespace StepDpo.Answers;

/// <summary>The verdict on one response: the answer found in it (null when none) and whether it
/// equals the gold answer.</summary>
public sealed record GradeResult(string? Extracted, bool Correct);

/// <summary>An answer checker, by name (evaluate.grader, `stepdpo grade --grader`): one class each, listed in
/// <see cref="Grading.All"/>. Pure, thread-safe, bounded work per call, never throws.</summary>
public interface IGrader
{
    string Name { get; }

    /// <summary>Changes when a verdict of this grader changes (every grader's when the shared answer extraction
    /// changes). The stages that grade put it into their cache keys, so graded artifacts follow the grader.</summary>
    int Version { get; }

    bool AnswersEqual(string predicted, string gold);
}

/// <summary>Answer checking: extract the final answer from a model response and decide with a named grader whether
/// it equals the gold answer.</summary>
public static class Grading
{
    /// <summary>Every grader (2: an unclosed last box is no answer, a ± inside a set is two elements).</summary>
    public static readonly IReadOnlyList<IGrader> All = [new StepDpoGrader(), new HendrycksGrader(), new DeepSeekMathGrader()];

    /// <summary>The grader names accepted by <see cref="Grade"/> and <see cref="AnswersEqual"/>.</summary>
    public static readonly IReadOnlyList<string> Graders = All.Select(g => g.Name).ToList();

    public static IGrader Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return All.FirstOrDefault(g => g.Name == name)
            ?? throw new ArgumentException($"unknown grader '{name}' (known: {string.Join(", ", Graders)})", nameof(name));
    }

    public static GradeResult Grade(string response, string gold, string grader = "stepdpo", ExtractionOrder? order = null)
    {
        var g = Get(grader);
        var extracted = ExtractAnswer(response, order);
        return new GradeResult(extracted, extracted is not null && g.AnswersEqual(extracted, gold));
    }

    public static string? ExtractAnswer(string response, ExtractionOrder? order = null)
    {
        try { return AnswerExtractor.Extract(response, order); }
        catch (Exception e) when (e is not OutOfMemoryException) { return null; }
    }

    /// <summary>True when <paramref name="predicted"/> equals <paramref name="gold"/> under the named grader.
    /// Undecidable within the work budget means false.</summary>
    public static bool AnswersEqual(string predicted, string gold, string grader = "stepdpo") => Get(grader).AnswersEqual(predicted, gold);

    /// <summary>Throws a clear error for a grader name that does not exist (for option validation).</summary>
    public static void ValidateGrader(string grader) => Get(grader);

    /// <summary>Longer "answers" are not answers; they are compared as raw strings only.</summary>
    public const int MaxAnswerLength = 10_000;
}

/// <summary>"stepdpo": structural and symbolic-numeric equivalence (sets, intervals, matrices, expressions), the default.</summary>
public sealed class StepDpoGrader : IGrader
{
    public string Name => "stepdpo";
    public int Version => 2;

    public bool AnswersEqual(string predicted, string gold)
    {
        if (predicted is null || gold is null) return false;
        if (predicted.Length > Grading.MaxAnswerLength || gold.Length > Grading.MaxAnswerLength) return predicted == gold;
        try
        {
            if (predicted.Trim() == gold.Trim()) return true;
            var p = AnswerNormalizer.Normalize(predicted);
            var g = AnswerNormalizer.Normalize(gold);
            if (p == g || p.Replace(" ", "") == g.Replace(" ", "")) return p.Length > 0;
            var budget = new WorkBudget(WorkBudget.DefaultLimit);
            var pv = StructureParser.Parse(p, budget);
            var gv = StructureParser.Parse(g, budget);
            return StructureComparer.Equal(pv, gv, budget);
        }
        catch (BudgetExceededException) { return false; }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug in a rare path must cost one verdict, not a whole evaluation run.
            return false;
        }
    }
}

/// <summary>"hendrycks": the classic MATH string checker (<see cref="HendrycksChecker"/>).</summary>
public sealed class HendrycksGrader : IGrader
{
    public string Name => "hendrycks";
    public int Version => 2;

    public bool AnswersEqual(string predicted, string gold)
    {
        try { return HendrycksChecker.IsEquivalent(predicted, gold); }
        catch (Exception e) when (e is not OutOfMemoryException) { return false; }
    }
}

/// <summary>"deepseekmath": the Step-DPO paper's comparison, numeric tolerance 1e-3 (<see cref="DeepSeekMathChecker"/>).</summary>
public sealed class DeepSeekMathGrader : IGrader
{
    public string Name => "deepseekmath";
    public int Version => 2;

    public bool AnswersEqual(string predicted, string gold) => DeepSeekMathChecker.IsEquivalent(predicted, gold);
}
