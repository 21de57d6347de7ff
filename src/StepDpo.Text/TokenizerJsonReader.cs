using System.Text.Json;

namespace StepDpo.Text;

/// <summary>Reads a Hugging Face tokenizer.json into a <see cref="TokenizerDefinition"/>. Supports the byte-level
/// BPE family (GPT-2, Qwen2/2.5/3, Llama-3): NFC or no normaliser, Split (Isolated) and ByteLevel pre-tokenizers,
/// a BPE model, a ByteLevel decoder. Anything else is rejected with an error naming the key, so that a tokenizer
/// that would silently give different ids than Hugging Face never loads.</summary>
public static class TokenizerJsonReader
{
    /// <summary>The regex ByteLevel applies itself when `use_regex` is true (GPT-2's).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static TokenizerDefinition ReadFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: tokenizer file not found", path);
        Stream stream = File.OpenRead(path);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            stream = new System.IO.Compression.GZipStream(stream, System.IO.Compression.CompressionMode.Decompress);
        using (stream) return Read(stream, path);
    }

    public static TokenizerDefinition Read(Stream utf8Json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(utf8Json, new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e) { throw new TokenizerFormatException($"{source}:{(e.LineNumber ?? 0) + 1}: not valid JSON: {e.Message}", e); }
        using (doc) return new Parser(source).Parse(doc.RootElement);
    }

    sealed class Parser(string source)
    {
        Exception Unsupported(string key, string what) =>
            new TokenizerFormatException($"{source}: {key}: {what} is not supported (supported: byte-level BPE as in Qwen2 and Llama-3)");
        Exception Bad(string key, string what) => new TokenizerFormatException($"{source}: {key}: {what}");

        public TokenizerDefinition Parse(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object) throw Bad("(root)", "expected a JSON object");
            if (Get(root, "truncation") is { ValueKind: not JsonValueKind.Null })
                throw Unsupported("truncation", "truncation configured inside tokenizer.json");
            var model = Get(root, "model") ?? throw Bad("model", "missing");
            bool nfc = ParseNormalizer(Get(root, "normalizer"));
            var patterns = ParsePreTokenizer(Get(root, "pre_tokenizer"));
            ParseDecoder(Get(root, "decoder"));
            var (vocab, merges) = ParseModel(model, out var mergeIds, out bool ignoreMerges, out string? unk, out bool fuseUnk);
            var added = ParseAddedTokens(Get(root, "added_tokens"));
            CheckAddedTokenIds(added, vocab);
            return new TokenizerDefinition
            {
                Vocab = vocab, Merges = merges, MergeIds = mergeIds, AddedTokens = added, Nfc = nfc, SplitPatterns = patterns,
                IgnoreMerges = ignoreMerges, UnkToken = unk, FuseUnk = fuseUnk, Source = source,
            };
        }

        static JsonElement? Get(JsonElement e, string name) =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : null;

        string TypeOf(JsonElement e, string key) =>
            Get(e, "type") is { ValueKind: JsonValueKind.String } t ? t.GetString()! : throw Bad(key + ".type", "missing");

        bool Flag(JsonElement e, string name, string key, bool fallback = false) => Get(e, name) switch
        {
            null or { ValueKind: JsonValueKind.Null } => fallback,
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            _ => throw Bad($"{key}.{name}", "expected true or false"),
        };

        bool ParseNormalizer(JsonElement? n, string key = "normalizer")
        {
            if (n is not { } e || e.ValueKind == JsonValueKind.Null) return false;
            string type = TypeOf(e, key);
            switch (type)
            {
                case "NFC": return true;
                case "Sequence":
                    bool any = false;
                    int i = 0;
                    foreach (var item in (Get(e, "normalizers") ?? throw Bad(key + ".normalizers", "missing")).EnumerateArray())
                        any |= ParseNormalizer(item, $"{key}.normalizers[{i++}]");
                    return any;
                default: throw Unsupported(key, $"normalizer type '{type}'");
            }
        }

        List<string> ParsePreTokenizer(JsonElement? p)
        {
            if (p is not { } e || e.ValueKind == JsonValueKind.Null)
                throw Unsupported("pre_tokenizer", "a missing pre_tokenizer (byte-level BPE needs ByteLevel)");
            var steps = new List<(JsonElement Step, string Key)>();
            if (TypeOf(e, "pre_tokenizer") == "Sequence")
            {
                int i = 0;
                foreach (var item in (Get(e, "pretokenizers") ?? throw Bad("pre_tokenizer.pretokenizers", "missing")).EnumerateArray())
                    steps.Add((item, $"pre_tokenizer.pretokenizers[{i++}]"));
            }
            else steps.Add((e, "pre_tokenizer"));

            var patterns = new List<string>();
            bool byteLevelSeen = false;
            foreach (var (step, key) in steps)
            {
                string type = TypeOf(step, key);
                if (byteLevelSeen) throw Unsupported(key, $"pre-tokenizer '{type}' after ByteLevel");
                switch (type)
                {
                    case "Split":
                        if (Get(step, "behavior")?.GetString() is var behavior && behavior != "Isolated")
                            throw Unsupported(key + ".behavior", $"Split behaviour '{behavior}'");
                        if (Flag(step, "invert", key)) throw Unsupported(key + ".invert", "an inverted Split");
                        var pattern = Get(step, "pattern") ?? throw Bad(key + ".pattern", "missing");
                        if (Get(pattern, "Regex") is { ValueKind: JsonValueKind.String } rx) patterns.Add(rx.GetString()!);
                        else if (Get(pattern, "String") is { ValueKind: JsonValueKind.String } str) patterns.Add(System.Text.RegularExpressions.Regex.Escape(str.GetString()!));
                        else throw Bad(key + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
                        break;
                    case "ByteLevel":
                        if (Flag(step, "add_prefix_space", key)) throw Unsupported(key + ".add_prefix_space", "add_prefix_space = true");
                        if (Flag(step, "use_regex", key, fallback: true)) patterns.Add(Gpt2Pattern);
                        byteLevelSeen = true;
                        break;
                    default: throw Unsupported(key, $"pre-tokenizer type '{type}'");
                }
            }
            if (!byteLevelSeen) throw Unsupported("pre_tokenizer", "a pre-tokenizer without ByteLevel");
            foreach (var pattern in patterns) RegexSplitter.Validate(pattern, source);
            return patterns;
        }

        void ParseDecoder(JsonElement? d)
        {
            if (d is not { } e || e.ValueKind == JsonValueKind.Null) throw Unsupported("decoder", "a missing decoder");
            string type = TypeOf(e, "decoder");
            if (type != "ByteLevel") throw Unsupported("decoder", $"decoder type '{type}'");
        }

        (Dictionary<string, int>, List<(string, string)>) ParseModel(JsonElement model, out List<(int, int, int)> mergeIds,
            out bool ignoreMerges, out string? unk, out bool fuseUnk)
        {
            string type = Get(model, "type")?.GetString() ?? "BPE";
            if (type != "BPE") throw Unsupported("model.type", $"model type '{type}'");
            if (Get(model, "dropout") is { ValueKind: JsonValueKind.Number } dropout && dropout.GetDouble() > 0)
                throw Unsupported("model.dropout", "BPE dropout");
            foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
                if (Get(model, affix)?.ValueKind == JsonValueKind.String && Get(model, affix)!.Value.GetString() != "")
                    throw Unsupported("model." + affix, $"a non-empty {affix}");
            if (Flag(model, "byte_fallback", "model")) throw Unsupported("model.byte_fallback", "byte_fallback = true");
            ignoreMerges = Flag(model, "ignore_merges", "model");
            fuseUnk = Flag(model, "fuse_unk", "model");
            unk = Get(model, "unk_token")?.ValueKind == JsonValueKind.String ? Get(model, "unk_token")!.Value.GetString() : null;

            var vocabElement = Get(model, "vocab");
            if (vocabElement is not { ValueKind: JsonValueKind.Object } ve) throw Bad("model.vocab", "expected an object of token -> id");
            var vocab = new Dictionary<string, int>(ve.GetPropertyCount(), StringComparer.Ordinal);
            foreach (var entry in ve.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                    throw Bad($"model.vocab[\"{entry.Name}\"]", "expected a non-negative integer id");
                vocab[entry.Name] = id;
            }

            var merges = new List<(string, string)>();
            mergeIds = new List<(int, int, int)>();
            var ids = new int[3];
            if (Get(model, "merges") is { ValueKind: JsonValueKind.Array } me)
            {
                int i = 0;
                foreach (var m in me.EnumerateArray())
                {
                    string Key() => $"model.merges[{i}]"; // built only for an error message
                    (string, string) pair;
                    if (m.ValueKind == JsonValueKind.String)
                    {
                        // The older "a b" form: exactly one space separates the two parts.
                        var halves = m.GetString()!.Split(' ');
                        if (halves.Length != 2) throw Bad(Key(), $"expected \"left right\", got \"{m.GetString()}\"");
                        pair = (halves[0], halves[1]);
                    }
                    else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
                             && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                        pair = (m[0].GetString()!, m[1].GetString()!);
                    else throw Bad(Key(), "expected \"left right\" or [\"left\", \"right\"]");
                    string[] parts = [pair.Item1, pair.Item2, pair.Item1 + pair.Item2];
                    for (int p = 0; p < 3; p++)
                        if (!vocab.TryGetValue(parts[p], out ids[p])) throw Bad(Key(), $"merge uses \"{parts[p]}\", which is not in model.vocab");
                    merges.Add(pair);
                    mergeIds.Add((ids[0], ids[1], ids[2]));
                    i++;
                }
            }
            else if (Get(model, "merges") is { ValueKind: not JsonValueKind.Null }) throw Bad("model.merges", "expected an array");
            if (unk != null && !vocab.ContainsKey(unk)) throw Bad("model.unk_token", $"\"{unk}\" is not in model.vocab");
            return (vocab, merges);
        }

        /// <summary>Hugging Face does not take an added token's id from the file: it uses the vocabulary's id when the
        /// content is in the vocabulary, else the next free id after the vocabulary and the earlier added tokens (and
        /// warns when that differs). A file where the two disagree would give other ids than Hugging Face: refuse it.</summary>
        void CheckAddedTokenIds(List<AddedToken> added, Dictionary<string, int> vocab)
        {
            var assigned = new Dictionary<string, int>(StringComparer.Ordinal);
            int? maxAssigned = null;
            for (int i = 0; i < added.Count; i++)
            {
                var t = added[i];
                int expected = vocab.TryGetValue(t.Content, out int v) ? v
                    : assigned.TryGetValue(t.Content, out int a) ? a
                    : maxAssigned is int max && (max >= vocab.Count || vocab.Count == 0) ? max + 1 : vocab.Count;
                if (t.Id != expected)
                    throw Unsupported($"added_tokens[{i}].id", $"id {t.Id} for \"{t.Content}\" where Hugging Face assigns {expected} (an id that disagrees with the vocabulary order)");
                assigned[t.Content] = expected;
                maxAssigned = Math.Max(maxAssigned ?? expected, expected);
            }
        }

        List<AddedToken> ParseAddedTokens(JsonElement? a)
        {
            var list = new List<AddedToken>();
            if (a is not { ValueKind: JsonValueKind.Array } arr) return list;
            int i = 0;
            foreach (var t in arr.EnumerateArray())
            {
                string key = $"added_tokens[{i++}]";
                if (Get(t, "id") is not { ValueKind: JsonValueKind.Number } idEl || !idEl.TryGetInt32(out int id) || id < 0)
                    throw Bad(key + ".id", "expected a non-negative integer");
                if (Get(t, "content") is not { ValueKind: JsonValueKind.String } c || c.GetString()!.Length == 0)
                    throw Bad(key + ".content", "expected a non-empty string");
                bool special = Flag(t, "special", key);
                list.Add(new AddedToken(id, c.GetString()!, special, Flag(t, "lstrip", key), Flag(t, "rstrip", key),
                    Flag(t, "single_word", key), Flag(t, "normalized", key, fallback: !special)));
            }
            return list;
        }
    }
}
