using StepDpo.Core.Manifests;

namespace StepDpo.Core;

/// <summary>
/// The implementations of one choice of the manifest (verify.method, a generation backend, train.backend, ...), by
/// name. <see cref="Discover"/> finds every concrete subclass of <typeparamref name="T"/> in its assembly, so adding an
/// implementation is adding its class (and its name to the manifest key's choices; a test checks the two agree).
/// </summary>
public sealed class Registry<T> where T : class
{
    readonly Dictionary<string, T> byName;

    /// <param name="key">the manifest key that names an implementation (for errors)</param>
    public Registry(string key, IEnumerable<T> items, Func<T, string> nameOf)
    {
        Key = key;
        byName = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var item in items)
            if (!byName.TryAdd(nameOf(item), item)) throw new InvalidOperationException($"{key}: two implementations named '{nameOf(item)}'");
    }

    /// <summary>One instance of every concrete subclass of <typeparamref name="T"/> (with a parameterless constructor)
    /// in the assembly that defines it.</summary>
    public static Registry<T> Discover(string key, Func<T, string> nameOf) => new(key,
        typeof(T).Assembly.GetTypes()
            .Where(t => t.IsClass && !t.IsAbstract && typeof(T).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null)
            .Select(t => (T)Activator.CreateInstance(t)!),
        nameOf);

    public string Key { get; }

    public IReadOnlyList<string> Names => byName.Keys.Order(StringComparer.Ordinal).ToList();

    public IEnumerable<T> All => Names.Select(n => byName[n]);

    public T this[string name] => byName.TryGetValue(name, out var item) ? item
        : throw new StepDpoException($"unknown {Key} '{name}'" +
            (ManifestBinder.Suggest(name, byName.Keys) is { } hint ? $"; did you mean '{hint}'?" : "") +
            $" (known: {string.Join(", ", Names)})");
}
