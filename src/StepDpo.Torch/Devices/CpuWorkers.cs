using System.Runtime.ExceptionServices;
using static TorchSharp.torch;

namespace StepDpo.Torch.Devices;

/// <summary>
/// Runs independent pieces of libtorch work (static generation batches, the micro-batches of a training step) on
/// several CPU threads at once. At small models' shapes libtorch's own parallelism (OpenMP inside each op) gains little:
/// an op is too small to split, so a second core mostly waits (tiny's sample stage: 24.8 s on two OpenMP threads,
/// 28 s on one). Independent pieces on their own threads keep every core busy. libgomp keeps its thread count per
/// calling thread, so each worker thread sets its own share of the cores. Pieces are taken in order; the first
/// exception stops the others from starting new pieces and is rethrown on the caller's thread.
/// </summary>
public static class CpuWorkers
{
    /// <summary>STEPDPO_THREADS, the cores a run may use on a machine shared with other work; null when unset.</summary>
    public static int? Cap =>
        int.TryParse(Environment.GetEnvironmentVariable("STEPDPO_THREADS"), out int n) && n > 0 ? n : null;

    /// <summary>Cores libtorch may use: <see cref="Cap"/> when set, else all.</summary>
    public static int Available => Cap ?? Environment.ProcessorCount;

    /// <summary>Workers for pieces of work on <paramref name="device"/>: the available cores on the CPU, one elsewhere
    /// (a GPU's kernels are large enough to keep it busy from one thread).</summary>
    public static int For(Device device) => device.type == TorchSharp.DeviceType.CPU ? Available : 1;

    public static void Run<T>(IReadOnlyList<T> items, int workers, Action<T> work)
    {
        workers = Math.Min(workers, items.Count);
        if (workers <= 1)
        {
            foreach (var item in items) work(item);
            return;
        }
        int next = -1, threadsEach = Math.Max(1, Available / workers);
        Exception? failure = null;
        var threads = Enumerable.Range(0, workers).Select(_ => new Thread(() =>
        {
            try
            {
                set_num_threads(threadsEach);
                for (int i; Volatile.Read(ref failure) is null && (i = Interlocked.Increment(ref next)) < items.Count;) work(items[i]);
            }
            catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); }
        }) { IsBackground = true, Name = "stepdpo-cpu-worker" }).ToList();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        if (failure is not null) ExceptionDispatchInfo.Capture(failure).Throw();
    }
}
