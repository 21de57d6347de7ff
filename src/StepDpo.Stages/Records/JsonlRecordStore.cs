using System.Text;
using System.Text.Json;
using StepDpo.Core;

namespace StepDpo.Stages.Records;

/// <summary>What <see cref="JsonlRecordStore{T}.Open"/> found and repaired.</summary>
/// <param name="Records">complete records read from the file</param>
/// <param name="TornBytes">bytes of an unterminated last line that were cut off (a writer killed mid-line)</param>
public sealed record StoreRecovery(int Records, int TornBytes);

/// <summary>An append-only JSONL file of records, each with a unique string key, that survives being killed.
/// On open it reads what is there, cuts off a torn last line and reports the keys already done; every append
/// writes whole lines in one call and flushes them, so a kill loses at most the line being written and a rerun
/// requests only what is missing. One writer per file: a sidecar <c>.lock</c> file stops a second process.</summary>
public sealed class JsonlRecordStore<T> : IDisposable
{
    readonly FileStream stream;
    readonly FileStream lockFile;
    readonly Func<T, string> keyOf;
    readonly JsonSerializerOptions json;
    readonly bool durable;
    readonly Lock gate = new();
    readonly Dictionary<string, T> byKey = new(StringComparer.Ordinal);
    readonly List<T> inOrder = [];
    bool disposed;

    public string Path { get; }
    public StoreRecovery Recovery { get; }

    JsonlRecordStore(string path, FileStream lockFile, FileStream stream, Func<T, string> keyOf, JsonSerializerOptions json, bool durable)
    {
        Path = path;
        this.lockFile = lockFile;
        this.stream = stream;
        this.keyOf = keyOf;
        this.json = json;
        this.durable = durable;
        Recovery = Load();
    }

    /// <summary>Opens (creating if needed) the store at <paramref name="path"/>.</summary>
    /// <param name="keyOf">the record's unique key, e.g. problem id and sample index</param>
    /// <param name="durable">also fsync every append (survives power loss, not only a killed process; slower)</param>
    public static JsonlRecordStore<T> Open(string path, Func<T, string> keyOf, JsonSerializerOptions? json = null, bool durable = false)
    {
        var full = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        FileStream lockFile;
        try { lockFile = new FileStream(full + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException e) { throw new StepDpoException($"{full}: already open for writing by another process ({e.Message})", e); }
        try
        {
            var stream = new FileStream(full, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 1 << 16);
            // Lines must stay lines: indentation would spread a record over several.
            var options = new JsonSerializerOptions(json ?? JsonSerializerOptions.Web) { WriteIndented = false };
            return new JsonlRecordStore<T>(full, lockFile, stream, keyOf, options, durable);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    StoreRecovery Load()
    {
        stream.Position = 0;
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        var end = Array.LastIndexOf(bytes, (byte)'\n') + 1;   // bytes past the last newline are a torn write
        var torn = bytes.Length - end;
        var lineNumber = 0;
        var start = 0;
        while (start < end)
        {
            var stop = Array.IndexOf(bytes, (byte)'\n', start, end - start);
            lineNumber++;
            var line = Encoding.UTF8.GetString(bytes, start, stop - start);
            start = stop + 1;
            if (string.IsNullOrWhiteSpace(line)) continue;
            T record;
            try { record = JsonSerializer.Deserialize<T>(line, json) ?? throw new JsonException("null record"); }
            catch (JsonException e) { throw new StepDpoException($"{Path}:{lineNumber}: not a valid record ({e.Message})", e); }
            var key = KeyOf(record, lineNumber);
            if (!byKey.TryAdd(key, record))
                throw new StepDpoException($"{Path}:{lineNumber}: key '{key}' appears twice (was the file written by two runs at once?)");
            inOrder.Add(record);
        }
        if (torn > 0)
        {
            stream.SetLength(end);
            stream.Flush(flushToDisk: true);
        }
        stream.Position = end;
        return new StoreRecovery(inOrder.Count, torn);
    }

    string KeyOf(T record, int lineNumber)
    {
        var key = keyOf(record);
        if (string.IsNullOrEmpty(key)) throw new StepDpoException($"{Path}:{lineNumber}: record has an empty key");
        return key;
    }

    /// <summary>The key this store files <paramref name="record"/> under.</summary>
    public string KeyOf(T record) => keyOf(record);

    public int Count { get { lock (gate) return inOrder.Count; } }

    public bool IsDone(string key) { lock (gate) return byKey.ContainsKey(key); }

    public bool TryGet(string key, out T record) { lock (gate) return byKey.TryGetValue(key, out record!); }

    /// <summary>A snapshot of every record, in file order.</summary>
    public IReadOnlyList<T> Records() { lock (gate) return inOrder.ToArray(); }

    public void Append(T record) => AppendBatch([record]);

    /// <summary>Appends the records as consecutive lines in one write, then flushes. A key that is already in the
    /// store (or twice in the batch) is a caller bug and throws before anything is written.</summary>
    public void AppendBatch(IReadOnlyList<T> records)
    {
        if (records.Count == 0) return;
        var buffer = new MemoryStream();
        var keys = new string[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            keys[i] = keyOf(records[i]);
            if (string.IsNullOrEmpty(keys[i])) throw new ArgumentException("record has an empty key", nameof(records));
            JsonSerializer.Serialize(buffer, records[i], json);
            buffer.WriteByte((byte)'\n');
        }
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            var fresh = new HashSet<string>(StringComparer.Ordinal);
            foreach (var key in keys)
                if (byKey.ContainsKey(key) || !fresh.Add(key))
                    throw new InvalidOperationException($"{Path}: key '{key}' is already stored; a record is never written twice");
            try
            {
                stream.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
                stream.Flush(flushToDisk: durable);
            }
            catch
            {
                // A half-written line may now end the file: refuse further appends; reopening repairs it.
                disposed = true;
                throw;
            }
            for (var i = 0; i < records.Count; i++)
            {
                byKey.Add(keys[i], records[i]);
                inOrder.Add(records[i]);
            }
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            stream.Dispose();
            lockFile.Dispose();
        }
    }
}
