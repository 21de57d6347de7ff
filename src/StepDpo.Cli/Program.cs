// `dotnet stepdpo <command>`: every command is registered in Commands/Registry.cs.
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Cli.Commands;

// Before anything loads libtorch: OpenMP threads sleep rather than spin, malloc keeps freed memory (Devices/CpuRuntime.cs).
StepDpo.Torch.Devices.CpuRuntime.Apply();
// Logs and CI capture output: use a wide layout there instead of Spectre's 80-column fallback.
if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("stepdpo");
    config.SetApplicationVersion(StepDpo.Cli.ToolInfo.Version);
    Registry.Register(config);
    // Bad input gets a one-line message and a non-zero exit, never a stack trace.
    config.SetExceptionHandler((ex, _) => ErrorReport.Print(ex));
});
// Ctrl+C and SIGTERM cancel the command (a stage then stops the servers it started) instead of killing the process;
// a second Ctrl+C still ends it at once.
using var cancel = new CancellationTokenSource();
void Cancel(System.Runtime.InteropServices.PosixSignalContext signal)
{
    if (cancel.IsCancellationRequested) return;
    signal.Cancel = true;
    Console.Error.WriteLine($"stepdpo: {signal.Signal}: stopping (servers started by a stage are stopped too); Ctrl+C again ends at once");
    cancel.Cancel();
}
using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Cancel);
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Cancel);
return app.Run(ArgumentAliases.Normalize(args), cancel.Token);
