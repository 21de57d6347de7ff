namespace StepDpo.Bench.Probes;

/// <summary>`--name value` options of the memory benchmarks.</summary>
static class BenchArgs
{
    public static string Option(string[] args, string name, string fallback) =>
        Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;

    public static string Threads => Environment.GetEnvironmentVariable("STEPDPO_THREADS") ?? "unset";
}
