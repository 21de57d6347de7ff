using System.Globalization;
using System.Text;
using StepDpo.Stages.Evaluation;

namespace StepDpo.Stages.Report;

/// <summary>Renders report.md: the result first (in one sentence per benchmark), then the evidence
/// (tables, the data funnel, training settings and curves, the manifest), then how to read it.</summary>
public static class ReportMarkdown
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(ReportData data)
    {
        var md = new StringBuilder();
        md.AppendLine($"# Step-DPO run `{data.Experiment}`");
        md.AppendLine();
        if (data.Finished is DateTimeOffset t) md.AppendLine($"Finished {t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm", Inv)} UTC.").AppendLine();
        if (data.Rounds is { } rounds) Rounds(md, rounds);
        Headline(md, data.Summary, data.Rounds is null ? "Result" : "Result of round 1");
        Results(md, data.Summary);
        if (data.Compared is { } compared) SideBySide(md, data.Experiment, data.Summary, compared);
        Groups(md, data.Summary, bySubject: false);
        Groups(md, data.Summary, bySubject: true);
        if (data.Expectations is { } expect) Expectations(md, expect);
        if (data.Funnel is { } funnel) Funnel(md, funnel);
        if (data.Locator is { } locator) Locator(md, locator);
        foreach (var run in data.Training) Training(md, run);
        Images(md, data.Images);
        if (data.ManifestYaml is { } yaml)
        {
            md.AppendLine("## Resolved manifest").AppendLine();
            md.AppendLine("The exact settings of this run; rerunning with them reproduces it.").AppendLine();
            md.AppendLine("```yaml").AppendLine(yaml.TrimEnd()).AppendLine("```").AppendLine();
        }
        Glossary(md);
        return md.ToString().Replace("\r\n", "\n");
    }

    /// <summary>Accuracy per round, each round against the one before and the start model against the last round.</summary>
    private static void Rounds(StringBuilder md, RoundsReport rounds)
    {
        md.AppendLine("## Rounds").AppendLine();
        md.AppendLine($"{rounds.Rounds.Count} rounds of Step-DPO: round r+1 sampled from round r's trained model, located and " +
                      "rectified its errors with it, and trained from it (with the settings of round 1) with it as the reference model. Each round is " +
                      "compared with the one before on the same held-out problems (exact McNemar test).").AppendLine();
        foreach (var c in rounds.StartToFinal.Comparisons)
        {
            var a = rounds.StartToFinal.Result(c.A, c.Benchmark)!;
            var b = rounds.StartToFinal.Result(c.B, c.Benchmark)!;
            md.AppendLine($"- **{c.Benchmark}**, start → round {rounds.Rounds.Count}: {Pct(a.Accuracy)} → {Pct(b.Accuracy)} " +
                          $"({Points(c.Delta)}); fixed {c.BOnly}, broken {c.AOnly}; exact McNemar p = {P(c.McNemarP)}, " +
                          $"{(c.McNemarP < 0.05 ? "significant" : "not significant")} at the 5% level.");
        }
        md.AppendLine();
        Table(md, ["benchmark", "model", "accuracy", "95% CI", "correct / n", "change", "fixed", "broken", "McNemar p"],
            rounds.Rows().Select(r => new List<string>
            {
                r.Benchmark, r.Model, Pct(r.Accuracy), Interval(r.Ci95[0], r.Ci95[1]), $"{r.Correct} / {r.N}",
                r.Delta is double d ? Points(d) : "", r.Fixed?.ToString(Inv) ?? "", r.Broken?.ToString(Inv) ?? "",
                r.McNemarP is double p ? P(p) : "",
            }), textColumns: 2);
        var funnels = rounds.Rounds.Where(r => r.Funnel is not null).ToList();
        if (funnels.Count == 0) return;
        md.AppendLine("Preference data per round (samples from the model the round starts from):").AppendLine();
        Table(md, ["round", "samples", "wrong", "located", "rectified", "pairs"], funnels.Select(r => new List<string>
        {
            r.Round.ToString(Inv), Int(r.Funnel!.Samples), $"{Int(r.Funnel.Wrong)} ({Ratio(r.Funnel.Wrong, r.Funnel.Samples)})",
            Int(r.Funnel.Located), Int(r.Funnel.Rectified), Int(r.Funnel.Pairs),
        }));
    }

    private static void Headline(StringBuilder md, EvalSummary s, string title)
    {
        md.AppendLine($"## {title}").AppendLine();
        if (s.Comparisons.Count == 0)
        {
            md.AppendLine("No model pair was evaluated on the same problems, so there is no before/after comparison.").AppendLine();
            return;
        }
        foreach (var c in s.Comparisons)
        {
            var a = s.Result(c.A, c.Benchmark)!;
            var b = s.Result(c.B, c.Benchmark)!;
            string verdict = c.McNemarP < 0.05 ? "significant" : "not significant";
            md.AppendLine($"- **{c.Benchmark}** ({a.N} problems): {Pct(a.Accuracy)} → {Pct(b.Accuracy)} " +
                          $"({Points(c.Delta)}); {c.B} alone solved {c.BOnly}, {c.A} alone solved {c.AOnly}; " +
                          $"exact McNemar p = {P(c.McNemarP)}, {verdict} at the 5% level.");
        }
        md.AppendLine();
    }

    private static void Results(StringBuilder md, EvalSummary s)
    {
        md.AppendLine("## Accuracy").AppendLine();
        bool sampled = s.Results.Any(r => r.PassAtK.Count > 0 || r.MajorityAccuracy is not null);
        var ks = s.Results.SelectMany(r => r.PassAtK.Keys).Distinct().OrderBy(k => int.Parse(k, Inv)).ToList();
        var header = new List<string> { "benchmark", "model", "accuracy", "95% CI", "correct / n" };
        if (sampled) { header.AddRange(ks.Select(k => $"pass@{k}")); header.Add("majority vote"); }
        var rows = s.Results.Select(r =>
        {
            var row = new List<string> { r.Benchmark, r.Model, Pct(r.Accuracy), Interval(r.Ci95[0], r.Ci95[1]), $"{r.Correct} / {r.N}" };
            if (sampled)
            {
                row.AddRange(ks.Select(k => r.PassAtK.TryGetValue(k, out var v) ? Pct(v) : "–"));
                row.Add(r.MajorityAccuracy is double m ? Pct(m) : "–");
            }
            return row;
        });
        Table(md, header, rows, textColumns: 2);
        if (s.Comparisons.Count > 0)
        {
            md.AppendLine("Paired comparison on the same problems:").AppendLine();
            Table(md, ["benchmark", "before", "after", "change", "fixed (after only)", "broken (before only)", "McNemar p"],
                s.Comparisons.Select(c => new List<string>
                {
                    c.Benchmark, $"{c.A} {Pct(s.Result(c.A, c.Benchmark)!.Accuracy)}", $"{c.B} {Pct(s.Result(c.B, c.Benchmark)!.Accuracy)}",
                    Points(c.Delta), c.BOnly.ToString(Inv), c.AOnly.ToString(Inv), P(c.McNemarP),
                }));
        }
    }

    /// <summary>This run and another, benchmark by benchmark: start and trained accuracy, change and McNemar p of each.</summary>
    private static void SideBySide(StringBuilder md, string experiment, EvalSummary mine, ComparedRun other)
    {
        md.AppendLine($"## Compared with `{other.Experiment}`").AppendLine();
        if (other.Summary is not { } theirs)
        {
            md.AppendLine($"`{other.Experiment}` has no finished evaluation yet: run it (`./build.sh Run --experiment " +
                          $"{other.Experiment}`) and this report is rebuilt with it.").AppendLine();
            return;
        }
        var rows = new List<List<string>>();
        foreach (var (name, s) in new[] { (experiment, mine), (other.Experiment, theirs) })
            foreach (var c in s.Comparisons)
                rows.Add([c.Benchmark, $"`{name}`", Pct(s.Result(c.A, c.Benchmark)!.Accuracy), Pct(s.Result(c.B, c.Benchmark)!.Accuracy),
                    Points(c.Delta), P(c.McNemarP)]);
        Table(md, ["benchmark", "experiment", "start", "trained", "change", "McNemar p"],
            rows.OrderBy(r => r[0], StringComparer.Ordinal), textColumns: 2);
    }

    private static void Groups(StringBuilder md, EvalSummary s, bool bySubject)
    {
        foreach (var benchmark in s.Results.Select(r => r.Benchmark).Distinct())
        {
            var results = s.Results.Where(r => r.Benchmark == benchmark).ToList();
            IReadOnlyDictionary<string, GroupStat> G(BenchmarkResult r) => bySubject ? r.BySubject : r.ByLevel;
            var keys = results.SelectMany(r => G(r).Keys).Distinct().Order(StringComparer.Ordinal).ToList();
            if (keys.Count == 0) continue;
            string what = bySubject ? "subject" : "level";
            md.AppendLine($"### {benchmark} by {what}").AppendLine();
            var header = new List<string> { what, "n" };
            header.AddRange(results.Select(r => r.Model));
            bool paired = results.Any(r => r.Model == SummaryBuilder.StartModel) && results.Any(r => r.Model == SummaryBuilder.TrainedModel);
            if (paired) header.Add("change");
            Table(md, header, keys.Select(k =>
            {
                var row = new List<string> { k, results.Select(r => G(r).TryGetValue(k, out var g) ? g.N : 0).Max().ToString(Inv) };
                row.AddRange(results.Select(r => G(r).TryGetValue(k, out var g) ? $"{Pct(g.Accuracy)} ({g.Correct})" : "–"));
                if (paired)
                {
                    var before = G(results.First(r => r.Model == SummaryBuilder.StartModel)).GetValueOrDefault(k);
                    var after = G(results.First(r => r.Model == SummaryBuilder.TrainedModel)).GetValueOrDefault(k);
                    row.Add(before is not null && after is not null ? Points(after.Accuracy - before.Accuracy) : "–");
                }
                return row;
            }));
        }
    }

    private static void Expectations(StringBuilder md, ExpectReport expect)
    {
        md.AppendLine("## Expectations").AppendLine();
        md.AppendLine(expect.Passed
            ? "Every expectation of the manifest holds."
            : $"**{expect.Rows.Count(r => !r.Passed)} of {expect.Rows.Count} expectations failed.**").AppendLine();
        Table(md, ["metric", "result", "required", "actual"], expect.Rows.Select(r => new List<string>
        {
            $"`{r.Metric}`", r.Passed ? "pass" : "**FAIL**", r.Requirement, r.Actual is double a ? Num(a) : "missing",
        }), textColumns: 3);
    }

    private static void Funnel(StringBuilder md, PipelineFunnel f)
    {
        md.AppendLine("## Preference data").AppendLine();
        md.AppendLine("How the Step-DPO pairs were made: sample solutions, keep the wrong ones, find the first wrong step, " +
                      "resample from the steps before it until a continuation reaches the right answer (with an exact step " +
                      "checker, `verify.method: rule`, also through right steps); its first step is the chosen step, the " +
                      "wrong step the rejected one.").AppendLine();
        Table(md, ["stage", "meaning", "count", "kept"],
        [
            ["problems", "training problems sampled from", Int(f.Problems), ""],
            ["samples", "solutions sampled from the start model (per problem)", Int(f.Samples), Ratio(f.Samples, f.Problems, perItem: true)],
            ["wrong", "samples with a wrong final answer", Int(f.Wrong), Ratio(f.Wrong, f.Samples)],
            ["located", "wrong samples whose first wrong step was found", Int(f.Located), Ratio(f.Located, f.Wrong)],
            ["rectified", "errors with a continuation that reached the right answer (by right steps, with the rule)", Int(f.Rectified), Ratio(f.Rectified, f.Located)],
            ["pairs", "distinct (prefix, chosen, rejected) pairs (per rectified error)", Int(f.Pairs), Ratio(f.Pairs, f.Rectified, perItem: true)],
        ], textColumns: 2);
    }

    private static void Locator(StringBuilder md, Locate.LocateFile file)
    {
        md.AppendLine("## How good was the locator").AppendLine();
        md.AppendLine($"The first wrong step the locator named, against the exact step checker of the problem world (`{file.Truth}`), " +
                      $"over all {Int(file.Solutions)} sampled solutions. On those with a wrong step: named exactly, too early " +
                      "(a right step blamed), too late (the first error passed) or missed; on those without: *cleared* when it " +
                      "named none. Right answers are never searched by binary or galloping search (their end is alive), so " +
                      "errors behind a lucky right answer count as missed. F1 is ProcessBench's: the harmonic mean of the " +
                      "exact share and the cleared share. Cost: rollouts sampled (or judge calls), per error it named a step " +
                      "for and per exact one.").AppendLine();
        md.Append(Locate.LocateTable.Markdown(file.Rows)).AppendLine();
    }

    private static void Training(StringBuilder md, TrainingRun run)
    {
        md.AppendLine($"## Training: {run.Name}").AppendLine();
        var steps = run.Metrics.Count == 0 ? 0 : run.Metrics.Max(m => m.Step);
        var facts = new List<string>();
        if (steps > 0) facts.Add($"{steps} optimizer steps");
        if (run.Duration is TimeSpan d) facts.Add($"{d.TotalMinutes.ToString("0.0", Inv)} minutes");
        if (facts.Count > 0) md.AppendLine(string.Join(", ", facts) + ".").AppendLine();
        if (run.Hyperparameters.Count > 0)
            Table(md, ["setting", "value"], run.Hyperparameters.Select(kv => new List<string> { kv.Key, $"`{kv.Value}`" }), textColumns: 2);
        var final = TrainingMetrics.Final(run.Metrics);
        if (final.Count > 0)
        {
            var first = TrainingMetrics.First(run.Metrics);
            md.AppendLine("Logged metrics, first and last value:").AppendLine();
            Table(md, ["metric", "first", "last"], final.Select(kv => new List<string> { kv.Key, Num(first[kv.Key]), Num(kv.Value) }));
        }
    }

    private static void Images(StringBuilder md, IReadOnlyList<ReportImage> images)
    {
        if (images.Count == 0) return;
        md.AppendLine("## Plots").AppendLine();
        foreach (var image in images) md.AppendLine($"![{image.Title}]({image.RelativePath})").AppendLine();
    }

    private static void Glossary(StringBuilder md)
    {
        md.AppendLine("## How to read this page").AppendLine();
        md.AppendLine("- *start* is the model before Step-DPO (the SFT model), *trained* the model after it; both answer the same held-out problems greedily.");
        md.AppendLine("- *95% CI* is the Wilson score interval of the accuracy: with this many problems the true accuracy lies in it with 95% confidence.");
        md.AppendLine("- *McNemar p* tests whether the two models really differ: only problems exactly one model solved count, and p is the chance " +
                      "of a split at least this lopsided if each such problem were a coin flip. Below 0.05: the change is unlikely to be luck.");
        md.AppendLine("- *pass@k* is the chance that at least one of k sampled solutions is right (unbiased estimator of Chen et al., 2021); " +
                      "*majority vote* the accuracy of the most common sampled answer.");
        md.AppendLine("- *reward margin* (Step-DPO curves) is β·(log-ratio of the chosen step − log-ratio of the rejected step) against the frozen start model; " +
                      "*reward accuracy* the share of pairs where the chosen step got the larger reward.");
    }

    /// <summary>A Markdown table; <paramref name="textColumns"/> (left-aligned) defaults to the first column,
    /// every other column holds numbers and is right-aligned.</summary>
    private static void Table(StringBuilder md, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows, int textColumns = 1)
    {
        md.AppendLine("| " + string.Join(" | ", header.Select(Cell)) + " |");
        md.AppendLine("|" + string.Join("|", header.Select((_, i) => i < textColumns ? "---" : "---:")) + "|");
        foreach (var row in rows) md.AppendLine("| " + string.Join(" | ", row.Select(Cell)) + " |");
        md.AppendLine();
    }

    private static string Cell(string text) => text.Replace("|", "\\|").Replace("\n", " ");
    private static string Pct(double x) => (x * 100).ToString("0.0", Inv) + "%";
    private static string Interval(double lo, double hi) => $"{Pct(lo)} – {Pct(hi)}";
    private static string Points(double delta) => (delta >= 0 ? "+" : "−") + System.Math.Abs(delta * 100).ToString("0.0", Inv) + " points";
    private static string Int(int x) => x.ToString("N0", Inv);
    private static string Num(double x) => System.Math.Abs(x) is >= 1e-3 and < 1e5 or 0 ? x.ToString("0.####", Inv) : x.ToString("0.###e+0", Inv);

    private static string P(double p) => p >= 0.001 ? p.ToString("0.###", Inv) : p.ToString("0.#e+0", Inv);

    private static string Ratio(int part, int whole, bool perItem = false) =>
        whole == 0 ? "–" : perItem ? $"{((double)part / whole).ToString("0.##", Inv)} each" : Pct((double)part / whole);
}
