using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Locate;
using StepDpo.Stages.Records;

namespace StepDpo.Stages.Verify;

/// <summary>
/// A way to find the first wrong step of a wrong solution (verify.method): one class each, found by <see cref="All"/>,
/// so adding a method is adding its class (and its name to verify.method's choices; a test checks they agree). Its
/// settings are what it reads of the manifest, and verify's key holds them.
/// </summary>
public abstract class Verifier
{
    public static readonly Registry<Verifier> All = Registry<Verifier>.Discover("verify.method", v => v.Name);

    public abstract string Name { get; }

    public abstract object Read(ManifestReader<Manifest> m);

    /// <summary>Files the method reads outside the store (hashed into verify's key).</summary>
    public virtual IEnumerable<string> Files(object settings, Workspace ws) => [];

    /// <summary>What `stepdpo plan` checks before the method runs (see <see cref="ReadinessCheck"/>).</summary>
    public virtual void Check(ReadinessCheck check, object settings, bool startModelTrainedUpstream) { }

    /// <summary>Locates the first wrong step of every solution in <see cref="VerifyJob.Todo"/>, storing each record as
    /// soon as it is found (a killed run resumes with the rest); a method scored against an exact step checker writes
    /// locate.json (<see cref="VerifyJob.WriteLocate"/>).</summary>
    public abstract Task RunAsync(VerifyJob job, object settings, CancellationToken ct);
}

/// <summary>One run of the verify stage: the samples, the wrong ones still to locate, and where records go.</summary>
public sealed class VerifyJob
{
    public required StageContext Context { get; init; }
    public required long Seed { get; init; }
    /// <summary>The stage the start model comes from (for methods that sample it).</summary>
    public required string StartModel { get; init; }
    public required IReadOnlyList<SampleRecord> Samples { get; init; }
    public required IReadOnlyList<SampleRecord> Todo { get; init; }
    public required JsonlRecordStore<VerifiedRecord> Store { get; init; }
    public required IProgressTask Bar { get; init; }

    /// <summary>Locates the solutions still to do one after another.</summary>
    public async Task EachAsync(Func<SampleRecord, CancellationToken, Task<VerifiedRecord>> locate, CancellationToken ct)
    {
        foreach (var s in Todo)
        {
            ct.ThrowIfCancellationRequested();
            Store.Append(await locate(s, ct));
            Bar.Increment();
        }
    }

    /// <summary>
    /// Locates the solutions still to do several problems at a time, on <paramref name="workers"/> threads: a problem's
    /// solutions one after another in their order (what one learns about a shared prefix the next reuses, and counts in
    /// its cost), problems side by side. Each call of the model is the same whatever runs beside it, and records are
    /// stored in <see cref="Todo"/>'s order as soon as all before them are, so the artifact is the one a single thread
    /// writes and a killed run resumes where it stopped.
    /// </summary>
    public void EachProblem(Func<SampleRecord, CancellationToken, Task<VerifiedRecord>> locate, int workers, CancellationToken ct)
    {
        var problems = Enumerable.Range(0, Todo.Count).GroupBy(i => Todo[i].ProblemId).Select(g => g.ToList()).ToList();
        var done = new VerifiedRecord?[Todo.Count];
        int stored = 0;
        var gate = new Lock();
        StepDpo.Torch.Devices.CpuWorkers.Run(problems, workers, problem =>
        {
            foreach (int i in problem)
            {
                ct.ThrowIfCancellationRequested();
                var record = locate(Todo[i], ct).GetAwaiter().GetResult(); // a worker thread of its own: blocking is its job
                lock (gate)
                {
                    done[i] = record;
                    for (; stored < done.Length && done[stored] is { } next; stored++)
                    {
                        Store.Append(next);
                        Bar.Increment();
                    }
                }
            }
        });
    }

    public static VerifiedRecord Record(SampleRecord s, int? k, string method, string outcome,
        IReadOnlyDictionary<string, double>? estimates = null, IReadOnlyList<string>? labels = null, int? rollouts = null) =>
        new(s.Id, s.ProblemId, s.Question, s.Answer, s.Solution, k, method, outcome, estimates, labels, rollouts);

    /// <summary>prefixes[i]: the solution up to the end of step i, i = 0..S.</summary>
    public static IReadOnlyList<string> Prefixes(SampleRecord s) => Prefixes(s.Solution);

    public static IReadOnlyList<string> Prefixes(string solution)
    {
        var split = Steps.Split(solution, StepStyle.Labels);
        return Enumerable.Range(0, split.Steps.Count + 1).Select(split.Prefix).ToList();
    }

    /// <summary>locate.json and the locate_* counters of the method as verify ran it (the first row) against the exact checker.</summary>
    public void WriteLocate(IReadOnlyList<LocateSummary> rows)
    {
        var ctx = Context;
        PipelineStage.WriteJson(ctx.File(ExactCheckerEvaluation.FileName), new LocateFile(ExactCheckerEvaluation.Truth, Samples.Count, rows));
        var mine = rows[0];
        ctx.Counters["locate_truth"] = ExactCheckerEvaluation.Truth;
        foreach (var (name, part) in new[] { ("exact", mine.Exact), ("early", mine.Early), ("late", mine.Late), ("missed", mine.Missed) })
            ctx.Counters[$"locate_{name}_share"] = PipelineStage.Ratio(part, mine.Errors);
        if (mine.F1 is double f1) ctx.Counters["locate_f1"] = Math.Round(f1, 4);
        if (mine.CostPerLocatedError is double c) ctx.Counters[$"locate_{mine.CostUnit.Replace(' ', '_')}_per_located_error"] = Math.Round(c, 2);
    }
}
