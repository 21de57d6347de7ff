using StepDpo.Stages.Backends;

namespace StepDpo.Stages.Tests;

/// <summary>Entry point used only when the kill-and-rerun test starts this assembly as a child process:
/// <c>dotnet StepDpo.Stages.Tests.dll sample-child BASE_URL STORE PROBLEMS N</c> runs the real sampling loop
/// against the parent's loopback server until done or killed. The test runner never calls it.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is not ["sample-child", var baseUrl, var storePath, var problems, var n]) return 64;
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(new Uri(baseUrl), timeoutMs: 5000));
        using var store = SamplingFixture.OpenStore(storePath);
        await SamplingFixture.Runner(backend, store)
            .RunAsync(SamplingFixture.Problems(int.Parse(problems)), SamplingFixture.Plan(int.Parse(n), samplesPerRequest: 1, concurrency: 2),
                null, CancellationToken.None);
        return 0;
    }
}
