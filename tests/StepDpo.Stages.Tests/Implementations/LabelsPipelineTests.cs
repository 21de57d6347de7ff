using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Stages.Implementations;

namespace StepDpo.Stages.Tests.Implementations;

/// <summary>The sample and verify stages on REAL sampled solutions (Qwen2.5-7B on MATH, shared/data/samples): imported
/// with their per-step labels, graded, and localised by the `labels` method through the real stage graph.</summary>
public class LabelsPipelineTests
{
    static string Fixture => Path.Combine(AppContext.BaseDirectory, "Fixtures", "qwen2.5-7b-math-responses.jsonl");

    [Fact]
    public async Task Labels_reproduce_the_first_wrong_steps_of_the_real_samples()
    {
        string root = Path.Combine(Path.GetTempPath(), "stepdpo-labels", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(root, "experiments"));
        File.WriteAllText(Path.Combine(root, "experiments", "labels.yaml"),
            $"name: labels\nmodel: {{path: not-needed, template: qwen2-boxed}}\ndata: {{source: samples, path: {Fixture}}}\nverify: {{method: labels}}\n");
        var ws = new Workspace(root, Path.Combine(root, "artifacts"));
        var plan = await Pipeline.Graph(ws).RunAsync(ManifestLoader.Load("labels", ws), new RunOptions("verify"), SilentProgressReporter.Instance);

        var samples = PipelineStage.ReadJsonl<SampleRecord>(Path.Combine(plan["sample"].Dir!, SampleStage.FileName)).ToList();
        var verified = PipelineStage.ReadJsonl<VerifiedRecord>(Path.Combine(plan["verify"].Dir!, VerifyStage.FileName)).ToDictionary(v => v.Id);
        var source = SampleFile.Read(Fixture).ToList();
        Assert.Equal(source.Sum(p => p.Responses.Count), samples.Count);
        Assert.Equal(samples.Count(s => !s.Correct), verified.Count);

        int compared = 0, located = 0;
        foreach (var problem in source)
            for (int j = 0; j < problem.Responses.Count; j++)
            {
                string id = $"{problem.Problem.Id}#{j}";
                if (!verified.TryGetValue(id, out var v)) continue;
                compared++;
                int? expected = problem.Responses[j].FirstWrongStep;
                Assert.Equal(expected is int k ? k + 1 : null, v.FirstWrongStep);
                if (v.FirstWrongStep is not null) located++;
            }
        Assert.True(compared > 20, $"only {compared} wrong solutions compared");
        Assert.True(located > 10, $"only {located} located");
    }
}
