using System.Text.Json;
using Snapshooter.Xunit;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Tests.Loopback;
using StepDpo.Stages.Verify;

namespace StepDpo.Stages.Tests.Verify;

public class JudgeTests
{
    /// <summary>A real wrong solution of Qwen2.5-7B on a MATH problem (shared/data/samples), steps split at "ки".</summary>
    sealed record WrongSolution(string Question, string Answer, string Response, bool[] StepLabels)
    {
        public string[] Steps => Response.Split("ки", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        public static WrongSolution Load() => JsonSerializer.Deserialize<WrongSolution>(
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "wrong-solution.json")), JsonSerializerOptions.Web)!;
    }

    [Fact]
    public void The_prompt_has_the_reference_structure_and_numbers_the_steps()
    {
        var s = WrongSolution.Load();
        var prompt = JudgePrompt.Render(s.Question, s.Answer, s.Steps);

        Assert.StartsWith("### Problem:\nLet $f(x)$", prompt);
        var sections = new[] { "### Problem:", "### Correct solution:", "### Incorrect answer:", "---", "Requirements:" }.Select(h => prompt.IndexOf(h)).ToArray();
        Assert.Equal(sections.Order(), sections);
        Assert.DoesNotContain(-1, sections);
        for (var i = 1; i <= s.Steps.Length; i++) Assert.Contains($"\nStep {i}: ", prompt);
        Assert.DoesNotContain("\n\n\n", prompt);
        Assert.Contains("\"Final Decision:\nStep 1: correct; Step 2: neutral; ...\"", prompt);
        Snapshot.Match(prompt);
    }

    [Fact]
    public void A_step_that_already_carries_its_label_is_not_labelled_twice()
    {
        var prompt = JudgePrompt.Render("Q", "S", ["Step 1: a", "step 2 : b"]);
        Assert.Contains("Step 1: a\nStep 2: b\n", prompt);
    }

    static async Task<(JudgeLocation, JudgeLocator, LoopbackCompletionsServer)> Judge(Responder responder, FaultSchedule? faults = null)
    {
        var s = WrongSolution.Load();
        var server = await LoopbackCompletionsServer.StartAsync(faults, responder);
        var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl) with { Api = OpenAiApi.Chat, Model = "judge" });
        var locator = new JudgeLocator(backend, new JudgeOptions(MaxAttempts: 3, Seed: 100));
        return (await locator.LocateAsync(s.Question, s.Answer, s.Steps, CancellationToken.None), locator, server);
    }

    [Fact]
    public async Task An_unreadable_answer_is_counted_and_retried_at_the_retry_temperature()
    {
        var (result, locator, server) = await Judge((r, _) => r.Temperature == 0
            ? "The third step is wrong."
            : "Step 3 divides by zero.\n\n**Final Decision:**\nStep 1: correct; Step 2: correct; Step 3: incorrect");
        await using var _ = server;

        Assert.Equal((JudgeOutcome.Located, (int?)3), (result.Outcome, result.FirstWrongStep));
        Assert.Equal([StepLabel.Correct, StepLabel.Correct, StepLabel.Incorrect], result.Labels);
        Assert.Equal(["no 'Final Decision' section"], result.Failures);
        Assert.Equal((2L, 1L, 0L), (locator.Stats.Calls, locator.Stats.Unparseable, locator.Stats.GaveUp));
        Assert.Equal([0.0, 0.7], server.Served.Select(r => r.Temperature));
        Assert.Equal([100L, 101L], server.Served.Select(r => r.Seed!.Value));
        Assert.StartsWith("### Problem:", server.Served.First().Prompt);
    }

    [Fact]
    public async Task After_every_attempt_fails_nothing_is_guessed()
    {
        var (result, locator, server) = await Judge((_, _) => "Final Decision: Step 1: correct; Step 2: mostly fine");
        await using var _ = server;

        Assert.Equal((JudgeOutcome.Unparseable, (int?)null), (result.Outcome, result.FirstWrongStep));
        Assert.Empty(result.Labels);
        Assert.Equal(3, result.Answers.Count);
        Assert.Equal((3L, 3L, 1L), (locator.Stats.Calls, locator.Stats.Unparseable, locator.Stats.GaveUp));
    }

    [Fact]
    public async Task Labels_for_steps_the_answer_does_not_have_are_unreadable()
    {
        var labels = string.Join("; ", Enumerable.Range(1, 12).Select(i => $"Step {i}: correct"));
        var (result, _, server) = await Judge((_, _) => $"Final Decision:\n{labels}");
        await using var _ = server;
        Assert.Equal(JudgeOutcome.Unparseable, result.Outcome);
        Assert.All(result.Failures, f => Assert.Contains("labels 12 steps but the answer has 9", f));
    }

    [Fact]
    public async Task Transport_faults_are_the_backends_to_retry_and_a_judge_that_sees_no_error_says_so()
    {
        var (result, locator, server) = await Judge((_, _) => "Final Decision: Step 1: correct; Step 2: correct",
            FaultSchedules.Sequence(new Fault(FaultKind.Http500), new Fault(FaultKind.MalformedJson)));
        await using var _ = server;
        Assert.Equal((JudgeOutcome.NoErrorFound, (int?)null), (result.Outcome, result.FirstWrongStep));
        Assert.Equal((1L, 0L), (locator.Stats.Calls, locator.Stats.Unparseable));
        Assert.Equal(3, server.Calls);
    }
}
