using System.Collections.Concurrent;

namespace StepDpo.Stages.Verify;

/// <summary>Samples <paramref name="m"/> continuations of <paramref name="prefix"/> and returns how many reach the
/// correct final answer.</summary>
public delegate Task<int> RolloutOracle(string prefix, int m, CancellationToken ct);

public enum RolloutOutcome
{
    /// <summary>The first wrong step was found.</summary>
    Located,
    /// <summary>Even the bare problem (no steps) has no successful rollout: nothing to localise against, and no
    /// correct continuation to build a pair from.</summary>
    ProblemUnsolved,
}

/// <param name="FirstWrongStep">1-based step after which the prefix is no longer alive; null unless Located</param>
/// <param name="Estimates">prefix length i (steps kept) to successes/m, for every prefix that was evaluated</param>
/// <param name="OracleCalls">oracle calls this search made (cache hits excluded)</param>
public sealed record RolloutLocation(RolloutOutcome Outcome, int? FirstWrongStep, IReadOnlyDictionary<int, double> Estimates, int OracleCalls);

/// <summary>Monte Carlo first-error localisation, as in Math-Shepherd and OmegaPRM. The prefix ending after step i
/// is "alive" when at least one of m rollouts from it reaches the correct answer; the first wrong step is the
/// first i whose prefix is dead. The solution's own final answer is wrong, so the full prefix is dead without
/// asking. Binary search (OmegaPRM) finds the boundary with O(m log S) rollouts instead of the linear O(m S),
/// assuming aliveness only ever goes from alive to dead along the steps. Evaluated prefixes are cached by their
/// text, so wrong samples of one problem share the rollouts of their common prefixes.</summary>
public sealed class RolloutLocator
{
    readonly RolloutOracle oracle;
    readonly int m;
    readonly bool checkEmptyPrefix;
    readonly ConcurrentDictionary<string, int> cache = new(StringComparer.Ordinal);

    /// <param name="rolloutsPerPrefix">m, the rollouts per evaluated prefix</param>
    /// <param name="checkEmptyPrefix">evaluate the bare problem first and report <see cref="RolloutOutcome.ProblemUnsolved"/>
    /// when it is dead; when false it is assumed alive</param>
    public RolloutLocator(RolloutOracle oracle, int rolloutsPerPrefix, bool checkEmptyPrefix = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rolloutsPerPrefix, 1);
        this.oracle = oracle;
        m = rolloutsPerPrefix;
        this.checkEmptyPrefix = checkEmptyPrefix;
    }

    /// <summary>Tells the locator what an earlier search (e.g. one stored before a kill) found for a prefix, so that its
    /// rollouts are neither asked for nor counted again.</summary>
    public void Remember(string prefix, int successes) => cache[prefix] = successes;

    /// <summary>Prefixes evaluated so far by this locator (over all searches).</summary>
    public int CachedPrefixes => cache.Count;

    /// <param name="prefixes">prefixes[i] is the text ending after step i, i = 0..S (see <see cref="StepPrefixes"/>)</param>
    public async Task<RolloutLocation> BinarySearchAsync(IReadOnlyList<string> prefixes, CancellationToken ct)
    {
        var search = new Search(this, prefixes);
        if (checkEmptyPrefix && !await search.AliveAsync(0, ct)) return search.Result(RolloutOutcome.ProblemUnsolved, null);
        // Invariant: prefix lo is alive, prefix hi is dead.
        int lo = 0, hi = search.StepCount;
        while (hi - lo > 1)
        {
            var mid = lo + (hi - lo) / 2;
            if (await search.AliveAsync(mid, ct)) lo = mid; else hi = mid;
        }
        return search.Result(RolloutOutcome.Located, hi);
    }

    /// <summary>Exponential ("galloping") search: probe the prefixes after steps 1, 2, 4, 8, ... until one is dead,
    /// then binary-search the last gap. Costs O(m log k) for a first error at step k instead of O(m log S): real
    /// wrong solutions mostly go wrong early (see the rollout benchmark), where plain binary search overpays.</summary>
    public async Task<RolloutLocation> GallopingSearchAsync(IReadOnlyList<string> prefixes, CancellationToken ct)
    {
        var search = new Search(this, prefixes);
        if (checkEmptyPrefix && !await search.AliveAsync(0, ct)) return search.Result(RolloutOutcome.ProblemUnsolved, null);
        int lo = 0, hi = search.StepCount;
        for (var probe = 1; probe < search.StepCount; probe *= 2)
        {
            if (!await search.AliveAsync(probe, ct)) { hi = probe; break; }
            lo = probe;
        }
        while (hi - lo > 1)
        {
            var mid = lo + (hi - lo) / 2;
            if (await search.AliveAsync(mid, ct)) lo = mid; else hi = mid;
        }
        return search.Result(RolloutOutcome.Located, hi);
    }

    /// <summary>The step-by-step scan the binary search replaces; kept for comparison and for non-monotone cases.</summary>
    public async Task<RolloutLocation> LinearScanAsync(IReadOnlyList<string> prefixes, CancellationToken ct)
    {
        var search = new Search(this, prefixes);
        if (checkEmptyPrefix && !await search.AliveAsync(0, ct)) return search.Result(RolloutOutcome.ProblemUnsolved, null);
        for (var i = 1; i < search.StepCount; i++)
            if (!await search.AliveAsync(i, ct)) return search.Result(RolloutOutcome.Located, i);
        return search.Result(RolloutOutcome.Located, search.StepCount);
    }

    sealed class Search
    {
        readonly RolloutLocator owner;
        readonly IReadOnlyList<string> prefixes;
        readonly SortedDictionary<int, double> estimates = [];
        int calls;

        public Search(RolloutLocator owner, IReadOnlyList<string> prefixes)
        {
            if (prefixes.Count < 2)
                throw new ArgumentException("need prefixes for 0..S steps with S >= 1 (prefixes[0] is the bare problem)", nameof(prefixes));
            this.owner = owner;
            this.prefixes = prefixes;
        }

        public int StepCount => prefixes.Count - 1;

        public async Task<bool> AliveAsync(int i, CancellationToken ct)
        {
            if (!owner.cache.TryGetValue(prefixes[i], out var successes))
            {
                successes = await owner.oracle(prefixes[i], owner.m, ct).ConfigureAwait(false);
                if (successes < 0 || successes > owner.m)
                    throw new InvalidOperationException($"rollout oracle reported {successes} successes out of {owner.m}");
                owner.cache[prefixes[i]] = successes;
                calls++;
            }
            estimates[i] = (double)successes / owner.m;
            return successes > 0;
        }

        public RolloutLocation Result(RolloutOutcome outcome, int? step) => new(outcome, step, estimates, calls);
    }
}

/// <summary>Builds the prefixes a <see cref="RolloutLocator"/> searches over.</summary>
public static class StepPrefixes
{
    /// <summary>prefixes[i] = <paramref name="head"/> followed by the first i steps, each given verbatim (with its own
    /// label and line break, as the splitter cut it from the solution), for i = 0..steps.Count.</summary>
    public static IReadOnlyList<string> Concatenate(string head, IReadOnlyList<string> steps)
    {
        var prefixes = new string[steps.Count + 1];
        var text = new System.Text.StringBuilder(head);
        prefixes[0] = head;
        for (var i = 0; i < steps.Count; i++) prefixes[i + 1] = text.Append(steps[i]).ToString();
        return prefixes;
    }
}
