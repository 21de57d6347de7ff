using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using StepDpo.Core;
using static TorchSharp.torch;

namespace StepDpo.Torch.Checkpoints;

/// <summary>One tensor's entry in a safetensors header: dtype name, shape, byte range in the data section.</summary>
public sealed record SafeTensorEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// Reader for the safetensors format: u64 little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the raw little-endian data.
/// Tensors are read one at a time straight from the file, so a checkpoint is never held twice in memory.
/// </summary>
public sealed class SafeTensorsReader : IDisposable
{
    readonly FileStream stream;
    readonly long dataStart;
    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorEntry> Entries { get; }
    /// <summary>The header's __metadata__ string pairs (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    public SafeTensorsReader(string path)
    {
        Path = path;
        if (!File.Exists(path)) throw new StepDpoException($"{path}: safetensors file not found");
        stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        try { (Entries, dataStart) = ReadHeader(); }
        catch { stream.Dispose(); throw; }
    }

    (Dictionary<string, SafeTensorEntry>, long) ReadHeader()
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.Length < 8) throw new StepDpoException($"{Path}: not a safetensors file (shorter than 8 bytes)");
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(stream.Length - 8) || headerLength > 100_000_000)
            throw new StepDpoException($"{Path}: header length {headerLength} is larger than the file");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        JsonObject header;
        try { header = JsonNode.Parse(headerBytes) as JsonObject ?? throw new JsonException("header is not an object"); }
        catch (JsonException e) { throw new StepDpoException($"{Path}: invalid safetensors header: {e.Message}", e); }

        long start = 8 + (long)headerLength, dataLength = stream.Length - start;
        var entries = new Dictionary<string, SafeTensorEntry>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                Metadata = (node as JsonObject)?.Where(kv => kv.Value is JsonValue)
                    .ToDictionary(kv => kv.Key, kv => kv.Value!.ToString()) ?? new Dictionary<string, string>();
                continue;
            }
            try
            {
                string dtype = node!["dtype"]!.GetValue<string>();
                long[] shape = node["shape"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
                var offsets = node["data_offsets"]!.AsArray();
                long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
                long expected = shape.Aggregate(1L, (a, b) => a * b) * SafeTensorTypes.ElementSize(dtype, Path, name);
                if (end - begin != expected || begin < 0 || end > dataLength)
                    throw new StepDpoException($"{Path}: tensor '{name}': data_offsets [{begin}, {end}] do not match " +
                        $"shape [{string.Join(", ", shape)}] {dtype} or the file length");
                entries[name] = new SafeTensorEntry(name, dtype, shape, begin, end);
            }
            catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
            {
                throw new StepDpoException($"{Path}: tensor '{name}': malformed header entry ({e.Message})", e);
            }
        }
        return (entries, start);
    }

    /// <summary>Copies tensor <paramref name="name"/> into <paramref name="destination"/> (same shape, any supported
    /// dtype, any device), streamed from the file in bounded chunks: conversion is done by torch, so rounding equals
    /// PyTorch's, and memory grows by one chunk at most, whatever the tensor's size.</summary>
    public void ReadInto(string name, Tensor destination)
    {
        var e = Entry(name);
        if (!e.Shape.SequenceEqual(destination.shape))
            throw new StepDpoException($"{Path}: tensor '{name}' has shape [{string.Join(", ", e.Shape)}], the model " +
                $"expects [{string.Join(", ", destination.shape)}]");
        stream.Position = dataStart + e.Begin;
        TensorBytes.Read(stream, destination, SafeTensorTypes.ToScalarType(e.DType, Path, name));
    }

    /// <summary>Reads tensor <paramref name="name"/> as a new CPU tensor of its stored dtype.</summary>
    public Tensor Read(string name)
    {
        var e = Entry(name);
        var t = empty(e.Shape, dtype: SafeTensorTypes.ToScalarType(e.DType, Path, name));
        try { ReadInto(name, t); }
        catch { t.Dispose(); throw; }
        return t;
    }

    SafeTensorEntry Entry(string name) => Entries.TryGetValue(name, out var found) ? found
        : throw new StepDpoException($"{Path}: tensor '{name}' not found");

    public void Dispose() => stream.Dispose();
}

/// <summary>Writer: tensors in the given order, header padded with spaces to 8 bytes as the reference library does.
/// Each tensor is streamed in bounded chunks (any size, any device), converted on the way when a dtype is given.</summary>
public static class SafeTensorsWriter
{
    /// <param name="dtype">the dtype to store every tensor in; null keeps each tensor's own.</param>
    /// <param name="metadata">extra string pairs for the header's __metadata__ (after "format": "pt").</param>
    public static void Write(string path, IReadOnlyList<(string Name, Tensor Tensor)> tensors, ScalarType? dtype = null,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var meta = new JsonObject { ["format"] = "pt" };
        foreach (var (k, v) in metadata ?? new Dictionary<string, string>()) meta[k] = v;
        var header = new JsonObject { ["__metadata__"] = meta };
        long offset = 0;
        foreach (var (name, t) in tensors)
        {
            var type = dtype ?? t.dtype;
            long size = t.NumberOfElements * TensorBytes.ElementSize(type);
            header[name] = new JsonObject
            {
                ["dtype"] = SafeTensorTypes.ToName(type),
                ["shape"] = new JsonArray(t.shape.Select(d => (JsonNode?)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)padded);
        stream.Write(lengthBytes);
        stream.Write(json);
        for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var (_, t) in tensors) TensorBytes.Write(stream, t, dtype ?? t.dtype);
        stream.Flush(flushToDisk: true);
    }
}

static class SafeTensorTypes
{
    public static ScalarType ToScalarType(string name, string path, string tensor) => name switch
    {
        "F32" => ScalarType.Float32,
        "BF16" => ScalarType.BFloat16,
        "F16" => ScalarType.Float16,
        "I64" => ScalarType.Int64,
        _ => throw new StepDpoException($"{path}: tensor '{tensor}': dtype {name} is not supported (F32, BF16, F16, I64)"),
    };

    public static int ElementSize(string name, string path, string tensor) => name switch
    {
        "F32" => 4, "BF16" or "F16" => 2, "I64" => 8,
        _ => throw new StepDpoException($"{path}: tensor '{tensor}': dtype {name} is not supported (F32, BF16, F16, I64)"),
    };

    public static string ToName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float16 => "F16",
        ScalarType.Int64 => "I64",
        _ => throw new ArgumentException($"cannot save dtype {t} to safetensors"),
    };
}
