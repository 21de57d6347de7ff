using System.Text.Json.Serialization;
using StepDpo.Answers;
using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Data.Hub;
using StepDpo.Stages.Models;
using StepDpo.Stages.Pool;
using StepDpo.Stages.Records;
using StepDpo.Stages.Sampling;
using StepDpo.Text;

namespace StepDpo.Stages.Implementations;

/// <summary>
/// pairs (rectification, paper 3.2 step 3). For a wrong solution whose first wrong step is k, sample continuations
/// from the SAME model given the problem and steps 1..k-1 (in-distribution: the paper's key finding); keep those that
/// reach the gold answer; chosen = the first step of a kept continuation, rejected = step k; duplicate chosen steps
/// per prefix are dropped. When the verifier is an exact step checker (verify.method `rule`), a kept continuation must
/// also pass it step by step: small models often reach the right answer through wrong steps (a lucky guess, two errors
/// that cancel), and such a "chosen" step would teach the error. pairs.jsonl is in the public Step-DPO format:
///   initial_reason_steps = "Let's think step by step.\nStep 1: ...\nStep k:", chosen/rejected = the text of step k.
/// pairs.kind `full` builds plain DPO pairs from the samples instead (a correct vs a wrong whole solution, same
/// sample budget); pairs.from imports an existing pair data set.
/// </summary>
public sealed class PairsStage(string name = "pairs", Links? links = null) : PipelineStage<PairsStage.Input>(name, links)
{
    public override int Version => 5; // 5: errors sharing a prefix share its rectification, four static batches per call; 4: attention written out on the CPU
    public const string FileName = "pairs.jsonl";
    const string RectifiedFile = "rectified.jsonl";

    /// <param name="From">pairs.from: the data set imported (nothing else is read then)</param>
    /// <param name="Dataset">data.source, which every pair names</param>
    /// <param name="StepChecker">with verify.method rule: the synthetic pool whose checker a chosen step must pass</param>
    /// <param name="Rectify">kind step: how continuations are sampled from the start model</param>
    public sealed record Input(
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? From,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Kind = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? MaxPairsPerProblem = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Dataset = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Seed = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DataSlice? StepChecker = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Rectification? Rectify = null);

    public sealed record Rectification(int Samples, double Temperature, double TopP, int MaxNewTokens, ModelSection Model, string Device,
        Generation Generation, GraderKey Grader);

    public override IReadOnlyList<string> DependsOn(ManifestReader<Manifest> m) =>
        m.Get(x => x.Pairs.From) is null ? [Links.StartModel, Links.Samples, Links.Verified] : [];

    protected override Input Read(ManifestReader<Manifest> m)
    {
        var p = m.Section(x => x.Pairs);
        if (p.Get(x => x.From) is { } from) return new Input(from);
        string kind = p.Get(x => x.Kind);
        return new Input(null, kind, p.Get(x => x.MaxPairsPerProblem), m.Get(x => x.Data.Source), m.Get(x => x.Seed),
            m.Get(x => x.Verify.Method) == "rule" ? Slices.Pool(m) : null,
            kind == "full" ? null : new Rectification(p.Get(x => x.Samples), p.Get(x => x.Temperature), p.Get(x => x.TopP),
                p.Get(x => x.MaxNewTokens), m.Get(x => x.Model), Slices.DeviceKind(m), Generation.Read(m.Section<IGenerationSection>(x => x.Sample)),
                Slices.Grader(m)));
    }

    protected override IEnumerable<string> Files(Input input, Workspace ws)
    {
        if (input.From is { } from && HubSnapshots.ResolveLocal(from, ws.Root, HubRepoType.Dataset, HubSelection.Dataset) is { } path) return [path];
        return input.Rectify is { } r ? ModelStore.StartModelFiles(r.Model, ws) : [];
    }

    protected override void Check(ReadinessCheck check, Input input, IReadOnlyList<string> upstream)
    {
        if (input.From is { } from) check.PairsFrom(from);
        else if (input.Rectify is { } r) check.StartModel(r.Model, r.Generation, upstream.Contains(Links.StartModel));
    }

    protected override async Task RunAsync(StageContext ctx, Input input, CancellationToken ct)
    {
        List<StepDpoPair> pairs;
        if (input.From is { } from) pairs = Import(ctx, from);
        else if (input.Rectify is null) pairs = FullSolutionPairs(ctx, input);
        else pairs = await Rectify(ctx, input, input.Rectify, ct);
        PairFile.Write(ctx.File(FileName), pairs);
        ctx.Count("pairs", pairs.Count);
        ctx.Count("problems_with_pairs", pairs.Select(p => p.Prompt).Distinct().Count());
    }

    /// <summary>pairs.from: a pair file (JSONL, JSON, parquet) or folder of them, or a Hub data set (owner/name[@revision],
    /// e.g. xinlai/Math-Step-DPO-10K) whose data files are read in order.</summary>
    static List<StepDpoPair> Import(StageContext ctx, string from)
    {
        string path = HubSnapshots.Resolve(from, ctx.Workspace.Root, HubRepoType.Dataset, HubSelection.Dataset, "pairs.from",
            progress: ctx.Progress.Info);
        var files = File.Exists(path) ? [path] : HubSelection.DataFiles(path).Select(f => Path.Combine(path, f)).ToList();
        if (files.Count == 0) throw new StepDpoException($"pairs.from '{from}': {path} holds no .parquet, .jsonl or .json file");
        ctx.Counters["pairs_files"] = files.Select(f => Path.GetRelativePath(path, f)).ToList();
        return files.SelectMany(PairFile.Read).ToList();
    }

    /// <summary>Plain DPO: per problem, correct and wrong whole solutions paired in order.</summary>
    List<StepDpoPair> FullSolutionPairs(StageContext ctx, Input input)
    {
        const string lead = SampleRecord.StepPreamble;
        string irs = lead.TrimEnd(' ');
        var samples = PipelineStage.ReadJsonl<SampleRecord>(Path.Combine(ctx.Upstream(Links.Samples), SampleStage.FileName));
        var stepsRight = StepChecker(ctx, input);
        var pairs = new List<StepDpoPair>();
        foreach (var problem in samples.GroupBy(s => s.ProblemId))
        {
            var right = problem.Where(s => s.Correct && (stepsRight is null || stepsRight(s.ProblemId, s.Solution))).ToList();
            var wrong = problem.Where(s => !s.Correct).ToList();
            int count = System.Math.Min(right.Count, wrong.Count);
            if (input.MaxPairsPerProblem is int max) count = System.Math.Min(count, max);
            for (int i = 0; i < count; i++)
            {
                if (!right[i].Solution.StartsWith(lead) || !wrong[i].Solution.StartsWith(lead)) continue;
                pairs.Add(new StepDpoPair(right[i].Question, irs, right[i].Solution[irs.Length..], wrong[i].Solution[irs.Length..],
                    right[i].Solution, wrong[i].Solution, right[i].Answer, input.Dataset!));
            }
        }
        return pairs;
    }

    async Task<List<StepDpoPair>> Rectify(StageContext ctx, Input input, Rectification r, CancellationToken ct)
    {
        var located = PipelineStage.ReadJsonl<VerifiedRecord>(Path.Combine(ctx.Upstream(Links.Verified), VerifyStage.FileName))
            .Where(v => v.FirstWrongStep is not null).ToList();
        using var store = JsonlRecordStore<RectifiedRecord>.Open(ctx.File(RectifiedFile), x => x.Id, PipelineStage.Json);
        using var bar = ctx.Progress.Start("pairs (rectify)", located.Count);
        bar.SetValue(store.Count);
        var todo = located.Where(v => !store.IsDone(v.Id)).ToList();
        if (todo.Count > 0)
        {
            var stepsRight = StepChecker(ctx, input);
            string modelDir = r.Generation.NeedsModelFolders ? ModelStore.StartModelDir(ctx, r.Model, Links.StartModel) : "";
            using var sampler = await r.Generation.OpenAsync(r.Model, modelDir, "start", ctx, ct);
            var p = new SampleParams(r.Samples, r.Temperature, r.TopP, r.MaxNewTokens, [], ctx.Seed(input.Seed!.Value, "rectify"));
            // Wrong solutions that agree up to their first wrong step (often: the same habit at step 1 in several samples
            // of a problem) ask the same question of the model: each distinct prefix is rectified once, and every error
            // sharing it pairs its own wrong step with those continuations (tiny: 766 prefixes for 2,135 errors).
            var groups = todo.Select(StepError.Of).GroupBy(e => e.Prompt(r.Model.Template)).ToList();
            foreach (var chunk in groups.Chunk(System.Math.Max(1, sampler.PreferredChunk / r.Samples)))
            {
                ct.ThrowIfCancellationRequested();
                var prompts = chunk.Select(g => new SamplePrompt(g.First().Record.Id, g.Key)).ToList();
                var outputs = await sampler.SampleAsync(prompts, p, null, ct);
                store.AppendBatch(chunk.SelectMany((g, i) => StepError.RectifyShared(g.ToList(), outputs[i], r.Grader.Name,
                    input.Dataset!, stepsRight)).ToList());
                bar.Increment(chunk.Sum(g => g.Count()));
            }
        }
        var records = store.Records();
        ctx.Count("located", located.Count);
        ctx.Count("rectified_prefixes", records.Count(x => x.Samples > 0));
        ctx.Count("rectified", records.Count(x => x.Pairs.Count > 0));
        ctx.Count("rectification_samples", records.Sum(x => (long)x.Samples));
        ctx.Count("rectification_correct", records.Sum(x => (long)x.Correct));
        ctx.Count("rectification_right_answer_wrong_steps", records.Sum(x => (long)x.RightAnswerWrongSteps));
        ctx.Counters["rectified_share"] = PipelineStage.Ratio(records.Count(x => x.Pairs.Count > 0), located.Count);
        var limit = input.MaxPairsPerProblem ?? int.MaxValue;
        return records.GroupBy(x => x.ProblemId).SelectMany(g => g.SelectMany(x => x.Pairs).Take(limit)).ToList();
    }

    /// <summary>With verify.method `rule`: whether every step of a solution passes the world's step checker; else null
    /// (the paper's criterion, the final answer, is then the only one).</summary>
    static Func<string, string, bool>? StepChecker(StageContext ctx, Input input)
    {
        if (input.StepChecker is null) return null;
        var pool = ProblemPool.Sampling(input.Seed!.Value, input.StepChecker, ctx.Workspace);
        return (problemId, solution) => pool.FirstWrongStep(problemId,
            Steps.Split(solution, StepStyle.Labels).Steps.Select(st => st.Content).Where(c => c.Length > 0).ToList()) is null;
    }

    /// <summary>The prompt rectification continues from for a located error: the question, then the solution up to the
    /// wrong step's "Step k:" label (what the pairs stage samples from; public for the scheduling benchmark).</summary>
    public static string RectificationPrompt(VerifiedRecord located, string template) => StepError.Of(located).Prompt(template);

    /// <summary>A located error: the text before step k (ending with the "Step k:" label) and step k itself.</summary>
    sealed record StepError(VerifiedRecord Record, string InitialReasonSteps, string Rejected)
    {
        public static StepError Of(VerifiedRecord v)
        {
            var split = Steps.Split(v.Solution, StepStyle.Labels);
            int k = v.FirstWrongStep!.Value;
            if (k < 1 || k > split.Steps.Count)
                throw new StepDpoException($"verify: {v.Id} names step {k}, but the solution has {split.Steps.Count} steps");
            var step = split.Steps[k - 1].Text;
            int colon = step.IndexOf(':');
            return new StepError(v, split.Prefix(k - 1) + step[..(colon + 1)], step[(colon + 1)..]);
        }

        public string Prompt(string template) => PromptTemplates.RenderWithPrefix(template, Record.Question, InitialReasonSteps);

        /// <summary>Rectifies errors that share one prefix (and so one set of continuations): the continuations are
        /// judged once; each error pairs its own wrong step with the first steps of the kept ones (a chosen step equal to
        /// its rejected one, or already paired with the same rejected step by an earlier error, is dropped). The first
        /// error's record counts the continuations, the others none (they generated none).</summary>
        public static IEnumerable<RectifiedRecord> RectifyShared(IReadOnlyList<StepError> errors, IReadOnlyList<string> continuations,
            string grader, string dataset, Func<string, string, bool>? stepsRight)
        {
            var (prefix, record) = (errors[0].InitialReasonSteps, errors[0].Record);
            var kept = new List<(string Chosen, string Full)>();
            int lucky = 0;
            foreach (var c in continuations)
            {
                string full = prefix + c;
                if (!Grading.Grade(full, record.Answer, grader).Correct) continue;
                if (stepsRight is not null && !stepsRight(record.ProblemId, full)) { lucky++; continue; }
                kept.Add((FirstStep(c), full));
            }
            var made = new HashSet<(string, string)>();
            for (int i = 0; i < errors.Count; i++)
            {
                var e = errors[i];
                string rejected = Normalise(e.Rejected);
                var seen = new HashSet<string> { rejected };
                var pairs = new List<StepDpoPair>();
                foreach (var (chosen, full) in kept)
                {
                    if (chosen.Trim().Length == 0 || !seen.Add(Normalise(chosen)) || !made.Add((Normalise(chosen), rejected))) continue;
                    pairs.Add(new StepDpoPair(e.Record.Question, prefix, chosen, e.Rejected, full, e.Record.Solution, e.Record.Answer, dataset));
                }
                yield return i == 0
                    ? new RectifiedRecord(e.Record.Id, e.Record.ProblemId, continuations.Count, kept.Count, lucky, pairs)
                    : new RectifiedRecord(e.Record.Id, e.Record.ProblemId, 0, 0, 0, pairs);
            }
        }

        /// <summary>The continuation up to (and with) the newline before the next "Step" label.</summary>
        static string FirstStep(string continuation)
        {
            int next = continuation.IndexOf("\nStep ", StringComparison.Ordinal);
            return next < 0 ? continuation : continuation[..(next + 1)];
        }

        static string Normalise(string step) => string.Join(' ', step.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }
}
