using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Torch.Devices;
using Xunit.Abstractions;

namespace StepDpo.Stages.Tests.Implementations;

/// <summary>
/// Every key of the manifest schema (found by reflection over the section types, every leaf), in every base manifest
/// where it can be set, is changed to another valid value (the loader validates it); then exactly the stages that
/// declared it (the keys their <see cref="ManifestReader{T}"/> recorded: slice, whether they run, what they depend on)
/// and the stages downstream of those change key. A stage whose key moves with a value it did not declare, or a
/// declared value that does not move its key, fails the test. Values read outside the key (a server's command, a
/// client's concurrency) are declared as such and must leave the key alone.
/// </summary>
public class SchemaWalkTests(ITestOutputHelper output)
{
    /// <summary>Keys no value of which can be walked: resolved away by the loader, or with no valid other value.</summary>
    static readonly Dictionary<string, string> NotWalkable = new()
    {
        ["extends"] = "a loading directive: the loader merges the base and drops it",
        ["evaluate.endpoint.model"] = "always an error in evaluate (start_model and trained_model name its two models)",
    };

    // The bases: together they set every section and choice the schema has. Paths are the fixtures written below.
    static readonly string[] Bases =
    [
        // synthetic world, a random start model trained by sft, local generation, the exact checker, LoRA, a comparison
        """
        name: walk
        description: base A
        model: {init: {preset: tiny}, template: plain}
        data: {limit: 5, synthetic: {train: 20, pool: 10, test: 10, min_steps: 2, max_steps: 3, max_start: 9, max_addend: 6, max_factor: 4, max_value: 12, error_habit: 0.2}}
        sft: {epochs: 1, per_device_batch_size: 4, max_length: 128, examples: 10}
        sample: {n: 2, max_new_tokens: 32}
        verify: {method: rule}
        pairs: {samples: 2, max_new_tokens: 32, max_pairs_per_problem: 3}
        train: {max_length: 128, max_prompt_length: 96, eval_fraction: 0.1, eval_steps: 5, lora: {rank: 4}}
        evaluate: {max_new_tokens: 32, benchmarks: [{name: test, source: synthetic, limit: 5}]}
        report: {compare_with: other}
        expect: {trained.test.accuracy: {min: 0.1}}
        """,
        // a model folder, a JSONL pool, a vLLM server the stages start, the judge, a TRL job, servers someone else runs
        """
        name: walk
        model: {path: model, revision: abc, tokenizer: tok.json, template: qwen2-boxed}
        data: {source: jsonl, path: data.jsonl, limit: 5, fields: {question: q, answer: a}}
        sft: {per_device_batch_size: auto, global_batch_size: 8}
        sample: {backend: vllm, endpoint: {concurrency: 4}}
        serve: {command: [vllm, serve], tensor_parallel_size: 2, max_model_len: 4096, extra_args: [--enforce-eager], env: {A: b}}
        verify: {method: judge, judge: {base_url: "http://127.0.0.1:9", model: gpt-4o, api_key_env: JUDGE_KEY}}
        pairs: {kind: step}
        train: {backend: trl, num_devices: 2, offload: optimizer, trl: {version: 0.8.5, machines: 2, main_process_ip: 10.0.0.1}}
        evaluate:
          backend: openai
          endpoint: {start_model: s, trained_model: t, trained_base_url: "http://127.0.0.1:8001", api_key_env: EVAL_KEY}
          benchmarks: [{name: g, source: jsonl, path: data.jsonl, fields: {question: q, answer: a}}]
        expect: {trained.g.accuracy: {value: 0.5, tolerance: 0.1}}
        """,
        // an imported pair data set; evaluate serves with SGLang
        """
        name: walk
        model: {path: model, template: plain}
        pairs: {from: pairs.jsonl}
        evaluate: {backend: sglang, benchmarks: [{name: g, source: gsm8k, path: data.jsonl}]}
        """,
        // a named benchmark source as the pool, an OpenAI-compatible server for sampling, Monte Carlo rollouts, plain DPO
        // pairs, a smoothed loss and an automatic micro-batch
        """
        name: walk
        model: {path: model, template: plain}
        data: {source: gsm8k, path: data.jsonl}
        sample: {backend: openai, endpoint: {base_url: "http://127.0.0.1:7", model: served, api_key_env: SAMPLE_KEY}}
        verify: {method: rollout, rollouts: 4}
        pairs: {kind: full}
        train: {loss: [robust], label_smoothing: 0.1, per_device_batch_size: auto, global_batch_size: 4}
        evaluate: {n: 2, temperature: 0.5, benchmarks: [{name: m, source: math500, path: data.jsonl}]}
        """,
        // imported samples with step labels
        """
        name: walk
        model: {path: model, template: plain}
        data: {source: samples, path: samples.jsonl}
        verify: {method: labels}
        evaluate: {benchmarks: [{name: m, source: math500, path: data.jsonl}]}
        """,
        // a served start model named by nothing but the experiment (the name is then in the keys of sample and evaluate)
        """
        name: walk
        model: {init: {preset: tiny}, template: plain}
        sft: {epochs: 1}
        sample: {backend: openai}
        verify: {method: rule}
        evaluate: {backend: openai, endpoint: {trained_model: t}, benchmarks: [{name: test, source: synthetic}]}
        """,
    ];

    [Fact]
    public void Every_manifest_key_changes_exactly_the_keys_of_the_stages_that_read_it()
    {
        using var dir = new TempDir();
        var ws = Workspace(dir);
        var schema = SchemaLeaves(typeof(Manifest), "").ToList();
        var covered = new HashSet<string>();
        var failures = new List<string>();
        int walks = 0;
        for (int b = 0; b < Bases.Length; b++)
        {
            File.WriteAllText(dir.File("experiments/walk.yaml"), Bases[b]);
            var baseManifest = ManifestLoader.Load("walk", ws).Manifest;
            string baseYaml = Yaml(baseManifest);
            var before = Pipeline.Graph(ws).Plan(ManifestLoader.Load("walk", ws));
            foreach (var leaf in InstanceLeaves(baseManifest, typeof(Manifest), "", []))
            {
                if (NotWalkable.ContainsKey(leaf.Schema)) continue;
                foreach (var candidate in Candidates(leaf, leaf.Get(baseManifest), ws))
                {
                    File.WriteAllText(dir.File("experiments/walk.yaml"), baseYaml);
                    var changed = ManifestLoader.Load("walk", ws).Manifest;
                    leaf.Set(changed, candidate);
                    File.WriteAllText(dir.File("experiments/walk.yaml"), Yaml(changed));
                    Plan after;
                    try { after = Pipeline.Graph(ws).Plan(ManifestLoader.Load("walk", ws)); }
                    catch (ManifestException) { continue; } // not a valid value here: try the next
                    walks++;
                    covered.Add(leaf.Schema);
                    var moved = before.Stages.Where(s => Identity(s) != Identity(after[s.Name])).Select(s => s.Name).ToHashSet();
                    var expected = Downstream(Readers(before, leaf.Path), before, after);
                    if (!moved.SetEquals(expected))
                        failures.Add($"base {(char)('A' + b)}: {leaf.Path} = {Show(candidate)}: moved [{string.Join(", ", moved.Order())}], " +
                            $"declared by [{string.Join(", ", Readers(before, leaf.Path).Order())}], expected [{string.Join(", ", expected.Order())}]");
                    break;
                }
            }
        }
        var missing = schema.Where(l => !covered.Contains(l) && !NotWalkable.ContainsKey(l)).ToList();
        output.WriteLine($"{schema.Count} leaf keys in the schema, {covered.Count} walked ({walks} changes over {Bases.Length} bases), " +
            $"{NotWalkable.Count} not walkable, {StageCatalog.Names.Count} stages");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(missing.Count == 0, "keys no base could change (add a base that sets their section): " + string.Join(", ", missing));
    }

    /// <summary>A stage's key, or why it does not run (the reason names the value that disabled it).</summary>
    static string Identity(PlannedStage s) => s.Key ?? "disabled: " + s.Reason;

    /// <summary>The stages that read <paramref name="leaf"/> (a key path, or a section that holds it) into their key.</summary>
    static HashSet<string> Readers(Plan plan, string leaf) => plan.Stages.Where(s => s.Reads.Any(r =>
        r == "" || leaf == r || leaf.StartsWith(r + ".", StringComparison.Ordinal) || leaf.StartsWith(r + "[", StringComparison.Ordinal)))
        .Select(s => s.Name).ToHashSet();

    /// <summary>The stages and everything downstream of them (by the upstream links of either plan).</summary>
    static HashSet<string> Downstream(HashSet<string> stages, Plan a, Plan b)
    {
        var result = new HashSet<string>(stages);
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var s in a.Stages.Concat(b.Stages))
                if (!result.Contains(s.Name) && s.Upstream.Any(result.Contains)) grew = result.Add(s.Name);
        }
        return result;
    }

    static Workspace Workspace(TempDir dir)
    {
        Directory.CreateDirectory(dir.File("experiments"));
        foreach (var (name, i) in new[] { ("other", 1), ("other2", 2) })
            File.WriteAllText(dir.File($"experiments/{name}.yaml"), $"name: {name}\nseed: {i}\nmodel: {{path: model, template: plain}}\n");
        foreach (var name in new[] { "model", "model2" })
        {
            Directory.CreateDirectory(dir.File(name));
            File.WriteAllText(dir.File($"{name}/config.json"), $"{{\"name\": \"{name}\"}}");
        }
        foreach (var name in new[] { "tok", "tok2", "data", "data2", "pairs", "pairs2", "samples", "samples2" })
            File.WriteAllText(dir.File(name + (name.StartsWith("tok") ? ".json" : ".jsonl")), $"{{\"file\": \"{name}\"}}\n");
        return new Workspace(dir.Path, dir.File("artifacts"));
    }

    /// <summary>The manifest as the loader reads it (extends is resolved away: the loader refuses a null one).</summary>
    static string Yaml(Manifest m) => Regex.Replace(ManifestWriter.ToYaml(m), "^extends:.*\n", "", RegexOptions.Multiline);

    static string Show(object? v) => v switch
    {
        null => "null",
        string s => s,
        IDictionary d => "{" + string.Join(", ", d.Keys.Cast<object>().Select(k => $"{k}: {d[k]}")) + "}",
        IEnumerable e => "[" + string.Join(", ", e.Cast<object>()) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    // ---- the schema and its instances ----

    static bool IsSection(Type t) => t.IsClass && t != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(t);

    static Type? ItemSection(Type t) =>
        t.IsGenericType && t.GetGenericTypeDefinition() == typeof(List<>) && IsSection(t.GetGenericArguments()[0]) ? t.GetGenericArguments()[0]
        : t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Dictionary<,>) && IsSection(t.GetGenericArguments()[1]) ? t.GetGenericArguments()[1]
        : null;

    static string Join(string a, string b) => a == "" ? b : $"{a}.{b}";

    /// <summary>Every leaf of the schema: "evaluate.benchmarks[].name", "expect{}.min", "sample.endpoint.model".</summary>
    static IEnumerable<string> SchemaLeaves(Type type, string prefix)
    {
        foreach (var p in ManifestBinder.Keys(type))
        {
            var t = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            string path = Join(prefix, ManifestBinder.KeyOf(p));
            if (IsSection(t)) foreach (var l in SchemaLeaves(t, path)) yield return l;
            else if (ItemSection(t) is { } item)
                foreach (var l in SchemaLeaves(item, path + (t.GetGenericTypeDefinition() == typeof(List<>) ? "[]" : "{}"))) yield return l;
            else yield return path;
        }
    }

    /// <summary>A leaf of a manifest: how to reach it (properties, list indices, dictionary keys) from the root.</summary>
    sealed record Leaf(string Path, string Schema, PropertyInfo Property, IReadOnlyList<object> Steps)
    {
        public object? Get(Manifest m) => Property.GetValue(Owner(m));
        public void Set(Manifest m, object? value) => Property.SetValue(Owner(m), value);

        object Owner(Manifest m)
        {
            object current = m;
            foreach (var step in Steps)
                current = step switch
                {
                    PropertyInfo p => p.GetValue(current)!,
                    int i => ((IList)current)[i]!,
                    string k => ((IDictionary)current)[k]!,
                    _ => throw new InvalidOperationException(),
                };
            return current;
        }
    }

    /// <summary>The leaves of the sections a manifest sets (unset optional sections have none; the first item of a list
    /// or dictionary of sections stands for the others).</summary>
    static IEnumerable<Leaf> InstanceLeaves(object owner, Type type, string prefix, IReadOnlyList<object> steps, string schema = "")
    {
        foreach (var p in ManifestBinder.Keys(type))
        {
            var t = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            string key = ManifestBinder.KeyOf(p);
            var value = p.GetValue(owner);
            if (IsSection(t))
            {
                if (value is not null)
                    foreach (var l in InstanceLeaves(value, t, Join(prefix, key), [.. steps, p], Join(schema, key))) yield return l;
            }
            else if (ItemSection(t) is { } item)
            {
                if (value is IList { Count: > 0 } list)
                    foreach (var l in InstanceLeaves(list[0]!, item, $"{Join(prefix, key)}[0]", [.. steps, p, 0], Join(schema, key) + "[]")) yield return l;
                else if (value is IDictionary { Count: > 0 } dict && dict.Keys.Cast<string>().First() is var first)
                    foreach (var l in InstanceLeaves(dict[first]!, item, $"{Join(prefix, key)}{{{first}}}", [.. steps, p, first], Join(schema, key) + "{}"))
                        yield return l;
            }
            else yield return new Leaf(Join(prefix, key), Join(schema, key), p, steps);
        }
    }

    // ---- other values ----

    /// <summary>Other values of a leaf, the likeliest valid first; the first the loader accepts is the one walked.</summary>
    static IEnumerable<object?> Candidates(Leaf leaf, object? current, Workspace ws)
    {
        var p = leaf.Property;
        var type = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
        var oneOf = p.GetCustomAttribute<OneOfAttribute>()?.Values;
        var range = p.GetCustomAttribute<RangeAttribute>();
        bool nullable = Nullable.GetUnderlyingType(p.PropertyType) is not null || (!p.PropertyType.IsValueType && new NullabilityInfoContext().Create(p).WriteState == NullabilityState.Nullable);
        IEnumerable<object?> values = type switch
        {
            _ when type == typeof(bool) => [!(bool)current!],
            _ when type == typeof(string) && oneOf is not null => oneOf.Where(v => v != (string?)current),
            _ when type == typeof(string) => Strings(leaf.Schema, (string?)current, ws),
            _ when type == typeof(int) || type == typeof(long) => Numbers(current is null ? null : Convert.ToDouble(current, CultureInfo.InvariantCulture), range, whole: true)
                .Select(v => type == typeof(int) ? (object)(int)v : (long)v),
            _ when type == typeof(double) => Numbers((double?)current, range, whole: false).Cast<object?>(),
            _ when type == typeof(List<string>) => Lists((List<string>)current!, oneOf),
            _ when type == typeof(List<double>) => [((List<double>)current!).Count == 0 ? new List<double> { 0.5 } : new List<double>(((List<double>)current!).Select(w => w * 2))],
            _ when type == typeof(Dictionary<string, string>) => [new Dictionary<string, string>((Dictionary<string, string>)current!) { ["id"] = "key" }],
            _ => throw new InvalidOperationException($"{leaf.Path}: no other values for a {type.Name}"),
        };
        foreach (var v in values) yield return v;
        if (nullable && current is not null) yield return null;
    }

    static IEnumerable<object?> Strings(string schema, string? current, Workspace ws)
    {
        if (schema == "model.device") { yield return DeviceSpec.Kind(current!) == "cpu" ? "cuda" : "cpu"; yield break; }
        if (schema == "report.compare_with") { yield return current == "other" ? "other2" : "other"; yield break; }
        if (schema.EndsWith("base_url", StringComparison.Ordinal)) { yield return "http://127.0.0.1:9999"; yield break; }
        if (schema.EndsWith("api_key_env", StringComparison.Ordinal)) { yield return "OTHER_KEY"; yield break; }
        if (schema == "train.trl.main_process_ip") { yield return "10.0.0.9"; yield break; }
        if (schema == "model.init.tokenizer") { yield return current == "byte" ? "tok.json" : "byte"; yield break; }
        // A file or folder of the workspace: its twin with other content.
        if (current is not null && (File.Exists(Path.Combine(ws.Root, current)) || Directory.Exists(Path.Combine(ws.Root, current))))
        {
            string ext = Path.GetExtension(current);
            yield return current[..^ext.Length] + "2" + ext;
            yield break;
        }
        yield return current is null ? "x" : current + "-x";
    }

    static IEnumerable<double> Numbers(double? current, RangeAttribute? range, bool whole)
    {
        double min = range?.Min ?? 0, max = range?.Max ?? 1e6;
        IEnumerable<double> tries = current is not double c
            ? [min == 0 ? 1 : min, 2, 0.5]
            : whole ? [c + 1, c - 1, c * 2, min, max] : [c * 2, c / 2, c + 0.1, c - 0.1, min, max, 0.5];
        return tries.Where(v => v >= min && v <= max && v != current && (!whole || v == Math.Floor(v))).Distinct();
    }

    static IEnumerable<object?> Lists(List<string> current, string[]? oneOf)
    {
        if (oneOf is not null)
        {
            foreach (var extra in oneOf.Where(v => !current.Contains(v))) yield return new List<string>(current) { extra };
            if (current.Count > 1) yield return current.Take(current.Count - 1).ToList();
        }
        else yield return new List<string>(current) { "--extra" };
    }
}
