using System.Linq.Expressions;
using System.Reflection;
using StepDpo.Core.Manifests;

namespace StepDpo.Core.Graph;

/// <summary>
/// The manifest as a stage reads it: values by key path, each read recorded. A stage builds its slice (the only part
/// of the manifest it ever sees) through this reader, and its cache key hashes that slice, so what a stage reads is
/// what its key is made of. <see cref="Get{TValue}"/> reads a value into the key; <see cref="GetUnkeyed{TValue}"/>
/// reads one that decides only where and how fast the same thing is computed (a server's command, timeouts, a client's
/// concurrency), which the slice holds outside its key. The recorded paths are the stage's declaration of what it
/// reads: a test walks every key of the manifest schema against them (StageKeyTests).
/// </summary>
public sealed class ManifestReader<T>
{
    readonly ManifestReads reads;
    readonly string path;
    readonly T value;

    internal ManifestReader(ManifestReads reads, string path, T value) => (this.reads, this.path, this.value) = (reads, path, value);

    /// <summary>The key paths read into the key ("sample.n", "model" for the whole section, "" for the whole manifest).</summary>
    public IReadOnlyCollection<string> Keyed => reads.Keyed;
    /// <summary>The key paths read outside the key.</summary>
    public IReadOnlyCollection<string> Unkeyed => reads.Unkeyed;

    /// <summary>The value at a key path, e.g. <c>m.Get(x => x.Sample.N)</c> reads sample.n; it becomes part of the key.</summary>
    public TValue Get<TValue>(Expression<Func<T, TValue>> key) => Read(key, reads.Keyed);

    /// <summary>Whether an optional section is written. Records nothing: a section's presence decides whether the stage
    /// has a key at all (a stage that runs reads the keys it needs of it).</summary>
    public bool IsSet<TSection>(Expression<Func<T, TSection?>> section) where TSection : class => Walk<TSection?>(section).Value is not null;

    /// <summary>A value that does not change what the stage computes, only where or how fast: read outside the key.</summary>
    public TValue GetUnkeyed<TValue>(Expression<Func<T, TValue>> key) => Read(key, reads.Unkeyed);

    /// <summary>A copy of a section with every key read but <paramref name="left"/>, which keep their defaults (for a
    /// method that reads all of a section except another method's options).</summary>
    public TSection GetExcept<TSection>(Expression<Func<T, TSection>> section, params Expression<Func<TSection, object?>>[] left)
        where TSection : class, new()
    {
        var (at, current) = Walk<TSection>(section);
        var skip = left.Select(l => Members(l.Body).Single()).ToHashSet();
        var copy = (TSection)typeof(object).GetMethod("MemberwiseClone", BindingFlags.Instance | BindingFlags.NonPublic)!.Invoke(current, null)!;
        var defaults = new TSection();
        foreach (var p in ManifestBinder.Keys(typeof(TSection)))
            if (skip.Contains(p)) p.SetValue(copy, p.GetValue(defaults));
            else reads.Keyed.Add(Join(at, ManifestBinder.KeyOf(p)));
        return copy;
    }

    /// <summary>A reader of one section, for code that reads the same keys of several sections (e.g. generation
    /// settings of sample and of evaluate). Reading the section itself records nothing.</summary>
    public ManifestReader<TSection> Section<TSection>(Expression<Func<T, TSection>> section)
    {
        var (at, current) = Walk<TSection>(section);
        return new ManifestReader<TSection>(reads, at, current);
    }

    /// <summary>This reader as one of <typeparamref name="TDerived"/> when its section is one (evaluate's endpoint, which
    /// names two models), else null. Reads nothing.</summary>
    public ManifestReader<TDerived>? As<TDerived>() where TDerived : class =>
        value is TDerived derived ? new ManifestReader<TDerived>(reads, path, derived) : null;

    /// <summary>A reader of the whole manifest, sharing this reader's record.</summary>
    public ManifestReader<Manifest> Root => new(reads, "", reads.Manifest);

    TValue Read<TValue>(Expression<Func<T, TValue>> key, SortedSet<string> into)
    {
        var (at, current) = Walk<TValue>(key);
        into.Add(at);
        return current;
    }

    (string Path, TValue Value) Walk<TValue>(LambdaExpression key)
    {
        object? current = value;
        string at = path;
        foreach (var member in Members(key.Body))
        {
            if (current is null) throw new InvalidOperationException($"manifest key '{at}' is not set, so '{Join(at, ManifestBinder.KeyOf(member))}' cannot be read");
            current = member.GetValue(current);
            at = Join(at, ManifestBinder.KeyOf(member));
        }
        return (at, (TValue)current!);
    }

    /// <summary>The properties of <c>x => x.A.B.C</c>, outermost first (conversions to an interface are looked through).</summary>
    static List<PropertyInfo> Members(Expression body)
    {
        var members = new List<PropertyInfo>();
        for (var e = body; e is not ParameterExpression;)
            switch (e)
            {
                case MemberExpression { Member: PropertyInfo p } m: members.Insert(0, p); e = m.Expression!; break;
                case UnaryExpression { NodeType: ExpressionType.Convert } u: e = u.Operand; break;
                default: throw new ArgumentException($"a manifest key is a chain of properties (x => x.Sample.N), not {body}");
            }
        return members;
    }

    static string Join(string a, string b) => a == "" ? b : $"{a}.{b}";

}

/// <summary>Starts a <see cref="ManifestReader{T}"/> on a whole manifest.</summary>
public static class ManifestReader
{
    public static ManifestReader<Manifest> Of(Manifest m) => new(new ManifestReads(m), "", m);
}

/// <summary>What the readers of one manifest have read.</summary>
sealed class ManifestReads(Manifest manifest)
{
    public Manifest Manifest { get; } = manifest;
    public SortedSet<string> Keyed { get; } = new(StringComparer.Ordinal);
    public SortedSet<string> Unkeyed { get; } = new(StringComparer.Ordinal);
}
