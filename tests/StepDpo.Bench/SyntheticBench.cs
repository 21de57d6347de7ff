using System.Diagnostics;
using System.Text;
using StepDpo.Data.Synthetic;

/// <summary>Generation speed and the size of synthetic problems:
/// dotnet run -c Release --project tests/StepDpo.Bench -- synthetic [count] [seed]</summary>
internal static class SyntheticBench
{
    public static int Run(string[] args)
    {
        int count = args.Length > 0 ? int.Parse(args[0]) : 100_000;
        int seed = args.Length > 1 ? int.Parse(args[1]) : 1;
        SyntheticWorld.Generate(1000, seed); // warm-up: JIT, regex
        // CPU time next to wall time: on a shared machine the wall clock also measures the neighbours.
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var problems = SyntheticWorld.Generate(count, seed);
        sw.Stop();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        Console.WriteLine($"generated {problems.Count} train problems in {sw.Elapsed.TotalMilliseconds:F0} ms wall, " +
                          $"{cpu.TotalMilliseconds:F0} ms CPU ({problems.Count / sw.Elapsed.TotalSeconds:F0} problems/s wall)");

        sw.Restart();
        int rejected = problems.Count(p => SyntheticWorld.FirstWrongStep(p, p.ReferenceSteps) is not null);
        sw.Stop();
        Console.WriteLine($"rule checker on all reference solutions: {sw.Elapsed.TotalMilliseconds:F0} ms, {rejected} rejected (must be 0)");

        var lengths = problems.Select(p => Encoding.UTF8.GetByteCount(p.Question) + 1 + Encoding.UTF8.GetByteCount(p.Solution))
            .Order().ToArray();
        int Q(double q) => lengths[(int)Math.Min(lengths.Length - 1, q * lengths.Length)];
        Console.WriteLine($"bytes of question + \"\\n\" + solution: min {lengths[0]}, p5 {Q(0.05)}, p25 {Q(0.25)}, " +
                          $"median {Q(0.5)}, p75 {Q(0.75)}, p95 {Q(0.95)}, max {lengths[^1]}, mean {lengths.Average():F1}");
        foreach (var group in problems.GroupBy(p => p.Plan.Count).OrderBy(g => g.Key))
        {
            var l = group.Select(p => p.Question.Length + 1 + p.Solution.Length).ToArray();
            Console.WriteLine($"  {group.Key} steps: {group.Count(),6} problems, mean {l.Average():F0} bytes, max {l.Max()}");
        }
        Console.WriteLine();
        foreach (var p in problems.Take(3)) Console.WriteLine($"{p.Id} [{p.Template}]\n{p.Question}\n{p.Solution}\n");
        return rejected == 0 ? 0 : 1;
    }
}
