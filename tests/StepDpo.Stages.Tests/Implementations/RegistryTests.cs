using System.Reflection;
using StepDpo.Answers;
using StepDpo.Core;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Stages.Sampling;
using StepDpo.Stages.Training;
using StepDpo.Stages.Verify;

namespace StepDpo.Stages.Tests.Implementations;

/// <summary>The manifest's choices for each registered kind are exactly the registered classes (adding one is its class
/// and its name in the choices; forgetting either fails here).</summary>
public class RegistryTests
{
    static string[] Choices<T>(string property) => typeof(T).GetProperty(property)!.GetCustomAttribute<OneOfAttribute>()!.Values;

    [Fact]
    public void Verify_methods_are_the_verifiers() =>
        Assert.Equal(Verifier.All.Names.Order(), Choices<VerifySection>(nameof(VerifySection.Method)).Order());

    [Fact]
    public void Generation_backends_of_sample_and_evaluate_are_the_registered_backends()
    {
        Assert.Equal(GenerationBackend.All.Names.Order(), Choices<SampleSection>(nameof(SampleSection.Backend)).Order());
        Assert.Equal(GenerationBackend.All.Names.Order(), Choices<EvaluateSection>(nameof(EvaluateSection.Backend)).Order());
    }

    [Fact]
    public void Train_backends_are_the_trainers() =>
        Assert.Equal(TrainerBackend.All.Names.Order(), Choices<TrainSection>(nameof(TrainSection.Backend)).Order());

    [Fact]
    public void Graders_are_the_registered_graders() =>
        Assert.Equal(Grading.Graders.Order(), Choices<EvaluateSection>(nameof(EvaluateSection.Grader)).Order());

    [Fact]
    public void Problem_sources_are_the_file_formats_and_the_stages_own()
    {
        Assert.Equal(ProblemSources.All.Names.Append("synthetic").Append("samples").Order(), Choices<DataSection>(nameof(DataSection.Source)).Order());
        Assert.Equal(ProblemSources.All.Names.Append("synthetic").Order(), Choices<BenchmarkSpec>(nameof(BenchmarkSpec.Source)).Order());
    }

    [Fact]
    public void An_unknown_name_is_an_error_that_names_the_key_and_suggests_one()
    {
        var e = Assert.Throws<StepDpoException>(() => Verifier.All["rull"]);
        Assert.Equal("unknown verify.method 'rull'; did you mean 'rule'? (known: judge, labels, rollout, rule)", e.Message);
    }
}
