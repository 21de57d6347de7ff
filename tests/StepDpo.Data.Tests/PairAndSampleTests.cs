
namespace StepDpo.Data.Tests;

public class PairAndSampleTests
{
    private static StepDpoPair Pair(string chosen) => new(
        "What is 2+3?", "Let's think step by step.\nStep 1: We add.\nStep 2:", chosen, " 2+3=6.",
        "Let's think step by step.\nStep 1: We add.\nStep 2:" + chosen, "Let's think step by step.\nStep 1: We add.\nStep 2: 2+3=6.",
        "5", "MetaMath");

    [Fact]
    public void Pairs_round_trip_with_snake_case_names()
    {
        using var tmp = new Fixture.TempDir();
        var path = tmp.File("pairs.jsonl");
        var pairs = new[] { Pair(" 2+3=5."), Pair(" Adding gives \"5\" ки ✓.") };
        PairFile.Write(path, pairs);
        var text = File.ReadAllText(path);
        Assert.Contains("\"initial_reason_steps\":", text);
        Assert.Contains("\"full_rejected\":", text);
        Assert.Contains("ки ✓", text); // readable UTF-8, not \u escapes
        Assert.Equal(pairs, PairFile.Read(path).ToList());
        Assert.Equal(2, DataSources.Load(new DataSpec("stepdpo-pairs", path)).Count());
    }

    [Fact]
    public void Pair_with_missing_or_non_string_field_is_rejected()
    {
        using var tmp = new Fixture.TempDir();
        var path = tmp.File("p.jsonl", "{\"prompt\":\"a\",\"initial_reason_steps\":\"b\",\"chosen\":\"c\",\"rejected\":1,\"full_chosen\":\"\",\"full_rejected\":\"\",\"answer\":\"\",\"dataset\":\"\"}\n");
        var e = Assert.Throws<DataFormatException>(() => PairFile.Read(path).ToList());
        Assert.Contains("p.jsonl:1: field 'rejected' must be a string", e.Message);
    }

    [Fact]
    public void Real_samples_load_with_labels_matching_steps()
    {
        var problems = SampleFile.Read(Fixture.Path("samples-qwen2.5-7b.jsonl")).ToList();
        var p = Assert.Single(problems);
        Assert.Equal("x^2+33x-33", p.Problem.Answer);
        Assert.Equal(3, p.Responses.Count);
        var first = p.Responses[0];
        Assert.False(first.Label);
        Assert.Equal(9, first.StepLabels.Count);
        Assert.Equal(2, first.FirstWrongStep);
        Assert.Equal(9, first.SplitSteps().Steps.Count);
        Assert.Equal(9, first.StepSoftLabels.Count);
    }

    [Fact]
    public void Invalid_verdicts_in_real_samples_read_as_unknown()
    {
        var p = Assert.Single(SampleFile.Read(Fixture.Path("samples-qwen2.5-7b-invalid.jsonl")));
        var cut = p.Responses[0];
        Assert.Null(cut.Label);
        Assert.Null(cut.ResponseAnswer);
        Assert.Equal([true, true, true, true, false, false, null, null], cut.StepLabels);
        Assert.Equal(4, cut.FirstWrongStep);
        Assert.Equal(cut.StepLabels.Count, cut.SplitSteps().Steps.Count);
        Assert.NotNull(p.Responses[1].Label);
    }

    [Fact]
    public void Mislabelled_sample_is_rejected_with_location()
    {
        using var tmp = new Fixture.TempDir();
        var path = tmp.File("s.jsonl", "{\"idx\":\"1\",\"question\":\"q\",\"ground_truth\":\"1\",\"outputs\":[{\"response\":\"a ки\\nb ки\",\"label\":true,\"step_labels\":[true]}]}\n");
        var e = Assert.Throws<DataFormatException>(() => SampleFile.Read(path).ToList());
        Assert.Contains("s.jsonl:1: outputs[0]: 'step_labels' has 1 entries but the response has 2 steps", e.Message);
    }
}
