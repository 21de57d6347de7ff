using StepDpo.Data;
using StepDpo.Answers;
using StepDpo.Text;

namespace StepDpo.Stages.Implementations;

/// <summary>One sampled solution (samples.jsonl): the text after the prompt, split into steps and graded.</summary>
public sealed record SampleRecord(
    string Id, string ProblemId, int Index, string Question, string Answer,
    string Solution, IReadOnlyList<string> Steps, string? Extracted, bool Correct,
    IReadOnlyList<bool?>? StepLabels = null)
{
    /// <summary>The `-step` prompt ends with "Let's think step by step.\nStep 1: ": the solution is that plus the response.</summary>
    public const string StepPreamble = PromptTemplates.StepByStep + "Step 1: ";

    public static SampleRecord From(Problem p, int index, string solution, string grader, IReadOnlyList<bool?>? labels = null)
    {
        var split = Data.Steps.Split(solution, StepStyle.Labels);
        var grade = Grading.Grade(solution, p.Answer, grader);
        return new SampleRecord(Records.SampleKey.Of(p.Id, index), p.Id, index, p.Question, p.Answer, solution,
            split.Steps.Select(s => s.Content).ToList(), grade.Extracted, grade.Correct, labels);
    }
}

/// <summary>A wrong solution with its first wrong step (verified.jsonl). FirstWrongStep is 1-based; null when
/// the method could not locate one (then Outcome says why). Rollouts: what locating it cost (rollouts of prefixes its
/// problem had not evaluated before); Judge: what asking the judge cost (method judge only).</summary>
public sealed record VerifiedRecord(
    string Id, string ProblemId, string Question, string Answer, string Solution,
    int? FirstWrongStep, string Method, string Outcome, IReadOnlyDictionary<string, double>? Estimates = null,
    IReadOnlyList<string>? Labels = null, int? Rollouts = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    JudgeCost? Judge = null);

/// <summary>The judge calls for one solution: requests (one per attempt), answers that could not be read, and the
/// tokens the judge reported. Kept per record, so the stage's totals survive a kill and resume.</summary>
public sealed record JudgeCost(int Requests, int Unparseable, long PromptTokens, long CompletionTokens);

/// <summary>One rectified error (rectified.jsonl): Correct counts continuations kept (right answer, and right steps when
/// a step checker exists); RightAnswerWrongSteps those a step checker turned down despite the right answer.</summary>
public sealed record RectifiedRecord(string Id, string ProblemId, int Samples, int Correct, int RightAnswerWrongSteps,
    IReadOnlyList<StepDpoPair> Pairs);

/// <summary>One evaluated answer (results.jsonl).</summary>
public sealed record ResultRecord(
    string Id, string Model, string Benchmark, string ProblemId, int Index, string Prompt, string Response,
    string Answer, string? Extracted, bool Correct, string? Level, string? Subject);
