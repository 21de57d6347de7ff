using Spectre.Console;
using StepDpo.Core.Graph;

namespace StepDpo.Cli.Commands;

/// <summary>Spectre.Console progress bars for long work in an interactive terminal.</summary>
public sealed class ConsoleProgress : IProgressReporter
{
    public static bool Interactive => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected
        && Environment.GetEnvironmentVariable("CI") is null;

    public IProgressTask Start(string description, long total) => new LiveTask(description, total);

    public void Info(string message) => AnsiConsole.MarkupLine($"  {Markup.Escape(StepDpo.Core.Secrets.Redact(message))}");

    /// <summary>One live progress display per task, shown until the task is disposed.</summary>
    sealed class LiveTask : IProgressTask
    {
        readonly Task display;
        readonly TaskCompletionSource done = new();
        ProgressTask? task;
        readonly ManualResetEventSlim ready = new();

        public LiveTask(string description, long total)
        {
            display = AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                    new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    task = ctx.AddTask(Markup.Escape(description), maxValue: System.Math.Max(1, total));
                    ready.Set();
                    await done.Task;
                    task.Value = task.MaxValue;
                });
            ready.Wait();
        }

        public void Increment(long by = 1) => task!.Increment(by);
        public void SetValue(long value) => task!.Value = value;
        public void SetTotal(long total) => task!.MaxValue = System.Math.Max(1, total);
        public void Describe(string description) => task!.Description = Markup.Escape(description);

        public void Dispose()
        {
            done.TrySetResult();
            display.Wait();
        }
    }
}
