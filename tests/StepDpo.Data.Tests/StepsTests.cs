
namespace StepDpo.Data.Tests;

public class StepsTests
{
    private static void Reassembles(StepSplit split)
    {
        Assert.Equal(split.Original, split.Preamble + string.Concat(split.Steps.Select(s => s.Text)));
        for (int k = 0; k < split.Steps.Count; k++)
        {
            var s = split.Steps[k];
            Assert.Equal(split.Original, split.Prefix(k) + s.Text + split.Remainder(k));
            Assert.Equal(split.Original[s.Start..s.End], s.Text);
        }
    }

    [Fact]
    public void Labels_keep_preamble_and_count_up()
    {
        const string text = "Let's think step by step.\nStep 1: Add 2 and 3.\nStep 2: Quote: Step 1: no.\nStep 3: So 5.\nThe answer is: 5";
        var split = Steps.Split(text, StepStyle.Labels);
        Reassembles(split);
        Assert.Equal("Let's think step by step.\n", split.Preamble);
        Assert.Equal(["Add 2 and 3.", "Quote: Step 1: no.", "So 5.\nThe answer is: 5"], split.Steps.Select(s => s.Content));
        Assert.Equal("Let's think step by step.\nStep 1: Add 2 and 3.\n", split.Prefix(1));
    }

    [Fact]
    public void Blank_lines_split_paragraphs()
    {
        const string text = "\nFirst para\nstill first.\n\n\nSecond.\n \nThird.";
        var split = Steps.Split(text, StepStyle.BlankLines);
        Reassembles(split);
        Assert.Equal(["First para\nstill first.", "Second.", "Third."], split.Steps.Select(s => s.Content));
    }

    [Fact]
    public void Delimiter_on_every_real_sample()
    {
        int responses = 0;
        foreach (var file in new[] { "samples-qwen2.5-7b.jsonl" })
            foreach (var p in SampleFile.Read(Fixture.Path(file)))
                foreach (var r in p.Responses)
                {
                    var split = r.SplitSteps();
                    Reassembles(split);
                    Assert.Equal(r.StepLabels.Count, split.Steps.Count);
                    Assert.All(split.Steps, s => Assert.DoesNotContain("ки", s.Content));
                    responses++;
                }
        Assert.Equal(3, responses);
    }

    [Fact]
    public void Delimiter_edge_cases()
    {
        Reassembles(Steps.Split("a ки\nb ки\n\n", StepStyle.Delimiter, "ки"));
        Assert.Equal(2, Steps.Split("a ки\nb ки\n\n", StepStyle.Delimiter, "ки").Steps.Count);
        Assert.Equal(["a", "tail"], Steps.Split("a ки\ntail", StepStyle.Delimiter, "ки").Steps.Select(s => s.Content));
        Assert.Empty(Steps.Split("", StepStyle.Delimiter, "ки").Steps);
        Assert.Throws<ArgumentException>(() => Steps.Split("x", StepStyle.Delimiter));
        Assert.Throws<ArgumentOutOfRangeException>(() => Steps.Split("a ки", StepStyle.Delimiter, "ки").Prefix(5));
    }

    [Fact]
    public void Format_step_labels_uses_the_reference_layout()
    {
        var text = Steps.FormatStepLabels(["We add.", " 2+3=5. "]);
        Assert.Equal("Step 1: We add.\nStep 2: 2+3=5.", text);
        Assert.Equal(["We add.", "2+3=5."], Steps.Split(text, StepStyle.Labels).Steps.Select(s => s.Content));
    }
}
