using System.Collections.Concurrent;
using System.Text.Json.Serialization;
using StepDpo.Answers;
using StepDpo.Core;
using StepDpo.Core.Artifacts;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Locate;
using StepDpo.Stages.Models;
using StepDpo.Stages.Pool;
using StepDpo.Stages.Sampling;
using StepDpo.Text;

namespace StepDpo.Stages.Verify;

/// <summary>`rollout`: the prefix after step i is alive when one of m continuations from it (the start model, on
/// sample's backend) reaches the gold answer; the first wrong step is found by binary search (OmegaPRM). On the
/// synthetic world every search is also scored against the exact checker (locate.json).</summary>
public sealed class RolloutVerifier : Verifier
{
    public override string Name => "rollout";

    /// <param name="Truth">the synthetic pool whose exact checker scores the searches; null for other worlds</param>
    public sealed record Settings(int Rollouts, double Temperature, double TopP, int MaxNewTokens, ModelSection Model, string Device,
        Generation Generation, GraderKey Grader,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DataSlice? Truth);

    public override object Read(ManifestReader<Manifest> m)
    {
        var v = m.Section(x => x.Verify);
        return new Settings(v.Get(x => x.Rollouts), v.Get(x => x.Temperature), v.Get(x => x.TopP), v.Get(x => x.MaxNewTokens),
            m.Get(x => x.Model), Slices.DeviceKind(m), Generation.Read(m.Section<IGenerationSection>(x => x.Sample)), Slices.Grader(m),
            m.Get(x => x.Data.Source) == "synthetic" ? Slices.Pool(m) : null);
    }

    public override void Check(ReadinessCheck check, object settings, bool startModelTrainedUpstream)
    {
        var s = (Settings)settings;
        check.StartModel(s.Model, s.Generation, startModelTrainedUpstream);
    }

    public override IEnumerable<string> Files(object settings, Workspace ws) => ModelStore.StartModelFiles(((Settings)settings).Model, ws);

    public override async Task RunAsync(VerifyJob job, object settings, CancellationToken ct)
    {
        var s = (Settings)settings;
        using var sampler = new StartModelSampler(job, s);
        var oracles = Oracles(job, s, sampler);
        var storedByProblem = job.Store.Records().Where(r => r.Estimates is not null).ToLookup(r => r.ProblemId);
        var locators = new ConcurrentDictionary<string, RolloutLocator>();
        // Problems side by side on the CPU's cores (each probe is one prompt's m rollouts, too small to fill them alone).
        job.EachProblem(async (sample, token) =>
        {
            // One locator per problem: wrong samples of a problem share the rollouts of their common prefixes. A resumed
            // run first remembers what the stored records of the problem evaluated, so each record's cost (rollouts of
            // prefixes its problem had not evaluated before) is the one an uninterrupted run records.
            var locator = locators.GetOrAdd(sample.ProblemId, _ =>
            {
                var fresh = new RolloutLocator(oracles(sample), s.Rollouts);
                foreach (var r in storedByProblem[sample.ProblemId])
                {
                    var prefixes = VerifyJob.Prefixes(r.Solution);
                    foreach (var (i, estimate) in r.Estimates!) fresh.Remember(prefixes[int.Parse(i)], (int)Math.Round(estimate * s.Rollouts));
                }
                return fresh;
            });
            var found = await locator.BinarySearchAsync(VerifyJob.Prefixes(sample), token);
            var estimates = found.Estimates.ToDictionary(e => e.Key.ToString(), e => e.Value);
            return VerifyJob.Record(sample, found.FirstWrongStep, Name, found.Outcome == RolloutOutcome.Located ? "located" : "problem_unsolved",
                estimates, rollouts: found.OracleCalls * s.Rollouts);
        }, StepDpo.Torch.Devices.CpuWorkers.Available, ct);

        if (s.Truth is null || ProblemPool.Sampling(job.Seed, s.Truth, job.Context.Workspace) is not { IsSynthetic: true } pool) return;
        using var bar = job.Context.Progress.Start("verify: rollout searches against the exact checker", job.Samples.Count * RolloutSearches.All.Count);
        job.WriteLocate(await ExactCheckerEvaluation.RolloutAsync(job.Samples, x => pool.FirstWrongStep(x.ProblemId, x.Steps), oracles,
            VerifyJob.Prefixes, s.Rollouts, () => bar.Increment(), ct));
    }

    /// <summary>The rollout oracle of a sample's problem: m continuations of a prefix from the start model, counted when
    /// they reach the gold answer. Memoised: a prompt's continuations depend only on its id (problem, prefix) and the
    /// seed, so every locator that asks about a prefix gets the same answer and it is sampled once.</summary>
    static Func<SampleRecord, RolloutOracle> Oracles(VerifyJob job, Settings s, StartModelSampler sampler)
    {
        var memo = new ConcurrentDictionary<(string Id, int N), int>();
        long seed = job.Context.Seed(job.Seed, "rollout");
        return sample => async (prefix, n, token) =>
        {
            var prompt = new SamplePrompt($"{sample.ProblemId}|{prefix.Length}|{ContentHasher.HashText(prefix)[..12]}",
                PromptTemplates.RenderWithPrefix(s.Model.Template, sample.Question, prefix));
            if (memo.TryGetValue((prompt.Id, n), out var known)) return known;
            var outs = await (await sampler.GetAsync(token)).SampleAsync([prompt],
                new SampleParams(n, s.Temperature, s.TopP, s.MaxNewTokens, [], seed), null, token);
            return memo[(prompt.Id, n)] = outs[0].Count(c => Grading.Grade(prefix + c, sample.Answer, s.Grader.Name).Correct);
        };
    }

    /// <summary>The start model as a sampler, made on first use: a resumed run may need none.</summary>
    sealed class StartModelSampler(VerifyJob job, Settings s) : IDisposable
    {
        ISampler? sampler;

        readonly SemaphoreSlim opening = new(1, 1); // problems are located on several threads; one sampler for all

        public async Task<ISampler> GetAsync(CancellationToken ct)
        {
            await opening.WaitAsync(ct);
            try
            {
                return sampler ??= await s.Generation.OpenAsync(s.Model,
                    s.Generation.NeedsModelFolders ? ModelStore.StartModelDir(job.Context, s.Model, job.StartModel) : "", "start", job.Context, ct);
            }
            finally { opening.Release(); }
        }

        public void Dispose()
        {
            sampler?.Dispose();
            opening.Dispose();
        }
    }
}
