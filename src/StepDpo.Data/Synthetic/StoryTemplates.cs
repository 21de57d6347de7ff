namespace StepDpo.Data.Synthetic;

/// <summary>The kinds of event a story can contain. Each changes the running total with one or two
/// operations; the group events first compute a product that does not depend on the total, which is
/// what gives a problem more than one valid step order.</summary>
internal enum EventKind { Gain, Lose, GainGroups, LoseGroups, Scale, Share }

/// <summary>A short story world: who, what items, and one sentence per event kind. Placeholders:
/// {N} name, {P} pronoun, {I} items, {x} start, {k} amount, {g} groups, {s} group size, {m} factor,
/// {d} divisor. Sentences are short on purpose: question + solution must stay near 120-250 bytes.</summary>
internal sealed record StoryTemplate(
    string Name,
    string[] Items,
    string Setup,
    string Question,
    IReadOnlyDictionary<EventKind, string> Events);

/// <summary>The built-in story templates (difficulty knob: <see cref="SyntheticOptions.Templates"/>).</summary>
public static class StoryTemplates
{
    internal static readonly (string Name, string Pronoun)[] People =
    [
        ("Mia", "She"), ("Tom", "He"), ("Ana", "She"), ("Ben", "He"),
        ("Eva", "She"), ("Sam", "He"), ("Liz", "She"), ("Max", "He"),
    ];

    internal static readonly StoryTemplate[] All =
    [
        new("shop", ["apples", "pears", "eggs", "lemons", "plums"],
            "{N} has {x} {I}.", "How many {I} now?",
            new Dictionary<EventKind, string>
            {
                [EventKind.Gain] = "{P} buys {k} more.",
                [EventKind.Lose] = "{P} sells {k}.",
                [EventKind.GainGroups] = "{P} buys {g} bags of {s}.",
                [EventKind.LoseGroups] = "{P} sells {g} bags of {s}.",
                [EventKind.Scale] = "{P} then has {m} times as many.",
                [EventKind.Share] = "{P} keeps 1 of {d} equal boxes.",
            }),
        new("bakery", ["cookies", "buns", "muffins", "tarts"],
            "{N} bakes {x} {I}.", "How many {I} now?",
            new Dictionary<EventKind, string>
            {
                [EventKind.Gain] = "{P} bakes {k} more.",
                [EventKind.Lose] = "{P} eats {k}.",
                [EventKind.GainGroups] = "{P} bakes {g} trays of {s}.",
                [EventKind.LoseGroups] = "{P} gives {g} friends {s} each.",
                [EventKind.Scale] = "{P} then has {m} times as many.",
                [EventKind.Share] = "{P} keeps 1 of {d} equal boxes.",
            }),
        new("collection", ["stamps", "cards", "marbles", "shells"],
            "{N} has {x} {I}.", "How many {I} now?",
            new Dictionary<EventKind, string>
            {
                [EventKind.Gain] = "{P} finds {k} more.",
                [EventKind.Lose] = "{P} loses {k}.",
                [EventKind.GainGroups] = "{P} gets {g} packs of {s}.",
                [EventKind.LoseGroups] = "{P} gives {g} friends {s} each.",
                [EventKind.Scale] = "{P} then has {m} times as many.",
                [EventKind.Share] = "{P} keeps 1 of {d} equal piles.",
            }),
    ];

    /// <summary>Names accepted by <see cref="SyntheticOptions.Templates"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(t => t.Name).ToArray();
}
