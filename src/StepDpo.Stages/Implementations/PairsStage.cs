using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Data;
using StepDpo.Data.Hub;
using StepDpo.Stages.Pool;
using StepDpo.Answers;
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
public sealed class PairsStage : PipelineStage
{
    public override string Name => "pairs";
    public override int Version => 3;
    public const string FileName = "pairs.jsonl";
    const string RectifiedFile = "rectified.jsonl";

    public override async Task RunAsync(StageContext ctx, CancellationToken ct)
    {
        var m = ctx.Manifest;
        List<StepDpoPair> pairs;
        if (m.Pairs.From is { } from) pairs = Import(ctx, from);
        else if (m.Pairs.Kind == "full") pairs = FullSolutionPairs(ctx);
        else pairs = await Rectify(ctx, ct);
        PairFile.Write(ctx.File(FileName), pairs);
        Count(ctx, "pairs", pairs.Count);
        Count(ctx, "problems_with_pairs", pairs.Select(p => p.Prompt).Distinct().Count());
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
    static List<StepDpoPair> FullSolutionPairs(StageContext ctx)
    {
        var m = ctx.Manifest;
        const string lead = SampleRecord.StepPreamble;
        string irs = lead.TrimEnd(' ');
        var samples = ReadJsonl<SampleRecord>(Path.Combine(ctx.Upstream("sample"), SampleStage.FileName));
        var stepsRight = StepChecker(ctx);
        var pairs = new List<StepDpoPair>();
        foreach (var problem in samples.GroupBy(s => s.ProblemId))
        {
            var right = problem.Where(s => s.Correct && (stepsRight is null || stepsRight(s.ProblemId, s.Solution))).ToList();
            var wrong = problem.Where(s => !s.Correct).ToList();
            int count = System.Math.Min(right.Count, wrong.Count);
            if (m.Pairs.MaxPairsPerProblem is int max) count = System.Math.Min(count, max);
            for (int i = 0; i < count; i++)
            {
                if (!right[i].Solution.StartsWith(lead) || !wrong[i].Solution.StartsWith(lead)) continue;
                pairs.Add(new StepDpoPair(right[i].Question, irs, right[i].Solution[irs.Length..], wrong[i].Solution[irs.Length..],
                    right[i].Solution, wrong[i].Solution, right[i].Answer, m.Data.Source));
            }
        }
        return pairs;
    }

    static async Task<List<StepDpoPair>> Rectify(StageContext ctx, CancellationToken ct)
    {
        var m = ctx.Manifest;
        var located = ReadJsonl<VerifiedRecord>(Path.Combine(ctx.Upstream("verify"), VerifyStage.FileName))
            .Where(v => v.FirstWrongStep is not null).ToList();
        using var store = JsonlRecordStore<RectifiedRecord>.Open(ctx.File(RectifiedFile), r => r.Id, Json);
        using var bar = ctx.Progress.Start("pairs (rectify)", located.Count);
        bar.SetValue(store.Count);
        var todo = located.Where(v => !store.IsDone(v.Id)).ToList();
        if (todo.Count > 0)
        {
            var stepsRight = StepChecker(ctx);
            using var sampler = await Samplers.ForStartModelAsync(ctx, m.Sample.Backend, m.Sample.Endpoint, m.Sample.BatchSize, ct);
            var p = new SampleParams(m.Pairs.Samples, m.Pairs.Temperature, m.Pairs.TopP, m.Pairs.MaxNewTokens,
                Array.Empty<string>(), ctx.Seed("rectify"));
            foreach (var chunk in todo.Chunk(System.Math.Max(1, sampler.PreferredChunk / m.Pairs.Samples)))
            {
                ct.ThrowIfCancellationRequested();
                var errors = chunk.Select(v => StepError.Of(v)).ToList();
                var prompts = errors.Select(e => new SamplePrompt(e.Record.Id,
                    PromptTemplates.RenderWithPrefix(m.Model.Template, e.Record.Question, e.InitialReasonSteps))).ToList();
                var outputs = await sampler.SampleAsync(prompts, p, null, ct);
                store.AppendBatch(errors.Select((e, i) => e.Rectify(outputs[i], m.Evaluate.Grader, m.Data.Source, stepsRight)).ToList());
                bar.Increment(chunk.Length);
            }
        }
        var records = store.Records();
        Count(ctx, "located", located.Count);
        Count(ctx, "rectified", records.Count(r => r.Pairs.Count > 0));
        Count(ctx, "rectification_samples", records.Sum(r => (long)r.Samples));
        Count(ctx, "rectification_correct", records.Sum(r => (long)r.Correct));
        Count(ctx, "rectification_right_answer_wrong_steps", records.Sum(r => (long)r.RightAnswerWrongSteps));
        ctx.Counters["rectified_share"] = Ratio(records.Count(r => r.Pairs.Count > 0), located.Count);
        var limit = m.Pairs.MaxPairsPerProblem ?? int.MaxValue;
        return records.GroupBy(r => r.ProblemId).SelectMany(g => g.SelectMany(r => r.Pairs).Take(limit)).ToList();
    }

    /// <summary>With verify.method `rule`: whether every step of a solution passes the world's step checker; else null
    /// (the paper's criterion, the final answer, is then the only one).</summary>
    static Func<string, string, bool>? StepChecker(StageContext ctx)
    {
        if (ctx.Manifest.Verify.Method != "rule") return null;
        var pool = ProblemPool.Sampling(ctx.Manifest, ctx.Workspace);
        return (problemId, solution) => pool.FirstWrongStep(problemId,
            Steps.Split(solution, StepStyle.Labels).Steps.Select(st => st.Content).Where(c => c.Length > 0).ToList()) is null;
    }

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

        public RectifiedRecord Rectify(IReadOnlyList<string> continuations, string grader, string dataset,
            Func<string, string, bool>? stepsRight)
        {
            var pairs = new List<StepDpoPair>();
            var seen = new HashSet<string> { Normalise(Rejected) };
            int correct = 0, lucky = 0;
            foreach (var c in continuations)
            {
                string full = InitialReasonSteps + c;
                if (!Grading.Grade(full, Record.Answer, grader).Correct) continue;
                if (stepsRight is not null && !stepsRight(Record.ProblemId, full)) { lucky++; continue; }
                correct++;
                string chosen = FirstStep(c);
                if (chosen.Trim().Length == 0 || !seen.Add(Normalise(chosen))) continue;
                pairs.Add(new StepDpoPair(Record.Question, InitialReasonSteps, chosen, Rejected, full, Record.Solution,
                    Record.Answer, dataset));
            }
            return new RectifiedRecord(Record.Id, Record.ProblemId, continuations.Count, correct, lucky, pairs);
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
