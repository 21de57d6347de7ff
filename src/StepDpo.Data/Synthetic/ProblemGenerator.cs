using System.Security.Cryptography;
using System.Text;
using StepDpo.Core;

namespace StepDpo.Data.Synthetic;

/// <summary>Draws random stories and turns them into plans, questions and reference solutions.</summary>
internal sealed class ProblemGenerator(SyntheticOptions options, Random rng)
{
    private static readonly EventKind[] Kinds = Enum.GetValues<EventKind>();

    private readonly StoryTemplate[] templates = options.Templates is { } chosen
        ? StoryTemplates.All.Where(t => chosen.Contains(t.Name)).ToArray()
        : StoryTemplates.All;

    public List<SyntheticProblem> Generate(int count)
    {
        if (count < 0) throw new StepDpoException($"synthetic: count must not be negative (got {count})");
        var problems = new List<SyntheticProblem>(count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // Small knobs (e.g. 1 step, tiny numbers) have few distinct problems; give up with a clear error
        // instead of looping forever.
        long maxAttempts = 200L * count + 10_000;
        for (long attempt = 0; problems.Count < count; attempt++)
        {
            if (attempt >= maxAttempts)
                throw new StepDpoException(
                    $"synthetic: found only {problems.Count} distinct {options.Split.ToString().ToLowerInvariant()} problems " +
                    $"of the {count} asked for after {maxAttempts} draws; widen the knobs (steps {options.MinSteps}-{options.MaxSteps}, " +
                    $"max_value {options.MaxValue}, max_factor {options.MaxFactor}, max_addend {options.MaxAddend})");
            var (template, plan, sentences) = DrawStory();
            string identity = string.Join(";", plan.Select(p => p.Canonical()));
            ulong hash = IdentityHash(identity);
            if (SplitOf(hash, options.TestFraction) != options.Split || !seen.Add(identity)) continue;
            problems.Add(Render(template, plan, sentences, hash));
        }
        return problems;
    }

    /// <summary>The split is a function of the plan's identity alone, so train and test are disjoint
    /// for every seed, count and template choice (renaming the people or items does not move a problem).</summary>
    internal static SyntheticSplit SplitOf(ulong identityHash, double testFraction) =>
        identityHash % 10_000 < (ulong)System.Math.Round(testFraction * 10_000) ? SyntheticSplit.Test : SyntheticSplit.Train;

    internal static ulong IdentityHash(string identity)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(identity), digest);
        return BitConverter.ToUInt64(digest[..8]);
    }

    private (StoryTemplate Template, List<PlanStep> Plan, List<(EventKind Kind, int A, int B)> Events) DrawStory()
    {
        var template = templates[rng.Next(templates.Length)];
        int steps = rng.Next(options.MinSteps, options.MaxSteps + 1);
        int start = rng.Next(2, options.MaxStart + 1);
        var plan = new List<PlanStep>(steps);
        var events = new List<(EventKind, int, int)> { (default, start, 0) }; // slot 0: the setup
        var total = Operand.Given(start);
        while (plan.Count < steps)
        {
            bool roomForTwo = steps - plan.Count >= 2;
            var kind = Kinds[rng.Next(Kinds.Length)];
            if (!roomForTwo && kind is EventKind.GainGroups or EventKind.LoseGroups) continue;
            if (TryEvent(kind, total.Value) is not (int a, int b)) continue;
            total = Append(plan, kind, total, a, b);
            events.Add((kind, a, b));
        }
        return (template, plan, events);
    }

    /// <summary>Picks the event's numbers so every quantity stays in [1, MaxValue] and divisions are exact;
    /// null when this event cannot happen to the current total.</summary>
    private (int, int)? TryEvent(EventKind kind, int total)
    {
        var o = options;
        switch (kind)
        {
            case EventKind.Gain:
                return Pick(2, System.Math.Min(o.MaxAddend, o.MaxValue - total)) is int k ? (k, 0) : null;
            case EventKind.Lose:
                return Pick(2, System.Math.Min(o.MaxAddend, total - 1)) is int l ? (l, 0) : null;
            case EventKind.GainGroups:
            case EventKind.LoseGroups:
            {
                int room = kind == EventKind.GainGroups ? o.MaxValue - total : total - 1;
                int g = rng.Next(2, o.MaxFactor + 1);
                return Pick(2, System.Math.Min(o.MaxFactor, room / g)) is int s ? (g, s) : null;
            }
            case EventKind.Scale:
                return Pick(2, System.Math.Min(o.MaxFactor, o.MaxValue / total)) is int m ? (m, 0) : null;
            case EventKind.Share:
            {
                var divisors = Enumerable.Range(2, o.MaxFactor - 1).Where(d => total % d == 0 && total / d >= 2).ToArray();
                return divisors.Length == 0 ? null : (divisors[rng.Next(divisors.Length)], 0);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }

    private int? Pick(int lo, int hi) => hi < lo ? null : rng.Next(lo, hi + 1);

    private static Operand Append(List<PlanStep> plan, EventKind kind, Operand total, int a, int b)
    {
        Operand Add(Operation op, Operand left, Operand right)
        {
            int result = PlanStep.Apply(op, left.Value, right.Value)!.Value;
            plan.Add(new PlanStep(op, left, right, result));
            return Operand.ResultOf(plan.Count - 1, result);
        }
        return kind switch
        {
            EventKind.Gain => Add(Operation.Add, total, Operand.Given(a)),
            EventKind.Lose => Add(Operation.Subtract, total, Operand.Given(a)),
            EventKind.GainGroups => Add(Operation.Add, total, Add(Operation.Multiply, Operand.Given(a), Operand.Given(b))),
            EventKind.LoseGroups => Add(Operation.Subtract, total, Add(Operation.Multiply, Operand.Given(a), Operand.Given(b))),
            EventKind.Scale => Add(Operation.Multiply, total, Operand.Given(a)),
            EventKind.Share => Add(Operation.Divide, total, Operand.Given(a)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    private SyntheticProblem Render(StoryTemplate template, List<PlanStep> plan,
        List<(EventKind Kind, int A, int B)> events, ulong hash)
    {
        var (name, pronoun) = StoryTemplates.People[rng.Next(StoryTemplates.People.Length)];
        string items = template.Items[rng.Next(template.Items.Length)];
        string Fill(string pattern, int a = 0, int b = 0) => new StringBuilder(pattern)
            .Replace("{N}", name).Replace("{P}", pronoun).Replace("{I}", items)
            .Replace("{x}", a.ToString()).Replace("{k}", a.ToString()).Replace("{g}", a.ToString())
            .Replace("{m}", a.ToString()).Replace("{d}", a.ToString()).Replace("{s}", b.ToString())
            .ToString();

        var question = new StringBuilder(Fill(template.Setup, events[0].A));
        foreach (var (kind, a, b) in events.Skip(1)) question.Append(' ').Append(Fill(template.Events[kind], a, b));
        question.Append(' ').Append(Fill(template.Question));

        string answer = plan[^1].Result.ToString();
        var steps = plan.Select(p => p.Render()).ToList();
        steps[^1] += $"\nThe answer is \\boxed{{{answer}}}.";
        return new SyntheticProblem($"syn-{hash:x16}", template.Name, question.ToString(), answer, steps, plan);
    }
}
