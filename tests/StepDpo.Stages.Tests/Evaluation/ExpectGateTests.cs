using Snapshooter.Xunit;
using StepDpo.Core;
using StepDpo.Stages.Evaluation;

namespace StepDpo.Stages.Tests.Evaluation;

public class ExpectGateTests
{
    private static readonly EvalSummary Summary = SummaryTests.Fixture();

    [Theory]
    [InlineData("trained.math.accuracy", 0.65)]
    [InlineData("start.math.accuracy", 0.4)]
    [InlineData("delta.math.accuracy", 0.25)]
    [InlineData("comparison.math.b_only", 6)]
    [InlineData("comparison.gsm8k.a_only", 0)]
    [InlineData("trained.math.pass_at_k.4", 0.8)]   // with 4 samples pass@4 is 1 unless c = 0, and c = 0 for 4 of 20
    [InlineData("trained.math.by_level.1", 0.75)]
    [InlineData("trained.math.by_subject.Algebra", 0.7)]  // even i: 7 of the 10 are below 14
    [InlineData("start.gsm8k.n", 10)]
    public void Resolves_metric_paths(string metric, double expected) =>
        Assert.Equal(expected, MetricPath.Resolve(Summary, metric)!.Value, 12);

    [Fact]
    public void Missing_models_benchmarks_and_keys_resolve_to_null()
    {
        Assert.Null(MetricPath.Resolve(Summary, "trained.aime.accuracy"));
        Assert.Null(MetricPath.Resolve(Summary, "comparison.aime.mcnemar_p"));
        Assert.Null(MetricPath.Resolve(Summary, "start.math.majority_accuracy"));
        Assert.Null(MetricPath.Resolve(Summary, "trained.math.by_level.9"));
    }

    [Theory]
    [InlineData("trained.math", "scope.benchmark.field")]
    [InlineData("trained.math.acc", "unknown field 'acc'")]
    [InlineData("comparison.math.p", "unknown comparison field 'p'")]
    [InlineData("delta.math.mcnemar_p", "delta has only 'accuracy'")]
    [InlineData("trained.math.pass_at_k", "needs a key")]
    [InlineData("trained.math.accuracy.x", "unexpected text")]
    public void Malformed_metric_names_are_input_errors(string metric, string message)
    {
        var ex = Assert.Throws<StepDpoException>(() => ExpectGate.Check(Summary, [new Expectation(metric, Min: 0)]));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Empty_or_contradictory_requirements_are_input_errors()
    {
        Assert.Throws<StepDpoException>(() => ExpectGate.Check(Summary, [new Expectation("start.math.accuracy")]));
        Assert.Throws<StepDpoException>(() => ExpectGate.Check(Summary, [new Expectation("start.math.accuracy", Min: 0.5, Max: 0.4)]));
        Assert.Throws<StepDpoException>(() => ExpectGate.Check(Summary, [new Expectation("start.math.accuracy", Min: 0, Tolerance: 0.1)]));
    }

    [Fact]
    public void Checks_min_max_and_value_with_tolerance()
    {
        var report = ExpectGate.Check(Summary, [
            new Expectation("trained.math.accuracy", Min: 0.6),
            new Expectation("delta.math.accuracy", Min: 0.3),
            new Expectation("comparison.math.mcnemar_p", Max: 0.05),
            new Expectation("start.gsm8k.accuracy", Value: 0.62, Tolerance: 0.02),
            new Expectation("start.gsm8k.accuracy", Value: 0.62),
            new Expectation("trained.aime.accuracy", Min: 0),
        ]);
        Assert.Equal([true, false, false, true, false, false], report.Rows.Select(r => r.Passed));
        Assert.False(report.Passed);
        Assert.Equal(">= 0.6", report.Rows[0].Requirement);
        Assert.Equal("= 0.62 ± 0.02", report.Rows[3].Requirement);
        Assert.Contains("trained.aime.accuracy = missing, required >= 0", report.FailureSummary());
        Assert.DoesNotContain("trained.math.accuracy", report.FailureSummary());
        Snapshot.Match(report.RenderTable());
        var ex = Assert.Throws<ExpectationFailedException>(() => report.ThrowIfFailed("tiny.yaml"));
        Assert.StartsWith("tiny.yaml: 4 expectation(s) failed: delta.math.accuracy = 0.25, required >= 0.3; ", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Manifest_fields_become_expectations_and_typos_are_named()
    {
        var e = Expectation.FromFields("trained.math.accuracy", new Dictionary<string, double> { ["value"] = 0.6, ["tolerance"] = 0.1 }, "tiny.yaml:12");
        Assert.Equal(new Expectation("trained.math.accuracy", Value: 0.6, Tolerance: 0.1), e);
        var ex = Assert.Throws<StepDpoException>(() =>
            Expectation.FromFields("trained.math.accuracy", new Dictionary<string, double> { ["mni"] = 0.6 }, "tiny.yaml:12"));
        Assert.Equal("tiny.yaml:12: expect 'trained.math.accuracy': unknown key 'mni'; known: min, max, value, tolerance", ex.Message);
        ex = Assert.Throws<StepDpoException>(() =>
            Expectation.FromFields("trained.math.acuracy", new Dictionary<string, double> { ["min"] = 0.6 }, "tiny.yaml:13"));
        Assert.StartsWith("tiny.yaml:13: metric 'trained.math.acuracy': unknown field 'acuracy'", ex.Message);
    }

    [Fact]
    public void All_met_passes()
    {
        var report = ExpectGate.Check(Summary, [new Expectation("trained.gsm8k.accuracy", Min: 0.7, Max: 0.7)]);
        Assert.True(report.Passed);
        report.ThrowIfFailed("tiny.yaml");
    }
}
