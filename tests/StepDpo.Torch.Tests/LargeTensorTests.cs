using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Tests.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests;

/// <summary>Tensors of any size through safetensors: the chunked byte views at their boundaries, and one real tensor
/// past 2 GiB, the size at which a single byte span of TorchSharp stops working.</summary>
public class LargeTensorTests
{
    /// <summary>Chunks of an odd byte count, so slices start mid-row and a conversion staging buffer is reused with a
    /// short last piece; every dtype pair the loader meets.</summary>
    [Theory]
    [InlineData(ScalarType.Float32, ScalarType.BFloat16)]
    [InlineData(ScalarType.BFloat16, ScalarType.Float32)]
    [InlineData(ScalarType.Float16, ScalarType.BFloat16)]
    [InlineData(ScalarType.BFloat16, ScalarType.BFloat16)]
    public void Chunked_reads_and_writes_equal_one_whole_conversion(ScalarType stored, ScalarType loaded)
    {
        using var source = randn(37, 53).to(stored);
        using var stream = new MemoryStream();
        TensorBytes.Write(stream, source, stored, chunkBytes: 998);
        Assert.Equal(source.NumberOfElements * TensorBytes.ElementSize(stored), stream.Length);
        stream.Position = 0;
        using var destination = empty(37, 53, dtype: loaded);
        TensorBytes.Read(stream, destination, stored, chunkBytes: 1002);
        using var expected = source.to(loaded);
        Assert.True(Same(expected, destination));

        // Writing with a conversion on the way equals converting first.
        using var converted = new MemoryStream();
        TensorBytes.Write(converted, source, loaded, chunkBytes: 514);
        using var whole = new MemoryStream();
        TensorBytes.Write(whole, expected, loaded);
        Assert.Equal(whole.ToArray(), converted.ToArray());
    }

    [Fact]
    public void A_non_contiguous_tensor_is_written_in_logical_order()
    {
        using var source = arange(12, dtype: ScalarType.Float32).reshape(3, 4);
        using var transposed = source.t();
        using var stream = new MemoryStream();
        TensorBytes.Write(stream, transposed, ScalarType.Float32, chunkBytes: 8);
        stream.Position = 0;
        using var back = empty(4, 3, dtype: ScalarType.Float32);
        TensorBytes.Read(stream, back, ScalarType.Float32);
        Assert.True(Same(transposed, back));
    }

    /// <summary>
    /// One bf16 tensor of 1.1e9 elements (2.2 GB, past int.MaxValue bytes) written to a real safetensors file and read
    /// back. Cost: 2.2 GB of memory at a time (the written tensor is freed before the read), 2.2 GB of temporary disk
    /// (deleted), 37 s on the shared 2-core machine at load average 27 (mostly writing and syncing the file). Each 2^24-element piece holds its own pattern (a ramp -125..125 repeating every
    /// 251 elements, piece k shifted by k mod 100), so a misplaced chunk or offset shows, and the comparison needs no
    /// second 2.2 GB tensor.
    /// </summary>
    [Fact]
    public void A_tensor_over_2_GiB_round_trips_through_safetensors()
    {
        const long count = 1_100_000_000, piece = 1L << 24;
        using var dir = new TempDir();
        string path = dir.Sub("large.safetensors");
        // Integers below 256 in magnitude: exact in bf16.
        using var ramp = arange(piece, dtype: ScalarType.Int64).remainder(251).sub_(125).to(ScalarType.BFloat16);
        void Fill(Tensor slice, long start)
        {
            using var part = ramp.narrow(0, 0, slice.NumberOfElements);
            slice.copy_(part).add_(start / piece % 100);
        }
        using (var large = empty(count, dtype: ScalarType.BFloat16))
        {
            for (long start = 0; start < count; start += piece)
            {
                using var slice = large.narrow(0, start, Math.Min(piece, count - start));
                Fill(slice, start);
            }
            SafeTensorsWriter.Write(path, [("embed", large)]);
        }
        Assert.Equal(count * 2, new FileInfo(path).Length - 8 - HeaderLength(path));

        using var reader = new SafeTensorsReader(path);
        Assert.Equal(count * 2, reader.Entries["embed"].End - reader.Entries["embed"].Begin);
        using var back = reader.Read("embed");
        Assert.Equal(ScalarType.BFloat16, back.dtype);
        using var buffer = empty(piece, dtype: ScalarType.BFloat16);
        for (long start = 0; start < count; start += piece)
        {
            using var slice = back.narrow(0, start, Math.Min(piece, count - start));
            using var expected = buffer.narrow(0, 0, slice.NumberOfElements);
            Fill(expected, start);
            Assert.True(Same(expected, slice), $"elements {start}.. differ");
        }
    }

    static bool Same(Tensor a, Tensor b)
    {
        using var eq = a.eq(b);
        using var all = eq.all();
        return a.shape.SequenceEqual(b.shape) && all.item<bool>();
    }

    static long HeaderLength(string path)
    {
        using var s = File.OpenRead(path);
        var b = new byte[8];
        s.ReadExactly(b);
        return BitConverter.ToInt64(b);
    }
}
