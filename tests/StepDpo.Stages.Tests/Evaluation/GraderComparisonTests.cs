using StepDpo.Answers;
using StepDpo.Data;
using StepDpo.Stages.Evaluation;
using StepDpo.Stages.Implementations;

namespace StepDpo.Stages.Tests.Evaluation;

/// <summary>The summary's side-by-side graders on REAL sampled solutions (Qwen2.5-7B on MATH, shared/data/samples):
/// each model/benchmark reports its accuracy under ours and under the paper's comparison, and how many answers the two
/// judge differently; `expect` can address either (by_grader.NAME).</summary>
public class GraderComparisonTests
{
    [Theory]
    [InlineData("stepdpo")]
    [InlineData("deepseekmath")]
    public void Both_graders_accuracies_and_their_disagreements_are_in_the_summary(string grader)
    {
        var problems = SampleFile.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", "qwen2.5-7b-math-responses.jsonl")).ToList();
        var records = new List<ResultRecord>();
        int ours = 0, paper = 0, disagree = 0;
        foreach (var p in problems)
            for (int j = 0; j < p.Responses.Count; j++)
            {
                string? extracted = Grading.ExtractAnswer(p.Responses[j].Response);
                bool a = extracted is not null && Grading.AnswersEqual(extracted, p.Problem.Answer, "stepdpo");
                bool b = extracted is not null && Grading.AnswersEqual(extracted, p.Problem.Answer, "deepseekmath");
                (ours, paper, disagree) = (ours + (a ? 1 : 0), paper + (b ? 1 : 0), disagree + (a != b ? 1 : 0));
                records.Add(new ResultRecord($"start/math/{p.Problem.Id}#{j}", "start", "math", $"{p.Problem.Id}#{j}", 0, "", p.Responses[j].Response,
                    p.Problem.Answer, extracted, grader == "stepdpo" ? a : b, null, null));
            }
        var r = EvaluateStage.Summarise(records, 1, grader).Result("start", "math")!;
        Assert.Equal(["stepdpo", "deepseekmath"], r.ByGrader!.Keys.Order().Reverse());
        Assert.Equal(ours / (double)records.Count, r.ByGrader["stepdpo"], 12);
        Assert.Equal(paper / (double)records.Count, r.ByGrader["deepseekmath"], 12);
        Assert.Equal(r.Accuracy, r.ByGrader[grader], 12);
        Assert.Equal(disagree, r.GraderDisagreements);
        Assert.True(records.Count >= 100 && ours > 0);

        var summary = EvaluateStage.Summarise(records, 1, grader);
        Assert.Equal(r.ByGrader["deepseekmath"], MetricPath.Resolve(summary, "start.math.by_grader.deepseekmath"));
        Assert.Equal(disagree, MetricPath.Resolve(summary, "start.math.grader_disagreements"));
    }
}
