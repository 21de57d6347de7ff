using System.Runtime.InteropServices;

namespace StepDpo.Torch.Devices;

/// <summary>One GPU as the CUDA driver describes it. bf16 tensor-core matmuls need compute capability 8.0 (Ampere) or
/// newer; older GPUs run bf16 only through slow emulation.</summary>
public sealed record CudaDeviceInfo(int Index, string Name, int Major, int Minor, long TotalBytes, long? FreeBytes)
{
    public bool NativeBf16 => Major >= 8;
}

/// <summary>
/// Facts TorchSharp 0.107 does not expose (it has only is_available, device_count and synchronize): device names,
/// compute capability and memory, read from the CUDA driver library (libcuda.so.1, installed with the NVIDIA driver)
/// through its stable C API. Free memory is read in the device's primary context, the one libtorch uses, so inside a
/// process that computes on the GPU it is what that process (and any other) leaves free; libtorch's caching allocator
/// keeps what it once reserved, so total - free after a run is its high-water mark plus the context.
/// </summary>
public static unsafe class CudaDriver
{
    const int Success = 0, AttributeCcMajor = 75, AttributeCcMinor = 76;
    static readonly Lazy<nint> Library = new(() => NativeLibrary.TryLoad("libcuda.so.1", out var h) || NativeLibrary.TryLoad("libcuda.so", out h) ? h : 0);

    /// <summary>Whether the NVIDIA driver's library is present on this machine.</summary>
    public static bool Present => Library.Value != 0;

    /// <summary>Driver version as major.minor (e.g. 12.4), or null without a driver.</summary>
    public static string? DriverVersion()
    {
        if (!Init()) return null;
        int v;
        return ((delegate* unmanaged<int*, int>)Fn("cuDriverGetVersion"))(&v) == Success ? $"{v / 1000}.{v % 1000 / 10}" : null;
    }

    /// <summary>Every device the driver sees (CUDA_VISIBLE_DEVICES applies), or an empty list without a driver.</summary>
    public static IReadOnlyList<CudaDeviceInfo> Devices()
    {
        if (!Init()) return [];
        int count;
        if (((delegate* unmanaged<int*, int>)Fn("cuDeviceGetCount"))(&count) != Success) return [];
        var result = new List<CudaDeviceInfo>();
        var name = stackalloc byte[256];
        for (int i = 0; i < count; i++)
        {
            int dev, major, minor;
            nuint total;
            if (((delegate* unmanaged<int*, int, int>)Fn("cuDeviceGet"))(&dev, i) != Success) continue;
            ((delegate* unmanaged<byte*, int, int, int>)Fn("cuDeviceGetName"))(name, 256, dev);
            ((delegate* unmanaged<int*, int, int, int>)Fn("cuDeviceGetAttribute"))(&major, AttributeCcMajor, dev);
            ((delegate* unmanaged<int*, int, int, int>)Fn("cuDeviceGetAttribute"))(&minor, AttributeCcMinor, dev);
            ((delegate* unmanaged<nuint*, int, int>)Fn("cuDeviceTotalMem_v2"))(&total, dev);
            result.Add(new CudaDeviceInfo(i, Marshal.PtrToStringUTF8((nint)name) ?? "?", major, minor, (long)total,
                MemoryInfo(i)?.Free));
        }
        return result;
    }

    /// <summary>Free and total bytes of device <paramref name="index"/>, read in its primary context (retained and
    /// released around the call, so a process that never used the GPU does not keep a context).</summary>
    public static (long Free, long Total)? MemoryInfo(int index)
    {
        if (!Init()) return null;
        int dev;
        nint ctx, popped;
        nuint free, total;
        if (((delegate* unmanaged<int*, int, int>)Fn("cuDeviceGet"))(&dev, index) != Success) return null;
        if (((delegate* unmanaged<nint*, int, int>)Fn("cuDevicePrimaryCtxRetain"))(&ctx, dev) != Success) return null;
        try
        {
            if (((delegate* unmanaged<nint, int>)Fn("cuCtxPushCurrent_v2"))(ctx) != Success) return null;
            int rc = ((delegate* unmanaged<nuint*, nuint*, int>)Fn("cuMemGetInfo_v2"))(&free, &total);
            ((delegate* unmanaged<nint*, int>)Fn("cuCtxPopCurrent_v2"))(&popped);
            return rc == Success ? ((long)free, (long)total) : null;
        }
        finally { ((delegate* unmanaged<int, int>)Fn("cuDevicePrimaryCtxRelease_v2"))(dev); }
    }

    static bool Init() => Present && ((delegate* unmanaged<uint, int>)Fn("cuInit"))(0) == Success;

    static nint Fn(string name) => NativeLibrary.GetExport(Library.Value, name);

    /// <summary>"139.8 GiB".</summary>
    public static string Gib(long bytes) => $"{bytes / (double)(1L << 30):0.0} GiB";
}
