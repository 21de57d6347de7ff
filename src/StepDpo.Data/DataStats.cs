
namespace StepDpo.Data;

/// <summary>A summary of a problem set: size, duplicates, the mix of levels and subjects, the
/// lengths of questions, and the kinds of gold answers (which decide how hard grading is).</summary>
public sealed record DataStats(
    int Count,
    int DuplicateIds,
    IReadOnlyDictionary<string, int> Levels,
    IReadOnlyDictionary<string, int> Subjects,
    IReadOnlyDictionary<string, int> AnswerKinds,
    double MeanQuestionChars,
    int MaxQuestionChars)
{
    public static DataStats Compute(IEnumerable<Problem> problems)
    {
        int count = 0, duplicates = 0, maxQ = 0;
        long totalQ = 0;
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var levels = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var subjects = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in problems)
        {
            count++;
            if (!ids.Add(p.Id)) duplicates++;
            Bump(levels, p.Level ?? "-");
            Bump(subjects, p.Subject ?? "-");
            Bump(kinds, StepDpo.Answers.AnswerKinds.Classify(p.Answer));
            totalQ += p.Question.Length;
            maxQ = System.Math.Max(maxQ, p.Question.Length);
        }
        return new DataStats(count, duplicates, levels, subjects, kinds, count == 0 ? 0 : (double)totalQ / count, maxQ);
    }

    private static void Bump(IDictionary<string, int> d, string key) => d[key] = d.TryGetValue(key, out var n) ? n + 1 : 1;
}
