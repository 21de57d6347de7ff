using StepDpo.Stages.Backends;
using StepDpo.Stages.Tests.Loopback;
using StepDpo.Stages.Verify;

namespace StepDpo.Stages.Tests.Verify;

public class RolloutLocatorTests
{
    /// <summary>A deterministic oracle over prefixes "0".."S" (the prefix text is its step count): prefixes before
    /// step k are alive with a success count that falls towards the error, later ones dead. Counts its calls.</summary>
    sealed class StepOracle(int firstWrong, int m)
    {
        public int Calls;
        public readonly List<int> Asked = [];
        public Task<int> Rollouts(string prefix, int rollouts, CancellationToken ct)
        {
            Assert.Equal(m, rollouts);
            var i = int.Parse(prefix);
            Calls++;
            Asked.Add(i);
            return Task.FromResult(i < firstWrong ? Math.Max(1, m - i) : 0);
        }
    }

    static IReadOnlyList<string> Prefixes(int steps) => Enumerable.Range(0, steps + 1).Select(i => i.ToString()).ToArray();

    [Fact]
    public async Task Binary_search_and_linear_scan_agree_on_every_monotone_oracle()
    {
        for (var steps = 1; steps <= 40; steps++)
            for (var k = 1; k <= steps; k++)
            {
                var linearOracle = new StepOracle(k, 8);
                var binaryOracle = new StepOracle(k, 8);
                var linear = await new RolloutLocator(linearOracle.Rollouts, 8).LinearScanAsync(Prefixes(steps), CancellationToken.None);
                var binary = await new RolloutLocator(binaryOracle.Rollouts, 8).BinarySearchAsync(Prefixes(steps), CancellationToken.None);

                Assert.Equal((RolloutOutcome.Located, k), (linear.Outcome, linear.FirstWrongStep!.Value));
                Assert.Equal((RolloutOutcome.Located, k), (binary.Outcome, binary.FirstWrongStep!.Value));
                // Linear: the bare problem plus every step before the error (the last, known-wrong prefix is never asked).
                Assert.Equal(Math.Min(k, steps - 1) + 1, linearOracle.Calls);
                // Binary: the bare problem plus at most ceil(log2 S) probes.
                Assert.InRange(binaryOracle.Calls, 1, 1 + (int)Math.Ceiling(Math.Log2(steps)));
                Assert.Equal(binaryOracle.Calls, binary.OracleCalls);
                Assert.DoesNotContain(steps, binaryOracle.Asked);

                var gallopOracle = new StepOracle(k, 8);
                var gallop = await new RolloutLocator(gallopOracle.Rollouts, 8).GallopingSearchAsync(Prefixes(steps), CancellationToken.None);
                Assert.Equal((RolloutOutcome.Located, k), (gallop.Outcome, gallop.FirstWrongStep!.Value));
                // Galloping: the bare problem, probes 1, 2, 4, ... up to the first dead one, then a binary search
                // inside the last doubling: at most 1 + 2*ceil(log2 k) + 1, whatever the solution's length.
                Assert.InRange(gallopOracle.Calls, 1, 2 + 2 * (int)Math.Ceiling(Math.Log2(k)));
                Assert.DoesNotContain(steps, gallopOracle.Asked);
            }
    }

    [Fact]
    public async Task On_a_long_solution_binary_search_costs_log_steps()
    {
        var linearOracle = new StepOracle(29, 4);
        var binaryOracle = new StepOracle(29, 4);
        await new RolloutLocator(linearOracle.Rollouts, 4).LinearScanAsync(Prefixes(32), CancellationToken.None);
        await new RolloutLocator(binaryOracle.Rollouts, 4).BinarySearchAsync(Prefixes(32), CancellationToken.None);
        Assert.Equal(30, linearOracle.Calls);
        Assert.Equal(6, binaryOracle.Calls);   // bare problem + log2(32)
    }

    [Fact]
    public async Task An_early_error_in_a_long_solution_is_cheapest_to_find_by_galloping()
    {
        var binaryOracle = new StepOracle(2, 4);
        var gallopOracle = new StepOracle(2, 4);
        await new RolloutLocator(binaryOracle.Rollouts, 4).BinarySearchAsync(Prefixes(40), CancellationToken.None);
        await new RolloutLocator(gallopOracle.Rollouts, 4).GallopingSearchAsync(Prefixes(40), CancellationToken.None);
        Assert.Equal(6, binaryOracle.Calls);   // bare problem, then 20, 10, 5, 2 dead and 1 alive
        Assert.Equal(3, gallopOracle.Calls);   // bare problem, step 1 alive, step 2 dead
    }

    [Fact]
    public async Task Estimates_are_recorded_per_evaluated_prefix()
    {
        var oracle = new StepOracle(5, 8);
        var result = await new RolloutLocator(oracle.Rollouts, 8).BinarySearchAsync(Prefixes(8), CancellationToken.None);
        // Probes: 0 (alive), 4 (alive), 6 (dead), 5 (dead) -> first wrong step 5.
        Assert.Equal(new Dictionary<int, double> { [0] = 1.0, [4] = 0.5, [5] = 0, [6] = 0 }, result.Estimates);
        Assert.Equal(5, result.FirstWrongStep);
    }

    [Fact]
    public async Task Evaluated_prefixes_are_cached_across_searches()
    {
        var oracle = new StepOracle(3, 2);
        var locator = new RolloutLocator(oracle.Rollouts, 2);
        var first = await locator.BinarySearchAsync(Prefixes(8), CancellationToken.None);
        var again = await locator.LinearScanAsync(Prefixes(8), CancellationToken.None);
        Assert.Equal(first.FirstWrongStep, again.FirstWrongStep);
        Assert.Equal(first.OracleCalls + again.OracleCalls, oracle.Calls);
        Assert.Equal(oracle.Asked.Count, oracle.Asked.Distinct().Count());
        Assert.Equal(locator.CachedPrefixes, oracle.Calls);
    }

    [Fact]
    public async Task A_problem_the_model_never_solves_is_reported_not_localised()
    {
        var never = new RolloutLocator((_, _, _) => Task.FromResult(0), 4);
        var result = await never.BinarySearchAsync(Prefixes(6), CancellationToken.None);
        Assert.Equal((RolloutOutcome.ProblemUnsolved, (int?)null, 1), (result.Outcome, result.FirstWrongStep, result.OracleCalls));

        var trusting = new RolloutLocator((_, _, _) => Task.FromResult(0), 4, checkEmptyPrefix: false);
        Assert.Equal(1, (await trusting.BinarySearchAsync(Prefixes(6), CancellationToken.None)).FirstWrongStep);
    }

    [Fact]
    public void Prefixes_concatenate_the_steps_verbatim()
    {
        var p = StepPrefixes.Concatenate("Q\nStep 1: ", ["a\nStep 2: ", "b\nStep 3: ", "c"]);
        Assert.Equal(["Q\nStep 1: ", "Q\nStep 1: a\nStep 2: ", "Q\nStep 1: a\nStep 2: b\nStep 3: ", "Q\nStep 1: a\nStep 2: b\nStep 3: c"], p);
    }

    [Fact]
    public async Task The_backend_oracle_asks_for_m_continuations_in_one_request_and_counts_the_correct_ones()
    {
        // The scripted policy reaches "42" from prefixes that do not contain the wrong step "x".
        await using var server = await LoopbackCompletionsServer.StartAsync(
            FaultSchedules.Sequence(new Fault(FaultKind.Http500)),
            (r, i) => r.Prompt.Contains('x') ? $"... {i}" : (i % 2 == 0 ? "so the answer is 42" : "answer 41"));
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl));
        var oracle = RolloutOracles.FromBackend(backend,
            prefix => new CompletionRequest("Problem\n" + prefix, 1, 0.8, 0.95, 64, [], 1),
            (_, continuation) => continuation.EndsWith("42"));
        var locator = new RolloutLocator(oracle, 6);

        var result = await locator.BinarySearchAsync(StepPrefixes.Concatenate("", ["a;", "b;", "x;", "c;", "d;"]), CancellationToken.None);

        Assert.Equal(3, result.FirstWrongStep);
        Assert.Equal(0.5, result.Estimates[0]);
        Assert.All(server.Served, r => Assert.Equal(6, r.N));
        Assert.Equal(result.OracleCalls, server.Served.Count);
    }
}
