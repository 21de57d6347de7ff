namespace StepDpo.Core.Graph;

/// <summary>How long work shows itself: a Spectre.Console live display in a terminal, plain lines elsewhere
/// (CI logs, the MSBuild task). Stages only talk to this interface.</summary>
public interface IProgressReporter
{
    IProgressTask Start(string description, long total);
    void Info(string message);
}

public interface IProgressTask : IDisposable
{
    void Increment(long by = 1);
    void SetValue(long value);
    /// <summary>For work whose size is known only once it starts (training steps).</summary>
    void SetTotal(long total);
    void Describe(string description);
}

/// <summary>Plain lines: one at start, every ~10% and at the end, so logs stay readable.</summary>
public sealed class LineProgressReporter(TextWriter output) : IProgressReporter
{
    public IProgressTask Start(string description, long total) => new LineTask(output, description, total);

    public void Info(string message)
    {
        lock (output) output.WriteLine(Secrets.Redact(message));
    }

    sealed class LineTask : IProgressTask
    {
        readonly TextWriter output;
        string description;
        long total;
        long value, lastDecile = -1;
        readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();

        public LineTask(TextWriter output, string description, long total)
        {
            (this.output, this.description, this.total) = (output, description, total);
            Report();
        }

        public void Increment(long by = 1) { Interlocked.Add(ref value, by); Report(); }
        public void SetValue(long v) { Interlocked.Exchange(ref value, v); Report(); }
        public void Describe(string d) => description = d;
        public void SetTotal(long t) => total = t;

        void Report()
        {
            long v = Interlocked.Read(ref value);
            long decile = total > 0 ? v * 10 / total : 0;
            if (decile == Interlocked.Exchange(ref lastDecile, decile)) return;
            lock (output) output.WriteLine($"  {description}: {v}/{total} ({clock.Elapsed.TotalSeconds:F0}s)");
        }

        public void Dispose() { }
    }
}

public sealed class SilentProgressReporter : IProgressReporter
{
    public static readonly SilentProgressReporter Instance = new();
    public IProgressTask Start(string description, long total) => new Nothing();
    public void Info(string message) { }
    sealed class Nothing : IProgressTask
    {
        public void Increment(long by = 1) { }
        public void SetValue(long value) { }
        public void SetTotal(long total) { }
        public void Describe(string description) { }
        public void Dispose() { }
    }
}
