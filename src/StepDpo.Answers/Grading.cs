using StepDpo.Answers.Normalization;
using StepDpo.Answers.Structures;

namespace StepDpo.Answers;

/// <summary>The verdict on one response: the answer found in it (null when none) and whether it
/// equals the gold answer.</summary>
public sealed record GradeResult(string? Extracted, bool Correct);

/// <summary>Answer checking: extract the final answer from a model response and decide whether
/// it equals the gold answer. Pure functions, thread-safe, bounded work per call, never throws.</summary>
public static class Grading
{
    /// <summary>Changes when a verdict of any grader changes (2: an unclosed last box is no answer, a ± inside a set
    /// is two elements). The stages that grade put it into their cache keys, so graded artifacts follow the grader.</summary>
    public const int Version = 2;

    /// <summary>The grader names accepted by <see cref="Grade"/> and <see cref="AnswersEqual"/>.</summary>
    public static readonly IReadOnlyList<string> Graders = ["stepdpo", "hendrycks", "deepseekmath"];

    public static GradeResult Grade(string response, string gold, string grader = "stepdpo", ExtractionOrder? order = null)
    {
        var extracted = ExtractAnswer(response, order);
        return new GradeResult(extracted, extracted is not null && AnswersEqual(extracted, gold, grader));
    }

    public static string? ExtractAnswer(string response, ExtractionOrder? order = null)
    {
        try { return AnswerExtractor.Extract(response, order); }
        catch (Exception e) when (e is not OutOfMemoryException) { return null; }
    }

    /// <summary>True when <paramref name="predicted"/> equals <paramref name="gold"/> under the named
    /// grader: "stepdpo" (structural and symbolic-numeric, the default), "hendrycks" (the classic
    /// MATH string checker) or "deepseekmath" (the Step-DPO paper's comparison, numeric tolerance 1e-3).
    /// Undecidable within the work budget means false.</summary>
    public static bool AnswersEqual(string predicted, string gold, string grader = "stepdpo")
    {
        ArgumentNullException.ThrowIfNull(grader);
        return grader switch
        {
            "stepdpo" => StepDpoEqual(predicted, gold),
            "hendrycks" => SafeHendrycks(predicted, gold),
            "deepseekmath" => DeepSeekMathChecker.IsEquivalent(predicted, gold),
            _ => throw new ArgumentException($"unknown grader '{grader}' (known: {string.Join(", ", Graders)})", nameof(grader)),
        };
    }

    /// <summary>Throws a clear error for a grader name that does not exist (for option validation).</summary>
    public static void ValidateGrader(string grader)
    {
        if (!Graders.Contains(grader))
            throw new ArgumentException($"unknown grader '{grader}' (known: {string.Join(", ", Graders)})");
    }

    private static bool SafeHendrycks(string? predicted, string? gold)
    {
        try { return HendrycksChecker.IsEquivalent(predicted, gold); }
        catch (Exception e) when (e is not OutOfMemoryException) { return false; }
    }

    private static bool StepDpoEqual(string? predicted, string? gold)
    {
        if (predicted is null || gold is null) return false;
        if (predicted.Length > MaxAnswerLength || gold.Length > MaxAnswerLength) return predicted == gold;
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

    /// <summary>Longer "answers" are not answers; they are compared as raw strings only.</summary>
    public const int MaxAnswerLength = 10_000;
}
