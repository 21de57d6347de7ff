using System.Text.RegularExpressions;
using Snapshooter.Xunit;
using StepDpo.Stages.Evaluation;
using StepDpo.Stages.Report;
using StepDpo.Stages.Tests.Evaluation;

namespace StepDpo.Stages.Tests.Report;

public class ReportMarkdownTests
{
    private static ReportData Fixture()
    {
        var summary = SummaryTests.Fixture();
        var sftRows = Enumerable.Range(1, 40).Select(s => new MetricsRow(s * 10,
            new Dictionary<string, double> { ["loss"] = 2.5 / Math.Sqrt(s), ["learning_rate"] = 1e-3 })).ToList();
        return new ReportData(
            Experiment: "tiny",
            Summary: summary,
            Funnel: new PipelineFunnel(Problems: 2000, Samples: 8000, Wrong: 3100, Located: 3050, Rectified: 1900, Pairs: 2650),
            Training:
            [
                new TrainingRun("SFT", [new("lr", "0.001"), new("epochs", "3"), new("batch_size", "64")], sftRows, TimeSpan.FromSeconds(200)),
                new TrainingRun("Step-DPO", [new("beta", "0.5"), new("lr", "5e-6"), new("loss", "sigmoid")], ReportPlotsTests.DpoMetrics()),
            ],
            Images: [],
            ManifestYaml: "experiment: tiny\nseed: 1\nmodel:\n  layers: 4\n  d_model: 128\n",
            Expectations: ExpectGate.Check(summary, [
                new Expectation("delta.math.accuracy", Min: 0.1),
                new Expectation("comparison.math.mcnemar_p", Max: 0.05),
            ]),
            Finished: new DateTimeOffset(2026, 11, 28, 18, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public void Markdown_of_a_fixed_run() => Snapshot.Match(ReportMarkdown.Render(Fixture() with
    {
        Images = [new ReportImage("Accuracy before and after", "plots/accuracy.png")],
    }));

    [Fact]
    public void Headline_states_the_change_the_counts_and_the_p_value()
    {
        string md = ReportMarkdown.Render(Fixture());
        Assert.Contains("- **math** (20 problems): 40.0% → 65.0% (+25.0 points); trained alone solved 6, start alone solved 1; " +
                        "exact McNemar p = 0.125, not significant at the 5% level.", md);
        Assert.Contains("| wrong | samples with a wrong final answer | 3,100 | 38.8% |", md);
        Assert.Contains("**1 of 2 expectations failed.**", md);
    }

    [Fact]
    public void A_compared_experiment_is_shown_side_by_side_or_its_absence_explained()
    {
        string md = ReportMarkdown.Render(Fixture() with { Compared = new ComparedRun("tiny-dpo", SummaryTests.Fixture()) });
        Assert.Contains("## Compared with `tiny-dpo`", md);
        var rows = md.Split('\n').Where(l => l.StartsWith("| math | `", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Contains("`tiny`", rows[0]);
        Assert.Contains("`tiny-dpo`", rows[1]);
        Assert.All(rows, r => Assert.Contains("40.0%", r));

        string pending = ReportMarkdown.Render(Fixture() with { Compared = new ComparedRun("tiny-dpo", null) });
        Assert.Contains("`tiny-dpo` has no finished evaluation yet", pending);
        Assert.DoesNotContain("## Compared with", ReportMarkdown.Render(Fixture()));
    }

    [Fact]
    public void The_locator_table_follows_the_preference_data_when_verify_was_scored_against_an_exact_checker()
    {
        var rows = new[]
        {
            Stages.Locate.LocateSummary.Score("rollout, binary search (verify's)", "rule", "rollouts",
                [new(3, 3, Cost: 16), new(2, 4, Cost: 8), new(null, null)]),
        };
        string md = ReportMarkdown.Render(Fixture() with { Locator = new Stages.Locate.LocateFile("rule", 3, rows) });
        int data = md.IndexOf("## Preference data", StringComparison.Ordinal), locator = md.IndexOf("## How good was the locator", StringComparison.Ordinal);
        Assert.True(data >= 0 && locator > data, "the locator section follows the preference data");
        Assert.Contains("over all 3 sampled solutions", md);
        Assert.Contains("| rollout, binary search (verify's) | rule | 2 | 1 (50.0%) | 0 (0.0%) | 1 (50.0%) | 0 (0.0%) | 1 | 1 (100.0%) | 0.667 | 24 rollouts | 12 | 24 |", md);
        Assert.DoesNotContain("## How good was the locator", ReportMarkdown.Render(Fixture()));
    }

    [Fact]
    public void Without_a_comparison_the_page_says_so_and_omits_empty_sections()
    {
        var single = new SummaryBuilder().Add(new ProblemOutcome("start", "gsm8k", "g1", true)).Build();
        string md = ReportMarkdown.Render(new ReportData("solo", single, null, [], []));
        Assert.Contains("no before/after comparison", md);
        Assert.DoesNotContain("## Preference data", md);
        Assert.DoesNotContain("## Plots", md);
        Assert.DoesNotContain("by level", md);
    }

    [Fact]
    public void Writer_creates_the_plots_the_page_links_to()
    {
        string dir = Directory.CreateTempSubdirectory("stepdpo-report-").FullName;
        try
        {
            string path = ReportRenderer.Write(dir, Fixture());
            string md = File.ReadAllText(path);
            var links = Regex.Matches(md, @"!\[[^\]]*\]\(([^)]+)\)").Select(m => m.Groups[1].Value).ToList();
            Assert.Equal(
            [
                "plots/accuracy.png", "plots/math_by_level.png", "plots/math_by_subject.png",
                "plots/sft_loss.png", "plots/step_dpo_loss.png", "plots/step_dpo_reward_margins.png", "plots/step_dpo_reward_accuracy.png",
            ], links);
            Assert.All(links, l => Assert.True(File.Exists(Path.Combine(dir, l)), l));
            Assert.Equal(["report.md"], Directory.GetFiles(dir).Select(Path.GetFileName));
        }
        finally { Directory.Delete(dir, true); }
    }
}
