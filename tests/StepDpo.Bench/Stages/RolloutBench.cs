using System.Diagnostics;
using System.Text.Json;
using StepDpo.Stages.Verify;

namespace StepDpo.Bench.Stages;

/// <summary>Binary search against linear scan for Monte Carlo first-error localisation, on REAL sampled wrong
/// solutions (shared/data/samples: Qwen2.5-7B, Qwen2.5-3B, Llama-3-8B on MATH, with per-step correctness labels).
/// Oracle "prefix": a prefix is alive while all its steps are labelled correct (monotone by construction), so both
/// searches must find the labelled first error, and the numbers are the oracle calls (times m rollouts) each pays on
/// the real distribution of solution lengths and error positions. Oracle "raw": the prefix after step i is alive
/// when step i itself is labelled correct; real labels recover after an error, and this shows how often the two
/// searches then disagree.</summary>
public static class RolloutBench
{
    public static async Task<int> RunAsync(string dataDir, int m)
    {
        var files = Directory.GetFiles(dataDir, "*-math-responses.jsonl").Order().ToArray();
        if (files.Length == 0) { Console.Error.WriteLine($"no *-math-responses.jsonl under {dataDir}"); return 2; }
        Console.WriteLine($"first-error localisation on real wrong solutions, m={m} rollouts per evaluated prefix");
        Console.WriteLine("file | wrong solutions | mean steps | mean first wrong step | linear calls | binary calls | galloping calls | found labelled step (lin/bin/gallop) | raw oracle: non-monotone, lin==bin");
        var clock = Stopwatch.StartNew();
        foreach (var file in files)
        {
            int solutions = 0, linearFound = 0, binaryFound = 0, gallopFound = 0, nonMonotone = 0, rawAgree = 0;
            long steps = 0, firstWrongSum = 0, linearCalls = 0, binaryCalls = 0, gallopCalls = 0;
            foreach (var line in File.ReadLines(file))
            {
                using var doc = JsonDocument.Parse(line);
                foreach (var output in doc.RootElement.GetProperty("outputs").EnumerateArray())
                {
                    // A few records carry "[invalid]" for a verdict: they are no known-wrong solution.
                    if (Bool(output.GetProperty("label")) is not false) continue;
                    var correct = output.GetProperty("step_labels").EnumerateArray().Select(e => Bool(e) ?? false).ToArray();
                    var firstWrong = Array.IndexOf(correct, false) + 1;
                    if (firstWrong == 0) continue;   // labelled wrong overall but no wrong step: nothing to locate
                    solutions++;
                    steps += correct.Length;
                    firstWrongSum += firstWrong;
                    // Prefix i is named by its step count; prefix 0 (the bare problem) is taken as alive.
                    var prefixes = Enumerable.Range(0, correct.Length + 1).Select(i => i.ToString()).ToArray();
                    RolloutOracle prefixOracle = (p, k, _) => Task.FromResult(int.Parse(p) < firstWrong ? k : 0);
                    var linear = await new RolloutLocator(prefixOracle, m, checkEmptyPrefix: false).LinearScanAsync(prefixes, CancellationToken.None);
                    var binary = await new RolloutLocator(prefixOracle, m, checkEmptyPrefix: false).BinarySearchAsync(prefixes, CancellationToken.None);
                    var gallop = await new RolloutLocator(prefixOracle, m, checkEmptyPrefix: false).GallopingSearchAsync(prefixes, CancellationToken.None);
                    gallopCalls += gallop.OracleCalls;
                    if (gallop.FirstWrongStep == firstWrong) gallopFound++;
                    linearCalls += linear.OracleCalls;
                    binaryCalls += binary.OracleCalls;
                    if (linear.FirstWrongStep == firstWrong) linearFound++;
                    if (binary.FirstWrongStep == firstWrong) binaryFound++;

                    RolloutOracle rawOracle = (p, k, _) => Task.FromResult(int.Parse(p) is var i && (i == 0 || correct[i - 1]) ? k : 0);
                    var rawLinear = await new RolloutLocator(rawOracle, m, checkEmptyPrefix: false).LinearScanAsync(prefixes, CancellationToken.None);
                    var rawBinary = await new RolloutLocator(rawOracle, m, checkEmptyPrefix: false).BinarySearchAsync(prefixes, CancellationToken.None);
                    if (correct.Skip(firstWrong).Any(c => c)) nonMonotone++;
                    if (rawLinear.FirstWrongStep == rawBinary.FirstWrongStep) rawAgree++;
                }
            }
            Console.WriteLine($"{Path.GetFileName(file)} | {solutions} | {(double)steps / solutions:0.0} | {(double)firstWrongSum / solutions:0.0} | " +
                $"{(double)linearCalls / solutions:0.00} | {(double)binaryCalls / solutions:0.00} | {(double)gallopCalls / solutions:0.00} | {linearFound}/{binaryFound}/{gallopFound} | {nonMonotone}, {rawAgree}/{solutions}");
        }
        Console.WriteLine($"rollouts per solution = calls x m (the full prefix is never rolled out: its answer is known wrong); {clock.ElapsedMilliseconds} ms");
        return 0;
    }

    // One of the shared files spells a few verdicts as strings ("[invalid]"): null when not a boolean.
    static bool? Bool(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String when bool.TryParse(e.GetString(), out var b) => b,
        _ => null,
    };
}
