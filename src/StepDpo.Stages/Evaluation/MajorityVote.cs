namespace StepDpo.Stages.Evaluation;

/// <summary>Self-consistency: the answer most samples agree on. Answers are grouped with an equivalence
/// supplied by the caller (e.g. the math grader's "same value"), since "0.5" and "\frac{1}{2}" are one vote.</summary>
public static class MajorityVote
{
    /// <summary>The representative (first seen) answer of the largest group; ties go to the group seen
    /// first, so the result does not depend on hash order. Null answers (nothing extracted) do not vote;
    /// null when no sample has an answer.</summary>
    public static string? Pick(IReadOnlyList<string?> answers, Func<string, string, bool> equivalent)
    {
        var groups = new List<(string Representative, int Votes)>();
        foreach (var answer in answers)
        {
            if (answer is null) continue;
            int g = groups.FindIndex(x => equivalent(x.Representative, answer));
            if (g < 0) groups.Add((answer, 1));
            else groups[g] = (groups[g].Representative, groups[g].Votes + 1);
        }
        if (groups.Count == 0) return null;
        var best = groups[0];
        foreach (var g in groups) if (g.Votes > best.Votes) best = g;
        return best.Representative;
    }

    public static bool IsCorrect(IReadOnlyList<string?> answers, string gold, Func<string, string, bool> equivalent) =>
        Pick(answers, equivalent) is string chosen && equivalent(chosen, gold);

    /// <summary>Share of problems whose majority answer is equivalent to the gold answer.</summary>
    public static double Accuracy(IEnumerable<(IReadOnlyList<string?> Answers, string Gold)> problems,
        Func<string, string, bool> equivalent)
    {
        int n = 0, correct = 0;
        foreach (var (answers, gold) in problems)
        {
            n++;
            if (IsCorrect(answers, gold, equivalent)) correct++;
        }
        return n == 0 ? 0 : (double)correct / n;
    }
}
