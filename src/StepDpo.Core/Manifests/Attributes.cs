namespace StepDpo.Core.Manifests;

/// <summary>The key must be present (after `extends` and `--set`).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class RequiredKeyAttribute : Attribute;

/// <summary>A string key limited to these values.</summary>
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
    IEnumerable<string> Validate();
}
