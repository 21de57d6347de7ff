namespace StepDpo.Core.Manifests;

/// <summary>The key must be present (after `extends` and `--set`).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class RequiredKeyAttribute : Attribute;

/// <summary>A string key (or each string of a list) limited to these values.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OneOfAttribute(params string[] values) : Attribute
{
    public string[] Values { get; } = values;
}

/// <summary>A numeric key limited to [Min, Max].</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class RangeAttribute(double min, double max) : Attribute
{
    public double Min { get; } = min;
    public double Max { get; } = max;
}

/// <summary>A nullable numeric key that also takes the word `auto`, bound as null: the stage decides the value when it
/// runs (per_device_batch_size: the memory plan's largest fit).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class AllowsAutoAttribute : Attribute;

/// <summary>One line of documentation shown by `manifest schema` and in error hints.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class DocAttribute(string text) : Attribute
{
    public string Text { get; } = text;
}

/// <summary>Cross-field rules a section checks after binding (e.g. "either path or init").</summary>
public interface IValidatable
{
    IEnumerable<Violation> Validate();
}

/// <summary>A broken cross-field rule. <see cref="Keys"/> are the keys it is about, relative to the section (dotted,
/// `list[2]` for an item); the error names and points at the first of them the manifest spells out, so it lands on
/// the line to change. A key path may contain dots of its own (expect's metric names): the longest match wins.</summary>
public sealed record Violation(string Text, params string[] Keys);
