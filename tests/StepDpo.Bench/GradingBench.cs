using System.Diagnostics;
using StepDpo.Data;
using StepDpo.Answers;

/// <summary>Grading benchmark: judgements per CPU-second on every MATH-500 and GSM8K gold answer, the
/// MATH-500 self-consistency check (each reference solution's "The answer is: ..." line against its
/// own last box: must be 100%), and stepdpo-vs-hendrycks agreement with every disagreement listed,
/// also on the real sampled responses (whose files carry their own verdicts).
/// Run: dotnet run -c Release --project tests/StepDpo.Bench -- grading [--list N]</summary>
public static class GradingBench
{
    private sealed record Pair(string Set, string Predicted, string Gold, bool? Reference = null)
    {
        /// <summary>For constructed pairs: the rewrite that made the prediction.</summary>
        public string? Why { get; init; }
    }

    public static void Run(string[] args)
    {
        int list = args.SkipWhile(a => a != "--list").Skip(1).Select(int.Parse).FirstOrDefault(40);
        var shared = SharedData.Find() ?? throw new InvalidOperationException("shared/data not found (set STEPDPO_SHARED_DATA)");
        Console.WriteLine($"shared data: {shared}");

        var math500 = DataSources.Load(new DataSpec("math500", "")).ToList();
        var gsm8k = DataSources.Load(new DataSpec("gsm8k", "")).ToList();

        // Positive pairs: the answer as the solution states it vs the gold answer.
        var mathSelf = math500.Select(p => new Pair("math500 stated=boxed",
            Grading.ExtractAnswer(p.Solution!, new ExtractionOrder([ExtractionRule.TheAnswerIs])) ?? "", p.Answer, true)).ToList();
        var gsmSelf = gsm8k.Select(p => new Pair("gsm8k last-number=gold",
            Grading.ExtractAnswer(p.Solution!, ExtractionOrder.Gsm8k) ?? "", p.Answer, true)).ToList();
        // Negative pairs: each gold against the next problem's gold (almost all different values):
        // the slow path, since nothing short-circuits.
        var mathCross = math500.Select((p, i) => new Pair("math500 gold vs next gold", p.Answer, math500[(i + 1) % math500.Count].Answer)).ToList();
        var gsmCross = gsm8k.Select((p, i) => new Pair("gsm8k gold vs next gold", p.Answer, gsm8k[(i + 1) % gsm8k.Count].Answer)).ToList();
        var samples = Directory.EnumerateFiles(Path.Combine(shared, "samples"), "*.jsonl").Order(StringComparer.Ordinal)
            .SelectMany(SampleFile.Read)
            .SelectMany(sp => sp.Responses.Select(r => new Pair("samples extracted vs truth",
                Grading.ExtractAnswer(r.Response) ?? "", sp.Problem.Answer, r.Label)))
            .ToList();

        // Equivalent rewrites of each MATH-500 gold answer, in forms models really write (should all
        // be equal), and value-changing near misses (should all be unequal). The set name says which.
        var rewrites = math500.SelectMany(p => Rewrites.Equivalent(p.Answer).Select(r => new Pair("math500 rewrites (equal)", r.Text, p.Answer, true) { Why = r.Name })).ToList();
        var misses = math500.SelectMany(p => Rewrites.NearMisses(p.Answer).Select(r => new Pair("math500 near misses (unequal)", r.Text, p.Answer, false) { Why = r.Name })).ToList();

        var sets = new[] { mathSelf, gsmSelf, mathCross, gsmCross, samples, rewrites, misses };
        Console.WriteLine();
        Console.WriteLine($"{"pairs",-28} {"n",6} {"grader",-10} {"judgements/s",13} {"us/judgement",13} {"equal",7} {"agree w/ ref",13}");
        var verdicts = new Dictionary<(string, string), bool[]>();
        foreach (var set in sets)
            foreach (var grader in Grading.Graders)
            {
                var (v, seconds) = Time(set, grader);
                verdicts[(set[0].Set, grader)] = v;
                int equal = v.Count(b => b);
                var withRef = set.Select((p, i) => (p, i)).Where(x => x.p.Reference is not null).ToList();
                string agree = withRef.Count == 0 ? "-" : $"{withRef.Count(x => x.p.Reference == v[x.i]) * 100.0 / withRef.Count,12:F1}%";
                Console.WriteLine($"{set[0].Set,-28} {set.Count,6} {grader,-10} {set.Count / seconds,13:N0} {seconds * 1e6 / set.Count,13:F1} {equal,7} {agree,13}");
            }

        Console.WriteLine();
        foreach (var set in sets)
        {
            var a = verdicts[(set[0].Set, "stepdpo")];
            var b = verdicts[(set[0].Set, "hendrycks")];
            var diffs = Enumerable.Range(0, set.Count).Where(i => a[i] != b[i]).ToList();
            Console.WriteLine($"{set[0].Set}: stepdpo and hendrycks agree on {set.Count - diffs.Count}/{set.Count} ({(set.Count - diffs.Count) * 100.0 / set.Count:F1}%)");
            foreach (var i in diffs.Take(list))
                Console.WriteLine($"    stepdpo={(a[i] ? "T" : "F")} hendrycks={(b[i] ? "T" : "F")}{(set[i].Reference is { } r ? $" file={(r ? "T" : "F")}" : "")}  [{set[i].Why ?? AnswerKinds.Classify(set[i].Gold)}]  {Short(set[i].Predicted)}  vs  {Short(set[i].Gold)}");
            if (diffs.Count > list) Console.WriteLine($"    ... {diffs.Count - list} more");
            if (set[0].Why is not null)
            {
                Console.WriteLine($"    {"rewrite",-22} {"n",5} {"stepdpo equal",14} {"hendrycks equal",16}");
                foreach (var g in Enumerable.Range(0, set.Count).GroupBy(i => set[i].Why!).OrderBy(g => g.Key, StringComparer.Ordinal))
                    Console.WriteLine($"    {g.Key,-22} {g.Count(),5} {g.Count(i => a[i]),14} {g.Count(i => b[i]),16}");
            }
            var wrong = Enumerable.Range(0, set.Count).Where(i => set[i].Reference is { } r && r != a[i]).ToList();
            foreach (var i in wrong.Take(list))
                Console.WriteLine($"    stepdpo WRONG ({(a[i] ? "T" : "F")}, reference {(set[i].Reference!.Value ? "T" : "F")})  [{set[i].Why ?? AnswerKinds.Classify(set[i].Gold)}]  {Short(set[i].Predicted)}  vs  {Short(set[i].Gold)}");
        }
        int slowest = args.SkipWhile(a => a != "--slowest").Skip(1).Select(int.Parse).FirstOrDefault(0);
        if (slowest > 0)
        {
            Console.WriteLine($"slowest {slowest} stepdpo judgements:");
            var timed = sets.SelectMany(x => x).Select(p =>
            {
                double best = double.MaxValue;
                for (int k = 0; k < 10; k++)
                {
                    var t = Stopwatch.StartNew();
                    Grading.AnswersEqual(p.Predicted, p.Gold);
                    best = System.Math.Min(best, t.Elapsed.TotalMicroseconds);
                }
                return (p, us: best);
            }).OrderByDescending(x => x.us).Take(slowest);
            foreach (var (p, us) in timed) Console.WriteLine($"    {us,9:F1} us  {Short(p.Predicted)}  vs  {Short(p.Gold)}");
        }
        int selfOk = verdicts[("math500 stated=boxed", "stepdpo")].Count(x => x);
        Console.WriteLine();
        Console.WriteLine($"MATH-500 self-consistency (stepdpo): {selfOk}/{mathSelf.Count} = {selfOk * 100.0 / mathSelf.Count:F1}%");
    }

    /// <summary>CPU seconds for one pass over the pairs. The machine is shared (load far above its
    /// cores), so wall-clock time measures the neighbours; the process's CPU time over enough
    /// passes to fill at least 0.5 s of CPU measures the grader.</summary>
    private static (bool[] Verdicts, double Seconds) Time(List<Pair> pairs, string grader)
    {
        foreach (var p in pairs.Take(50)) Grading.AnswersEqual(p.Predicted, p.Gold, grader); // warm-up (JIT)
        var verdicts = new bool[pairs.Count];
        var process = System.Diagnostics.Process.GetCurrentProcess();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        int rounds = 0;
        double cpu;
        do
        {
            for (int i = 0; i < pairs.Count; i++) verdicts[i] = Grading.AnswersEqual(pairs[i].Predicted, pairs[i].Gold, grader);
            rounds++;
            process.Refresh();
            cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        } while (cpu < 0.5);
        return (verdicts, cpu / rounds);
    }

    private static string Short(string s)
    {
        s = s.Replace('\n', ' ');
        return s.Length <= 60 ? s : s[..57] + "...";
    }
}
