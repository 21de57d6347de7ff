using System.Globalization;
using System.Reflection;

namespace StepDpo.Core.Manifests;

/// <summary>
/// Binds a <see cref="YNode"/> tree onto the typed schema. Keys are the snake_case names of the properties.
/// Every problem is collected with its location (unknown keys with a "did you mean" hint, wrong types with
/// the expected type, out-of-range values), so one run shows them all.
/// </summary>
public sealed class ManifestBinder
{
    readonly List<string> problems = new();
    /// <summary>Problems binding values (unknown keys, types, ranges); the cross-field rules run only where there are
    /// none, since a value that did not bind is a default the user never wrote.</summary>
    int bindErrors;

    /// <param name="rules">Further rules on the bound value (e.g. ones that need the workspace), located like the
    /// sections' own.</param>
    public static T Bind<T>(YNode root, Func<T, IEnumerable<Violation>>? rules = null) where T : new()
    {
        var binder = new ManifestBinder();
        var result = (T)binder.BindValue(typeof(T), root, "")!;
        if (rules is not null && root is YMap map && binder.bindErrors == 0) binder.Report(map, "", rules(result));
        if (binder.problems.Count > 0) throw new ManifestException(binder.problems.Order(LocationOrder.Instance).ToList());
        return result;
    }

    public static string KeyOf(PropertyInfo p) => SnakeCase(p.Name);

    public static string SnakeCase(string name)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]))) sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    public static IEnumerable<PropertyInfo> Keys(Type t) =>
        t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.GetIndexParameters().Length == 0);

    object? BindValue(Type type, YNode node, string path)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (node is YScalar { IsNull: true })
        {
            if (underlying is not null || !type.IsValueType) return null;
            Problem(node, path, $"expected {Describe(type)}, got null");
            return Activator.CreateInstance(type);
        }
        type = underlying ?? type;

        if (type == typeof(string)) return Scalar(node, path, type, s => s);
        if (type == typeof(bool)) return Scalar(node, path, type, s => s switch
        {
            "true" or "True" or "TRUE" => true,
            "false" or "False" or "FALSE" => false,
            _ => null,
        });
        if (type == typeof(int)) return Scalar(node, path, type, s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null);
        if (type == typeof(long)) return Scalar(node, path, type, s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null);
        if (type == typeof(double)) return Scalar(node, path, type, s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null);

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            var itemType = type.GetGenericArguments()[0];
            var list = (System.Collections.IList)Activator.CreateInstance(type)!;
            if (node is YScalar) { list.Add(BindValue(itemType, node, path)); return list; } // `loss: sigmoid` reads as [sigmoid]
            if (node is not YSeq seq) { Problem(node, path, $"expected a list of {Describe(itemType)}"); return list; }
            for (int i = 0; i < seq.Items.Count; i++) list.Add(BindValue(itemType, seq.Items[i], $"{path}[{i}]"));
            return list;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            var valueType = type.GetGenericArguments()[1];
            var dict = (System.Collections.IDictionary)Activator.CreateInstance(type)!;
            if (node is not YMap map) { Problem(node, path, $"expected a mapping of name to {Describe(valueType)}"); return dict; }
            foreach (var e in map.Entries) dict[e.Key] = BindValue(valueType, e.Value, Join(path, e.Key));
            return dict;
        }
        if (type.IsClass) return BindObject(type, node, path);
        Problem(node, path, $"unsupported schema type {type.Name}");
        return null;
    }

    object BindObject(Type type, YNode node, string path)
    {
        var obj = Activator.CreateInstance(type)!;
        var props = Keys(type).ToDictionary(KeyOf);
        int errorsBefore = bindErrors;
        if (node is not YMap map)
        {
            Problem(node, path, $"expected a mapping with keys {string.Join(", ", props.Keys)}");
            return obj;
        }
        foreach (var e in map.Entries)
        {
            string keyPath = Join(path, e.Key);
            if (!props.TryGetValue(e.Key, out var prop))
            {
                var hint = Suggest(e.Key, props.Keys);
                bindErrors++;
                problems.Add($"{e.KeySource}: unknown key '{keyPath}'" +
                    (hint is null ? $" (valid keys here: {string.Join(", ", props.Keys)})" : $"; did you mean '{hint}'?"));
                continue;
            }
            if (prop.GetCustomAttribute<AllowsAutoAttribute>() is not null && e.Value is YScalar { Value: "auto", Quoted: false })
            {
                prop.SetValue(obj, null);
                continue;
            }
            int before = bindErrors;
            var value = BindValue(prop.PropertyType, e.Value, keyPath);
            if (bindErrors > before) continue; // keep the default; the type problem is already reported
            if (value is null && IsCollection(prop.PropertyType)) value = Activator.CreateInstance(prop.PropertyType); // `key: null` empties it
            prop.SetValue(obj, value);
            Check(prop, value, e.Value, keyPath);
        }
        foreach (var (key, prop) in props)
            if (prop.GetCustomAttribute<RequiredKeyAttribute>() is not null && map.Find(key) is null)
            {
                bindErrors++;
                problems.Add($"{map.Source}: missing required key '{Join(path, key)}'" +
                    (prop.GetCustomAttribute<DocAttribute>() is { } doc ? $" ({doc.Text})" : ""));
            }
        if (obj is IValidatable v && bindErrors == errorsBefore) Report(map, path, v.Validate());
        return obj;
    }

    void Report(YMap map, string path, IEnumerable<Violation> violations)
    {
        foreach (var violation in violations)
        {
            var (source, key) = Locate(map, violation.Keys);
            string named = key is null ? path : Join(path, key);
            problems.Add($"{source}: {(named == "" ? "" : $"'{named}': ")}{violation.Text}");
        }
    }

    /// <summary>The first of <paramref name="keys"/> written in <paramref name="map"/> and where its value is; when none
    /// is, the first key and the closest section of it that is written.</summary>
    static (Source Source, string? Key) Locate(YMap map, IReadOnlyList<string> keys)
    {
        foreach (var key in keys)
            if (Walk(map, key, out var node)) return (node.Source, key);
        if (keys.Count == 0) return (map.Source, null);
        Walk(map, keys[0], out var closest);
        return (closest.Source, keys[0]);
    }

    /// <summary>Follows a dotted key path (with `name[i]` items) from <paramref name="node"/>; <paramref name="reached"/>
    /// is the last node found. At a mapping the longest run of segments that is one key wins (metric names have dots).</summary>
    static bool Walk(YNode node, string keyPath, out YNode reached)
    {
        var segments = keyPath.Split('.');
        reached = node;
        for (int i = 0; i < segments.Length;)
        {
            if (reached is not YMap map) return false;
            int end = segments.Length;
            int? index = null;
            YEntry? entry = null;
            for (; end > i; end--)
                if ((entry = map.Find(IndexFree(string.Join('.', segments[i..end]), out index))) is not null) break;
            if (entry is null) return false;
            reached = entry.Value;
            if (index is int item)
            {
                if (reached is not YSeq seq || item >= seq.Items.Count) return false;
                reached = seq.Items[item];
            }
            i = end;
        }
        return true;
    }

    /// <summary>"benchmarks[2]" is "benchmarks" with item index 2.</summary>
    static string IndexFree(string segment, out int? index)
    {
        index = null;
        int open = segment.LastIndexOf('[');
        if (open <= 0 || !segment.EndsWith(']') || !int.TryParse(segment[(open + 1)..^1], out int i)) return segment;
        index = i;
        return segment[..open];
    }

    void Check(PropertyInfo prop, object? value, YNode node, string path)
    {
        if (value is null) return;
        if (prop.GetCustomAttribute<OneOfAttribute>() is { } oneOf)
        {
            if (value is string s) CheckOneOf(oneOf, s, node, path);
            if (value is List<string> items)
                for (int i = 0; i < items.Count; i++)
                    CheckOneOf(oneOf, items[i], node is YSeq seq ? seq.Items[i] : node, node is YSeq ? $"{path}[{i}]" : path);
        }
        if (prop.GetCustomAttribute<RangeAttribute>() is { } range)
        {
            double d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
            if (d < range.Min || d > range.Max)
                Problem(node, path, $"{d.ToString(CultureInfo.InvariantCulture)} is out of range [{range.Min.ToString(CultureInfo.InvariantCulture)}, {range.Max.ToString(CultureInfo.InvariantCulture)}]");
        }
    }

    void CheckOneOf(OneOfAttribute oneOf, string value, YNode node, string path)
    {
        if (oneOf.Values.Contains(value)) return;
        var hint = Suggest(value, oneOf.Values);
        Problem(node, path, $"'{value}' is not one of: {string.Join(", ", oneOf.Values)}" + (hint is null ? "" : $"; did you mean '{hint}'?"));
    }

    object? Scalar(YNode node, string path, Type type, Func<string, object?> parse)
    {
        if (node is YScalar { Value: { } text } s && (!s.Quoted || type == typeof(string)) && parse(text) is { } v) return v;
        string got = node switch
        {
            YScalar sc => $"'{sc.Value}'",
            YSeq => "a list",
            YMap => "a mapping",
            _ => "something else",
        };
        Problem(node, path, $"expected {Describe(type)}, got {got}");
        return type.IsValueType ? Activator.CreateInstance(type) : null;
    }

    void Problem(YNode node, string path, string text)
    {
        bindErrors++;
        problems.Add($"{node.Source}: {(path == "" ? "" : $"'{path}': ")}{text}");
    }

    static bool IsCollection(Type t) => t.IsGenericType && (t.GetGenericTypeDefinition() == typeof(List<>) || t.GetGenericTypeDefinition() == typeof(Dictionary<,>));

    /// <summary>Orders "file:line:col: text" messages by file, then line and column as numbers.</summary>
    sealed class LocationOrder : IComparer<string>
    {
        public static readonly LocationOrder Instance = new();
        public int Compare(string? a, string? b)
        {
            var (fa, la, ca) = Parse(a!);
            var (fb, lb, cb) = Parse(b!);
            int c = string.CompareOrdinal(fa, fb);
            return c != 0 ? c : la != lb ? la.CompareTo(lb) : ca != cb ? ca.CompareTo(cb) : string.CompareOrdinal(a, b);
        }
        static (string, int, int) Parse(string s)
        {
            var m = System.Text.RegularExpressions.Regex.Match(s, @"^(.*?):(\d+):(\d+):");
            return m.Success ? (m.Groups[1].Value, int.Parse(m.Groups[2].Value), int.Parse(m.Groups[3].Value)) : (s, 0, 0);
        }
    }

    static string Join(string path, string key) => path == "" ? key : $"{path}.{key}";

    static string Describe(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        if (t == typeof(string)) return "a string";
        if (t == typeof(bool)) return "a boolean (true or false)";
        if (t == typeof(int) || t == typeof(long)) return "an integer";
        if (t == typeof(double)) return "a number";
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(List<>)) return "a list";
        return "a mapping";
    }

    /// <summary>The closest valid name within a small edit distance, for "did you mean".</summary>
    public static string? Suggest(string given, IEnumerable<string> valid)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var v in valid)
        {
            int d = Levenshtein(given.ToLowerInvariant(), v.ToLowerInvariant());
            if (v.Contains(given, StringComparison.OrdinalIgnoreCase) || given.Contains(v, StringComparison.OrdinalIgnoreCase)) d = Math.Min(d, 2);
            if (d < bestDistance) { bestDistance = d; best = v; }
        }
        return best is not null && bestDistance <= Math.Max(2, given.Length / 3) ? best : null;
    }

    static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
