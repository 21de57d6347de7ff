using static TorchSharp.torch;

namespace StepDpo.Torch.Checkpoints;

/// <summary>
/// A tensor's raw bytes to and from a stream in bounded chunks. TorchSharp's <c>Tensor.bytes</c> is one span and a span
/// cannot pass 2 GiB, so a tensor is walked as a flat view, a slice of at most <see cref="ChunkBytes"/> at a time (the
/// span of a contiguous slice starts at the slice's own data pointer). A slice in another dtype or on another device goes
/// through a CPU staging buffer of one chunk: converting a tensor costs one chunk of memory, never a second copy of it.
/// </summary>
public static class TensorBytes
{
    /// <summary>64 MiB: large enough for full disk speed, small next to any tensor worth chunking.</summary>
    public const long ChunkBytes = 64L << 20;

    /// <summary>Fills <paramref name="destination"/> (contiguous, any dtype and device) from the next bytes of
    /// <paramref name="stream"/>, which hold its elements as <paramref name="stored"/>, little-endian, in order.
    /// Conversion is done by torch's copy_, so rounding equals PyTorch's.</summary>
    public static void Read(Stream stream, Tensor destination, ScalarType stored, long chunkBytes = ChunkBytes)
    {
        if (!destination.is_contiguous()) throw new ArgumentException("the destination tensor must be contiguous");
        using var noGrad = no_grad();
        using var flat = destination.view(-1);
        long count = flat.NumberOfElements, perChunk = ElementsPerChunk(stored, chunkBytes);
        bool direct = destination.dtype == stored && destination.device_type == TorchSharp.DeviceType.CPU;
        using var staging = direct ? null : empty(Math.Min(perChunk, count), dtype: stored, device: CPU); // host staging for the file's bytes
        for (long start = 0; start < count; start += perChunk)
        {
            long n = Math.Min(perChunk, count - start);
            using var slice = flat.narrow(0, start, n);
            if (direct)
            {
                stream.ReadExactly(slice.bytes);
                continue;
            }
            using var buffer = staging!.narrow(0, 0, n);
            stream.ReadExactly(buffer.bytes);
            slice.copy_(buffer);
        }
    }

    /// <summary>Writes <paramref name="source"/>'s elements (any layout, dtype and device) to <paramref name="stream"/>
    /// as <paramref name="dtype"/>, converted and brought to the CPU one chunk at a time.</summary>
    public static void Write(Stream stream, Tensor source, ScalarType dtype, long chunkBytes = ChunkBytes) =>
        ForEachChunk(source, dtype, bytes => stream.Write(bytes), chunkBytes);

    /// <summary>Calls <paramref name="visit"/> with consecutive CPU byte spans of <paramref name="source"/> as
    /// <paramref name="dtype"/>, each at most <see cref="ChunkBytes"/> long.</summary>
    public static void ForEachChunk(Tensor source, ScalarType dtype, ByteSpanAction visit, long chunkBytes = ChunkBytes)
    {
        using var noGrad = no_grad();
        using var detached = source.detach();
        using var contiguous = detached.contiguous();
        using var flat = contiguous.view(-1);
        long count = flat.NumberOfElements, perChunk = ElementsPerChunk(dtype, chunkBytes);
        for (long start = 0; start < count; start += perChunk)
        {
            using var slice = flat.narrow(0, start, Math.Min(perChunk, count - start));
            using var cpu = slice.to(dtype, CPU);
            visit(cpu.bytes);
        }
    }

    public delegate void ByteSpanAction(ReadOnlySpan<byte> bytes);

    static long ElementsPerChunk(ScalarType t, long chunkBytes) => Math.Max(1, chunkBytes / ElementSize(t));

    public static int ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Int16 => 2,
        ScalarType.Int64 or ScalarType.Float64 => 8,
        ScalarType.Bool or ScalarType.Byte or ScalarType.Int8 => 1,
        _ => throw new ArgumentException($"no element size for dtype {t}"),
    };
}
